// Vectorised GEMM output step: bias per column, then Relu / exact-erf Gelu / Silu, then a residual, on float rows.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// The float epilogue. Every element goes through the same 16-lane code (tails via a stack
/// buffer), so a value's result never depends on where a tile or thread boundary fell.
/// Written with Vector512 only: where AVX-512 is absent .NET runs it as two Vector256 halves.
/// </summary>
public static unsafe class EpilogueMath
{
    /// <summary>
    /// row[j] = act(row[j] + bias[j]) + residual[j] for j in [0, count), or act(row[j] + bias[j] + residual[j]) when
    /// <paramref name="residualFirst"/>; bias and residual may be null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyRow(float* row, int count, float* bias, Activation act, float* residual = null, bool residualFirst = false)
    {
        int j = 0;
        for (; j + 16 <= count; j += 16)
        {
            var v = Vector512.Load(row + j);
            if (bias != null) v += Vector512.Load(bias + j);
            if (residual != null && residualFirst) v += Vector512.Load(residual + j);
            v = Activate(v, act);
            if (residual != null && !residualFirst) v += Vector512.Load(residual + j);
            v.Store(row + j);
        }
        if (j < count)
        {
            float* tmp = stackalloc float[16];
            float* tb = stackalloc float[16];
            float* tr = stackalloc float[16];
            int rest = count - j;
            for (int q = 0; q < 16; q++)
            {
                tmp[q] = q < rest ? row[j + q] : 0;
                tb[q] = bias != null && q < rest ? bias[j + q] : 0;
                tr[q] = residual != null && q < rest ? residual[j + q] : 0;
            }
            var v = Vector512.Load(tmp);
            if (bias != null) v += Vector512.Load(tb);
            if (residual != null && residualFirst) v += Vector512.Load(tr);
            v = Activate(v, act);
            if (residual != null && !residualFirst) v += Vector512.Load(tr);
            v.Store(tmp);
            for (int q = 0; q < rest; q++) row[j + q] = tmp[q];
        }
    }

    /// <summary>Span form of <see cref="ApplyRow(float*, int, float*, Activation, float*, bool)"/>; an empty bias means none.</summary>
    public static void ApplyRow(Span<float> row, ReadOnlySpan<float> bias, Activation act, ReadOnlySpan<float> residual = default)
    {
        if (!bias.IsEmpty && bias.Length < row.Length) throw new ArgumentException("bias shorter than the row", nameof(bias));
        if (!residual.IsEmpty && residual.Length < row.Length) throw new ArgumentException("residual shorter than the row", nameof(residual));
        fixed (float* r = row)
        fixed (float* b = bias)
        fixed (float* res = residual)
            ApplyRow(r, row.Length, bias.IsEmpty ? null : b, act, residual.IsEmpty ? null : res);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Activate(Vector512<float> v, Activation act) => act switch
    {
        Activation.None => v,
        Activation.Relu => Vector512.Max(v, Vector512<float>.Zero),
        Activation.Gelu => Gelu(v),
        Activation.Silu => Silu(v),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    /// <summary>Silu(x) = x·σ(x), with e = exp(-|x|) so exp never overflows: σ = 1/(1+e) for x ≥ 0, e/(1+e) below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Silu(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var e = ExpNegHiLo(ax, Vector512<float>.Zero);
        var num = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, e);
        return x * num * Reciprocal(Vector512<float>.One + e);
    }

    /// <summary>
    /// Exact (erf) Gelu: x·Φ(x), Φ(x) = ½·erfc(-x/√2). With t = |x|/√2 we compute ½·erfc(t) to ~2e-7
    /// relative for all t, so Gelu is accurate relative to its value even deep in the negative tail:
    /// erfc(t) = u·exp(-t² + Q(u)), u = 1/(1 + t/2), Q a degree-11 polynomial fitted (Chebyshev nodes)
    /// for t ∈ [0, 9.5]; t² = x²/2 is carried as hi + lo (FMA) because an error of one float ulp in
    /// t² ≈ 86 would already cost 4e-6 relative.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x)
    {
        var half = Vector512.Create(0.5f);
        var ax = Vector512.Abs(x);
        var t = ax * Vector512.Create(0.70710678118654752f);
        var u = Reciprocal(Vector512.FusedMultiplyAdd(half, t, Vector512<float>.One));
        // Q(u) = Σ c_k u^k, k = 0..11, by Estrin's scheme: pairs, then quads with u², then u⁴ and u⁸ — a dependency
        // chain of 5 operations instead of Horner's 11 (the chain, not the operation count, limited throughput).
        var u2 = u * u;
        var u4 = u2 * u2;
        var u8 = u4 * u4;
        var p01 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0011396408081055f), u, Vector512.Create(-1.26555335521698f));
        var p23 = Vector512.FusedMultiplyAdd(Vector512.Create(0.17769190669059753f), u, Vector512.Create(0.3612869083881378f));
        var p45 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0156058073043823f), u, Vector512.Create(-0.495359867811203f));
        var p67 = Vector512.FusedMultiplyAdd(Vector512.Create(2.3496766090393066f), u, Vector512.Create(-2.2120449542999268f));
        var p89 = Vector512.FusedMultiplyAdd(Vector512.Create(-0.12738928198814392f), u, Vector512.Create(-0.9933852553367615f));
        var pAB = Vector512.FusedMultiplyAdd(Vector512.Create(-0.06181985139846802f), u, Vector512.Create(0.2501515746116638f));
        var q03 = Vector512.FusedMultiplyAdd(p23, u2, p01);
        var q47 = Vector512.FusedMultiplyAdd(p67, u2, p45);
        var q8B = Vector512.FusedMultiplyAdd(pAB, u2, p89);
        var q = Vector512.FusedMultiplyAdd(q8B, u8, Vector512.FusedMultiplyAdd(q47, u4, q03));
        // t² = x²/2 = hi + lo exactly (halving is exact).
        var x2 = x * x;
        var x2Lo = Vector512.FusedMultiplyAdd(x, x, -x2);
        var hi = x2 * half;
        var lo = x2Lo * half - q; // exp(-(hi + lo - q))
        var erfcHalf = half * u * ExpNegHiLo(hi, lo);
        // Beyond |x| ≈ 13.4 erfc(t) underflows float; the polynomial was not fitted there.
        erfcHalf = Vector512.ConditionalSelect(Vector512.GreaterThan(ax, Vector512.Create(13.4f)), Vector512<float>.Zero, erfcHalf);
        var phi = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One - erfcHalf, erfcHalf);
        return x * phi;
    }

    /// <summary>
    /// 1/d for finite d ≥ 1 without a divide: the 14-bit estimate refined by one Newton step, e·(2 − d·e), whose
    /// error (2⁻²⁸) is below float rounding — a shorter dependency chain than a 512-bit divide.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> d)
    {
        // Without AVX-512 (a JIT-time constant) Vector512 is emulated: a plain divide, so the kernels still run there.
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return Vector512<float>.One / d;
        var e = System.Runtime.Intrinsics.X86.Avx512F.Reciprocal14(d);
        return e * Vector512.FusedMultiplyAdd(-d, e, Vector512.Create(2f));
    }

    /// <summary>
    /// exp(-(hi + lo)) for hi ≥ 0 and |lo| ≲ 2: Cody–Waite reduction against hi first (the
    /// subtraction hi − n·ln2_hi is exact), then lo; degree-6 polynomial; 2^n built in the exponent
    /// bits. Results below ~1e-38 flush to zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNegHiLo(Vector512<float> hi, Vector512<float> lo)
    {
        var s = -(hi + lo);
        // Round s·log2e to an integer with the 1.5·2^23 trick: the sum's low mantissa bits are n.
        // (Not Vector512.Round/ConvertToInt32: under DAZ, .NET 10's saturating ConvertToInt32 returned
        // int.MinValue for -1.0f on this machine, and kernel threads always run with DAZ.)
        var magic = Vector512.Create(12582912f);
        var shifted = Vector512.Max(s * Vector512.Create(1.44269504088896341f), Vector512.Create(-126f)) + magic;
        var n = shifted - magic;
        // ln2_hi has 15 significant bits so n·ln2_hi is exact; the first subtraction is exact too.
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145751953125f), -hi);
        r -= lo;
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.428606765330187e-06f), r);
        // exp(r) for |r| ≤ ln2/2: Taylor to degree 6 (truncation ≈ 1.2e-7 relative), Estrin-ordered for a short chain.
        var r2 = r * r;
        var e01 = r + Vector512<float>.One;
        var e23 = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 6), r, Vector512.Create(0.5f));
        var e45 = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 120), r, Vector512.Create(1f / 24));
        var e6 = Vector512.Create(1f / 720);
        var p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(e6, r2, e45), r2 * r2, Vector512.FusedMultiplyAdd(e23, r2, e01));
        var scale = Vector512.ShiftLeft(shifted.AsInt32() - magic.AsInt32() + Vector512.Create(127), 23).AsSingle();
        var result = p * scale;
        return Vector512.ConditionalSelect(Vector512.LessThan(s, Vector512.Create(-87.3f)), Vector512<float>.Zero, result);
    }
}
