// AsCAN's fused inference path (folded BN, packed weights, fused epilogues and attention) against the plain eval forward.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.AsCAN;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class AscanFusedInferenceTests
{
    /// <summary>A small model with every BatchNorm and LayerNorm redrawn, so folding and normalising matter.</summary>
    private static AscanModel Model(AscanConfig config, ulong seed = 21)
    {
        var m = new AscanModel(ParamPath.Root(DType.F32, new Rng(seed)), config);
        var rng = new Rng(seed + 1);
        foreach (var (name, t) in m.StateDict())
        {
            var s = t.Span<float>();
            double lo = 0, hi = 0;
            if (name.EndsWith("running_var")) (lo, hi) = (0.5, 1.5);
            else if (name.EndsWith("running_mean") || name.EndsWith("bias")) (lo, hi) = (-0.2, 0.2);
            else if (t.Rank == 1 && name.EndsWith("weight")) (lo, hi) = (0.7, 1.3);
            else continue;
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }
        m.Eval();
        return m;
    }

    private static readonly AscanConfig Tiny = AscanConfig.AscanNano with { Widths = [16, 32, 48, 64], HeadDim = 16, NumClasses = 10 };

    private static (Tensor Fused, Tensor Plain) Both(AscanModel m, Func<AscanModel, Tensor> f)
    {
        using var _ = Autograd.NoGrad();
        m.FusedInference = true;
        var fused = f(m);
        m.FusedInference = false;
        var plain = f(m);
        m.FusedInference = true;
        return (fused, plain);
    }

    private static void AssertRelClose(Tensor want, Tensor got, string what)
    {
        double scale = want.ToArray<double>().Max(Math.Abs);
        TensorAssert.Close(want, got, 0, 1e-5 * scale, what);
    }

    [Theory]
    [InlineData(2, 64)]
    [InlineData(1, 40)]   // odd maps: 10×10 → 5×5 → 3×3 → 2×2 tokens, partial GEMM tiles everywhere
    public void Forward_FusedEqualsPlain(int batch, int size)
    {
        if (!Ops.PackedKernelsSupported) return;
        var m = Model(Tiny);
        var x = Tensor.Randn(new Rng(3), DType.F32, batch, 3, size, size);
        var (fused, plain) = Both(m, m => m.Forward(x));
        AssertRelClose(plain, fused, "logits");
    }

    [Fact]
    public void ForwardStages_FusedEqualsPlain_InScope()
    {
        if (!Ops.PackedKernelsSupported) return;
        var m = Model(Tiny with { Stages = ["CT", "CCT", "TC", "T"] });
        var x = Tensor.Randn(new Rng(4), DType.F32, 2, 3, 48, 48);
        IReadOnlyList<Tensor> plain;
        using (Autograd.NoGrad()) { m.FusedInference = false; plain = m.ForwardStages(x); m.FusedInference = true; }
        for (int round = 0; round < 2; round++) // buffers released early inside a scope are recycled correctly
        {
            using var scope = TensorScope.Begin();
            using var _ = Autograd.NoGrad();
            var fused = m.ForwardStages(x);
            for (int i = 0; i < fused.Count; i++) AssertRelClose(plain[i], fused[i], $"stage {i}");
        }
    }

    [Fact]
    public void Forward_AfterTrainingStepAndHeadReset_UsesCurrentWeights()
    {
        if (!Ops.PackedKernelsSupported) return;
        var m = Model(Tiny);
        var x = Tensor.Randn(new Rng(5), DType.F32, 2, 3, 32, 32);
        Both(m, m => m.Forward(x)); // packs everything
        // A training step changes weights and BN statistics in place; eval must see the new values.
        m.Train();
        var opt = new Ascan.Nn.Optim.AdamW(m.Parameters());
        Ops.CrossEntropy(m.Forward(x), [1, 2]).Backward();
        opt.Step();
        m.Eval();
        var (fused, plain) = Both(m, m => m.Forward(x));
        AssertRelClose(plain, fused, "after a step");
        m.ResetClassifier(3);
        m.Eval();
        (fused, plain) = Both(m, m => m.Forward(x));
        Assert.Equal([2, 3], fused.ShapeArray());
        AssertRelClose(plain, fused, "after a head reset");
    }

    [Fact]
    public void Forward_WithGradientEnabled_RecordsGraph()
    {
        var m = Model(Tiny);
        var x = Tensor.Randn(new Rng(6), DType.F32, 1, 3, 32, 32);
        var y = m.Forward(x); // eval, autograd on, parameters require gradients: the plain path
        Assert.NotNull(y.GradFn);
    }
}
