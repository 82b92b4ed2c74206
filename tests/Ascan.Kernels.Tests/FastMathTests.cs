// Accuracy of FastMath's polynomial exp, erfc/Φ and tanh (both vector widths) and of its float64 erf.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class FastMathTests
{
    private static float[] Map512(Func<Vector512<float>, Vector512<float>> f, float[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16) f(Vector512.Create(x.AsSpan(i, 16))).CopyTo(y.AsSpan(i, 16));
        return y;
    }

    private static float[] Map256(Func<Vector256<float>, Vector256<float>> f, float[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 8) f(Vector256.Create(x.AsSpan(i, 8))).CopyTo(y.AsSpan(i, 8));
        return y;
    }

    private static float[] Grid(double lo, double hi, int n) => Enumerable.Range(0, n).Select(i => (float)(lo + (hi - lo) * i / (n - 1))).ToArray();

    private static double MaxRel(float[] x, float[] y, Func<double, double> f)
    {
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = f(x[i]);
            if (e == 0 || double.IsInfinity(e) || Math.Abs(e) < 1.2e-38) continue;
            worst = Math.Max(worst, Math.Abs(y[i] - e) / Math.Abs(e));
        }
        return worst;
    }

    [Fact]
    public void Exp_RelativeError_Below2e7()
    {
        var x = Grid(-87, 88.5, 160000);
        if (Avx512F.IsSupported) Assert.True(MaxRel(x, Map512(FastMath.Exp, x), Math.Exp) < 3e-7, "512");
        Assert.True(MaxRel(x, Map256(FastMath.Exp, x), Math.Exp) < 3e-7, "256");
    }

    [Fact]
    public void Exp_SpecialValues_OverflowUnderflowNaN()
    {
        float[] x = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 89f, 88.5f, -87f, -100f, -104f, -200f, 0f, -0f, 1f, 1000f, -1000f, 88.72f, -103f };
        foreach (var y in new[] { Avx512F.IsSupported ? Map512(FastMath.Exp, x) : null, Map256(FastMath.Exp, x) })
        {
            if (y == null) continue;
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(float.PositiveInfinity, y[1]);
            Assert.Equal(0f, y[2]);
            Assert.Equal(float.PositiveInfinity, y[3]);
            Assert.Equal(MathF.Exp(88.5f), y[4], MathF.Exp(88.5f) * 1e-6f);
            Assert.Equal(MathF.Exp(-100f), y[6], 1e-45f * 2); // subnormal, gradual underflow
            Assert.Equal(0f, y[8]);
            Assert.Equal(1f, y[9]); Assert.Equal(1f, y[10]);
            Assert.Equal(float.PositiveInfinity, y[12]); Assert.Equal(0f, y[13]);
        }
    }

    [Fact]
    public void NormalCdf_AbsoluteError_Below1e6()
    {
        var x = Grid(-12, 12, 96000);
        var y512 = Avx512F.IsSupported ? Map512(FastMath.NormalCdf, x) : null;
        var y256 = Map256(FastMath.NormalCdf, x);
        for (int i = 0; i < x.Length; i++)
        {
            double e = FastMath.NormalCdf((double)x[i]);
            Assert.True(Math.Abs(y256[i] - e) < 3e-7, $"256 at {x[i]}: {y256[i]} vs {e}");
            if (y512 != null) Assert.True(Math.Abs(y512[i] - e) < 3e-7, $"512 at {x[i]}: {y512[i]} vs {e}");
            // In the lower tail the error is relative, growing like z²·1e-7 from rounding of x itself.
            if (x[i] < 0 && x[i] > -6) Assert.True(Math.Abs(y256[i] - e) / e < 5e-6, $"lower tail relative at {x[i]}");
        }
    }

    [Fact]
    public void Erf_Float_AbsoluteError_Below1e6()
    {
        if (!Avx512F.IsSupported) return;
        var x = Grid(-7, 7, 32000);
        var y = Map512(FastMath.Erf, x);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(y[i] - FastMath.Erf((double)x[i])) < 3e-7, $"at {x[i]}");
    }

    [Fact]
    public void Tanh_RelativeError_Below1e6()
    {
        var x = Grid(-12, 12, 96000).Concat(new[] { 1e-6f, -1e-6f, 1e-3f, 0.2499f, 0.25f, 0.2501f, -0.25f, 1e-20f, -3e-5f, 0.5f, 0f, 0f, 0f, 0f, 0f, 0f }).ToArray();
        if (Avx512F.IsSupported) Assert.True(MaxRel(x, Map512(FastMath.Tanh, x), Math.Tanh) < 1e-6, "512");
        Assert.True(MaxRel(x, Map256(FastMath.Tanh, x), Math.Tanh) < 1e-6, "256");
    }

    [Fact]
    public void Erf_Double_MatchesKnownValues()
    {
        Assert.Equal(0.5204998778130465377, FastMath.Erf(0.5), 1e-15);
        Assert.Equal(0.8427007929497148693, FastMath.Erf(1.0), 1e-15);
        Assert.Equal(0.9953222650189527342, FastMath.Erf(2.0), 1e-15);
        Assert.Equal(-0.9999779095030014146, FastMath.Erf(-3.0), 1e-15);
        Assert.Equal(0.0, FastMath.Erf(0.0));
        Assert.Equal(-0.9993495820978587, FastMath.Erf(-2.411), 1e-15); // CPython math.erf
        // The GEMM reference's Maclaurin branch loses ~1e-14 to cancellation near 2.5; agreement to 5e-14 cross-checks both.
        for (double v = -7; v <= 7; v += 0.013) Assert.Equal(ErfReference.Erf(v), FastMath.Erf(v), 5e-14);
    }
}
