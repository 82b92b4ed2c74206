// Gradient checks and behaviour of LayerNorm, BatchNorm (training and eval, running statistics) and GroupNorm.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class NormTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(33)]
    public void LayerNorm_Gradcheck_OddWidth(int n)
    {
        var rng = new Rng(10 + (ulong)n);
        var x = GradCheck.Leaf(rng, 2, 3, n); var w = GradCheck.Leaf(rng, n); var b = GradCheck.Leaf(rng, n);
        GradCheck.Check(t => Ops.LayerNorm(t[0], t[1], t[2]), [x, w, b]);
        GradCheck.Check(t => Ops.LayerNorm(t[0]), [x]);
    }

    [Fact]
    public void LayerNorm_Gradcheck_TransposedViewAndInputUsedTwice()
    {
        var rng = new Rng(11);
        var x = GradCheck.Leaf(rng, 5, 4); var w = GradCheck.Leaf(rng, 5);
        GradCheck.Check(t => Ops.LayerNorm(t[0].Transpose(0, 1), t[1]), [x, w]);
        var y = GradCheck.Leaf(rng, 3, 4);
        GradCheck.Check(t => Ops.LayerNorm(t[0], bias: null) * t[0], [y]);
        // The weight is also the input (a (4) vector normalised with itself as weight).
        var v = GradCheck.Leaf(rng, 4);
        GradCheck.Check(t => Ops.LayerNorm(t[0], t[0], t[0]), [v]);
    }

    [Fact]
    public void LayerNorm_Gradcheck_InputWithoutGrad()
    {
        var rng = new Rng(12);
        var x = Tensor.Randn(rng, DType.F64, 3, 7); var w = GradCheck.Leaf(rng, 7); var b = GradCheck.Leaf(rng, 7);
        GradCheck.Check(t => Ops.LayerNorm(t[0], t[1], t[2]), [x, w, b]);
        Assert.Null(x.Grad);
        var x2 = GradCheck.Leaf(rng, 3, 7); var w2 = Tensor.Randn(rng, DType.F64, 7);
        GradCheck.Check(t => Ops.LayerNorm(t[0], t[1]), [x2, w2]);
        Assert.Null(w2.Grad);
    }

    [Fact]
    public void LayerNorm_NoGrad_RecordsNothing()
    {
        var x = GradCheck.Leaf(new Rng(13), 2, 5);
        using (Autograd.NoGrad()) Assert.Null(Ops.LayerNorm(x).GradFn);
        Assert.NotNull(Ops.LayerNorm(x).GradFn);
        Assert.Null(Ops.LayerNorm(x.Detach()).GradFn);
    }

    [Fact]
    public void LayerNorm_Forward_NormalisesRows()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 10, 10, 10, 14 }, 2, 4);
        var y = Ops.LayerNorm(x).ToArray<float>();
        for (int r = 0; r < 2; r++)
        {
            var row = y.Skip(r * 4).Take(4).ToArray();
            Assert.Equal(0, row.Average(), 5);
            Assert.Equal(1, row.Select(v => v * v).Average(), 3);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(33)]
    public void BatchNorm_Gradcheck_TrainingNhwc(int c)
    {
        var rng = new Rng(20 + (ulong)c);
        var x = GradCheck.Leaf(rng, 2, 2, 3, c); var w = GradCheck.Leaf(rng, c); var b = GradCheck.Leaf(rng, c);
        GradCheck.Check(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, training: true), [x, w, b]);
        GradCheck.Check(t => Ops.BatchNorm(t[0], null, null, null, null, training: true), [x]);
    }

    [Fact]
    public void BatchNorm_Gradcheck_Eval()
    {
        var rng = new Rng(21);
        var x = GradCheck.Leaf(rng, 4, 5); var w = GradCheck.Leaf(rng, 5); var b = GradCheck.Leaf(rng, 5);
        var rm = Tensor.Randn(rng, DType.F64, 5); var rv = Tensor.Rand(rng, DType.F64, 0.5, 2, 5);
        GradCheck.Check(t => Ops.BatchNorm(t[0], t[1], t[2], rm, rv, training: false), [x, w, b]);
    }

    [Fact]
    public void BatchNorm_Gradcheck_ViewsTwiceAndNoGradInput()
    {
        var rng = new Rng(22);
        var x = GradCheck.Leaf(rng, 3, 6); var w = Tensor.Randn(rng, DType.F64, 3);
        // (6, 3) channels-last view of a (3, 6) leaf; the input also multiplies the result.
        GradCheck.Check(t => Ops.BatchNorm(t[0].Transpose(0, 1), t[1], null, null, null, training: true) * t[0].Transpose(0, 1), [x, w]);
        Assert.Null(w.Grad);
    }

    [Fact]
    public void BatchNorm_RunningStats_UpdateLikePyTorch()
    {
        // Channel 0 values 1, 3 (mean 2, biased var 1, unbiased 2); channel 1 values 0, 4.
        var x = Tensor.FromArray(new double[] { 1, 0, 3, 4 }, 2, 2);
        var rm = Tensor.FromArray(new double[] { 0, 1 }, 2); var rv = Tensor.FromArray(new double[] { 1, 1 }, 2);
        var y = Ops.BatchNorm(x, null, null, rm, rv, training: true, momentum: 0.1);
        Assert.Equal(new[] { 0.2, 0.1 * 2 + 0.9 }, rm.ToArray<double>());
        Assert.Equal(0.9 + 0.1 * 2, rv.ToArray<double>()[0], 12);
        Assert.Equal(0.9 + 0.1 * 8, rv.ToArray<double>()[1], 12);
        Assert.Equal(-1 / Math.Sqrt(1 + 1e-5), y.ToArray<double>()[0], 12);
        Assert.False(rm.RequiresGrad);
    }

    [Fact]
    public void BatchNorm_Eval_UsesRunningStatsAndLeavesThem()
    {
        var x = Tensor.FromArray(new double[] { 1, 0, 3, 4 }, 2, 2);
        var rm = Tensor.FromArray(new double[] { 1, 2 }, 2); var rv = Tensor.FromArray(new double[] { 4, 9 }, 2);
        var y = Ops.BatchNorm(x, null, null, rm, rv, training: false, eps: 0).ToArray<double>();
        TensorAssert.Close(new double[] { 0, -2.0 / 3, 1, 2.0 / 3 }, y, 1e-12, 1e-12, "eval BatchNorm");
        Assert.Equal(new double[] { 1, 2 }, rm.ToArray<double>());
        Assert.Throws<ArgumentException>(() => Ops.BatchNorm(x, null, null, null, null, training: false));
    }

    [Fact]
    public void BatchNorm_NoGrad_RecordsNothing()
    {
        var x = GradCheck.Leaf(new Rng(23), 4, 3);
        using (Autograd.NoGrad()) Assert.Null(Ops.BatchNorm(x, null, null, null, null, true).GradFn);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(33, 3)]
    [InlineData(6, 2)]
    public void GroupNorm_Gradcheck_Nhwc(int c, int groups)
    {
        var rng = new Rng(30 + (ulong)c);
        var x = GradCheck.Leaf(rng, 2, 2, 3, c); var w = GradCheck.Leaf(rng, c); var b = GradCheck.Leaf(rng, c);
        GradCheck.Check(t => Ops.GroupNorm(t[0], groups, t[1], t[2]), [x, w, b]);
        GradCheck.Check(t => Ops.GroupNorm(t[0], groups), [x]);
    }

    [Fact]
    public void GroupNorm_Gradcheck_ViewsTwiceAndNoGradInput()
    {
        var rng = new Rng(31);
        var x = GradCheck.Leaf(rng, 2, 4, 3); var w = Tensor.Randn(rng, DType.F64, 4); var b = GradCheck.Leaf(rng, 4);
        GradCheck.Check(t => Ops.GroupNorm(t[0].Transpose(1, 2), 2, t[1], t[2]) * t[0].Transpose(1, 2), [x, w, b]);
        Assert.Null(w.Grad);
        using (Autograd.NoGrad()) Assert.Null(Ops.GroupNorm(x, 3).GradFn);
        Assert.Throws<ArgumentException>(() => Ops.GroupNorm(x, 2)); // 3 channels, 2 groups
    }
}

public class BatchNormActTests
{
    [Theory]
    [InlineData(Ascan.Kernels.Activation.Gelu, true)]
    [InlineData(Ascan.Kernels.Activation.Relu, false)]
    [InlineData(Ascan.Kernels.Activation.None, true)]
    [InlineData(Ascan.Kernels.Activation.Silu, false)]
    public void BatchNormAct_Gradcheck_Training(Ascan.Kernels.Activation act, bool residual)
    {
        var rng = new Rng(21);
        var x = GradCheck.Leaf(rng, 2, 3, 4, 5); var w = GradCheck.Leaf(rng, 5); var b = GradCheck.Leaf(rng, 5); var r = GradCheck.Leaf(rng, 2, 3, 4, 5);
        if (residual) GradCheck.Check(t => Ops.BatchNormAct(t[0], t[1], t[2], null, null, true, act, t[3]), [x, w, b, r]);
        else GradCheck.Check(t => Ops.BatchNormAct(t[0], t[1], t[2], null, null, true, act), [x, w, b]);
    }

    /// <summary>The fused op against its composite twin (BatchNorm → activation → add), forward, gradients and running statistics.</summary>
    [Theory]
    [InlineData(true, 37)]   // odd channel count: vector and scalar lanes
    [InlineData(false, 64)]
    public void BatchNormAct_Float_MatchesComposite(bool training, int c)
    {
        var rng = new Rng(22);
        Tensor Leaf(params int[] shape) { var t = Tensor.Randn(rng, DType.F32, shape); t.RequiresGrad = true; return t; }
        var x = Leaf(3, 5, 4, c); var w = Leaf(c); var b = Leaf(c); var r = Leaf(3, 5, 4, c);
        var rm1 = Tensor.Randn(rng, DType.F32, c); var rv1 = Ops.Abs(Tensor.Randn(rng, DType.F32, c)) + 0.5;
        var rm2 = rm1.Clone(); var rv2 = rv1.Clone();
        var fused = Ops.BatchNormAct(x, w, b, rm1, rv1, training, Ascan.Kernels.Activation.Gelu, r);
        var dy = Tensor.Randn(rng, DType.F32, fused.ShapeArray());
        fused.Backward(dy);
        var gradsFused = new[] { x, w, b, r }.Select(t => t.Grad!.Clone()).ToArray();
        foreach (var t in new[] { x, w, b, r }) t.Grad = null;
        var plain = Ops.Gelu(Ops.BatchNorm(x, w, b, rm2, rv2, training)) + r;
        plain.Backward(dy);
        TensorAssert.Close(plain, fused, 1e-5, 1e-5, "y");
        string[] names = ["dx", "dw", "db", "dresidual"];
        var inputs = new[] { x, w, b, r };
        for (int i = 0; i < 4; i++) TensorAssert.Close(inputs[i].Grad!, gradsFused[i], 1e-4, 1e-4, names[i]);
        TensorAssert.Close(rm2, rm1, 1e-6, 1e-6, "running mean");
        TensorAssert.Close(rv2, rv1, 1e-6, 1e-6, "running var");
    }
}

public class BatchNormActConv1x1Tests
{
    [Fact]
    public void BatchNormActConv1x1_Gradcheck_Training()
    {
        var rng = new Rng(41);
        var z = GradCheck.Leaf(rng, 2, 3, 2, 4); var w = GradCheck.Leaf(rng, 4); var b = GradCheck.Leaf(rng, 4); var k = GradCheck.Leaf(rng, 5, 4, 1, 1);
        GradCheck.Check(t => Ops.BatchNormActConv1x1(t[0], t[1], t[2], null, null, true, Ascan.Kernels.Activation.Gelu, t[3]), [z, w, b, k]);
    }

    /// <summary>Against its composite twin Conv2d(BatchNormAct(z)): forward, every gradient, running statistics.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNormActConv1x1_Float_MatchesComposite(bool training)
    {
        var rng = new Rng(42);
        Tensor Leaf(params int[] shape) { var t = Tensor.Randn(rng, DType.F32, shape); t.RequiresGrad = true; return t; }
        var z = Leaf(2, 6, 5, 48); var w = Leaf(48); var b = Leaf(48); var k = Leaf(32, 48, 1, 1);
        var rm1 = Tensor.Randn(rng, DType.F32, 48); var rv1 = Ops.Abs(Tensor.Randn(rng, DType.F32, 48)) + 0.5;
        var rm2 = rm1.Clone(); var rv2 = rv1.Clone();
        var dy = Tensor.Randn(rng, DType.F32, 2, 6, 5, 32);
        var inputs = new[] { z, w, b, k };
        var fused = Ops.BatchNormActConv1x1(z, w, b, rm1, rv1, training, Ascan.Kernels.Activation.Gelu, k);
        fused.Backward(dy);
        var gf = inputs.Select(t => { var g = t.Grad!.Clone(); t.Grad = null; return g; }).ToArray();
        var plain = Ops.Conv2d(Ops.BatchNormAct(z, w, b, rm2, rv2, training, Ascan.Kernels.Activation.Gelu), k);
        plain.Backward(dy);
        TensorAssert.Close(plain, fused, 1e-5, 1e-5, "y");
        string[] names = ["dz", "dgamma", "dbeta", "dconv"];
        for (int i = 0; i < 4; i++) TensorAssert.Close(inputs[i].Grad!, gf[i], 1e-4, 1e-4, names[i]);
        TensorAssert.Close(rm2, rm1, 1e-6, 1e-6, "running mean");
        TensorAssert.Close(rv2, rv1, 1e-6, 1e-6, "running var");
    }
}
