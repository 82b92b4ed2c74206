// Tests of the autograd engine, views and broadcasting binary ops.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class AutogradTests
{
    [Fact]
    public void Binary_Gradcheck_Broadcasting()
    {
        var rng = new Rng(1);
        foreach (var (sa, sb) in new[] { (new[] { 3, 4 }, new[] { 3, 4 }), (new[] { 2, 3, 5 }, new[] { 5 }), (new[] { 2, 1, 5 }, new[] { 3, 1 }), (new[] { 33 }, new[] { 1 }), (new[] { 1 }, new[] { 2, 3 }) })
        {
            var a = GradCheck.Leaf(rng, sa); var b = GradCheck.Leaf(rng, 0.5, 2.0, sb);
            GradCheck.Check(x => x[0] + x[1], new[] { a, b });
            GradCheck.Check(x => x[0] - x[1], new[] { a, b });
            GradCheck.Check(x => x[0] * x[1], new[] { a, b });
            GradCheck.Check(x => x[0] / x[1], new[] { a, b });
        }
    }

    [Fact]
    public void Binary_Gradcheck_InputUsedTwice()
    {
        var a = GradCheck.Leaf(new Rng(2), 3, 5);
        GradCheck.Check(x => x[0] * x[0] + x[0], new[] { a });
    }

    [Fact]
    public void Binary_Gradcheck_TransposedView()
    {
        var rng = new Rng(3);
        var a = GradCheck.Leaf(rng, 4, 3); var b = GradCheck.Leaf(rng, 3, 4);
        GradCheck.Check(x => x[0].Transpose(0, 1) * x[1], new[] { a, b });
    }

    [Fact]
    public void Binary_Gradcheck_InputWithoutGrad()
    {
        var rng = new Rng(4);
        var a = GradCheck.Leaf(rng, 2, 3); var b = Tensor.Randn(rng, DType.F64, 2, 3);
        GradCheck.Check(x => x[0] * x[1], new[] { a, b });
        Assert.Null(b.Grad);
    }

    [Fact]
    public void Views_Gradcheck()
    {
        var rng = new Rng(5);
        var a = GradCheck.Leaf(rng, 2, 3, 4);
        GradCheck.Check(x => x[0].Permute(2, 0, 1).Reshape(4, 6), new[] { a });
        GradCheck.Check(x => x[0].Slice(2, 1, 2) * 3.0, new[] { a });
        GradCheck.Check(x => x[0].Slice(1, 0, 2, step: 2).Permute(1, 0, 2).Contiguous(), new[] { a });
        GradCheck.Check(x => x[0].Slice(0, 1, 1).Expand(5, 3, 4), new[] { a });
        GradCheck.Check(x => x[0].Unsqueeze(1).Flatten(0, 1).Squeeze(0 + 0 * 1).Reshape(-1), new[] { GradCheck.Leaf(rng, 1, 3) });
    }

    [Fact]
    public void Views_Share_Storage()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var t = a.Transpose(0, 1);
        Assert.Same(a.Storage, t.Storage);
        Assert.False(t.IsContiguous);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, t.ToArray<float>());
        Assert.Equal(new float[] { 2, 5 }, a.Slice(1, 1, 1).ToArray<float>());
    }

    [Fact]
    public void Backward_Accumulates_AcrossCalls()
    {
        var a = Tensor.FromArray(new double[] { 1, 2 }, 2); a.RequiresGrad = true;
        (a * 3.0).Backward(Tensor.Ones(DType.F64, 2));
        (a * 3.0).Backward(Tensor.Ones(DType.F64, 2));
        Assert.Equal(new double[] { 6, 6 }, a.Grad!.ToArray<double>());
    }

    [Fact]
    public void NoGrad_Records_Nothing()
    {
        var a = Tensor.Ones(3); a.RequiresGrad = true;
        Tensor y;
        using (Autograd.NoGrad()) y = a * 2.0;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Fact]
    public void Backward_Twice_Throws()
    {
        var a = Tensor.Ones(DType.F64, 2); a.RequiresGrad = true;
        var y = a * a;
        y.Backward(Tensor.Ones(DType.F64, 2));
        Assert.Throws<InvalidOperationException>(() => y.Backward(Tensor.Ones(DType.F64, 2)));
    }

    [Fact]
    public void NoBackward_Throws_When_Gradient_Needed()
    {
        var a = Tensor.Ones(2); a.RequiresGrad = true;
        Assert.Throws<NotSupportedException>(() => Autograd.NoBackward("test_op", a));
        using (Autograd.NoGrad()) Autograd.NoBackward("test_op", a);
    }

    [Fact]
    public void Broadcast_Mismatch_Names_Shapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3) + Tensor.Zeros(4));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4]", e.Message);
    }

    [Fact]
    public void Scope_Recycles_And_Guards_Released_Storage()
    {
        var big = new float[4096];
        Tensor kept, dropped;
        using (TensorScope.Begin())
        {
            dropped = Tensor.FromArray(big, 4096);
            kept = (dropped + 1.0f).Keep();
        }
        Assert.Equal(1f, kept.ToArray<float>()[0]);
        Assert.Throws<ObjectDisposedException>(() => dropped.ToArray<float>());
        // A second scope reuses the released buffer instead of allocating.
        using (TensorScope.Begin())
        {
            var again = Tensor.Zeros(4096);
            Assert.Equal(0f, again.ToArray<float>()[5]);
        }
    }

    [Fact]
    public void Binary_MatchesReference_AllLengths_Float()
    {
        var rng = new Rng(9);
        for (int n = 0; n <= 257; n++)
        {
            var a = Tensor.Randn(rng, DType.F32, n); var b = Tensor.Randn(rng, DType.F32, n);
            var y = (a * b).ToArray<float>(); var av = a.ToArray<float>(); var bv = b.ToArray<float>();
            for (int i = 0; i < n; i++) Assert.Equal(av[i] * bv[i], y[i]);
        }
    }
}
