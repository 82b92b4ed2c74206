// Pooling kernels against their reference twins at every channel count 0–257 and large odd sizes.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class PoolKernelTests
{
    private static T[] Random<T>(Random r, int n, bool ties = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[n];
        // Ties: values from a small set so windows often hold equal maxima (the first must win).
        for (int i = 0; i < n; i++) a[i] = T.CreateChecked(ties ? r.Next(4) : r.NextDouble() * 4 - 2);
        return a;
    }

    public static IEnumerable<object[]> Sizes()
    {
        for (int c = 0; c <= 257; c++) yield return new object[] { 1, 5, 4, c };
        yield return new object[] { 3, 37, 29, 67 };   // large enough for the parallel path
        yield return new object[] { 1, 9, 7, 1031 };
    }

    private static void AvgCase<T>(int b, int h, int w, int c, int k, int s, int p, bool inc, bool ceil) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(b * 1000 + h * 100 + c);
        var x = Random<T>(r, b * h * w * c);
        var ha = PoolWindows.Avg(h, k, s, p, inc, ceil); var wa = PoolWindows.Avg(w, k, s, p, inc, ceil);
        var y = new T[b * ha.Size * wa.Size * c]; var yr = new T[y.Length];
        AvgPool2dKernel.Forward<T>(y, x, b, h, w, c, ha, wa);
        PoolReference.AvgForward<T>(yr, x, b, h, w, c, k, k, s, s, p, p, inc, ceil);
        Assert.Equal(yr, y);
        Adjoint<T>(r, x.Length, y.Length, (o, i) => AvgPool2dKernel.Forward<T>(o, i, b, h, w, c, ha, wa),
            (i, o) => AvgPool2dKernel.Backward<T>(i, o, b, h, w, c, ha, wa));
    }

    /// <summary>For a linear map F with adjoint Fᵀ: ⟨F(x), g⟩ = ⟨x, Fᵀ(g)⟩ — checks the backward kernel.</summary>
    internal static void Adjoint<T>(Random r, int nIn, int nOut, Action<T[], T[]> forward, Action<T[], T[]> backward) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = Random<T>(r, nIn); var g = Random<T>(r, nOut);
        var y = new T[nOut]; forward(y, x);
        var dx = new T[nIn]; backward(dx, g);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < nOut; i++) lhs += double.CreateChecked(y[i] * g[i]);
        for (int i = 0; i < nIn; i++) rhs += double.CreateChecked(x[i] * dx[i]);
        double tol = typeof(T) == typeof(float) ? 1e-4 : 1e-10;
        Assert.True(Math.Abs(lhs - rhs) <= tol * (1 + Math.Abs(lhs)), $"adjoint mismatch {lhs} vs {rhs}");
    }

    [Theory, MemberData(nameof(Sizes))]
    public void AvgPool2d_MatchesReference(int b, int h, int w, int c)
    {
        AvgCase<float>(b, h, w, c, 2, 2, 0, true, false);
        AvgCase<double>(b, h, w, c, 3, 2, 1, false, true);
        AvgCase<float>(b, h, w, c, 3, 1, 1, true, true);
    }

    [Theory, MemberData(nameof(Sizes))]
    public void AdaptiveAvgPool2d_MatchesReference(int b, int h, int w, int c)
    {
        foreach (var (oh, ow) in new[] { (1, 1), (3, 2), (6, 6) })
        {
            Adaptive<float>(b, h, w, c, oh, ow);
            Adaptive<double>(b, h, w, c, oh, ow);
        }
    }

    private static void Adaptive<T>(int b, int h, int w, int c, int oh, int ow) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(c + oh);
        var x = Random<T>(r, b * h * w * c);
        var ha = PoolWindows.Adaptive(h, oh); var wa = PoolWindows.Adaptive(w, ow);
        var y = new T[b * oh * ow * c]; var yr = new T[y.Length];
        AvgPool2dKernel.Forward<T>(y, x, b, h, w, c, ha, wa);
        PoolReference.AdaptiveAvgForward<T>(yr, x, b, h, w, c, oh, ow);
        Assert.Equal(yr, y);
        Adjoint<T>(r, x.Length, y.Length, (o, i) => AvgPool2dKernel.Forward<T>(o, i, b, h, w, c, ha, wa),
            (i, o) => AvgPool2dKernel.Backward<T>(i, o, b, h, w, c, ha, wa));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void MaxPool2d_MatchesReference(int b, int h, int w, int c)
    {
        Max<float>(b, h, w, c, 3, 2, 1, 1, false, ties: true);
        Max<double>(b, h, w, c, 3, 2, 1, 1, false, ties: true);
        Max<float>(b, h, w, c, 2, 1, 1, 2, true, ties: false);
        Max<double>(b, h, w, c, 2, 2, 0, 1, true, ties: false);
    }

    private static void Max<T>(int b, int h, int w, int c, int k, int s, int p, int d, bool ceil, bool ties) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(c * 7 + k);
        var x = Random<T>(r, b * h * w * c, ties);
        if (x.Length > 10) x[x.Length / 3] = T.NaN; // NaN propagates like PyTorch
        int oh = PoolWindows.OutputSize(h, k, s, p, d, ceil), ow = PoolWindows.OutputSize(w, k, s, p, d, ceil);
        var g = new MaxPoolGeometry(b, h, w, c, oh, ow, k, k, s, s, p, p, d, d);
        var y = new T[b * oh * ow * c]; var yr = new T[y.Length];
        var ia = new int[y.Length]; var iar = new int[y.Length];
        MaxPool2dKernel.Forward<T>(y, ia, x, g);
        PoolReference.MaxForward<T>(yr, iar, x, g);
        Assert.Equal(yr, y);
        Assert.Equal(iar, ia);
        // Backward: a scatter to the argmax, checked against the plain loop.
        var dy = Random<T>(r, y.Length); var dx = new T[x.Length]; var dxr = new T[x.Length];
        MaxPool2dKernel.Backward<T>(dx, dy, ia, g);
        for (int o = 0; o < y.Length; o++)
        {
            int bi = o / (oh * ow * c), ch = o % c;
            dxr[(bi * h * w + iar[o]) * c + ch] += dy[o];
        }
        Assert.Equal(dxr, dx);
    }
}
