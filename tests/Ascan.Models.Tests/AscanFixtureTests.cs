// AsCAN against PyTorch (tools/ascan_torch.py via tools/fixtures/ascan.py): every block and a tiny whole model, forward and backward.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.AsCAN;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class AscanFixtureTests
{
    // Every output and gradient within 1e-4 of the expected tensor's largest magnitude (float32 engine vs float64 torch).
    private static readonly FixtureTolerance Tol = new(new Tolerance(Rtol: 0, Atol: 0, OfMax: 1e-4));

    internal static Dictionary<string, Tensor> StateOf(FixtureFile fx) => fx.StateTensors(DType.F32);

    /// <summary>Loads a block fixture strictly into the module <paramref name="make"/> builds, runs it channels-last and compares output and every gradient.</summary>
    private static void CheckBlock(string name, Func<FixtureFile, Module> make) =>
        OpFixture.CheckModule("ascan/" + name, DType.F32, Tol, (fx, x) =>
        {
            var m = make(fx);
            m.LoadStateDict(StateOf(fx), strict: true);
            m.Train(fx.Params.TryGetProperty("train", out var t) && t.GetBoolean());
            var y = ((ILayer)m).Forward(OpFixture.Nhwc(x["x"]));
            return ([OpFixture.Nchw(y)], m.NamedParameters());
        });

    [Theory]
    [InlineData("stem_eval")]
    [InlineData("stem_train")]
    public void Stem_MatchesTorch(string name) =>
        CheckBlock(name, fx => new Stem(ParamPath.Root(), fx.Int("width")));

    [Theory]
    [InlineData("downsample_eval")]
    [InlineData("downsample_train")]
    public void Downsample_MatchesTorch(string name) =>
        CheckBlock(name, fx => new Downsample(ParamPath.Root(), fx.Int("in"), fx.Int("out")));

    [Theory]
    [InlineData("cblock_eval")]
    [InlineData("cblock_train")]
    public void ConvBlock_MatchesTorch(string name) =>
        CheckBlock(name, fx => AscanBlocks.C(ParamPath.Root(), fx.Int("width"), fx.Int("expansion")));

    [Fact]
    public void TransformerBlock_MatchesTorch() =>
        CheckBlock("tblock", fx => AscanBlocks.T(ParamPath.Root(), fx.Int("width"),
            fx.Int("head_dim"), fx.Int("mlp_ratio")));

    /// <summary>The reduced-width nano layout the fixture was written with.</summary>
    internal static AscanConfig TinyConfig(FixtureFile fx) =>
        new(fx.Ints("widths"),
            fx.Params.GetProperty("stages").EnumerateArray().Select(e => e.GetString()!).ToArray())
        {
            HeadDim = fx.Int("head_dim"),
            NumClasses = fx.Int("num_classes"),
        };

    [Fact]
    public void AscanModel_Tiny_MatchesTorch_EvalAndTrain() =>
        OpFixture.CheckModule("ascan/model_tiny", DType.F32, Tol, (fx, x) =>
        {
            var model = new AscanModel(ParamPath.Root(), TinyConfig(fx));
            var report = model.LoadStateDict(StateOf(fx), strict: true);
            Assert.Equal(model.StateDict().Count, report.Loaded.Count);

            // Train first (batch statistics, running statistics move one momentum step), then eval with the updated
            // running statistics, as the fixture's call did (tools/fixtures/ascan.py explains the order). x is NCHW,
            // as a user passes it.
            model.Train();
            var yTrain = model.Forward(x["x"]);
            model.Eval();
            var yEval = model.Forward(x["x"]);
            return ([yEval, yTrain], model.NamedParameters()); // out.eval, out.train
        });
}
