// Softmax and log-softmax row kernels against their naive twins at every length 0–257 and large odd ones.
using System.Numerics;

namespace Ascan.Kernels.Tests;

public class SoftmaxKernelTests
{
    private static void Check<T>(int rows, int n, double range) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(n * 31 + rows);
        var x = NormTestUtil.Random<T>(rng, rows * n, range);
        var dy = NormTestUtil.Random<T>(rng, rows * n);
        foreach (bool log in new[] { false, true })
        {
            var y = new T[rows * n]; var yr = new T[rows * n];
            if (log) SoftmaxKernel.LogForward<T>(y, x, rows, n); else SoftmaxKernel.Forward<T>(y, x, rows, n);
            SoftmaxReference.Forward<T>(yr, x, rows, n, log);
            NormTestUtil.Close<T>(yr, y, 1e-5, 1e-6, $"{(log ? "log-" : "")}softmax forward n={n}");
            // Backward accumulates: start both from the same non-zero dx.
            var dx = NormTestUtil.Random<T>(new Random(5), rows * n); var dxr = (T[])dx.Clone();
            if (log) SoftmaxKernel.LogBackward<T>(dx, dy, yr, rows, n); else SoftmaxKernel.Backward<T>(dx, dy, yr, rows, n);
            SoftmaxReference.Backward<T>(dxr, dy, yr, rows, n, log);
            NormTestUtil.Close<T>(dxr, dx, 1e-4, 1e-5, $"{(log ? "log-" : "")}softmax backward n={n}");
        }
    }

    [Fact]
    public void Softmax_MatchesReference_AllLengthsFloat()
    {
        foreach (int n in NormTestUtil.Lengths(1001, 4099)) Check<float>(3, n, 5);
    }

    [Fact]
    public void Softmax_MatchesReference_AllLengthsDouble()
    {
        foreach (int n in NormTestUtil.Lengths(1001, 4099)) Check<double>(3, n, 5);
    }

    [Fact]
    public void Softmax_MatchesReference_ManyRowsParallel()
    {
        Check<float>(300, 257, 3);
        Check<double>(129, 515, 3);
    }

    [Fact]
    public void Softmax_Stable_LargeLogits()
    {
        var x = new float[] { 1000, 1001, 999, -1000 };
        var y = new float[4];
        SoftmaxKernel.Forward<float>(y, x, 1, 4);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1.0, y.Sum(), 5);
        var ly = new float[4];
        SoftmaxKernel.LogForward<float>(ly, x, 1, 4);
        Assert.Equal(Math.Log(y[1]), ly[1], 4);
    }

    [Fact]
    public void Softmax_NegativeInfinity_MaskedEntriesAreZero()
    {
        var x = new double[] { 0, double.NegativeInfinity, 1, double.NegativeInfinity, double.NegativeInfinity };
        var y = new double[5];
        SoftmaxKernel.Forward<double>(y, x, 1, 5);
        Assert.Equal(0, y[1]); Assert.Equal(0, y[3]);
        Assert.Equal(1 / (1 + Math.E), y[0], 12);
    }

    [Fact]
    public void Exp_Accurate_FloatSweepAndEdges()
    {
        // A sweep over the whole useful range (every lane position), then the edges: underflow to exactly 0, −∞, NaN.
        var x = Enumerable.Range(0, 20001).Select(i => -87f + i * (175f / 20000)).ToArray();
        var y = new float[x.Length];
        SoftmaxKernel.Exp<float>(y, x);
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Exp(x[i]);
            Assert.True(Math.Abs(y[i] - e) <= 3e-7 * e, $"exp({x[i]:G9}) = {y[i]:G9}, expected {e:G9}");
        }
        var edge = new float[] { float.NegativeInfinity, -100, -87.31f, 0, float.NaN, 1, -1, 0.5f, -0.5f, 10, -10, 20, -20, 30, -30, 40, float.NegativeInfinity };
        var ey = new float[edge.Length];
        SoftmaxKernel.Exp<float>(ey, edge);
        Assert.Equal(0f, ey[0]); Assert.Equal(0f, ey[1]); Assert.Equal(0f, ey[2]); Assert.Equal(1f, ey[3]);
        Assert.True(float.IsNaN(ey[4]));
        Assert.Equal(0f, ey[16]);
        Assert.Equal(Math.E, ey[5], 6);
    }
}
