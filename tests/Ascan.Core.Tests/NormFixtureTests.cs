// PyTorch golden fixtures for the norm family: LayerNorm, BatchNorm with running stats, GroupNorm, Softmax.
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class NormFixtureTests
{
    /// <summary>float32: outputs 1e-5 relative, gradients 1e-4; float64: outputs 1e-10, gradients 1e-9.</summary>
    internal static FixtureTolerance Tol(DType dtype) => dtype == DType.F32
        ? FixtureTolerance.Standard(DType.F32)
        : new(Out: new(1e-10, 1e-12), Grad: new(1e-9, 1e-11));

    /// <summary>
    /// The form AttentionTests calls (inputs by name, the case's params): <see cref="OpFixture.Check"/> with the norm
    /// tolerances. New tests call OpFixture directly.
    /// </summary>
    internal static void Check(string name, DType dtype, Func<Dictionary<string, Tensor>, JsonElement, Tensor> op) =>
        OpFixture.Check(name, dtype, Tol(dtype), (f, x) => [op(new Dictionary<string, Tensor>(x), f.Params)]);

    internal static Tensor? Opt(Dictionary<string, Tensor> x, string name) => x.GetValueOrDefault(name);

    public static TheoryData<string> LayerNormCases => new() { "layer_norm_w1", "layer_norm_w3", "layer_norm_w33", "layer_norm_plain" };
    public static TheoryData<string> BatchNormCases => new() { "batch_norm_train_c3", "batch_norm_train_c33", "batch_norm_eval_c5" };
    public static TheoryData<string> GroupNormCases => new() { "group_norm_c6_g3", "group_norm_c33_g3", "group_norm_c32_g32" };
    public static TheoryData<string> SoftmaxCases => new()
    {
        "softmax_n1", "softmax_n3", "softmax_n33", "log_softmax_n1", "log_softmax_n3", "log_softmax_n33", "softmax_dim1", "log_softmax_dim0",
    };

    [Theory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNorm_MatchesPyTorch_Fixture(string name) =>
        OpFixture.CheckF32AndF64("norm/" + name, Tol,
            (f, x) => [Ops.LayerNorm(x["x"], x.GetValueOrDefault("weight"), x.GetValueOrDefault("bias"), f.Double("eps"))]);

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNorm_MatchesPyTorch_FixtureWithRunningStats(string name) =>
        OpFixture.CheckF32AndF64("norm/" + name, Tol, (f, x) =>
        {
            var y = Ops.BatchNorm(x["x"], x["weight"], x["bias"], x["running_mean"], x["running_var"],
                f.Bool("training"), f.Double("momentum"), f.Double("eps"));
            // out.1, out.2: the running statistics after the call (updated in place; unchanged in eval mode).
            return [y, x["running_mean"], x["running_var"]];
        });

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNorm_MatchesPyTorch_Fixture(string name) =>
        OpFixture.CheckF32AndF64("norm/" + name, Tol,
            (f, x) => [Ops.GroupNorm(x["x"], f.Int("groups"), x["weight"], x["bias"], f.Double("eps"))]);

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void Softmax_MatchesPyTorch_Fixture(string name)
    {
        bool log = name.StartsWith("log_", StringComparison.Ordinal);
        OpFixture.CheckF32AndF64("norm/" + name, Tol,
            (f, x) => [log ? Ops.LogSoftmax(x["x"], f.Int("dim")) : Ops.Softmax(x["x"], f.Int("dim"))]);
    }
}
