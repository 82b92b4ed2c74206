// The diffusion UNet (SPEC §4): against PyTorch (tools/unet_reference.py via tools/fixtures/unet.py), fused = plain,
// every parameter trains, the null class, shapes, and the registered presets' counts.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Generation;
using Ascan.Nn;
using Xunit.Abstractions;

namespace Ascan.Models.Tests;

public class UnetTests(ITestOutputHelper output)
{
    // Every output and gradient within 1e-4 of the expected tensor's largest magnitude (float32 engine vs float64 torch).
    private static readonly FixtureTolerance Tol = new(new Tolerance(Rtol: 0, Atol: 0, OfMax: 1e-4));
    private const string Name = "unet/unet_tiny";

    internal static UNetConfig TinyConfig(FixtureFile fx) =>
        new(fx.Ints("widths"), fx.Params.GetProperty("levels").EnumerateArray().Select(e => e.GetString()!).ToArray(), fx.Params.GetProperty("middle").GetString()!)
        {
            InChannels = fx.Int("in_channels"), NumClasses = fx.Int("num_classes"), EmbedDim = fx.Int("embed_dim"),
            ExpansionRatio = fx.Int("expansion"), HeadDim = fx.Int("head_dim"), MlpRatio = fx.Int("mlp_ratio"), NormGroups = fx.Int("groups"),
        };

    [Fact]
    public void Unet_Tiny_MatchesTorch_OutputLossAndGradients()
    {
        var compared = OpFixture.CheckModule(Name, DType.F32, Tol, (fx, x) =>
        {
            var config = TinyConfig(fx);
            var model = new UNetModel(ParamPath.Root(), config);
            Assert.Equal(config.ParameterCount(), model.ParameterCount);
            var report = model.LoadStateDict(fx.StateTensors(DType.F32), strict: true);
            Assert.Equal(model.StateDict().Count, report.Loaded.Count);
            model.Eval();
            var pred = model.Forward(x["x"], x["t"], fx.Input("y").ToInt32());
            var d = pred - x["target"];
            var loss = (d * d).Mean();
            Tensor[] outs = [loss, pred]; // the fixture's key order: loss, pred
            string[] names = ["loss", "pred"];
            outs.Select((o, i) => (o * fx.Get("gout." + names[i]).ToTensor(DType.F32)).Sum()).Aggregate((a, b) => a + b).Backward();
            return (outs.Select(o => o.Detach()).ToArray(), model.NamedParameters());
        });
        foreach (var group in compared.GroupBy(c => c.Name.StartsWith("grad.") ? "gradients" : c.Name))
        {
            var worst = group.MaxBy(c => c.Relative);
            output.WriteLine($"{group.Key}: max |Δ|/max|expected| = {worst.Relative:E2} ({worst.Name})");
        }
    }

    [Fact]
    public void Unet_StateDictKeys_AreTheReferences_InOrder()
    {
        var fx = FixtureFile.Load(Name);
        var model = new UNetModel(ParamPath.Root(), TinyConfig(fx));
        Assert.Equal(fx.State.Keys.ToList(), model.StateDict().Keys.ToList());
        Assert.Contains("t_embedder.mlp.0.weight", fx.State.Keys);
        Assert.Contains("y_embedder.embedding_table.weight", fx.State.Keys);
        Assert.Contains("down.1.blocks.1.adaLN_modulation.1.weight", fx.State.Keys);
        Assert.Contains("up.0.upsample.conv.weight", fx.State.Keys);
    }

    [Fact]
    public void Unet_Tiny_EvalFused_EqualsPlainLayers()
    {
        if (!Ops.PackedKernelsSupported) return;
        var fx = FixtureFile.Load(Name);
        var model = new UNetModel(ParamPath.Root(), TinyConfig(fx));
        model.LoadStateDict(fx.StateTensors(DType.F32), strict: true);
        model.Eval();
        var x = Tensor.Randn(new Rng(3), DType.F32, 2, 3, 16, 8);
        var t = Tensor.FromArray(new float[] { 3f, 999f }, 2);
        int[] y = [0, model.NullClass];
        Tensor fused, plain;
        using (Autograd.NoGrad())
        {
            using (TensorScope.Begin()) fused = model.Forward(x, t, y).Clone();
            model.FusedInference = false;
            plain = model.Forward(x, t, y);
            model.FusedInference = true;
        }
        Assert.Equal([2, 3, 16, 8], fused.ShapeArray());
        TensorAssert.Close(plain, fused, 0, 1e-5 * plain.ToArray<double>().Max(Math.Abs), "unet_tiny fused vs plain");
    }

    /// <summary>unet_shapes at its size, batch 2, the second sample unconditional: finite output, every parameter a
    /// non-zero finite gradient (zero-initialised tensors redrawn, as a trained model has them), MACs as documented.</summary>
    [Fact]
    public void Unet_Shapes_EveryParameterTrains_NullClassWorks_AndCounts()
    {
        var entry = ModelRegistry.Get("unet_shapes");
        Assert.Equal(ModelKind.Generator, entry.Kind);
        var model = (UNetModel)ModelRegistry.Create("unet_shapes", new ModelOptions { Seed = 1 });
        Assert.Equal(entry.Parameters, model.ParameterCount);
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount);
        var rng = new Rng(3);
        foreach (var (_, p) in model.NamedParameters())
        {
            var v = p.Span<float>();
            if (v.ContainsAnyExcept(0f)) continue;
            for (int i = 0; i < v.Length; i++) v[i] = (float)(0.02 * rng.NextNormal());
        }
        model.Train();
        var x = Tensor.Randn(new Rng(7), DType.F32, 2, 3, 32, 32);
        var t = Tensor.FromArray(new float[] { 10f, 700f }, 2);
        Tensor pred;
        long macs;
        using (var counter = MacCounter.Begin())
        {
            pred = model.Forward(x, t, [2, model.NullClass]);
            macs = counter.Total;
        }
        Assert.Equal([2, 3, 32, 32], pred.ShapeArray());
        Assert.Equal(2 * model.Config.Macs(32, 32), macs);
        Assert.True(pred.ToArray<float>().All(float.IsFinite));
        (pred * Tensor.Randn(new Rng(8), DType.F32, 2, 3, 32, 32)).Sum().Backward();
        var silent = new List<string>();
        foreach (var (key, p) in model.NamedParameters())
        {
            Assert.True(p.Grad != null, $"{key} received no gradient");
            var g = p.Grad!.ToArray<float>();
            Assert.True(g.All(float.IsFinite), $"non-finite gradient in {key}");
            if (!g.Any(v => v != 0)) silent.Add(key);
        }
        // The class table: the rows of the batch's classes (2 and the null one) learn, the others do not.
        Assert.Empty(silent);
        var table = model.YEmbedder.Table.Weight.Grad!.ToArray<float>();
        int d = model.Config.Cond;
        Assert.Contains(table.Skip(model.NullClass * d).Take(d), v => v != 0);
        Assert.Contains(table.Skip(2 * d).Take(d), v => v != 0);
        Assert.DoesNotContain(table.Skip(0).Take(d), v => v != 0);
        output.WriteLine($"unet_shapes: {model.ParameterCount:N0} parameters, {model.Config.Macs(32, 32) / 1e9:F3} GMACs per image");
    }

    [Fact]
    public void Unet_Presets_ParameterCountsAndMacs_AsDocumented()
    {
        var big = UNetConfig.ImageNet256;
        Assert.Equal(ModelRegistry.Get("unet_imagenet_256").Parameters, big.ParameterCount());
        Assert.Equal(252_412_676, big.ParameterCount());     // tools/unet_reference.py prints the same
        Assert.Equal(29_127_606_272, big.Macs(32, 32));        // ≈ 58.3 GFLOPs: half of DiT-XL/2's 118.6
        Assert.Equal(3_017_635, UNetConfig.Shapes.ParameterCount());
        Assert.Equal(431_636_480, UNetConfig.Shapes.Macs(32, 32));
    }

    [Fact]
    public void Unet_BadInputs_SayWhatIsWrong()
    {
        var fx = FixtureFile.Load(Name);
        var model = new UNetModel(ParamPath.Root(), TinyConfig(fx));
        var t = Tensor.FromArray(new float[] { 1f }, 1);
        Assert.Contains("multiples of 4", Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 3, 6, 8), t, [0])).Message);
        Assert.Contains("null class", Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 3, 8, 8), t, [5])).Message);
        Assert.Contains("(B, 3, H, W)", Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(1, 4, 8, 8), t, [0])).Message);
        Assert.Throws<ArgumentException>(() => new UNetConfig([8, 16], ["C"], "T").Validate());
    }
}
