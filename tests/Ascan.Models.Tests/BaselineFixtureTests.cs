// Parity of the torchvision baselines with torchvision's own classes (reduced configs): strict load, logits and gradients.
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Baselines;
using Ascan.Nn;
using Xunit.Abstractions;

namespace Ascan.Models.Tests;

/// <summary>
/// Fixtures from tools/fixtures/torchvision_models.py: torchvision's ResNet/Bottleneck, ConvNeXt and
/// VisionTransformer at reduced widths and depths, with every constant-initialised tensor redrawn. The C# models
/// are built from the fixture's params through the same configs that build resnet50 / convnext_tiny / vit_b_16,
/// load the stored state dict strictly and must give the stored float64 logits (and parameter gradients of
/// L = Σ logits·gout) within 1e-4 relative in float32, and within 1e-12 in float64.
/// </summary>
public class BaselineFixtureTests(ITestOutputHelper output)
{
    private const double Rel32 = 1e-4;
    private const double Rel64 = 1e-12;

    internal static ClassifierModel Build(FixtureFile f, DType dtype = DType.F32)
    {
        var p = ParamPath.Root(dtype, new Rng(7));
        return f.Op switch
        {
            "resnet" => new ResNet(p, ResNetConfig.ResNet50 with
            {
                StemWidth = f.Int("stem"), Planes = f.Ints("planes"), Layers = f.Ints("layers"), NumClasses = f.Int("num_classes"),
            }),
            "convnext" => new ConvNeXt(p, ConvNeXtConfig.Tiny with
            {
                Dims = f.Ints("dims"), Depths = f.Ints("depths"), NumClasses = f.Int("num_classes"), StochasticDepthProb = 0,
            }),
            "vit" => new VisionTransformer(p, VisionTransformerConfig.B16 with
            {
                ImageSize = f.Int("image_size"), PatchSize = f.Int("patch_size"), NumLayers = f.Int("num_layers"),
                NumHeads = f.Int("num_heads"), HiddenDim = f.Int("hidden_dim"), MlpDim = f.Int("mlp_dim"), NumClasses = f.Int("num_classes"),
            }),
            _ => throw new ArgumentException($"Fixture {f.Name}: unknown op '{f.Op}'."),
        };
    }

    /// <summary>
    /// Strict load, forward in the fixture's mode and logits; then (when the fixture has gradients) backward with gout
    /// and every parameter's gradient. Each compared tensor must be non-zero, or it proves nothing.
    /// </summary>
    private void Check(string fixture, bool train, DType dtype, bool grads = true)
    {
        double rel = dtype == DType.F32 ? Rel32 : Rel64;
        var compared = OpFixture.CheckModule(fixture, dtype, new(new Tolerance(Rtol: 0, Atol: 0, OfMax: rel)), (f, x) =>
        {
            var model = Build(f, dtype);
            var report = model.LoadStateDict(f.StateTensors(dtype), strict: true);
            Assert.Equal(model.StateDict().Count, report.Loaded.Count);
            model.Train(train);
            return ([model.Forward(x["x"])], model.NamedParameters());
        });
        foreach (var c in compared)
            Assert.True(c.MaxExpected > 0, $"{fixture}: {c.Name} is all zeros, so it proves nothing.");
        output.WriteLine($"{fixture} {dtype}: logits max error / max |logit| = {compared.Single(c => c.Name == "out").Relative:G3}");
        var paramGrads = compared.Where(c => c.Name.StartsWith("grad.param.", StringComparison.Ordinal)).ToList();
        Assert.Equal(grads, paramGrads.Count > 0);
        if (grads)
            output.WriteLine($"{fixture} {dtype}: {paramGrads.Count} parameter gradients, worst max error / max |grad| = {paramGrads.Max(c => c.Relative):G3}");
    }

    [Fact]
    public void ResNet_EvalLogits_MatchTorchvision() => Check("torchvision/resnet_reduced_eval", train: false, DType.F32, grads: false);

    [Fact]
    public void ResNet_EvalLogits_MatchTorchvision_F64() => Check("torchvision/resnet_reduced_eval", train: false, DType.F64, grads: false);

    [Fact]
    public void ResNet_TrainLogitsAndGradients_MatchTorchvision() => Check("torchvision/resnet_reduced_train", train: true, DType.F32);

    [Fact]
    public void ResNet_TrainLogitsAndGradients_MatchTorchvision_F64() => Check("torchvision/resnet_reduced_train", train: true, DType.F64);

    [Fact]
    public void ConvNeXt_LogitsAndGradients_MatchTorchvision() => Check("torchvision/convnext_reduced", train: false, DType.F32);

    [Fact]
    public void ConvNeXt_LogitsAndGradients_MatchTorchvision_F64() => Check("torchvision/convnext_reduced", train: false, DType.F64);

    [Fact]
    public void Vit_LogitsAndGradients_MatchTorchvision() => Check("torchvision/vit_reduced", train: false, DType.F32);

    [Fact]
    public void Vit_LogitsAndGradients_MatchTorchvision_F64() => Check("torchvision/vit_reduced", train: false, DType.F64);

    [Fact]
    public void ResNet_TrainForward_UpdatesRunningStatistics()
    {
        // BN in train mode normalises with batch statistics and moves the running ones; eval then uses the new values.
        var f = FixtureFile.Load("torchvision/resnet_reduced_train");
        var model = Build(f);
        model.LoadStateDict(f.StateTensors(DType.F32));
        var before = model.StateDict()["bn1.running_mean"].ToArray<float>();
        model.Train();
        using (Autograd.NoGrad()) model.Forward(f.Input("x").ToTensor(DType.F32));
        var after = model.StateDict()["bn1.running_mean"].ToArray<float>();
        Assert.NotEqual(before, after);
    }

    [Fact]
    public void Fixtures_ParamsDescribeTheStoredState()
    {
        // A mismatch between the params JSON and the stored tensors would make every parity test fail to load.
        foreach (var name in new[] { "resnet_reduced_eval", "resnet_reduced_train", "convnext_reduced", "vit_reduced" })
        {
            var f = FixtureFile.Load("torchvision/" + name);
            Assert.Equal(JsonValueKind.Object, f.Params.ValueKind);
            var keys = Build(f).StateDict().Keys.ToHashSet();
            var stored = f.State.Keys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToHashSet();
            Assert.True(keys.SetEquals(stored), $"{name}: model keys and fixture keys differ: " +
                string.Join(", ", keys.Except(stored).Concat(stored.Except(keys))));
        }
    }
}
