// A GEMM A operand computed while it is packed: act(x·scale + shift) per channel (a BatchNorm + activation in front of
// a 1×1 conv), so the activated map is never written to memory and read back.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// Packs op(X) with <see cref="StridedA"/>, then maps each packed value v of channel ch to act(v·scale[ch] + shift[ch])
/// in place while the panel is hot in cache. <paramref name="channelIsRow"/>: the channels are A's rows (X stored
/// (K, M) transposed: a weight gradient Aᵀ·dY), else its columns (the K index: a forward A·W).
/// Rows past the end of a partial panel stay zero when channels are rows (act(0) = 0 for every activation), and are
/// ignored by the GEMM's edge handling otherwise.
/// </summary>
internal readonly unsafe struct AffineActA(StridedA inner, float* scale, float* shift, Activation act, bool channelIsRow) : IASource
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel
    {
        inner.Pack<TK>(i0, mc, p0, kc, dst);
        int mr = TK.Mr;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            if (mr == 14 && Vector512.IsHardwareAccelerated) Vector14(panel, i0 + ir, rows, p0, kc);
            else Scalar(panel, mr, i0 + ir, rows, p0, kc);
        }
        return dst;
    }

    // A panel is kc steps of 14 values; a 16-wide load also sees the next step's first two, which are passed through
    // unchanged (lanes 14, 15 keep their loaded values), so ascending whole-vector stores never corrupt a neighbour.
    // The last step reads and rewrites the 16-float slack every packing buffer keeps past its last panel.
    private void Vector14(float* panel, int row0, int rows, int p0, int kc)
    {
        var keep = Vector512.LessThan(Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(14f));
        if (channelIsRow)
        {
            float* sc = stackalloc float[16]; float* sh = stackalloc float[16];
            for (int r = 0; r < 16; r++) { sc[r] = r < rows ? scale[row0 + r] : 0f; sh[r] = r < rows ? shift[row0 + r] : 0f; }
            var s = Vector512.Load(sc); var t = Vector512.Load(sh);
            for (int k = 0; k < kc; k++)
            {
                float* p = panel + (nint)k * 14;
                var v = Vector512.Load(p);
                var y = EpilogueMath.Activate(Vector512.FusedMultiplyAdd(v, s, t), act);
                Vector512.ConditionalSelect(keep, y, v).Store(p);
            }
        }
        else
        {
            for (int k = 0; k < kc; k++)
            {
                float* p = panel + (nint)k * 14;
                var v = Vector512.Load(p);
                var y = EpilogueMath.Activate(Vector512.FusedMultiplyAdd(v, Vector512.Create(scale[p0 + k]), Vector512.Create(shift[p0 + k])), act);
                Vector512.ConditionalSelect(keep, y, v).Store(p);
            }
        }
    }

    // Other panel heights (the AVX2 kernel): the affine map per value, the activation by the generic epilogue per step.
    private void Scalar(float* panel, int mr, int row0, int rows, int p0, int kc)
    {
        for (int k = 0; k < kc; k++)
        {
            var step = new Span<float>(panel + (nint)k * mr, rows);
            for (int r = 0; r < rows; r++)
            {
                int ch = channelIsRow ? row0 + r : p0 + k;
                step[r] = step[r] * scale[ch] + shift[ch];
            }
            GemmGeneric.ApplyEpilogue<float>(step, default, act);
        }
    }
}

/// <summary>1×1 convolutions (plain GEMMs over pixels) whose input is act(BatchNorm(z)), computed while packing.</summary>
public static unsafe class AffineActGemm
{
    /// <summary>Whether the fused path runs here (the packed float GEMM); otherwise materialise act(z·scale + shift).</summary>
    public static bool IsSupported => Sgemm.ActivePath is SgemmPath.Avx512 or SgemmPath.Avx2;

    /// <summary>y (m, o) = act(z·scale + shift) · w, with z (m, c) and w (c, o) row-major; scale, shift per channel (c).</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> z, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Activation act,
        ReadOnlySpan<float> w, int m, int c, int o)
    {
        Check(z, scale, shift, m, c);
        if (y.Length < (long)m * o || w.Length < (long)c * o) throw new ArgumentException($"AffineActGemm.Forward: y or w too short for ({m}, {c}) · ({c}, {o}).");
        fixed (float* py = y) fixed (float* pz = z) fixed (float* ps = scale) fixed (float* pt = shift) fixed (float* pw = w)
            Sgemm.Run(new AffineActA(new StridedA(pz, c, false), ps, pt, act, channelIsRow: false), new StridedB(pw, o, false),
                m, o, c, py, o, false, default);
    }

    /// <summary>dw (c, o) += act(z·scale + shift)ᵀ · dy, with z (m, c) and dy (m, o) row-major: a 1×1 conv's weight gradient.</summary>
    public static void WeightGradient(Span<float> dw, ReadOnlySpan<float> z, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Activation act,
        ReadOnlySpan<float> dy, int m, int c, int o)
    {
        Check(z, scale, shift, m, c);
        if (dw.Length < (long)c * o || dy.Length < (long)m * o) throw new ArgumentException($"AffineActGemm.WeightGradient: dw or dy too short for ({c}, {m}) · ({m}, {o}).");
        fixed (float* pdw = dw) fixed (float* pz = z) fixed (float* ps = scale) fixed (float* pt = shift) fixed (float* pdy = dy)
            Sgemm.Run(new AffineActA(new StridedA(pz, c, true), ps, pt, act, channelIsRow: true), new StridedB(pdy, o, false),
                c, o, m, pdw, o, true, default);
    }

    private static void Check(ReadOnlySpan<float> z, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, int m, int c)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("AffineActGemm needs the packed float GEMM (AVX2 or AVX-512).");
        if (z.Length < (long)m * c) throw new ArgumentException($"AffineActGemm: z has {z.Length} values, needs {m}·{c}.");
        if (scale.Length < c || shift.Length < c) throw new ArgumentException($"AffineActGemm: scale and shift need {c} values each.");
    }
}
