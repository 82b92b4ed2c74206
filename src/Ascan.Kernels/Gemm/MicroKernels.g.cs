// Generated GEMM micro-kernels (straight-line locals so the JIT keeps every accumulator in a register).
// Regenerate with gen_microkernels.py rather than edit by hand: the kernels differ only in MR, NR and vector width.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

/// <summary>14x32 micro-kernel: 28 Vector512 accumulators stay in registers for the whole K loop.</summary>
internal readonly unsafe struct Kernel14x32 : IMicroKernel
{
    public static int Mr => 14;
    public static int Nr => 32;
    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>C[0..Mr, 0..Nr] (row stride ldc) = (load ? C : 0) + Apanel·Bpanel over kc steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, bool load)
    {
        // Prefetch the C tile now so its lines arrive while the K loop runs (row strides that are
        // powers of two alias in L1, so waiting for demand misses at the end is costly).
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 31);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 31);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 31);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 31);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 31);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 31);
        Sse.Prefetch0(c + 6 * ldc); Sse.Prefetch0(c + 6 * ldc + 31);
        Sse.Prefetch0(c + 7 * ldc); Sse.Prefetch0(c + 7 * ldc + 31);
        Sse.Prefetch0(c + 8 * ldc); Sse.Prefetch0(c + 8 * ldc + 31);
        Sse.Prefetch0(c + 9 * ldc); Sse.Prefetch0(c + 9 * ldc + 31);
        Sse.Prefetch0(c + 10 * ldc); Sse.Prefetch0(c + 10 * ldc + 31);
        Sse.Prefetch0(c + 11 * ldc); Sse.Prefetch0(c + 11 * ldc + 31);
        Sse.Prefetch0(c + 12 * ldc); Sse.Prefetch0(c + 12 * ldc + 31);
        Sse.Prefetch0(c + 13 * ldc); Sse.Prefetch0(c + 13 * ldc + 31);
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> c8_0 = default; Vector512<float> c8_1 = default;
        Vector512<float> c9_0 = default; Vector512<float> c9_1 = default;
        Vector512<float> c10_0 = default; Vector512<float> c10_1 = default;
        Vector512<float> c11_0 = default; Vector512<float> c11_1 = default;
        Vector512<float> c12_0 = default; Vector512<float> c12_1 = default;
        Vector512<float> c13_0 = default; Vector512<float> c13_1 = default;
        nint p = 0;
        for (; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(a8, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(a9, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(a10, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(a11, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(a11, b1, c11_1);
            var a12 = Vector512.Create(a[12]);
            c12_0 = Avx512F.FusedMultiplyAdd(a12, b0, c12_0);
            c12_1 = Avx512F.FusedMultiplyAdd(a12, b1, c12_1);
            var a13 = Vector512.Create(a[13]);
            c13_0 = Avx512F.FusedMultiplyAdd(a13, b0, c13_0);
            c13_1 = Avx512F.FusedMultiplyAdd(a13, b1, c13_1);
            a += 14; b += 32;
        }
        if (load)
        {
            c0_0 = Vector512.Load(c + 0 * ldc + 0) + c0_0;
            c0_1 = Vector512.Load(c + 0 * ldc + 16) + c0_1;
            c1_0 = Vector512.Load(c + 1 * ldc + 0) + c1_0;
            c1_1 = Vector512.Load(c + 1 * ldc + 16) + c1_1;
            c2_0 = Vector512.Load(c + 2 * ldc + 0) + c2_0;
            c2_1 = Vector512.Load(c + 2 * ldc + 16) + c2_1;
            c3_0 = Vector512.Load(c + 3 * ldc + 0) + c3_0;
            c3_1 = Vector512.Load(c + 3 * ldc + 16) + c3_1;
            c4_0 = Vector512.Load(c + 4 * ldc + 0) + c4_0;
            c4_1 = Vector512.Load(c + 4 * ldc + 16) + c4_1;
            c5_0 = Vector512.Load(c + 5 * ldc + 0) + c5_0;
            c5_1 = Vector512.Load(c + 5 * ldc + 16) + c5_1;
            c6_0 = Vector512.Load(c + 6 * ldc + 0) + c6_0;
            c6_1 = Vector512.Load(c + 6 * ldc + 16) + c6_1;
            c7_0 = Vector512.Load(c + 7 * ldc + 0) + c7_0;
            c7_1 = Vector512.Load(c + 7 * ldc + 16) + c7_1;
            c8_0 = Vector512.Load(c + 8 * ldc + 0) + c8_0;
            c8_1 = Vector512.Load(c + 8 * ldc + 16) + c8_1;
            c9_0 = Vector512.Load(c + 9 * ldc + 0) + c9_0;
            c9_1 = Vector512.Load(c + 9 * ldc + 16) + c9_1;
            c10_0 = Vector512.Load(c + 10 * ldc + 0) + c10_0;
            c10_1 = Vector512.Load(c + 10 * ldc + 16) + c10_1;
            c11_0 = Vector512.Load(c + 11 * ldc + 0) + c11_0;
            c11_1 = Vector512.Load(c + 11 * ldc + 16) + c11_1;
            c12_0 = Vector512.Load(c + 12 * ldc + 0) + c12_0;
            c12_1 = Vector512.Load(c + 12 * ldc + 16) + c12_1;
            c13_0 = Vector512.Load(c + 13 * ldc + 0) + c13_0;
            c13_1 = Vector512.Load(c + 13 * ldc + 16) + c13_1;
        }
        c0_0.Store(c + 0 * ldc + 0); c0_1.Store(c + 0 * ldc + 16);
        c1_0.Store(c + 1 * ldc + 0); c1_1.Store(c + 1 * ldc + 16);
        c2_0.Store(c + 2 * ldc + 0); c2_1.Store(c + 2 * ldc + 16);
        c3_0.Store(c + 3 * ldc + 0); c3_1.Store(c + 3 * ldc + 16);
        c4_0.Store(c + 4 * ldc + 0); c4_1.Store(c + 4 * ldc + 16);
        c5_0.Store(c + 5 * ldc + 0); c5_1.Store(c + 5 * ldc + 16);
        c6_0.Store(c + 6 * ldc + 0); c6_1.Store(c + 6 * ldc + 16);
        c7_0.Store(c + 7 * ldc + 0); c7_1.Store(c + 7 * ldc + 16);
        c8_0.Store(c + 8 * ldc + 0); c8_1.Store(c + 8 * ldc + 16);
        c9_0.Store(c + 9 * ldc + 0); c9_1.Store(c + 9 * ldc + 16);
        c10_0.Store(c + 10 * ldc + 0); c10_1.Store(c + 10 * ldc + 16);
        c11_0.Store(c + 11 * ldc + 0); c11_1.Store(c + 11 * ldc + 16);
        c12_0.Store(c + 12 * ldc + 0); c12_1.Store(c + 12 * ldc + 16);
        c13_0.Store(c + 13 * ldc + 0); c13_1.Store(c + 13 * ldc + 16);
    }
}

/// <summary>6x16 micro-kernel: 12 Vector256 accumulators stay in registers for the whole K loop.</summary>
internal readonly unsafe struct Kernel6x16 : IMicroKernel
{
    public static int Mr => 6;
    public static int Nr => 16;
    public static bool IsSupported => Fma.IsSupported;

    /// <summary>C[0..Mr, 0..Nr] (row stride ldc) = (load ? C : 0) + Apanel·Bpanel over kc steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, bool load)
    {
        // Prefetch the C tile now so its lines arrive while the K loop runs (row strides that are
        // powers of two alias in L1, so waiting for demand misses at the end is costly).
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 15);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 15);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 15);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 15);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 15);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 15);
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        nint p = 0;
        for (; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(a0, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(a1, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(a2, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(a3, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(a4, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(a5, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
            a += 6; b += 16;
        }
        if (load)
        {
            c0_0 = Vector256.Load(c + 0 * ldc + 0) + c0_0;
            c0_1 = Vector256.Load(c + 0 * ldc + 8) + c0_1;
            c1_0 = Vector256.Load(c + 1 * ldc + 0) + c1_0;
            c1_1 = Vector256.Load(c + 1 * ldc + 8) + c1_1;
            c2_0 = Vector256.Load(c + 2 * ldc + 0) + c2_0;
            c2_1 = Vector256.Load(c + 2 * ldc + 8) + c2_1;
            c3_0 = Vector256.Load(c + 3 * ldc + 0) + c3_0;
            c3_1 = Vector256.Load(c + 3 * ldc + 8) + c3_1;
            c4_0 = Vector256.Load(c + 4 * ldc + 0) + c4_0;
            c4_1 = Vector256.Load(c + 4 * ldc + 8) + c4_1;
            c5_0 = Vector256.Load(c + 5 * ldc + 0) + c5_0;
            c5_1 = Vector256.Load(c + 5 * ldc + 8) + c5_1;
        }
        c0_0.Store(c + 0 * ldc + 0); c0_1.Store(c + 0 * ldc + 8);
        c1_0.Store(c + 1 * ldc + 0); c1_1.Store(c + 1 * ldc + 8);
        c2_0.Store(c + 2 * ldc + 0); c2_1.Store(c + 2 * ldc + 8);
        c3_0.Store(c + 3 * ldc + 0); c3_1.Store(c + 3 * ldc + 8);
        c4_0.Store(c + 4 * ldc + 0); c4_1.Store(c + 4 * ldc + 8);
        c5_0.Store(c + 5 * ldc + 0); c5_1.Store(c + 5 * ldc + 8);
    }
}
