// Packed single-precision GEMM: the BLIS/Goto loop nest over a register-blocked micro-kernel, two-way threaded.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

/// <summary>Which float GEMM implementation runs (tests and benchmarks can force one).</summary>
internal enum SgemmPath { Auto, Avx512, Avx2, Generic }

internal static unsafe class Sgemm
{
    // Blocking (see PERF-NOTES): KC·NR B micro-panel streams from L1/L2, the MC×KC A block stays in L2,
    // the KC×NC B panel in L2/L3. KC depends only on k, never on the thread split, so every element
    // sees the same summation order whatever the thread count.
    // Fields rather than constants so a benchmark can try other blockings in one process.
    internal static int KcMax = 512, McMax = 336, NcMax = 4096;
    // Below this much work the second thread's wake-up costs more than it saves.
    private const long ParallelThreshold = 64L * 64 * 64;

    internal static SgemmPath ForcePath = SgemmPath.Auto;

    public static SgemmPath ActivePath => ForcePath != SgemmPath.Auto ? ForcePath
        : Kernel14x32.IsSupported && Vector512.IsHardwareAccelerated ? SgemmPath.Avx512
        : Kernel6x16.IsSupported && Avx2.IsSupported ? SgemmPath.Avx2
        : SgemmPath.Generic;

    public static void Compute(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias, Activation act)
    {
        FloatMode.EnsureFlushToZero();
        switch (ActivePath)
        {
            case SgemmPath.Avx512: Run<Kernel14x32>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, act); break;
            case SgemmPath.Avx2: Run<Kernel6x16>(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, act); break;
            default: throw new InvalidOperationException("generic path is dispatched by Gemm");
        }
    }

    private static void Run<TK>(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias, Activation act)
        where TK : IMicroKernel
    {
        var job = new Job<TK>
        {
            TransA = transA, TransB = transB, M = m, N = n, K = k, A = a, Lda = lda, B = b, Ldb = ldb,
            C = c, Ldc = ldc, Accumulate = accumulate, Bias = bias, Act = act,
        };
        int threads = KernelPool.IsInsidePart || (long)m * n * k < ParallelThreshold ? 1 : KernelPool.Threads;
        // Split the larger of M and N into aligned slices; each part packs its own panels (no barriers).
        job.SplitM = m >= n;
        int align = job.SplitM ? TK.Mr : TK.Nr;
        int extent = job.SplitM ? m : n;
        int slice = RoundUp(CeilDiv(extent, threads), align);
        job.Slice = slice;
        int parts = Math.Max(1, CeilDiv(extent, slice));
        if (parts == 1) job.RunPart(0);
        else KernelPool.Run(parts, job.RunPart);
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;
    private static int RoundUp(int a, int b) => CeilDiv(a, b) * b;

    // Pointers cannot be captured by a lambda, so the arguments travel in this object.
    private sealed class Job<TK> where TK : IMicroKernel
    {
        public bool TransA, TransB, Accumulate, SplitM;
        public int M, N, K, Lda, Ldb, Ldc, Slice;
        public float* A, B, C, Bias;
        public Activation Act;

        public void RunPart(int part)
        {
            FloatMode.EnsureFlushToZero();
            int start = part * Slice;
            if (SplitM)
            {
                int rows = Math.Min(Slice, M - start);
                float* a = TransA ? A + start : A + (nint)start * Lda;
                Block<TK>(TransA, TransB, rows, N, K, a, Lda, B, Ldb, C + (nint)start * Ldc, Ldc, Accumulate, Bias, Act);
            }
            else
            {
                int cols = Math.Min(Slice, N - start);
                float* b = TransB ? B + (nint)start * Ldb : B + start;
                Block<TK>(TransA, TransB, M, cols, K, A, Lda, b, Ldb, C + start, Ldc, Accumulate, Bias == null ? null : Bias + start, Act);
            }
        }
    }

    /// <summary>The single-threaded loop nest: NC → KC (pack B) → MC (pack A) → NR → MR.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TK>(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias, Activation act)
        where TK : IMicroKernel
    {
        int mr = TK.Mr, nr = TK.Nr;
        bool epilogue = bias != null || act != Activation.None;
        if (m <= 0 || n <= 0) return;
        if (k == 0)
        {
            for (int i = 0; i < m; i++)
            {
                float* row = c + (nint)i * ldc;
                if (!accumulate) new Span<float>(row, n).Clear();
                if (epilogue) EpilogueMath.ApplyRow(row, n, bias, act);
            }
            return;
        }

        var buffers = PackBuffers.ForCurrentThread((long)(McMax + mr) * KcMax, (long)(NcMax + nr) * KcMax);
        float* packA = buffers.A, packB = buffers.B;
        float* tile = stackalloc float[TK.Mr * TK.Nr];

        // Balanced blocks: equal-sized K blocks (never a sliver at the end), MC and NC multiples of the tile.
        int kBlocks = CeilDiv(k, KcMax), kcBlock = CeilDiv(k, kBlocks);
        int mBlocks = CeilDiv(m, McMax), mcBlock = RoundUp(CeilDiv(m, mBlocks), mr);
        int nBlocks = CeilDiv(n, NcMax), ncBlock = RoundUp(CeilDiv(n, nBlocks), nr);

        for (int jc = 0; jc < n; jc += ncBlock)
        {
            int nc = Math.Min(ncBlock, n - jc);
            for (int pc = 0; pc < k; pc += kcBlock)
            {
                int kc = Math.Min(kcBlock, k - pc);
                bool load = accumulate || pc > 0;
                bool last = pc + kc == k;
                GemmPacking.PackB<TK>(transB, b, ldb, pc, kc, jc, nc, packB);
                for (int ic = 0; ic < m; ic += mcBlock)
                {
                    int mc = Math.Min(mcBlock, m - ic);
                    GemmPacking.PackA<TK>(transA, a, lda, ic, mc, pc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        float* pb = packB + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            float* pa = packA + (nint)ir * kc;
                            float* ct = c + (nint)(ic + ir) * ldc + jc + jr;
                            if (rows == mr && cols == nr)
                            {
                                TK.Run(kc, pa, pb, ct, ldc, load);
                            }
                            else
                            {
                                // Edge tile: full kernel into a stack tile, then add/copy the valid part.
                                // C_new = C_old + acc here and in the kernel alike, so edges round identically.
                                TK.Run(kc, pa, pb, tile, nr, false);
                                for (int i = 0; i < rows; i++)
                                {
                                    float* src = tile + i * nr;
                                    float* dst = ct + (nint)i * ldc;
                                    if (load) for (int j = 0; j < cols; j++) dst[j] += src[j];
                                    else for (int j = 0; j < cols; j++) dst[j] = src[j];
                                }
                            }
                            if (last && epilogue)
                            {
                                float* bj = bias == null ? null : bias + jc + jr;
                                for (int i = 0; i < rows; i++) EpilogueMath.ApplyRow(ct + (nint)i * ldc, cols, bj, act);
                            }
                        }
                    }
                }
            }
        }
        GC.KeepAlive(buffers);
    }

    /// <summary>
    /// Per-thread 64-byte aligned packing buffers, allocated once and reused by every GEMM on the
    /// thread (fresh large buffers page-fault). Freed by the finalizer when the thread dies.
    /// </summary>
    private sealed class PackBuffers
    {
        [ThreadStatic] private static PackBuffers? _current;

        public readonly float* A, B;
        private readonly long _aFloats, _bFloats;

        private PackBuffers(long aFloats, long bFloats)
        {
            _aFloats = aFloats; _bFloats = bFloats;
            A = (float*)NativeMemory.AlignedAlloc((nuint)(aFloats * sizeof(float)), 64);
            B = (float*)NativeMemory.AlignedAlloc((nuint)(bFloats * sizeof(float)), 64);
        }

        public static PackBuffers ForCurrentThread(long aFloats, long bFloats)
        {
            var p = _current;
            if (p != null && p._aFloats >= aFloats && p._bFloats >= bFloats) return p;
            return _current = new PackBuffers(Math.Max(aFloats, p?._aFloats ?? 0), Math.Max(bFloats, p?._bFloats ?? 0));
        }

        ~PackBuffers()
        {
            NativeMemory.AlignedFree(A);
            NativeMemory.AlignedFree(B);
        }
    }
}
