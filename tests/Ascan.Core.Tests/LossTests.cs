// Tests of the losses: cross-entropy (every option), soft-target cross-entropy, MSE and L1.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class LossTests
{
    private static int[] Targets(Rng rng, int n, int c, int ignore = -100, int ignoreEvery = 0)
    {
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = ignoreEvery > 0 && i % ignoreEvery == 1 ? ignore : rng.NextInt(c);
        return t;
    }

    /// <summary>Naive float64 cross-entropy straight from torch 1.13's definition.</summary>
    private static double[] NaiveCrossEntropy(double[] x, int[] t, double[]? w, int ignore, double eps, Reduction red, int c)
    {
        int n = t.Length;
        var per = new double[n]; double denom = 0;
        for (int i = 0; i < n; i++)
        {
            if (t[i] == ignore) continue;
            double m = double.NegativeInfinity; for (int k = 0; k < c; k++) m = Math.Max(m, x[i * c + k]);
            double s = 0; for (int k = 0; k < c; k++) s += Math.Exp(x[i * c + k] - m);
            double lse = m + Math.Log(s);
            double W(int k) => w == null ? 1 : w[k];
            double smooth = 0; for (int k = 0; k < c; k++) smooth += W(k) * (lse - x[i * c + k]);
            per[i] = (1 - eps) * W(t[i]) * (lse - x[i * c + t[i]]) + eps / c * smooth;
            denom += W(t[i]);
        }
        return red switch { Reduction.None => per, Reduction.Sum => [per.Sum()], _ => [per.Sum() / denom] };
    }

    [Theory]
    [InlineData(1, 1, 0.0, false, false)]
    [InlineData(3, 3, 0.0, false, false)]
    [InlineData(5, 33, 0.1, false, false)]
    [InlineData(6, 7, 0.0, true, false)]
    [InlineData(6, 7, 0.0, false, true)]
    [InlineData(7, 17, 0.2, true, true)]
    public void CrossEntropy_MatchesDefinition_AllOptions(int n, int c, double eps, bool weighted, bool ignore)
    {
        var rng = new Rng(11);
        foreach (var red in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var x = Tensor.Randn(rng, DType.F64, n, c).To(dtype);
            var t = Targets(rng, n, c, 255, ignore ? 3 : 0);
            var w = weighted ? Tensor.Rand(rng, DType.F64, 0.2, 2.0, c) : null;
            var y = Ops.CrossEntropy(x, t, w?.To(dtype), 255, eps, red);
            var expected = NaiveCrossEntropy(x.ToArray<double>(), t, w?.ToArray<double>(), 255, eps, red, c);
            TensorAssert.Close(expected, y.ToArray<double>(), dtype == DType.F32 ? 1e-5 : 1e-12, dtype == DType.F32 ? 1e-6 : 1e-13, $"{red} {dtype}");
        }
    }

    [Theory]
    [InlineData(1, 1, 0.0, false, false)]
    [InlineData(3, 3, 0.1, false, false)]
    [InlineData(4, 33, 0.3, true, true)]
    [InlineData(9, 5, 0.0, true, true)]
    public void CrossEntropy_Gradcheck_AllOptions(int n, int c, double eps, bool weighted, bool ignore)
    {
        var rng = new Rng(12);
        var x = GradCheck.Leaf(rng, n, c);
        var t = Targets(rng, n, c, -100, ignore ? 2 : 0);
        var w = weighted ? Tensor.Rand(rng, DType.F64, 0.2, 2.0, c) : null;
        foreach (var red in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            GradCheck.Check(v => Ops.CrossEntropy(v[0], t, w, labelSmoothing: eps, reduction: red), [x]);
    }

    [Fact]
    public void CrossEntropy_Gradcheck_ChannelsLastMapAndPermutedView()
    {
        var rng = new Rng(13);
        // A (B, H, W, C) map built from a permuted (B, C, H, W) leaf: the op sees a non-contiguous view.
        var x = GradCheck.Leaf(rng, 2, 4, 3, 3);
        var t = Targets(rng, 2 * 3 * 3, 4, 255, 4);
        GradCheck.Check(v => Ops.CrossEntropy(v[0].Permute(0, 2, 3, 1), t, ignoreIndex: 255, labelSmoothing: 0.1), [x]);
        var y = Ops.CrossEntropy(x.Detach().Permute(0, 2, 3, 1), t, ignoreIndex: 255, reduction: Reduction.None);
        Assert.Equal([2, 3, 3], y.ShapeArray());
    }

    [Fact]
    public void CrossEntropy_Gradcheck_InputUsedTwice()
    {
        var rng = new Rng(14);
        var x = GradCheck.Leaf(rng, 3, 5);
        var t = Targets(rng, 3, 5);
        GradCheck.Check(v => Ops.CrossEntropy(v[0] * v[0], t, labelSmoothing: 0.1) + Ops.CrossEntropy(v[0], t), [x]);
    }

    [Fact]
    public void CrossEntropy_IsStable_ForHugeLogits()
    {
        var x = Tensor.FromArray(new float[] { 1e30f, 0f, -1e30f, 3000f, 3001f, 2999f }, 2, 3);
        var y = Ops.CrossEntropy(x, [1, 1], reduction: Reduction.None).ToArray<double>();
        Assert.Equal(1e30, y[0], 1e24);
        double expected = Math.Log(Math.Exp(-1) + 1 + Math.Exp(-2));
        Assert.Equal(expected, y[1], 3); // float32 spacing near 3000 is 2.4e-4
    }

    [Fact]
    public void CrossEntropy_Throws_OnBadTarget()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(x, [0, 3]));
        Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(x, [0]));
    }

    [Fact]
    public void CrossEntropy_NoGrad_RecordsNoNode()
    {
        var x = GradCheck.Leaf(new Rng(15), 2, 3);
        using (Autograd.NoGrad())
        {
            Assert.Null(Ops.CrossEntropy(x, [0, 2]).GradFn);
            Assert.Null(Ops.CrossEntropy(x, Tensor.Full(1.0 / 3, DType.F64, 2, 3)).GradFn);
            Assert.Null(Ops.MseLoss(x, x).GradFn);
        }
        Assert.NotNull(Ops.CrossEntropy(x, [0, 2]).GradFn);
    }

    [Fact]
    public void CrossEntropy_SoftTargets_EqualHard_ForOneHot()
    {
        var rng = new Rng(16);
        var x = Tensor.Randn(rng, DType.F64, 4, 6);
        int[] t = [0, 5, 2, 2];
        var oneHot = Tensor.Zeros(DType.F64, 4, 6);
        var oh = oneHot.Span<double>();
        for (int i = 0; i < 4; i++) oh[i * 6 + t[i]] = 1;
        foreach (var eps in new[] { 0.0, 0.25 })
        foreach (var red in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            TensorAssert.Close(Ops.CrossEntropy(x, t, labelSmoothing: eps, reduction: red), Ops.CrossEntropy(x, oneHot, eps, red), 1e-12, 1e-13);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(2, 33)]
    public void CrossEntropy_Gradcheck_SoftTargets(int n, int c)
    {
        var rng = new Rng(17);
        var x = GradCheck.Leaf(rng, n, c);
        var q = GradCheck.Leaf(rng, 0.0, 1.0, n, c);
        foreach (var red in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            GradCheck.Check(v => Ops.CrossEntropy(v[0], v[1], 0.1, red), [x, q]);
            // Target without a gradient (the usual mixup case) keeps Grad null.
            var qc = Tensor.Rand(rng, DType.F64, 0, 1, n, c);
            GradCheck.Check(v => Ops.CrossEntropy(v[0].Transpose(0, 1).Transpose(0, 1), v[1], 0.0, red), [x, qc]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(33)]
    public void PointwiseLosses_Gradcheck_OddSizes(int n)
    {
        var rng = new Rng(18);
        var a = GradCheck.Leaf(rng, n, 2); var b = GradCheck.Leaf(rng, n, 2);
        foreach (var red in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            GradCheck.Check(v => Ops.MseLoss(v[0], v[1], red), [a, b]);
            GradCheck.Check(v => Ops.L1Loss(v[0], v[1], red), [a, b]);
            GradCheck.Check(v => Ops.MseLoss(v[0], v[0] * v[1], red), [a, b]);
            var c = Tensor.Randn(rng, DType.F64, 2, n);
            GradCheck.Check(v => Ops.L1Loss(v[0], v[1].Transpose(0, 1), red), [a, c]);
            Assert.Null(c.Grad);
        }
    }

    [Fact]
    public void PointwiseLosses_MatchDefinition()
    {
        var x = Tensor.FromArray(new float[] { 1, -2, 3, 0.5f }, 2, 2);
        var t = Tensor.FromArray(new float[] { 0, 0, 3, 1 }, 2, 2);
        Assert.Equal((1 + 4 + 0 + 0.25) / 4, Ops.MseLoss(x, t).Item(), 6);
        Assert.Equal(1 + 2 + 0 + 0.5, Ops.L1Loss(x, t, Reduction.Sum).Item(), 6);
        Assert.Equal([1, 2, 0, 0.5], Ops.L1Loss(x, t, Reduction.None).ToArray<double>());
    }
}
