// A GEMM B operand packed once into the micro-kernel's panel layout (weights at inference), in native memory.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>
/// op(B) (K, N) packed as the active float kernel streams it: for each K block of <see cref="Sgemm.KBlock"/> rows,
/// ceil(N/Nr) k-major panels of kc×Nr, zero-padded in the last panel. A weight used for many GEMMs (every
/// inference call) is packed here once instead of on every call, which matters when M is small (batch 1:
/// a 7×7 map is 49 rows, and packing B would cost as much as the product).
/// The layout depends on the kernel and the K blocking; <see cref="IsCurrent"/> says whether it still matches.
/// Shapes: from B (K, N) row-major (ldb ≥ N), or transposed from (N, K) (a Linear weight (out, in)).
/// </summary>
public sealed unsafe class PackedB : IDisposable
{
    private float* _data;
    private readonly long _floats;

    public int K { get; }
    public int N { get; }
    internal int Nr { get; }
    internal int KcBlock { get; }
    private readonly int _nPad;

    private PackedB(int k, int n, int nr, int kcBlock)
    {
        K = k; N = n; Nr = nr; KcBlock = kcBlock;
        _nPad = (n + nr - 1) / nr * nr;
        _floats = Math.Max(1L, (long)_nPad * k);
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(_floats * sizeof(float)), 64);
        GC.AddMemoryPressure(_floats * sizeof(float));
    }

    /// <summary>True when the packed float kernels are available (AVX-512 or AVX2+FMA); otherwise nothing can be packed.</summary>
    public static bool IsSupported => Sgemm.ActivePath is SgemmPath.Avx512 or SgemmPath.Avx2;

    /// <summary>Packs op(B) (K, N): B stored (K, N) with row stride ldb, or (N, K) when <paramref name="transB"/>.</summary>
    public static PackedB Create(ReadOnlySpan<float> b, int ldb, bool transB, int k, int n)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("PackedB needs the AVX-512 or AVX2 float GEMM kernels.");
        if (k <= 0 || n <= 0) throw new ArgumentException($"PackedB: sizes must be positive (K {k}, N {n}).");
        Gemm.CheckMatrix("B", transB ? n : k, transB ? k : n, b.Length, ldb);
        var p = new PackedB(k, n, Sgemm.ActiveNr, Sgemm.KBlock(k));
        fixed (float* pb = b)
        {
            if (Sgemm.ActivePath == SgemmPath.Avx512) p.Pack<Kernel14x32>(pb, ldb, transB);
            else p.Pack<Kernel6x16>(pb, ldb, transB);
        }
        return p;
    }

    private void Pack<TK>(float* b, int ldb, bool transB) where TK : IMicroKernel
    {
        for (int pc = 0; pc < K; pc += KcBlock)
        {
            int kc = Math.Min(KcBlock, K - pc);
            GemmPacking.PackB<TK>(transB, b, ldb, pc, kc, 0, N, _data + (nint)pc * _nPad);
        }
    }

    /// <summary>Whether the layout still matches the active kernel and blocking (tests can force another path).</summary>
    public bool IsCurrent => _data != null && Nr == Sgemm.ActiveNr && KcBlock == Sgemm.KBlock(K);

    internal Source AsSource()
    {
        if (_data == null) throw new ObjectDisposedException(nameof(PackedB));
        if (!IsCurrent) throw new InvalidOperationException("PackedB was packed for another GEMM kernel or K blocking; pack it again.");
        return new Source(_data, _nPad);
    }

    /// <summary>Bytes of native memory held.</summary>
    public long Bytes => _data == null ? 0 : _floats * sizeof(float);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~PackedB() => Free();

    private void Free()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
        GC.RemoveMemoryPressure(_floats * sizeof(float));
    }

    /// <summary>The packed panels as a GEMM B source: a K block starting at p0 sits at p0·Npad, its panel for column j0 at j0·kc.</summary>
    internal readonly struct Source(float* data, int nPad) : IBSource
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* Block<TK>(int j0, int nc, int p0, int kc, float* scratch) where TK : IMicroKernel
            => data + (nint)p0 * nPad + (nint)j0 * kc;
    }
}
