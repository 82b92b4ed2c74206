// AsCAN against PyTorch (tools/ascan_torch.py via tools/fixtures/ascan.py): every block and a tiny whole model, forward and backward.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.AsCAN;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class AscanFixtureTests
{
    // Every output and gradient within 1e-4 of the expected tensor's largest magnitude (float32 engine vs float64 torch).
    private const double Tol = 1e-4;

    internal static Dictionary<string, Tensor> StateOf(FixtureFile fx) =>
        fx.State.ToDictionary(kv => kv.Key, kv => Tensor.FromArray(kv.Value.ToSingle(), kv.Value.Shape));

    /// <summary>A stored NCHW tensor as a channels-last (B, H, W, C) float32 tensor.</summary>
    internal static Tensor ChannelsLast(FixtureTensor t) => Tensor.FromArray(t.ToSingle(), t.Shape).Permute(0, 2, 3, 1).Contiguous();

    private static float[] ToNchw(Tensor nhwc) => nhwc.Permute(0, 3, 1, 2).Contiguous().ToArray<float>();

    private static double Scale(FixtureTensor t) => Math.Max(t.Data.Max(Math.Abs), 1e-30);

    private static void AssertParamGrads(FixtureFile fx, Module m)
    {
        var pars = m.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(fx.StateGrads.Keys.Order(), pars.Keys.Order());
        foreach (var (key, expected) in fx.StateGrads)
        {
            var g = pars[key].Grad;
            Assert.True(g != null, $"{fx.Name}: parameter {key} received no gradient");
            fx.AssertShape("grad.param." + key, g!.Shape);
            fx.AssertClose("grad.param." + key, g.ToArray<float>(), 0, Tol * Scale(expected));
        }
    }

    /// <summary>Loads a block fixture strictly into <paramref name="m"/>, runs it channels-last and compares output and every gradient.</summary>
    private static void CheckBlock(string name, Func<FixtureFile, Module> make)
    {
        var fx = FixtureFile.Load("ascan/" + name);
        var m = make(fx);
        m.LoadStateDict(StateOf(fx), strict: true);
        m.Train(fx.Params.TryGetProperty("train", out var t) && t.GetBoolean());
        var x = ChannelsLast(fx.Input("x"));
        x.RequiresGrad = true;
        var y = ((ILayer)m).Forward(x);
        var outNchw = ToNchw(y);
        fx.AssertShape("out", y.Permute(0, 3, 1, 2).Shape);
        fx.AssertClose("out", outNchw, 0, Tol * Scale(fx.Output));
        y.Backward(ChannelsLast(fx.GradOut));
        fx.AssertClose("grad.x", ToNchw(x.Grad!), 0, Tol * Scale(fx.Grad("x")));
        AssertParamGrads(fx, m);
    }

    [Theory]
    [InlineData("stem_eval")]
    [InlineData("stem_train")]
    public void Stem_MatchesTorch(string name) =>
        CheckBlock(name, fx => new Stem(ParamPath.Root(), fx.Params.GetProperty("width").GetInt32()));

    [Theory]
    [InlineData("downsample_eval")]
    [InlineData("downsample_train")]
    public void Downsample_MatchesTorch(string name) =>
        CheckBlock(name, fx => new Downsample(ParamPath.Root(), fx.Params.GetProperty("in").GetInt32(), fx.Params.GetProperty("out").GetInt32()));

    [Theory]
    [InlineData("cblock_eval")]
    [InlineData("cblock_train")]
    public void ConvBlock_MatchesTorch(string name) =>
        CheckBlock(name, fx => new ConvBlock(ParamPath.Root(), fx.Params.GetProperty("width").GetInt32(), fx.Params.GetProperty("expansion").GetInt32()));

    [Fact]
    public void TransformerBlock_MatchesTorch() =>
        CheckBlock("tblock", fx => new TransformerBlock(ParamPath.Root(), fx.Params.GetProperty("width").GetInt32(),
            fx.Params.GetProperty("head_dim").GetInt32(), fx.Params.GetProperty("mlp_ratio").GetInt32()));

    /// <summary>The reduced-width nano layout the fixture was written with.</summary>
    internal static AscanConfig TinyConfig(FixtureFile fx) =>
        new(fx.Params.GetProperty("widths").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            fx.Params.GetProperty("stages").EnumerateArray().Select(e => e.GetString()!).ToArray())
        {
            HeadDim = fx.Params.GetProperty("head_dim").GetInt32(),
            NumClasses = fx.Params.GetProperty("num_classes").GetInt32(),
        };

    [Fact]
    public void AscanModel_Tiny_MatchesTorch_EvalAndTrain()
    {
        var fx = FixtureFile.Load("ascan/model_tiny");
        var model = new AscanModel(ParamPath.Root(), TinyConfig(fx));
        var report = model.LoadStateDict(StateOf(fx), strict: true);
        Assert.Equal(model.StateDict().Count, report.Loaded.Count);
        var x = Tensor.FromArray(fx.Input("x").ToSingle(), fx.Input("x").Shape); // NCHW, as a user passes it

        // Train first (batch statistics, running statistics move one momentum step), then eval with the updated
        // running statistics, as the fixture's call did (tools/fixtures/ascan.py explains the order).
        model.Train();
        var yTrain = model.Forward(x);
        model.Eval();
        var yEval = model.Forward(x);
        fx.AssertShape("out.eval", yEval.Shape);
        fx.AssertClose("out.eval", yEval.ToArray<float>(), 0, Tol * Scale(fx.Get("out.eval")));
        fx.AssertClose("out.train", yTrain.ToArray<float>(), 0, Tol * Scale(fx.Get("out.train")));

        FixtureTensor gE = fx.Get("gout.eval"), gT = fx.Get("gout.train");
        var loss = (yEval * Tensor.FromArray(gE.ToSingle(), gE.Shape)).Sum() + (yTrain * Tensor.FromArray(gT.ToSingle(), gT.Shape)).Sum();
        loss.Backward();
        AssertParamGrads(fx, model);
    }
}
