// diffusers' AutoencoderKL against PyTorch (tools/vae_reference.py via tools/fixtures/vae.py): posterior, decode,
// forward, the L1 + KL loss and every gradient; vae_sd's key layout; fused eval; gradients of every parameter.
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Generation;
using Ascan.Nn;
using Xunit.Abstractions;

namespace Ascan.Models.Tests;

public class VaeTests(ITestOutputHelper output)
{
    // Every output and gradient within 1e-4 of the expected tensor's largest magnitude (float32 engine vs float64 torch).
    // Gradients also get an absolute 1e-5: to_k.bias's true gradient is exactly 0 (q·b shifts every score of a query
    // row alike, and softmax ignores that), so float32 rounding (~1e-6) is all either side can give there.
    private static readonly FixtureTolerance Tol = new(new Tolerance(Rtol: 0, Atol: 0, OfMax: 1e-4), new Tolerance(Rtol: 0, Atol: 1e-5, OfMax: 1e-4));

    private static AutoencoderKLConfig TinyConfig(FixtureFile fx) => new()
    {
        InChannels = fx.Int("in_channels"),
        OutChannels = fx.Int("out_channels"),
        BlockOutChannels = fx.Ints("block_out_channels"),
        LayersPerBlock = fx.Int("layers_per_block"),
        LatentChannels = fx.Int("latent_channels"),
        NormNumGroups = fx.Int("norm_num_groups"),
        ScalingFactor = fx.Double("scaling_factor"),
    };

    [Fact]
    public void Vae_Tiny_MatchesTorch_PosteriorDecodeLossAndGradients()
    {
        var compared = OpFixture.CheckModule("vae/tiny", DType.F32, Tol, (fx, x) =>
        {
            var model = new AutoencoderKL(ParamPath.Root(DType.F32), TinyConfig(fx));
            var report = model.LoadStateDict(fx.StateTensors(DType.F32), strict: true);
            Assert.Equal(model.StateDict().Count, report.Loaded.Count);
            model.Eval();
            var posterior = model.Encode(x["x"]);
            var recon = model.Decode(posterior.Sample(x["noise"]));
            var loss = AutoencoderKL.L1KlLoss(recon, x["x"], posterior, fx.Double("beta"));
            // Outputs in the fixture's key order; they share one graph, so L = Σ sum(out·gout) is back-propagated once.
            string[] names = ["decode", "forward", "logvar", "loss", "mean"];
            Tensor[] outs = [model.Decode(x["z"]), model.Forward(x["x"]), posterior.LogVar, loss, posterior.Mean];
            outs.Select((o, i) => (o * fx.Get("gout." + names[i]).ToTensor(DType.F32)).Sum()).Aggregate((a, b) => a + b).Backward();
            return (outs.Select(o => o.Detach()).ToArray(), model.NamedParameters());
        });
        // to_k.bias (true gradient 0, see Tol) would report rounding over 1e-17: listed by its absolute difference alone.
        foreach (var c in compared.Where(c => c.Name.EndsWith("to_k.bias", StringComparison.Ordinal)))
            output.WriteLine($"{c.Name}: max |Δ| = {c.MaxAbsDiff:E2} (expected 0 up to rounding)");
        foreach (var group in compared.Where(c => !c.Name.EndsWith("to_k.bias", StringComparison.Ordinal))
                     .GroupBy(c => c.Name.StartsWith("grad.param.") ? "parameter gradients" : c.Name))
        {
            var worst = group.MaxBy(c => c.Relative)!;
            output.WriteLine($"{group.Key}: max |Δ|/max|expected| = {worst.Relative:E2} ({worst.Name})");
        }
    }

    [Fact]
    public void Vae_Sd_KeysShapesAndCount_AreDiffusers()
    {
        var fx = FixtureFile.Load("vae/sd_keys");
        var expected = JsonSerializer.Deserialize<JsonElement[][]>(fx.Metadata["keys"])!
            .Select(e => (Key: e[0].GetString()!, Shape: e[1].EnumerateArray().Select(d => d.GetInt32()).ToArray())).ToArray();
        var model = (AutoencoderKL)ModelRegistry.Create("vae_sd");
        var actual = model.StateDict().Select(kv => (Key: kv.Key, Shape: kv.Value.ShapeArray())).ToArray();
        Assert.Equal(expected.Select(e => e.Key).Order(StringComparer.Ordinal), actual.Select(a => a.Key).Order(StringComparer.Ordinal));
        var shapes = actual.ToDictionary(a => a.Key, a => a.Shape);
        foreach (var (key, shape) in expected) Assert.True(shape.SequenceEqual(shapes[key]), $"{key}: diffusers {string.Join("×", shape)}, ours {string.Join("×", shapes[key])}");
        long count = (long)fx.Get("count").Data[0];
        Assert.Equal(83_653_863, count);
        Assert.Equal(count, model.ParameterCount);
        Assert.Equal(count, ModelRegistry.Get("vae_sd").Parameters);
        Assert.Equal(ModelKind.Generator, ModelRegistry.Get("vae_sd").Kind);
        Assert.Equal(0.18215, model.Config.ScalingFactor);
    }

    private static Tensor Images(ulong seed, int b, int size) => Tensor.Randn(new Rng(seed), DType.F32, b, 3, size, size);

    [Fact]
    public void Vae_Shapes_FusedEvalEqualsUnfused_NoNaN()
    {
        var model = (AutoencoderKL)ModelRegistry.Create("vae_shapes", new ModelOptions { Seed = 3 });
        model.Eval();
        var x = Images(1, 2, 32);
        Tensor fused, plain;
        using (Autograd.NoGrad()) fused = model.Forward(x);
        model.FusedInference = false;
        using (Autograd.NoGrad()) plain = model.Forward(x);
        Assert.Equal([2, 3, 32, 32], fused.ShapeArray());
        var a = fused.ToArray<float>();
        var b = plain.ToArray<float>();
        double maxDiff = 0, maxAbs = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(float.IsFinite(a[i]) && float.IsFinite(b[i]), $"non-finite output at {i}");
            maxDiff = Math.Max(maxDiff, Math.Abs(a[i] - b[i]));
            maxAbs = Math.Max(maxAbs, Math.Abs(b[i]));
        }
        output.WriteLine($"fused vs unfused: max |Δ| = {maxDiff:E2}, max |y| = {maxAbs:E2}");
        Assert.True(maxDiff <= 1e-5 * Math.Max(maxAbs, 1), $"fused differs from unfused by {maxDiff:E2} (max |y| {maxAbs:E2})");
    }

    [Fact]
    public void Vae_Shapes_EveryParameterGetsAGradient_FromL1KlLoss()
    {
        var entry = ModelRegistry.Get("vae_shapes");
        var model = (AutoencoderKL)ModelRegistry.Create("vae_shapes", new ModelOptions { Seed = 2 });
        Assert.Equal(entry.Parameters, model.ParameterCount);
        Assert.Equal(658_375, model.ParameterCount);
        var x = Images(4, 1, 32);
        var posterior = model.Encode(x);
        Assert.Equal([1, 4, 16, 16], posterior.Mean.ShapeArray());
        var recon = model.Decode(posterior.Sample(new Rng(7)));
        var loss = AutoencoderKL.L1KlLoss(recon, x, posterior, beta: 1e-2);
        Assert.True(double.IsFinite(loss.Item()));
        loss.Backward();
        foreach (var (name, p) in model.NamedParameters())
        {
            Assert.True(p.Grad != null, $"{name} got no gradient");
            var g = p.Grad!.ToArray<float>();
            Assert.True(g.All(float.IsFinite), $"{name}: non-finite gradient");
            Assert.True(g.Any(v => v != 0), $"{name}: gradient is all zero");
        }
    }

    [Fact]
    public void Vae_Posterior_SampleIsDeterministicPerSeed_ModeIsMean()
    {
        var mean = Tensor.Randn(new Rng(1), DType.F32, 2, 4, 3, 3);
        var posterior = new DiagonalGaussianDistribution(mean, Tensor.Randn(new Rng(2), DType.F32, 2, 4, 3, 3) * 40.0);
        Assert.All(posterior.LogVar.ToArray<float>(), v => Assert.InRange(v, -30f, 20f));
        Assert.Equal(posterior.Sample(new Rng(5)).ToArray<float>(), posterior.Sample(new Rng(5)).ToArray<float>());
        Assert.NotEqual(posterior.Sample(new Rng(5)).ToArray<float>(), posterior.Sample(new Rng(6)).ToArray<float>());
        Assert.Same(mean, posterior.Mode());
        var model = new AutoencoderKL(ParamPath.Root(), new AutoencoderKLConfig { BlockOutChannels = [8], NormNumGroups = 4 });
        Assert.Throws<ArgumentException>(() => model.Forward(Images(1, 1, 8), samplePosterior: true));
        Assert.Throws<ArgumentException>(() => new AutoencoderKL(ParamPath.Root(), new AutoencoderKLConfig { BlockOutChannels = [12], NormNumGroups = 8 }));
    }
}
