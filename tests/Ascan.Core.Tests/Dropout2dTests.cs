// Tests of channel dropout (Dropout2d) on channels-last maps: whole channels dropped, scaling, identity in eval, gradients.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class Dropout2dTests
{
    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 2, 3)]
    [InlineData(3, 2, 5, 33)]
    public void Dropout2d_Gradcheck_OddSizes(int b, int h, int w, int c)
    {
        var x = GradCheck.Leaf(new Rng(1), b, h, w, c);
        // Re-seeded inside f so every evaluation draws the same mask; the second form uses x twice and a permuted view.
        GradCheck.Check(v => Ops.Dropout2d(v[0], 0.4, true, new Rng(5)), [x]);
        GradCheck.Check(v => Ops.Dropout2d(v[0].Permute(0, 2, 1, 3), 0.5, true, new Rng(6)) * v[0].Permute(0, 2, 1, 3), [x]);
    }

    [Fact]
    public void Dropout2d_IsIdentity_InEvalOrZeroProbability()
    {
        var x = Tensor.Randn(new Rng(2), DType.F32, 2, 3, 4, 5);
        Assert.Same(x, Ops.Dropout2d(x, 0.5, false, new Rng(1)));
        Assert.Same(x, Ops.Dropout2d(x, 0.0, true, new Rng(1)));
    }

    [Fact]
    public void Dropout2d_DropsWholeChannelsPerSample_AndScalesKept()
    {
        const int B = 16, H = 3, W = 4, C = 40;
        var x = Tensor.Ones(DType.F32, B, H, W, C);
        var y = Ops.Dropout2d(x, 0.25, true, new Rng(3)).ToArray<float>();
        int dropped = 0;
        var perSample = new HashSet<string>();
        for (int b = 0; b < B; b++)
        {
            var pattern = new char[C];
            for (int c = 0; c < C; c++)
            {
                var values = Enumerable.Range(0, H * W).Select(k => y[(b * H * W + k) * C + c]).ToArray();
                Assert.True(values.All(v => v == 0) || values.All(v => Math.Abs(v - 1 / 0.75f) < 1e-6f), $"sample {b} channel {c} is dropped or scaled as a whole");
                if (values[0] == 0) { dropped++; pattern[c] = '0'; } else pattern[c] = '1';
            }
            perSample.Add(new string(pattern));
        }
        Assert.InRange(dropped / (double)(B * C), 0.17, 0.33);
        Assert.True(perSample.Count > 1, "each sample draws its own channel mask");
    }

    [Fact]
    public void Dropout2d_Backward_IsTheMask()
    {
        var x = Tensor.Randn(new Rng(4), DType.F64, 2, 2, 3, 6);
        x.RequiresGrad = true;
        var y = Ops.Dropout2d(x, 0.5, true, new Rng(9));
        var r = Tensor.Randn(new Rng(5), DType.F64, 2, 2, 3, 6);
        (y * r).Sum().Backward();
        var yv = y.ToArray<double>(); var xv = x.ToArray<double>(); var rv = r.ToArray<double>(); var g = x.Grad!.ToArray<double>();
        for (int i = 0; i < g.Length; i++)
        {
            double m = yv[i] == 0 ? 0 : yv[i] / xv[i];   // 0 or 2
            Assert.Equal(m * rv[i], g[i], 12);
        }
    }

    [Fact]
    public void Dropout2d_RejectsNonMapsAndBadProbability()
    {
        Assert.Throws<ArgumentException>(() => Ops.Dropout2d(Tensor.Ones(DType.F32, 2, 3), 0.1, true, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout2d(Tensor.Ones(DType.F32, 1, 1, 1, 2), 1.5, true, new Rng(1)));
    }
}
