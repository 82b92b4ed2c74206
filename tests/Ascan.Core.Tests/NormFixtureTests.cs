// PyTorch golden fixtures for the norm family: LayerNorm, BatchNorm with running stats, GroupNorm, Softmax; the shared fixture runner.
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class NormFixtureTests
{
    /// <summary>Loads every input as a tensor of <paramref name="dtype"/>, marking those the fixture has gradients for.</summary>
    internal static Dictionary<string, Tensor> Inputs(FixtureFile f, DType dtype)
    {
        var r = new Dictionary<string, Tensor>();
        foreach (var (name, ft) in f.Inputs)
        {
            var t = Tensor.FromArray(ft.Data, ft.Shape).To(dtype);
            t.RequiresGrad = f.Grads.ContainsKey(name);
            r[name] = t;
        }
        return r;
    }

    /// <summary>
    /// Runs <paramref name="op"/> on the fixture's inputs, compares the first output, back-propagates gout and
    /// compares every input gradient. float32: forward within 1e-5 relative, gradients within 1e-4 relative.
    /// Returns the tensors of the extra outputs for case-specific checks.
    /// </summary>
    internal static void Check(string name, DType dtype, Func<Dictionary<string, Tensor>, JsonElement, Tensor> op,
        Action<FixtureFile, Dictionary<string, Tensor>, double, double>? extra = null)
    {
        var f = FixtureFile.Load(name);
        var x = Inputs(f, dtype);
        var y = op(x, f.Params);
        bool f32 = dtype == DType.F32;
        string outName = f.Has("out") ? "out" : "out.0";
        f.AssertShape(outName, y.Shape);
        f.AssertClose(outName, y.ToArray<double>(), f32 ? 1e-5 : 1e-10, f32 ? 1e-6 : 1e-12);
        extra?.Invoke(f, x, f32 ? 1e-5 : 1e-10, f32 ? 1e-6 : 1e-12);
        var gout = f.Get(outName == "out" ? "gout" : "gout.0");
        y.Backward(Tensor.FromArray(gout.Data, gout.Shape).To(dtype));
        foreach (var (input, _) in f.Grads)
            f.AssertClose("grad." + input, x[input].Grad!.ToArray<double>(), f32 ? 1e-4 : 1e-9, f32 ? 1e-5 : 1e-11);
    }

    internal static Tensor? Opt(Dictionary<string, Tensor> x, string name) => x.TryGetValue(name, out var t) ? t : null;

    public static TheoryData<string> LayerNormCases => new() { "layer_norm_w1", "layer_norm_w3", "layer_norm_w33", "layer_norm_plain" };
    public static TheoryData<string> BatchNormCases => new() { "batch_norm_train_c3", "batch_norm_train_c33", "batch_norm_eval_c5" };
    public static TheoryData<string> GroupNormCases => new() { "group_norm_c6_g3", "group_norm_c33_g3", "group_norm_c32_g32" };
    public static TheoryData<string> SoftmaxCases => new()
    {
        "softmax_n1", "softmax_n3", "softmax_n33", "log_softmax_n1", "log_softmax_n3", "log_softmax_n33", "softmax_dim1", "log_softmax_dim0",
    };

    [Theory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNorm_MatchesPyTorch_Fixture(string name)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            Check("norm/" + name, dtype, (x, p) => Ops.LayerNorm(x["x"], Opt(x, "weight"), Opt(x, "bias"), p.GetProperty("eps").GetDouble()));
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNorm_MatchesPyTorch_FixtureWithRunningStats(string name)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            Check("norm/" + name, dtype,
                (x, p) => Ops.BatchNorm(x["x"], x["weight"], x["bias"], x["running_mean"], x["running_var"],
                    p.GetProperty("training").GetBoolean(), p.GetProperty("momentum").GetDouble(), p.GetProperty("eps").GetDouble()),
                (f, x, rtol, atol) =>
                {
                    // out.1, out.2: the running statistics after the call (unchanged in eval mode).
                    f.AssertClose("out.1", x["running_mean"].ToArray<double>(), rtol, atol);
                    f.AssertClose("out.2", x["running_var"].ToArray<double>(), rtol, atol);
                });
    }

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNorm_MatchesPyTorch_Fixture(string name)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            Check("norm/" + name, dtype, (x, p) => Ops.GroupNorm(x["x"], p.GetProperty("groups").GetInt32(), x["weight"], x["bias"], p.GetProperty("eps").GetDouble()));
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void Softmax_MatchesPyTorch_Fixture(string name)
    {
        bool log = name.StartsWith("log_", StringComparison.Ordinal);
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            Check("norm/" + name, dtype, (x, p) => log ? Ops.LogSoftmax(x["x"], p.GetProperty("dim").GetInt32()) : Ops.Softmax(x["x"], p.GetProperty("dim").GetInt32()));
    }
}
