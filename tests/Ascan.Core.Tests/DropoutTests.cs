// Tests of dropout and drop-path: statistics, identity in eval, determinism and gradients.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class DropoutTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(33)]
    public void Dropout_Gradcheck_OddSizes(int n)
    {
        var x = GradCheck.Leaf(new Rng(1), n, 3);
        // The Rng is re-seeded inside f so every evaluation draws the same mask.
        GradCheck.Check(v => Ops.Dropout(v[0], 0.3, true, new Rng(5)), [x]);
        GradCheck.Check(v => Ops.Dropout(v[0].Transpose(0, 1), 0.5, true, new Rng(6)) * v[0].Transpose(0, 1), [x]);
        GradCheck.Check(v => Ops.DropPath(v[0], 0.4, true, new Rng(7)), [x]);
        GradCheck.Check(v => Ops.DropPath(v[0].Transpose(0, 1), 0.4, true, new Rng(8)) + v[0].Transpose(0, 1), [x]);
    }

    [Fact]
    public void Dropout_IsIdentity_InEvalOrZeroProbability()
    {
        var x = Tensor.Randn(new Rng(2), DType.F32, 4, 5);
        Assert.Same(x, Ops.Dropout(x, 0.5, false, new Rng(1)));
        Assert.Same(x, Ops.Dropout(x, 0.0, true, new Rng(1)));
        Assert.Same(x, Ops.DropPath(x, 0.5, false, new Rng(1)));
        Assert.Same(x, Ops.DropPath(x, 0.0, true, new Rng(1)));
    }

    [Fact]
    public void Dropout_KeepsExpectation_AndScalesKeptValues()
    {
        var x = Tensor.Ones(DType.F64, 200, 100);
        var y = Ops.Dropout(x, 0.25, true, new Rng(3)).ToArray<double>();
        int kept = y.Count(v => v != 0);
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75) < 1e-15));
        Assert.InRange(kept / 20000.0, 0.74, 0.76);
        Assert.InRange(y.Average(), 0.98, 1.02);
    }

    [Fact]
    public void DropPath_DropsWholeSamples()
    {
        var x = Tensor.Ones(DType.F32, 64, 3, 2, 5);
        var y = Ops.DropPath(x, 0.5, true, new Rng(4)).ToArray<float>();
        int dropped = 0;
        for (int b = 0; b < 64; b++)
        {
            var s = y.AsSpan(b * 30, 30).ToArray();
            Assert.True(s.All(v => v == 0) || s.All(v => v == 2f), "a sample is dropped or scaled as a whole");
            if (s[0] == 0) dropped++;
        }
        Assert.InRange(dropped, 16, 48);
    }

    [Fact]
    public void Dropout_SameSeed_SameMask_AndProbabilityOneZeroes()
    {
        var x = Tensor.Randn(new Rng(5), DType.F32, 7, 9);
        Assert.Equal(Ops.Dropout(x, 0.3, true, new Rng(9)).ToArray<float>(), Ops.Dropout(x, 0.3, true, new Rng(9)).ToArray<float>());
        Assert.All(Ops.Dropout(x, 1.0, true, new Rng(9)).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(Ops.DropPath(x, 1.0, true, new Rng(9)).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(x, 1.5, true, new Rng(1)));
    }

    [Fact]
    public void Dropout_NoGrad_RecordsNoNode()
    {
        var x = GradCheck.Leaf(new Rng(6), 3, 3);
        using (Autograd.NoGrad()) Assert.Null(Ops.Dropout(x, 0.5, true, new Rng(1)).GradFn);
        var c = Tensor.Randn(new Rng(6), DType.F64, 3, 3);
        Assert.Null(Ops.DropPath(c, 0.5, true, new Rng(1)).GradFn);
    }
}
