// Packed single-precision GEMM: the BLIS/Goto loop nest over a register-blocked micro-kernel, two-way threaded.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

/// <summary>Which float GEMM implementation runs (tests and benchmarks can force one).</summary>
internal enum SgemmPath { Auto, Avx512, Avx2, Generic }

/// <summary>
/// The output step of a float GEMM on raw pointers: c = act(acc + bias[j]) + residual[i, j]. Bias is indexed by
/// the absolute column, the residual (row stride <see cref="Ldr"/>) by the absolute row and column; null = none.
/// </summary>
internal unsafe readonly struct EpilogueArgs
{
    public readonly float* Bias;
    public readonly Activation Act;
    public readonly float* Residual;
    public readonly nint Ldr;
    /// <summary>c = act(acc + bias + residual) instead of act(acc + bias) + residual.</summary>
    public readonly bool ResidualFirst;

    public EpilogueArgs(float* bias, Activation act, float* residual = null, nint ldr = 0, bool residualFirst = false)
    {
        Bias = bias; Act = act; Residual = residual; Ldr = ldr; ResidualFirst = residualFirst;
    }

    public bool IsIdentity => Bias == null && Act == Activation.None && Residual == null;
}

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

    /// <summary>The panel width (Nr) of the active kernel: the layout a <see cref="PackedB"/> must have.</summary>
    public static int ActiveNr => ActivePath switch
    {
        SgemmPath.Avx512 => Kernel14x32.Nr,
        SgemmPath.Avx2 => Kernel6x16.Nr,
        _ => 0,
    };

    /// <summary>The row-panel height (Mr) of the active kernel: the layout a <see cref="PrepackedA"/> must have.</summary>
    public static int ActiveMr => ActivePath switch
    {
        SgemmPath.Avx512 => Kernel14x32.Mr,
        SgemmPath.Avx2 => Kernel6x16.Mr,
        _ => 0,
    };

    /// <summary>
    /// Rows of op(B) per K block: balanced blocks of at most <see cref="KcMax"/>, rounded up to 16 so that
    /// packing sources whose K splits into runs (convolution taps) stay on whole vectors.
    /// </summary>
    public static int KBlock(int k)
    {
        if (k <= KcMax) return k;
        int blocks = CeilDiv(k, KcMax);
        return RoundUp(CeilDiv(k, blocks), 16);
    }

    public static void Compute(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, in EpilogueArgs epi)
        => Run(new StridedA(a, lda, transA), new StridedB(b, ldb, transB), m, n, k, c, ldc, accumulate, epi);

    /// <summary>The driver for any A and B source: dispatches on the active kernel.</summary>
    public static void Run<TA, TB>(TA a, TB b, int m, int n, int k, float* c, int ldc, bool accumulate, in EpilogueArgs epi)
        where TA : struct, IASource where TB : struct, IBSource
    {
        FloatMode.EnsureFlushToZero();
        switch (ActivePath)
        {
            case SgemmPath.Avx512: Run<Kernel14x32, TA, TB>(a, b, m, n, k, c, ldc, accumulate, epi); break;
            case SgemmPath.Avx2: Run<Kernel6x16, TA, TB>(a, b, m, n, k, c, ldc, accumulate, epi); break;
            default: throw new InvalidOperationException("generic path is dispatched by Gemm");
        }
    }

    private static void Run<TK, TA, TB>(TA a, TB b, int m, int n, int k, float* c, int ldc, bool accumulate, in EpilogueArgs epi)
        where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        if (m <= 0 || n <= 0) return;
        // (Operands packed ahead of time are laid out in the K blocks of the whole K: never split.)
        if (epi.IsIdentity && (long)m * n <= KSplitMaxOutput && k >= 2 * KSplitMinPart
            && typeof(TA) != typeof(PrepackedA) && typeof(TB) != typeof(PackedB.Source))
        {
            RunKSplit<TK, TA, TB>(a, b, m, n, k, c, ldc, accumulate);
            return;
        }
        long work = (long)m * n * k;
        int threads = KernelPool.IsInsidePart || work < ParallelThreshold ? 1 : KernelPool.Threads;
        if (threads == 1)
        {
            Block<TK, TA, TB>(ref a, ref b, 0, m, 0, n, k, c, ldc, accumulate, epi);
            return;
        }
        // Split the larger of M and N into aligned slices, up to PartsPerThread per thread: the pool hands parts out
        // as threads come free, so a thread the OS descheduled (a busy machine) holds up one small part, not half
        // the product. Each part packs its own panels (no barriers); results do not depend on the split.
        bool splitM = m >= n;
        int align = splitM ? TK.Mr : TK.Nr;
        int extent = splitM ? m : n;
        // A long K (a weight gradient summed over every pixel of the batch) makes each part's own packing of the
        // unsplit operand expensive: one part per thread then.
        bool sharedB = splitM && typeof(TB) == typeof(StridedB) && (long)k * n >= SharedBMin;
        int perThread = k > 8192 && !sharedB ? 1 : PartsPerThread;
        int wanted = (int)Math.Clamp(work / MinPartWork, threads, (long)threads * perThread);
        int slice = RoundUp(CeilDiv(extent, wanted), align);
        int parts = CeilDiv(extent, slice);
        if (parts == 1)
        {
            Block<TK, TA, TB>(ref a, ref b, 0, m, 0, n, k, c, ldc, accumulate, epi);
            return;
        }
        long sharedA = (long)RoundUp(m, TK.Mr) * k;
        if (!splitM && typeof(TA) != typeof(PrepackedA) && sharedA <= SharedAMax)
        {
            // Column slices would each pack the whole of A: pack it once here, in the layout PrepackedA reads.
            // Slack past the last panel: packing sources may store a whole 16-float vector over a shorter run.
            var buf = NativeScratch.Get(ref _shared, sharedA + 16);
            int mPad = RoundUp(m, TK.Mr), kcb = KBlock(k);
            for (int pc = 0; pc < k; pc += kcb)
            {
                int kc = Math.Min(kcb, k - pc);
                float* dst = buf.Data + (nint)pc * mPad;
                float* got = a.Pack<TK>(0, m, pc, kc, dst);
                if (got != dst) Buffer.MemoryCopy(got, dst, (long)mPad * kc * sizeof(float), (long)mPad * kc * sizeof(float));
            }
            var shared = new Job<TK, PrepackedA, TB>
            {
                A = new PrepackedA(buf.Data, mPad), B = b, M = m, N = n, K = k, C = c, Ldc = ldc, Accumulate = accumulate, Epi = epi,
                SplitM = false, Slice = slice,
            };
            KernelPool.Run(parts, shared.RunPart);
            GC.KeepAlive(buf);
            return;
        }
        if (sharedB)
        {
            RunSharedB<TK, TA, TB>(a, b, m, n, k, c, ldc, accumulate, epi, parts, slice);
            return;
        }
        var job = new Job<TK, TA, TB>
        {
            A = a, B = b, M = m, N = n, K = k, C = c, Ldc = ldc, Accumulate = accumulate, Epi = epi,
            SplitM = splitM, Slice = slice,
        };
        KernelPool.Run(parts, job.RunPart);
    }

    /// <summary>
    /// A small output over a long K (the weight gradient of a conv with few channels, summed over every pixel of the
    /// batch): K cut into a fixed number of ranges — a function of the shape only, never of the thread count — each
    /// multiplied into its own partial C by one part, then the partials added to C in range order. Splitting M or N
    /// instead would leave one thread idle or have every part pack the same long operand.
    /// </summary>
    private static void RunKSplit<TK, TA, TB>(TA a, TB b, int m, int n, int k, float* c, int ldc, bool accumulate)
        where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        int parts = Math.Min(KSplitParts, k / KSplitMinPart);
        int chunk = RoundUp(CeilDiv(k, parts), 16);
        parts = CeilDiv(k, chunk);
        long plane = (long)m * n;
        var partial = System.Buffers.ArrayPool<float>.Shared.Rent((int)(parts * plane));
        fixed (float* pp = partial)
        {
            var job = new KSplitJob<TK, TA, TB> { A = a, B = b, M = m, N = n, K = k, Chunk = chunk, Partial = pp };
            KernelPool.Run(parts, job.RunPart);
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (nint)i * ldc, n);
                for (int p = 0; p < parts; p++)
                {
                    var part = new ReadOnlySpan<float>(pp + p * plane + (nint)i * n, n);
                    if (p == 0 && !accumulate) part.CopyTo(row);
                    else RowMath.Add(row, part);
                }
            }
        }
        System.Buffers.ArrayPool<float>.Shared.Return(partial);
    }

    private sealed class KSplitJob<TK, TA, TB> where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        public TA A;
        public TB B;
        public int M, N, K, Chunk;
        public float* Partial;

        public void RunPart(int part)
        {
            FloatMode.EnsureFlushToZero();
            int k0 = part * Chunk, len = Math.Min(Chunk, K - k0);
            var a = A; var b = B;
            Block<TK, TA, TB>(ref a, ref b, 0, M, 0, N, len, Partial + (long)part * M * N, N, false, default, k0);
        }
    }

    /// <summary>
    /// Row slices with B packed once per (NC, KC) block and shared: each block is packed by all threads (column
    /// panels split between them), then every row slice multiplies against it. Without this each of the parts would
    /// pack the same B block again — with a long K (a weight gradient summed over every pixel of the batch, a
    /// linear layer's data gradient) that repacking is a third of the time. Per C tile the K blocks still add in
    /// order, so the result is bit-identical to <see cref="Block"/>.
    /// </summary>
    private static void RunSharedB<TK, TA, TB>(TA a, TB b, int m, int n, int k, float* c, int ldc, bool accumulate, in EpilogueArgs epi,
        int parts, int slice)
        where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        int nr = TK.Nr;
        int kcBlock = KBlock(k);
        int nBlocks = CeilDiv(n, NcMax), ncBlock = RoundUp(CeilDiv(n, nBlocks), nr);
        var buf = NativeScratch.Get(ref _shared, (long)(ncBlock + nr) * kcBlock);
        var job = new SharedBJob<TK, TA, TB>
        {
            A = a, B = b, M = m, C = c, Ldc = ldc, Epi = epi, Slice = slice, PackedB = buf.Data,
        };
        int packParts = Math.Min(KernelPool.Threads, CeilDiv(n, nr));
        for (int jc = 0; jc < n; jc += ncBlock)
        {
            job.Jc = jc; job.Nc = Math.Min(ncBlock, n - jc);
            job.PanelsPerPart = CeilDiv(CeilDiv(job.Nc, nr), packParts);
            for (int pc = 0; pc < k; pc += kcBlock)
            {
                job.Pc = pc; job.Kc = Math.Min(kcBlock, k - pc);
                job.Load = accumulate || pc > 0;
                job.Last = pc + job.Kc == k;
                KernelPool.Run(packParts, job.PackPart);
                KernelPool.Run(parts, job.RunPart);
            }
        }
        GC.KeepAlive(buf);
    }

    private sealed class SharedBJob<TK, TA, TB> where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        public TA A;
        public TB B;
        public int M, Ldc, Slice, Jc, Nc, Pc, Kc, PanelsPerPart;
        public bool Load, Last;
        public float* C, PackedB;
        public EpilogueArgs Epi;

        public void PackPart(int part)
        {
            int nr = TK.Nr, j = part * PanelsPerPart * nr;
            if (j >= Nc) return;
            var b = B;
            float* dst = PackedB + (nint)j * Kc;
            float* got = b.Block<TK>(Jc + j, Math.Min(PanelsPerPart * nr, Nc - j), Pc, Kc, dst);
            if (got != dst) throw new InvalidOperationException("shared-B GEMM needs a B source that packs into the given buffer");
        }

        public void RunPart(int part)
        {
            FloatMode.EnsureFlushToZero();
            int start = part * Slice;
            var a = A;
            var packA = NativeScratch.Get(ref _packA, (long)(McMax + TK.Mr) * KcMax);
            Macro<TK, TA>(ref a, PackedB, start, Math.Min(Slice, M - start), Jc, Nc, Pc, Kc, C, Ldc, Load, Last, Epi, packA.Data);
            GC.KeepAlive(packA);
        }
    }

    // At least this many multiply-adds per part (~10 µs on one core), at most this many parts per thread.
    private const long MinPartWork = 1L << 20;
    private const int PartsPerThread = 4;
    // Largest A (floats) packed once and shared by column slices.
    private const long SharedAMax = 1L << 20;
    // K splits: outputs of at most this many values, at least this much K per range, at most this many ranges.
    private const long KSplitMaxOutput = 1L << 16;
    private const int KSplitMinPart = 2048, KSplitParts = 8;
    // Smallest B (floats) worth packing once per block for row slices (below it each part packs its own copy).
    internal static long SharedBMin = 1L << 16;

    // Per-thread scratch: an operand packed once for all parts (A of a column split, B blocks of a row split), and
    // the A and B packing buffers of the loop nest.
    [ThreadStatic] private static NativeScratch? _shared, _packA, _packB;

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;
    private static int RoundUp(int a, int b) => CeilDiv(a, b) * b;

    // Pointers cannot be captured by a lambda, so the arguments travel in this object.
    private sealed class Job<TK, TA, TB> where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        public TA A;
        public TB B;
        public bool Accumulate, SplitM;
        public int M, N, K, Ldc, Slice;
        public float* C;
        public EpilogueArgs Epi;

        public void RunPart(int part)
        {
            FloatMode.EnsureFlushToZero();
            int start = part * Slice;
            // Each part works on its own copy of the sources (they are small structs of pointers).
            var a = A; var b = B;
            if (SplitM) Block<TK, TA, TB>(ref a, ref b, start, Math.Min(Slice, M - start), 0, N, K, C, Ldc, Accumulate, Epi);
            else Block<TK, TA, TB>(ref a, ref b, 0, M, start, Math.Min(Slice, N - start), K, C, Ldc, Accumulate, Epi);
        }
    }

    /// <summary>
    /// The single-threaded loop nest over rows [i0, i0+m) and columns [j0, j0+n) of C (absolute
    /// coordinates, so sources, bias and residual index the whole problem) and K range [k0, k0+k): NC → KC (B block) →
    /// MC (pack A) → NR → MR.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TK, TA, TB>(ref TA aSrc, ref TB bSrc, int i0, int m, int j0, int n, int k,
        float* c, int ldc, bool accumulate, in EpilogueArgs epi, int k0 = 0)
        where TK : IMicroKernel where TA : struct, IASource where TB : struct, IBSource
    {
        int mr = TK.Mr, nr = TK.Nr;
        if (m <= 0 || n <= 0) return;
        if (k == 0)
        {
            for (int i = i0; i < i0 + m; i++)
            {
                float* row = c + (nint)i * ldc + j0;
                if (!accumulate) new Span<float>(row, n).Clear();
                if (!epi.IsIdentity) ApplyEpilogue(row, n, i, j0, epi);
            }
            return;
        }

        var bufA = NativeScratch.Get(ref _packA, (long)(McMax + mr) * KcMax);
        var bufB = NativeScratch.Get(ref _packB, (long)(NcMax + nr) * KcMax);
        float* packA = bufA.Data, packB = bufB.Data;

        // Balanced blocks: equal-sized K blocks (never a sliver at the end), MC (in Macro) and NC multiples of the tile.
        int kcBlock = KBlock(k);
        int nBlocks = CeilDiv(n, NcMax), ncBlock = RoundUp(CeilDiv(n, nBlocks), nr);

        for (int jc = j0; jc < j0 + n; jc += ncBlock)
        {
            int nc = Math.Min(ncBlock, j0 + n - jc);
            for (int pc = k0; pc < k0 + k; pc += kcBlock)
            {
                int kc = Math.Min(kcBlock, k0 + k - pc);
                bool load = accumulate || pc > k0;
                bool last = pc + kc == k0 + k;
                float* blockB = bSrc.Block<TK>(jc, nc, pc, kc, packB);
                Macro<TK, TA>(ref aSrc, blockB, i0, m, jc, nc, pc, kc, c, ldc, load, last, epi, packA);
            }
        }
        GC.KeepAlive(bufA); GC.KeepAlive(bufB);
    }

    /// <summary>
    /// Rows [i0, i0+m) × one packed (kc × nc) B block: MC (pack A) → NR → MR micro-kernels, with the epilogue after
    /// the last K block. <paramref name="load"/>: add onto C (a later K block, or accumulate).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro<TK, TA>(ref TA aSrc, float* blockB, int i0, int m, int jc, int nc, int pc, int kc,
        float* c, int ldc, bool load, bool last, in EpilogueArgs epi, float* packA)
        where TK : IMicroKernel where TA : struct, IASource
    {
        int mr = TK.Mr, nr = TK.Nr;
        bool epilogue = !epi.IsIdentity;
        float* tile = stackalloc float[TK.Mr * TK.Nr];
        int mBlocks = CeilDiv(m, McMax), mcBlock = RoundUp(CeilDiv(m, mBlocks), mr);
        for (int ic = i0; ic < i0 + m; ic += mcBlock)
        {
            int mc = Math.Min(mcBlock, i0 + m - ic);
            float* blockA = aSrc.Pack<TK>(ic, mc, pc, kc, packA);
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                float* pb = blockB + (nint)jr * kc;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    int rows = Math.Min(mr, mc - ir);
                    float* pa = blockA + (nint)ir * kc;
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
                        for (int i = 0; i < rows; i++) ApplyEpilogue(ct + (nint)i * ldc, cols, ic + ir + i, jc + jr, epi);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ApplyEpilogue(float* row, int count, int i, int j, in EpilogueArgs epi)
        => EpilogueMath.ApplyRow(row, count, epi.Bias == null ? null : epi.Bias + j, epi.Act,
            epi.Residual == null ? null : epi.Residual + (nint)i * epi.Ldr + j, epi.ResidualFirst);

}

/// <summary>
/// Where the GEMM's A operand comes from: returns op(A)[i0..i0+mc, p0..p0+kc] as Mr-row k-major panels (panel q at
/// q·Mr·kc, missing rows zero), either packed into <paramref name="dst"/> or already packed elsewhere. A packing
/// source may write up to 16 floats past its last panel (whole-vector stores), so buffers keep that much slack.
/// </summary>
internal unsafe interface IASource
{
    float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel;
}

/// <summary>
/// Where the GEMM's B operand comes from: returns op(B)[p0..p0+kc, j0..j0+nc] as ceil(nc/Nr) k-major panels of
/// kc×Nr (panel q at q·Nr·kc), either packed into <paramref name="scratch"/> or already packed elsewhere.
/// </summary>
internal unsafe interface IBSource
{
    float* Block<TK>(int j0, int nc, int p0, int kc, float* scratch) where TK : IMicroKernel;
}

/// <summary>A row-major matrix (transA: stored (K, M)).</summary>
internal readonly unsafe struct StridedA(float* a, nint lda, bool trans) : IASource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel
    {
        GemmPacking.PackA<TK>(trans, a, lda, i0, mc, p0, kc, dst);
        return dst;
    }
}

/// <summary>A row-major matrix (transB: stored (N, K)), packed on every call.</summary>
internal readonly unsafe struct StridedB(float* b, nint ldb, bool trans) : IBSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Block<TK>(int j0, int nc, int p0, int kc, float* scratch) where TK : IMicroKernel
    {
        GemmPacking.PackB<TK>(trans, b, ldb, p0, kc, j0, nc, scratch);
        return scratch;
    }
}

/// <summary>
/// An A operand already in panel layout (written so by its producer, e.g. the Winograd input transform): for each K
/// block starting at p0 (of <see cref="Sgemm.KBlock"/> rows) the row panels of all <c>rowsPadded</c> rows, so
/// the panels for rows from i0 sit at p0·rowsPadded + i0·kc. i0 must be a multiple of Mr.
/// </summary>
internal readonly unsafe struct PrepackedA(float* a, int rowsPadded) : IASource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel
        => a + (nint)p0 * rowsPadded + (nint)i0 * kc;
}

/// <summary>A B source seen from column <c>j0</c> on: lets a caller compute one column block of a packed B.</summary>
internal readonly unsafe struct OffsetB<TB>(TB inner, int j0) : IBSource where TB : struct, IBSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Block<TK>(int j, int nc, int p0, int kc, float* scratch) where TK : IMicroKernel
        => inner.Block<TK>(j0 + j, nc, p0, kc, scratch);
}
