// Polynomial exp, erfc/Φ, tanh and sigmoid for float vectors (≈1e-7–1e-6 relative), and a float64 erf for the scalar paths.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

/// <summary>
/// Vectorised transcendental functions for float32. exp: n = round(x·log2 e), r = x − n·ln 2 (two-part
/// ln 2, so r is exact to ~1 ulp), e^r by its degree-6 Taylor polynomial (|r| ≤ ln2/2, truncation
/// ≤ 1.2e-7 relative), then 2^n applied with vscalefps (AVX-512) or two exponent-field multiplies
/// (AVX2), which gives gradual underflow, +∞ on overflow and propagates NaN.
/// float64 callers use the BCL (Vector512.Exp, Math.*) and <see cref="Erf(double)"/> instead.
/// </summary>
public static class FastMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;          // exactly representable leading part of ln 2
    private const float Ln2Lo = -2.12194440e-4f;        // ln 2 − Ln2Hi
    private const float ExpHi = 89f;                    // e^89 > float.MaxValue: result +∞
    private const float ExpLo = -104f;                  // e^-104 < smallest subnormal: result 0

    // ------------------------------------------------------------------ exp

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpPoly(Vector512<float> r)
    {
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 720), r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        return Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpPoly(Vector256<float> r)
    {
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1f / 720), r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        return Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
    }

    /// <summary>e^x for 16 floats (AVX-512F; without it, the AVX2 path on each half, so Vector512 callers run everywhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        if (!Avx512F.IsSupported) return Vector512.Create(Exp(x.GetLower()), Exp(x.GetUpper())); // a JIT-time constant
        // min/max with the constant first: x86 returns the second operand when one is NaN, so NaN survives.
        x = Avx512F.Max(Vector512.Create(ExpLo), Avx512F.Min(Vector512.Create(ExpHi), x));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        return Avx512F.Scale(ExpPoly(r), n);
    }

    /// <summary>e^x for 8 floats (AVX2 path: 2^n built in the exponent field, split in two factors for the subnormal range).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var nan = Vector256.IsNaN(x);
        x = Vector256.Max(Vector256.Create(ExpLo), Vector256.Min(Vector256.Create(ExpHi), x));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var ni = Vector256.ConvertToInt32(n);                 // in [-150, 128]
        var n1 = Vector256.ShiftRightArithmetic(ni, 1);       // each half in [-75, 64]: a normal power of two
        var n2 = ni - n1;
        var s1 = Vector256.ShiftLeft(n1 + Vector256.Create(127), 23).AsSingle();
        var s2 = Vector256.ShiftLeft(n2 + Vector256.Create(127), 23).AsSingle();
        var y = ExpPoly(r) * s1 * s2;
        return Vector256.ConditionalSelect(nan, x, y);
    }

    // ------------------------------------------------------------------ Φ, erf

    // Chebyshev-fitted erfc (Press et al., Numerical Recipes §6.2): erfc(z) = t·exp(−z² + P(t)),
    // t = 1/(1 + z/2), z ≥ 0, fractional error < 1.2e-7 everywhere, so tails keep relative accuracy.
    private const float C0 = -1.26551223f, C1 = 1.00002368f, C2 = 0.37409196f, C3 = 0.09678418f, C4 = -0.18628806f,
        C5 = 0.27886807f, C6 = -1.13520398f, C7 = 1.48851587f, C8 = -0.82215223f, C9 = 0.17087277f;

    /// <summary>erfc(z) for z ≥ 0 (16 floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ErfcPositive(Vector512<float> z)
    {
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(z, Vector512.Create(0.5f), Vector512<float>.One);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C9), t, Vector512.Create(C8));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C7));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C1));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(C0));
        return t * Exp(p - z * z);
    }

    /// <summary>erfc(z) for z ≥ 0 (8 floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ErfcPositive(Vector256<float> z)
    {
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(z, Vector256.Create(0.5f), Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C9), t, Vector256.Create(C8));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C7));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C1));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(C0));
        return t * Exp(p - z * z);
    }

    private const float InvSqrt2 = 0.707106781186547524f;

    /// <summary>Standard normal CDF Φ(x) = erfc(−x/√2)/2 (absolute error ≲ 1e-7; relative in the lower tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NormalCdf(Vector512<float> x)
    {
        var e = Vector512.Create(0.5f) * ErfcPositive(Vector512.Abs(x) * Vector512.Create(InvSqrt2)); // Φ(−|x|)
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), e, Vector512<float>.One - e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NormalCdf(Vector256<float> x)
    {
        var e = Vector256.Create(0.5f) * ErfcPositive(Vector256.Abs(x) * Vector256.Create(InvSqrt2));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), e, Vector256<float>.One - e);
    }

    /// <summary>erf(x) = sign(x)·(1 − erfc(|x|)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var sign = x & Vector512.Create(-0f);
        return (Vector512<float>.One - ErfcPositive(Vector512.Abs(x))) | sign;
    }

    // ------------------------------------------------------------------ tanh, sigmoid

    // Below this |x|, 1 − e^{−2|x|} cancels; the odd Taylor series to x⁹ is accurate to 1e-8 there.
    private const float TanhSmall = 0.25f;

    /// <summary>tanh(x) = sign(x)·(1 − e)/(1 + e), e = e^{−2|x|}; a Taylor polynomial near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var e = Exp(ax * Vector512.Create(-2f));
        var big = (Vector512<float>.One - e) / (Vector512<float>.One + e);
        var s = x * x;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(62f / 2835), s, Vector512.Create(-17f / 315));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(2f / 15));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(-1f / 3));
        var small = Vector512.FusedMultiplyAdd(p * s, ax, ax);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TanhSmall)), small, big);
        return r | (x & Vector512.Create(-0f));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var e = Exp(ax * Vector256.Create(-2f));
        var big = (Vector256<float>.One - e) / (Vector256<float>.One + e);
        var s = x * x;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(62f / 2835), s, Vector256.Create(-17f / 315));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(2f / 15));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(-1f / 3));
        var small = Vector256.FusedMultiplyAdd(p * s, ax, ax);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhSmall)), small, big);
        return r | (x & Vector256.Create(-0f));
    }

    /// <summary>σ(x) = 1/(1 + e^{−x}); e^{−x} = +∞ for very negative x gives exactly 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    // ------------------------------------------------------------------ float64 scalars

    /// <summary>
    /// erf in float64 to ~1e-15: erf(x) = (2/√π)·e^{−x²}·Σ 2ⁿx^{2n+1}/(1·3···(2n+1)), a series of positive
    /// terms (no cancellation); |x| ≥ 6 gives ±1 (erfc(6) ≈ 2e-17).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax >= 6) return Math.CopySign(1.0, x);
        double x2 = ax * ax, term = ax, sum = ax;
        for (int n = 1; n < 400; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return Math.CopySign(2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum, x);
    }

    /// <summary>Φ(x) in float64: (1 + erf(x/√2))/2.</summary>
    public static double NormalCdf(double x) => 0.5 * (1 + Erf(x * 0.70710678118654752440));

    /// <summary>φ(x) = e^{−x²/2}/√(2π) in float64.</summary>
    public static double NormalPdf(double x) => Math.Exp(-0.5 * x * x) * 0.39894228040143267794;
}
