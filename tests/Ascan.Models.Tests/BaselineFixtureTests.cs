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
        var a = f.Params;
        int[] Ints(string name) => a.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int Int(string name) => a.GetProperty(name).GetInt32();
        return f.Op switch
        {
            "resnet" => new ResNet(p, ResNetConfig.ResNet50 with
            {
                StemWidth = Int("stem"), Planes = Ints("planes"), Layers = Ints("layers"), NumClasses = Int("num_classes"),
            }),
            "convnext" => new ConvNeXt(p, ConvNeXtConfig.Tiny with
            {
                Dims = Ints("dims"), Depths = Ints("depths"), NumClasses = Int("num_classes"), StochasticDepthProb = 0,
            }),
            "vit" => new VisionTransformer(p, VisionTransformerConfig.B16 with
            {
                ImageSize = Int("image_size"), PatchSize = Int("patch_size"), NumLayers = Int("num_layers"),
                NumHeads = Int("num_heads"), HiddenDim = Int("hidden_dim"), MlpDim = Int("mlp_dim"), NumClasses = Int("num_classes"),
            }),
            _ => throw new ArgumentException($"Fixture {f.Name}: unknown op '{f.Op}'."),
        };
    }

    internal static Dictionary<string, Tensor> StateOf(FixtureFile f, DType dtype) =>
        f.State.ToDictionary(kv => kv.Key, kv => ToTensor(kv.Value, dtype));

    internal static Tensor ToTensor(FixtureTensor t, DType dtype) =>
        dtype == DType.F32 ? Tensor.FromArray(t.ToSingle(), t.Shape) : Tensor.FromArray((double[])t.Data.Clone(), t.Shape);

    /// <summary>Passes when max |actual − expected| ≤ rel · max |expected| over the whole tensor.</summary>
    private double AssertRelative(FixtureFile f, string name, Tensor actual, double rel)
    {
        var expected = f.Get(name);
        f.AssertShape(name, actual.Shape);
        double scale = expected.Data.Max(Math.Abs);
        Assert.True(scale > 0, $"{f.Name}: {name} is all zeros, so it proves nothing.");
        var a = actual.DType == DType.F32 ? Array.ConvertAll(actual.ToArray<float>(), v => (double)v) : actual.ToArray<double>();
        f.AssertClose(name, expected.Data, a, rtol: 0, atol: rel * scale);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - expected.Data[i]));
        return worst / scale;
    }

    /// <summary>Strict load, forward in the fixture's mode, logits; then backward with gout and every parameter's gradient.</summary>
    private void Check(string fixture, bool train, DType dtype, bool grads = true)
    {
        var f = FixtureFile.Load(fixture);
        var model = Build(f, dtype);
        var report = model.LoadStateDict(StateOf(f, dtype), strict: true);
        Assert.Equal(model.StateDict().Count, report.Loaded.Count);
        model.Train(train);
        var x = ToTensor(f.Input("x"), dtype);
        var logits = model.Forward(x);
        double rel = dtype == DType.F32 ? Rel32 : Rel64;
        output.WriteLine($"{fixture} {dtype}: logits max error / max |logit| = {AssertRelative(f, "out", logits, rel):G3}");
        if (!grads) return;
        Assert.NotEmpty(f.StateGrads);
        Autograd.Backward(logits, ToTensor(f.GradOut, dtype));
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(parameters.Keys.Order(), f.StateGrads.Keys.Order());
        double worstGrad = 0;
        foreach (var (key, _) in f.StateGrads)
        {
            var g = parameters[key].Grad ?? throw new Xunit.Sdk.XunitException($"{fixture}: {key} got no gradient.");
            worstGrad = Math.Max(worstGrad, AssertRelative(f, "grad.param." + key, g, rel));
        }
        output.WriteLine($"{fixture} {dtype}: {f.StateGrads.Count} parameter gradients, worst max error / max |grad| = {worstGrad:G3}");
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
        model.LoadStateDict(StateOf(f, DType.F32));
        var before = model.StateDict()["bn1.running_mean"].ToArray<float>();
        model.Train();
        using (Autograd.NoGrad()) model.Forward(ToTensor(f.Input("x"), DType.F32));
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
