// Gradient checks and behaviour of Softmax and LogSoftmax along any axis.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class SoftmaxTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(33)]
    public void Softmax_Gradcheck_OddWidth(int n)
    {
        var x = GradCheck.Leaf(new Rng(40 + (ulong)n), 2, 3, n);
        GradCheck.Check(t => Ops.Softmax(t[0]), [x]);
        GradCheck.Check(t => Ops.LogSoftmax(t[0]), [x]);
    }

    [Fact]
    public void Softmax_Gradcheck_OtherAxesAndViews()
    {
        var x = GradCheck.Leaf(new Rng(41), 3, 4, 5);
        GradCheck.Check(t => Ops.Softmax(t[0], 0), [x]);
        GradCheck.Check(t => Ops.LogSoftmax(t[0], 1), [x]);
        GradCheck.Check(t => Ops.Softmax(t[0].Transpose(0, 2)), [x]);
        GradCheck.Check(t => Ops.Softmax(t[0]) * t[0], [x]);
    }

    [Fact]
    public void Softmax_Gradcheck_InputWithoutGrad()
    {
        var rng = new Rng(42);
        var x = GradCheck.Leaf(rng, 2, 6); var c = Tensor.Randn(rng, DType.F64, 2, 6);
        GradCheck.Check(t => Ops.LogSoftmax(t[0] + t[1]), [x, c]);
        Assert.Null(c.Grad);
    }

    [Fact]
    public void Softmax_OtherAxis_MatchesTransposedLastAxis()
    {
        var x = Tensor.Randn(new Rng(43), DType.F32, 4, 3, 2);
        var a = Ops.Softmax(x, 1);
        var b = Ops.Softmax(x.Transpose(1, 2)).Transpose(1, 2);
        TensorAssert.Close(b, a, 1e-6, 1e-7, "softmax axis 1");
        var s = a.ToArray<float>();
        Assert.Equal(1.0, s[0] + s[2] + s[4], 5);
        Assert.True(a.IsContiguous);
    }

    [Fact]
    public void Softmax_NoGrad_RecordsNothing()
    {
        var x = GradCheck.Leaf(new Rng(44), 3);
        using (Autograd.NoGrad()) { Assert.Null(Ops.Softmax(x).GradFn); Assert.Null(Ops.LogSoftmax(x, 0).GradFn); }
    }
}
