// Accuracy of the float epilogue's Gelu (polynomial erfc) and Silu against double-precision formulas.
using System.Runtime.Intrinsics;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class GemmEpilogueTests
{
    // Φ(x) = ½·erfc(-x/√2), with erfc evaluated directly in the tail (1 + erf cancels there).
    private static double GeluRef(double x) => 0.5 * x * Erfc(-x / Math.Sqrt(2));

    private static double Erfc(double t)
    {
        if (t < 2.5) return 1 - ErfReference.Erf(t);
        // Continued fraction erfc(t) = exp(-t²)/√π · 1/(t + ½/(t + 1/(t + 3/2/(t + …)))), evaluated bottom-up.
        double f = t;
        for (int n = 200; n >= 1; n--) f = t + n / 2.0 / f;
        return Math.Exp(-t * t) / Math.Sqrt(Math.PI) / f;
    }
    private static double SiluRef(double x) => x / (1 + Math.Exp(-x));

    private static double MaxRelativeError(Func<Vector512<float>, Vector512<float>> f, Func<double, double> reference, float lo, float hi)
    {
        double worst = 0;
        var xs = new float[16];
        for (int i = 0; i < 200_000; i += 16)
        {
            for (int q = 0; q < 16; q++) xs[q] = lo + (hi - lo) * (i + q) / 200_000f;
            var y = f(Vector512.Create(xs));
            for (int q = 0; q < 16; q++)
            {
                double want = reference(xs[q]);
                if (Math.Abs(want) < 1e-30) continue; // below float's normal range after FTZ
                worst = Math.Max(worst, Math.Abs(y[q] - want) / Math.Abs(want));
            }
        }
        return worst;
    }

    [Fact]
    public void Gelu_RelativeError_Below2e6()
    {
        FloatMode.EnsureFlushToZero();
        double err = MaxRelativeError(EpilogueMath.Gelu, GeluRef, -12f, 12f);
        Assert.True(err < 2e-6, $"max relative error {err}");
    }

    [Fact]
    public void Silu_RelativeError_Below2e6()
    {
        double err = MaxRelativeError(EpilogueMath.Silu, SiluRef, -60f, 60f);
        Assert.True(err < 2e-6, $"max relative error {err}");
    }

    [Fact]
    public void Activations_ExtremeInputs_Finite()
    {
        var x = Vector512.Create(-1e30f, -100f, -13.5f, 0f, 1e-30f, 13.5f, 100f, 1e30f, -0f, 1, 2, 3, 4, 5, 6, 7);
        var g = EpilogueMath.Gelu(x);
        var s = EpilogueMath.Silu(x);
        for (int q = 0; q < 16; q++)
        {
            Assert.True(float.IsFinite(g[q]) && float.IsFinite(s[q]), $"lane {q}: gelu {g[q]} silu {s[q]}");
            Assert.Equal(GeluRef(x[q]), g[q], Math.Max(1e-6 * Math.Abs(x[q]), 1e-30));
        }
    }
}
