// Packing of A and B blocks into the k-major micro-panels the micro-kernels stream through.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs op(A)[i0..i0+mc, p0..p0+kc] into ceil(mc/Mr) panels of kc×Mr (k-major), zero-padding
    /// the last panel's missing rows so the kernel can always run full tiles.
    /// transA: A is stored (K, M), so op(A)[i, p] = a[p*lda + i].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TK>(bool transA, float* a, nint lda, int i0, int mc, int p0, int kc, float* dst)
        where TK : IMicroKernel
    {
        int mr = TK.Mr;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            if (transA)
            {
                float* src = a + (nint)p0 * lda + i0 + ir;
                if (rows == mr) CopyRowsTransA<TK>(src, lda, kc, panel);
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * lda;
                        float* d = panel + p * mr;
                        int r = 0;
                        for (; r < rows; r++) d[r] = s[r];
                        for (; r < mr; r++) d[r] = 0;
                    }
                }
            }
            else
            {
                float* src = a + (nint)(i0 + ir) * lda + p0;
                if (rows == mr && mr == 14 && Vector512.IsHardwareAccelerated)
                {
                    TransposePanel14(src, lda, kc, panel);
                    continue;
                }
                for (int r = 0; r < mr; r++)
                {
                    float* d = panel + r;
                    if (r < rows)
                    {
                        float* s = src + r * lda;
                        for (int p = 0; p < kc; p++) d[p * mr] = s[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * mr] = 0;
                    }
                }
            }
        }
    }

    // op(A) rows are contiguous in memory when A is transposed: each k step is one short copy.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRowsTransA<TK>(float* src, nint lda, int kc, float* panel) where TK : IMicroKernel
    {
        int mr = TK.Mr;
        for (int p = 0; p < kc; p++)
        {
            float* s = src + p * lda;
            float* d = panel + p * mr;
            if (mr == 14)
            {
                // Two overlapping 8-wide copies cover 14 floats without reading past the row.
                Vector256.Store(Vector256.Load(s), d);
                Vector256.Store(Vector256.Load(s + 6), d + 6);
            }
            else if (mr == 6)
            {
                Vector128.Store(Vector128.Load(s), d);
                Vector128.Store(Vector128.Load(s + 2), d + 2);
            }
            else
            {
                for (int r = 0; r < mr; r++) d[r] = s[r];
            }
        }
    }

    /// <summary>
    /// 14 rows of A (row-major) → k-major panel. Works on 16-wide k chunks: 14 rows of 16 k values are
    /// transposed in registers (4 shuffle stages) and written as 16 contiguous 14-float groups, which is
    /// far cheaper than 14 strided scalar stores per k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposePanel14(float* src, nint lda, int kc, float* panel)
    {
        int p = 0;
        // Each 16-wide k chunk goes straight from registers to its 16 groups of 14 (exact: nothing spills).
        for (; p + 16 <= kc; p += 16) Transpose16To(new StridedRows(src + p, lda, 14), panel + p * 14, 14);
        for (; p < kc; p++)
        {
            float* d = panel + p * 14;
            for (int r = 0; r < 14; r++) d[r] = src[r * lda + p];
        }
    }

    /// <summary>Transposes a rows×16 block (rows ≤ 16, missing rows read as zero) into 16 rows of 16 at dst.</summary>
    // Too large to be inlined everywhere: optimised from the first call, so it never runs as tier-0 code with the
    // shuffle helpers as real calls (that made packing, and so whole GEMMs, 2× slower for the first second).
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16(float* src, nint ld, int rows, float* dst)
    {
        // The shuffles below are AVX-512F instructions (JIT-time constant: compiled out where AVX-512 exists).
        if (!Avx512F.IsSupported) { Transpose16Scalar(src, ld, rows, dst); return; }
        // Gather rows through a scalar-free path: load 16 rows (zero beyond 'rows').
        Vector512<float> r0 = Row(src, ld, 0, rows), r1 = Row(src, ld, 1, rows), r2 = Row(src, ld, 2, rows), r3 = Row(src, ld, 3, rows);
        Vector512<float> r4 = Row(src, ld, 4, rows), r5 = Row(src, ld, 5, rows), r6 = Row(src, ld, 6, rows), r7 = Row(src, ld, 7, rows);
        Vector512<float> r8 = Row(src, ld, 8, rows), r9 = Row(src, ld, 9, rows), r10 = Row(src, ld, 10, rows), r11 = Row(src, ld, 11, rows);
        Vector512<float> r12 = Row(src, ld, 12, rows), r13 = Row(src, ld, 13, rows), r14 = Row(src, ld, 14, rows), r15 = Row(src, ld, 15, rows);

        // Stage 1: interleave pairs of rows at 32-bit granularity.
        var t0 = Unpack.Lo32(r0, r1); var t1 = Unpack.Hi32(r0, r1); var t2 = Unpack.Lo32(r2, r3); var t3 = Unpack.Hi32(r2, r3);
        var t4 = Unpack.Lo32(r4, r5); var t5 = Unpack.Hi32(r4, r5); var t6 = Unpack.Lo32(r6, r7); var t7 = Unpack.Hi32(r6, r7);
        var t8 = Unpack.Lo32(r8, r9); var t9 = Unpack.Hi32(r8, r9); var t10 = Unpack.Lo32(r10, r11); var t11 = Unpack.Hi32(r10, r11);
        var t12 = Unpack.Lo32(r12, r13); var t13 = Unpack.Hi32(r12, r13); var t14 = Unpack.Lo32(r14, r15); var t15 = Unpack.Hi32(r14, r15);
        // Stage 2: 64-bit granularity → each 128-bit lane holds 4 rows of one column.
        var u0 = Unpack.Lo64(t0, t2); var u1 = Unpack.Hi64(t0, t2); var u2 = Unpack.Lo64(t1, t3); var u3 = Unpack.Hi64(t1, t3);
        var u4 = Unpack.Lo64(t4, t6); var u5 = Unpack.Hi64(t4, t6); var u6 = Unpack.Lo64(t5, t7); var u7 = Unpack.Hi64(t5, t7);
        var u8 = Unpack.Lo64(t8, t10); var u9 = Unpack.Hi64(t8, t10); var u10 = Unpack.Lo64(t9, t11); var u11 = Unpack.Hi64(t9, t11);
        var u12 = Unpack.Lo64(t12, t14); var u13 = Unpack.Hi64(t12, t14); var u14 = Unpack.Lo64(t13, t15); var u15 = Unpack.Hi64(t13, t15);
        // u_j (j=0..3) lane L holds column 4L+j for rows 0..3; u_{4+j} rows 4..7, u_{8+j} rows 8..11, u_{12+j} rows 12..15.
        // Stage 3+4: gather 128-bit lanes so that output column c = 4L+j takes lane L of u_j, u_{4+j}, u_{8+j}, u_{12+j}.
        for (int j = 0; j < 4; j++)
        {
            Vector512<float> a = j switch { 0 => u0, 1 => u1, 2 => u2, _ => u3 };
            Vector512<float> b = j switch { 0 => u4, 1 => u5, 2 => u6, _ => u7 };
            Vector512<float> c = j switch { 0 => u8, 1 => u9, 2 => u10, _ => u11 };
            Vector512<float> d = j switch { 0 => u12, 1 => u13, 2 => u14, _ => u15 };
            // ab_lo = [a.L0, a.L1, b.L0, b.L1], ab_hi = [a.L2, a.L3, b.L2, b.L3] (same for cd)
            var abLo = Unpack.Shuffle128(a, b, 0x44); var abHi = Unpack.Shuffle128(a, b, 0xEE);
            var cdLo = Unpack.Shuffle128(c, d, 0x44); var cdHi = Unpack.Shuffle128(c, d, 0xEE);
            // column 4L+j = [a.L, b.L, c.L, d.L]
            Vector512.Store(Unpack.Shuffle128(abLo, cdLo, 0x88), dst + (0 + j) * 16);  // L = 0
            Vector512.Store(Unpack.Shuffle128(abLo, cdLo, 0xDD), dst + (4 + j) * 16);  // L = 1
            Vector512.Store(Unpack.Shuffle128(abHi, cdHi, 0x88), dst + (8 + j) * 16);  // L = 2
            Vector512.Store(Unpack.Shuffle128(abHi, cdHi, 0xDD), dst + (12 + j) * 16); // L = 3
        }
    }

    /// <summary>
    /// Transposes 16 rows × 16 columns given by a row loader: column c (16 floats, one per row) is stored at
    /// dst + c·stride. With stride 14 (the panel height) consecutive stores overlap and each store overwrites the
    /// 2-float spill of the one before; the last column is stored exactly, so only dst[0 .. 16·14) is written.
    /// Other strides ≥ 16 store whole columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose16To<TR>(TR rows, float* dst, nint stride) where TR : struct, IRowLoader
    {
        // The shuffles below are AVX-512F instructions (JIT-time constant: compiled out where AVX-512 exists). Callers
        // on hot paths route around this on other CPUs; the scalar twin keeps every caller correct anyway.
        if (!Avx512F.IsSupported) { Transpose16ToScalar(rows, dst, stride); return; }
        Vector512<float> r0 = rows.Load(0), r1 = rows.Load(1), r2 = rows.Load(2), r3 = rows.Load(3);
        Vector512<float> r4 = rows.Load(4), r5 = rows.Load(5), r6 = rows.Load(6), r7 = rows.Load(7);
        Vector512<float> r8 = rows.Load(8), r9 = rows.Load(9), r10 = rows.Load(10), r11 = rows.Load(11);
        Vector512<float> r12 = rows.Load(12), r13 = rows.Load(13), r14 = rows.Load(14), r15 = rows.Load(15);
        var t0 = Unpack.Lo32(r0, r1); var t1 = Unpack.Hi32(r0, r1); var t2 = Unpack.Lo32(r2, r3); var t3 = Unpack.Hi32(r2, r3);
        var t4 = Unpack.Lo32(r4, r5); var t5 = Unpack.Hi32(r4, r5); var t6 = Unpack.Lo32(r6, r7); var t7 = Unpack.Hi32(r6, r7);
        var t8 = Unpack.Lo32(r8, r9); var t9 = Unpack.Hi32(r8, r9); var t10 = Unpack.Lo32(r10, r11); var t11 = Unpack.Hi32(r10, r11);
        var t12 = Unpack.Lo32(r12, r13); var t13 = Unpack.Hi32(r12, r13); var t14 = Unpack.Lo32(r14, r15); var t15 = Unpack.Hi32(r14, r15);
        var u0 = Unpack.Lo64(t0, t2); var u1 = Unpack.Hi64(t0, t2); var u2 = Unpack.Lo64(t1, t3); var u3 = Unpack.Hi64(t1, t3);
        var u4 = Unpack.Lo64(t4, t6); var u5 = Unpack.Hi64(t4, t6); var u6 = Unpack.Lo64(t5, t7); var u7 = Unpack.Hi64(t5, t7);
        var u8 = Unpack.Lo64(t8, t10); var u9 = Unpack.Hi64(t8, t10); var u10 = Unpack.Lo64(t9, t11); var u11 = Unpack.Hi64(t9, t11);
        var u12 = Unpack.Lo64(t12, t14); var u13 = Unpack.Hi64(t12, t14); var u14 = Unpack.Lo64(t13, t15); var u15 = Unpack.Hi64(t13, t15);
        // Column 4L+j = lane L of u_j, u_{4+j}, u_{8+j}, u_{12+j}; columns are stored in ascending order.
        var a0Lo = Unpack.Shuffle128(u0, u4, 0x44); var a0Hi = Unpack.Shuffle128(u0, u4, 0xEE);
        var c0Lo = Unpack.Shuffle128(u8, u12, 0x44); var c0Hi = Unpack.Shuffle128(u8, u12, 0xEE);
        var a1Lo = Unpack.Shuffle128(u1, u5, 0x44); var a1Hi = Unpack.Shuffle128(u1, u5, 0xEE);
        var c1Lo = Unpack.Shuffle128(u9, u13, 0x44); var c1Hi = Unpack.Shuffle128(u9, u13, 0xEE);
        var a2Lo = Unpack.Shuffle128(u2, u6, 0x44); var a2Hi = Unpack.Shuffle128(u2, u6, 0xEE);
        var c2Lo = Unpack.Shuffle128(u10, u14, 0x44); var c2Hi = Unpack.Shuffle128(u10, u14, 0xEE);
        var a3Lo = Unpack.Shuffle128(u3, u7, 0x44); var a3Hi = Unpack.Shuffle128(u3, u7, 0xEE);
        var c3Lo = Unpack.Shuffle128(u11, u15, 0x44); var c3Hi = Unpack.Shuffle128(u11, u15, 0xEE);
        Vector512.Store(Unpack.Shuffle128(a0Lo, c0Lo, 0x88), dst + 0 * stride);
        Vector512.Store(Unpack.Shuffle128(a1Lo, c1Lo, 0x88), dst + 1 * stride);
        Vector512.Store(Unpack.Shuffle128(a2Lo, c2Lo, 0x88), dst + 2 * stride);
        Vector512.Store(Unpack.Shuffle128(a3Lo, c3Lo, 0x88), dst + 3 * stride);
        Vector512.Store(Unpack.Shuffle128(a0Lo, c0Lo, 0xDD), dst + 4 * stride);
        Vector512.Store(Unpack.Shuffle128(a1Lo, c1Lo, 0xDD), dst + 5 * stride);
        Vector512.Store(Unpack.Shuffle128(a2Lo, c2Lo, 0xDD), dst + 6 * stride);
        Vector512.Store(Unpack.Shuffle128(a3Lo, c3Lo, 0xDD), dst + 7 * stride);
        Vector512.Store(Unpack.Shuffle128(a0Hi, c0Hi, 0x88), dst + 8 * stride);
        Vector512.Store(Unpack.Shuffle128(a1Hi, c1Hi, 0x88), dst + 9 * stride);
        Vector512.Store(Unpack.Shuffle128(a2Hi, c2Hi, 0x88), dst + 10 * stride);
        Vector512.Store(Unpack.Shuffle128(a3Hi, c3Hi, 0x88), dst + 11 * stride);
        Vector512.Store(Unpack.Shuffle128(a0Hi, c0Hi, 0xDD), dst + 12 * stride);
        Vector512.Store(Unpack.Shuffle128(a1Hi, c1Hi, 0xDD), dst + 13 * stride);
        Vector512.Store(Unpack.Shuffle128(a2Hi, c2Hi, 0xDD), dst + 14 * stride);
        var last = Unpack.Shuffle128(a3Hi, c3Hi, 0xDD);
        if (stride == 14)
        {
            // The 14-row panel: the last column ends exactly (two overlapping 8-float halves), nothing spills.
            Vector256.Store(last.GetLower(), dst + 15 * stride);
            Vector256.Store(Avx512Shift6(last), dst + 15 * stride + 6);
        }
        else Vector512.Store(last, dst + 15 * stride);
    }

    /// <summary>The scalar twin of <see cref="Transpose16"/> for CPUs without AVX-512F.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Transpose16Scalar(float* src, nint ld, int rows, float* dst)
    {
        for (int c = 0; c < 16; c++)
            for (int r = 0; r < 16; r++) dst[c * 16 + r] = r < rows ? src[r * ld + c] : 0f;
    }

    /// <summary>
    /// The scalar twin of <see cref="Transpose16To{TR}"/> for CPUs without AVX-512F: the same final contents (with
    /// stride 14 each column keeps its first 14 rows, as the overlapping vector stores leave it; nothing past
    /// dst[16·14) is written).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Transpose16ToScalar<TR>(TR rows, float* dst, nint stride) where TR : struct, IRowLoader
    {
        float* t = stackalloc float[16 * 16];
        for (int r = 0; r < 16; r++) rows.Load(r).Store(t + r * 16);
        int height = stride == 14 ? 14 : 16;
        for (int c = 0; c < 16; c++)
            for (int r = 0; r < height; r++) dst[c * stride + r] = t[r * 16 + c];
    }

    /// <summary>Floats 6..13 of v as one 8-float vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Avx512Shift6(Vector512<float> v)
        => System.Runtime.Intrinsics.X86.Avx512F.IsSupported
            ? System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32(v, Vector512.Create(6, 7, 8, 9, 10, 11, 12, 13, 0, 0, 0, 0, 0, 0, 0, 0)).GetLower()
            : Vector256.Create(v.GetElement(6), v.GetElement(7), v.GetElement(8), v.GetElement(9), v.GetElement(10), v.GetElement(11), v.GetElement(12), v.GetElement(13));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row(float* src, nint ld, int r, int rows)
        => r < rows ? Vector512.Load(src + r * ld) : Vector512<float>.Zero;

    /// <summary>
    /// Packs op(B)[p0..p0+kc, j0..j0+nc] into ceil(nc/Nr) panels of kc×Nr (k-major), zero-padding
    /// missing columns. transB: B is stored (N, K), so op(B)[p, j] = b[j*ldb + p].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TK>(bool transB, float* b, nint ldb, int p0, int kc, int j0, int nc, float* dst)
        where TK : IMicroKernel
    {
        int nr = TK.Nr;
        float* tmp = stackalloc float[16 * 16];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            if (!transB)
            {
                float* src = b + (nint)p0 * ldb + j0 + jr;
                if (cols == nr)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * ldb;
                        float* d = panel + p * nr;
                        for (int q = 0; q < nr; q += 8) Vector256.Store(Vector256.Load(s + q), d + q);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * ldb;
                        float* d = panel + p * nr;
                        int q = 0;
                        for (; q < cols; q++) d[q] = s[q];
                        for (; q < nr; q++) d[q] = 0;
                    }
                }
            }
            else
            {
                float* src = b + (nint)(j0 + jr) * ldb + p0;
                if (nr % 16 == 0 && Vector512.IsHardwareAccelerated)
                {
                    // Transpose 16 columns × 16 k at a time.
                    for (int q = 0; q < nr; q += 16)
                    {
                        int rows = Math.Clamp(cols - q, 0, 16);
                        float* s = src + q * ldb;
                        int p = 0;
                        for (; p + 16 <= kc; p += 16)
                        {
                            Transpose16(s + p, ldb, rows, tmp);
                            for (int t = 0; t < 16; t++) Vector512.Store(Vector512.Load(tmp + t * 16), panel + (p + t) * nr + q);
                        }
                        for (; p < kc; p++)
                        {
                            float* d = panel + p * nr + q;
                            for (int c = 0; c < 16; c++) d[c] = c < rows ? s[c * ldb + p] : 0;
                        }
                    }
                    continue;
                }
                for (int c = 0; c < nr; c++)
                {
                    float* d = panel + c;
                    if (c < cols)
                    {
                        float* s = src + c * ldb;
                        for (int p = 0; p < kc; p++) d[p * nr] = s[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * nr] = 0;
                    }
                }
            }
        }
    }
}

/// <summary>
/// AVX-512 shuffles used by the in-register 16×16 transpose. Without AVX-512 (a JIT-time constant) each is done
/// element by element, so the kernels that transpose in registers still run (slowly) on AVX2-only machines.
/// </summary>
internal static class Unpack
{
    private static bool Hw => System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Lo32(Vector512<float> a, Vector512<float> b) => Hw ? System.Runtime.Intrinsics.X86.Avx512F.UnpackLow(a, b) : Interleave(a, b, 0, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Hi32(Vector512<float> a, Vector512<float> b) => Hw ? System.Runtime.Intrinsics.X86.Avx512F.UnpackHigh(a, b) : Interleave(a, b, 2, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Lo64(Vector512<float> a, Vector512<float> b)
        => Hw ? System.Runtime.Intrinsics.X86.Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle() : Interleave(a, b, 0, 2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Hi64(Vector512<float> a, Vector512<float> b)
        => Hw ? System.Runtime.Intrinsics.X86.Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle() : Interleave(a, b, 2, 2);
    /// <summary>vshuff32x4: lanes 0,1 from a and 2,3 from b, each chosen by a 2-bit field of imm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Shuffle128(Vector512<float> a, Vector512<float> b, [ConstantExpected] byte imm)
    {
        if (Hw) return System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(a, b, imm);
        Span<float> r = stackalloc float[16];
        for (int lane = 0; lane < 4; lane++)
        {
            int from = (imm >> (2 * lane)) & 3;
            var src = lane < 2 ? a : b;
            for (int e = 0; e < 4; e++) r[lane * 4 + e] = src.GetElement(from * 4 + e);
        }
        return Vector512.Create<float>(r);
    }

    /// <summary>
    /// unpcklps/unpckhps (width 1) or unpcklpd/unpckhpd (width 2) per 128-bit lane: from element <paramref name="first"/>
    /// of each lane on, groups of <paramref name="width"/> floats alternately from a and b.
    /// </summary>
    private static Vector512<float> Interleave(Vector512<float> a, Vector512<float> b, int first, int width)
    {
        Span<float> r = stackalloc float[16];
        for (int lane = 0; lane < 4; lane++)
            for (int e = 0; e < 4; e++)
            {
                int group = e / width, within = e % width;
                var src = group % 2 == 0 ? a : b;
                r[lane * 4 + e] = src.GetElement(lane * 4 + first + (group / 2) * width + within);
            }
        return Vector512.Create<float>(r);
    }
}

/// <summary>Loads row r (16 floats) of a 16-row block for <see cref="GemmPacking.Transpose16To{TR}"/>.</summary>
internal interface IRowLoader
{
    Vector512<float> Load(int r);
}

/// <summary>The first <c>rows</c> of 16 rows at a fixed stride; rows past them read as zeros.</summary>
internal readonly unsafe struct StridedRows(float* src, nint ld, int rows) : IRowLoader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Load(int r) => r < rows ? Vector512.Load(src + r * ld) : Vector512<float>.Zero;
}

/// <summary>16 rows held in consecutive vectors.</summary>
internal readonly unsafe struct VectorRows(Vector512<float>* rows) : IRowLoader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Load(int r) => rows[r];
}

/// <summary>16 rows given by pointers at a common column offset; a null pointer (or r ≥ 16) reads as zeros (padding).</summary>
internal readonly unsafe struct PointerRows(float** rows, nint offset) : IRowLoader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Load(int r) => rows[r] == null ? Vector512<float>.Zero : Vector512.Load(rows[r] + offset);
}
