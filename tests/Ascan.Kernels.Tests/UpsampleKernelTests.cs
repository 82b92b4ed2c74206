// Upsampling kernels against their reference twins at every channel count 0–257 and large odd sizes.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class UpsampleKernelTests
{
    public static IEnumerable<object[]> Sizes() => PoolKernelTests.Sizes();

    private static T[] Random<T>(Random r, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateChecked(r.NextDouble() * 4 - 2);
        return a;
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Nearest_MatchesReference(int b, int h, int w, int c)
    {
        foreach (var (oh, ow) in new[] { (2 * h, 2 * w), (h + 3, w - 1), (2, 3) })
        {
            Nearest<float>(b, h, w, c, oh, ow);
            Nearest<double>(b, h, w, c, oh, ow);
        }
    }

    private static void Nearest<T>(int b, int h, int w, int c, int oh, int ow) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(c + oh * 31);
        var x = Random<T>(r, b * h * w * c);
        var hi = UpsampleAxis.Nearest(h, oh, null); var wi = UpsampleAxis.Nearest(w, ow, null);
        var y = new T[b * oh * ow * c]; var yr = new T[y.Length];
        Upsample2dKernel.NearestForward<T>(y, x, b, h, w, c, hi, wi);
        UpsampleReference.Nearest<T>(yr, x, b, h, w, c, oh, ow);
        Assert.Equal(yr, y);
        PoolKernelTests.Adjoint<T>(r, x.Length, y.Length, (o, i) => Upsample2dKernel.NearestForward<T>(o, i, b, h, w, c, hi, wi),
            (i, o) => Upsample2dKernel.NearestBackward<T>(i, o, b, h, w, c, hi, wi));
    }

    [Theory, MemberData(nameof(Sizes))]
    public void Bilinear_MatchesReference(int b, int h, int w, int c)
    {
        foreach (var (oh, ow) in new[] { (2 * h, 2 * w), (h + 3, w - 1), (2, 3), (1, 1) })
        foreach (bool ac in new[] { false, true })
        {
            Bilinear<float>(b, h, w, c, oh, ow, ac, 2e-6);
            Bilinear<double>(b, h, w, c, oh, ow, ac, 1e-13);
        }
    }

    private static void Bilinear<T>(int b, int h, int w, int c, int oh, int ow, bool ac, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(c + oh * 17);
        var x = Random<T>(r, b * h * w * c);
        var ha = UpsampleAxis.Linear(h, oh, ac, null); var wa = UpsampleAxis.Linear(w, ow, ac, null);
        var y = new T[b * oh * ow * c]; var yr = new T[y.Length];
        Upsample2dKernel.BilinearForward<T>(y, x, b, h, w, c, ha, wa);
        UpsampleReference.Bilinear<T>(yr, x, b, h, w, c, oh, ow, ac);
        for (int i = 0; i < y.Length; i++)
        {
            double e = double.CreateChecked(yr[i]), a = double.CreateChecked(y[i]);
            Assert.True(Math.Abs(e - a) <= tol * (1 + Math.Abs(e)), $"at {i}: expected {e}, got {a}");
        }
        PoolKernelTests.Adjoint<T>(r, x.Length, y.Length, (o, i) => Upsample2dKernel.BilinearForward<T>(o, i, b, h, w, c, ha, wa),
            (i, o) => Upsample2dKernel.BilinearBackward<T>(i, o, b, h, w, c, ha, wa));
    }

    [Fact]
    public void Blend4_Axpy_MatchScalarLoop_AllLengths()
    {
        var r = new Random(5);
        for (int n = 0; n <= 257; n++)
        {
            var a = Random<float>(r, n); var b2 = Random<float>(r, n); var c = Random<float>(r, n); var d = Random<float>(r, n);
            var y = new float[n];
            Upsample2dKernel.Blend4<float>(y, a, 0.1f, b2, 0.2f, c, 0.3f, d, 0.4f);
            for (int i = 0; i < n; i++) Assert.Equal(0.1f * a[i] + 0.2f * b2[i] + 0.3f * c[i] + 0.4f * d[i], y[i]);
            var z = (double[])Random<double>(r, n).Clone(); var z0 = (double[])z.Clone(); var xd = Random<double>(r, n);
            Upsample2dKernel.Axpy<double>(z, 0.7, xd);
            for (int i = 0; i < n; i++) Assert.Equal(z0[i] + 0.7 * xd[i], z[i]);
        }
    }
}
