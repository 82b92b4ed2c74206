// Reductions over the middle axis of an (outer, R, inner) layout — sum, mean, max, var — and the backward of max and var.
using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>An associative reduction (sum, max) in scalar and vector form.</summary>
public interface IReduceOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract T Identity { get; }
    static abstract T Combine(T a, T b);
    static abstract Vector512<T> Combine(Vector512<T> a, Vector512<T> b);
    static abstract Vector256<T> Combine(Vector256<T> a, Vector256<T> b);
}

/// <summary>A per-element map applied before reducing, given the element and its output position's parameter m.</summary>
public interface IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>False when m is ignored: the drivers then never load it (a JIT-time constant).</summary>
    static abstract bool UsesM { get; }
    static abstract T Map(T x, T m);
    static abstract Vector512<T> Map(Vector512<T> x, Vector512<T> m);
    static abstract Vector256<T> Map(Vector256<T> x, Vector256<T> m);
}

public readonly struct SumReduce<T> : IReduceOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Identity => T.Zero;
    public static T Combine(T a, T b) => a + b;
    public static Vector512<T> Combine(Vector512<T> a, Vector512<T> b) => a + b;
    public static Vector256<T> Combine(Vector256<T> a, Vector256<T> b) => a + b;
}

/// <summary>
/// Max that propagates NaN (as torch.max). The NaN is selected explicitly: optimised (tier-1) code for
/// Vector512.Max was seen to lower to a plain vmaxps, which drops a NaN held in the accumulator.
/// </summary>
public readonly struct MaxReduce<T> : IReduceOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Identity => T.NegativeInfinity;
    public static T Combine(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : T.Max(a, b);
    public static Vector512<T> Combine(Vector512<T> a, Vector512<T> b) =>
        Vector512.ConditionalSelect(~(Vector512.Equals(a, a) & Vector512.Equals(b, b)), a + b, Vector512.Max(a, b));
    public static Vector256<T> Combine(Vector256<T> a, Vector256<T> b) =>
        Vector256.ConditionalSelect(~(Vector256.Equals(a, a) & Vector256.Equals(b, b)), a + b, Vector256.Max(a, b));
}

public readonly struct IdentityMap<T> : IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool UsesM => false;
    public static T Map(T x, T m) => x;
    public static Vector512<T> Map(Vector512<T> x, Vector512<T> m) => x;
    public static Vector256<T> Map(Vector256<T> x, Vector256<T> m) => x;
}

/// <summary>(x − m)², for the second pass of the variance.</summary>
public readonly struct SquaredDeviationMap<T> : IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool UsesM => true;
    public static T Map(T x, T m) { T d = x - m; return d * d; }
    public static Vector512<T> Map(Vector512<T> x, Vector512<T> m) { var d = x - m; return d * d; }
    public static Vector256<T> Map(Vector256<T> x, Vector256<T> m) { var d = x - m; return d * d; }
}

/// <summary>
/// Every kernel here sees its input as x (outer, R, inner), contiguous, reduced over R into y (outer, inner):
/// inner = 1 is a row reduction (last axis), outer = 1 a column reduction (leading axes, e.g. NHWC
/// per-channel sums as (1, B·H·W, C)). Deterministic: each output is accumulated in one fixed order;
/// when outer = 1 and the input is large, R is cut into chunks whose size depends only on the shape,
/// partial results are combined in chunk order, so 1 or 2 threads give bit-identical results.
/// </summary>
public static class ReduceKernel
{
    /// <summary>Elements per R-chunk when a single output row is split (also the split threshold).</summary>
    public const int SplitElements = 1 << 15;

    /// <summary>Below this many input elements a reduction runs on the calling thread.</summary>
    public const int ParallelThreshold = 1 << 17;

    /// <summary>Shapes: y (outer, inner), x (outer, R, inner). y = Σ_R x.</summary>
    public static void Sum<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
        => Run<SumReduce<T>, IdentityMap<T>, T>(y, x, y, outer, r, inner);

    /// <summary>Shapes: y (outer, inner), x (outer, R, inner). y = Σ_R x / R (NaN for R = 0, as PyTorch).</summary>
    public static void Mean<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Sum(y, x, outer, r, inner);
        Scale(y, T.One / T.CreateTruncating(r));
    }

    /// <summary>Shapes: y (outer, inner), x (outer, R, inner). y = max_R x; NaN if any element is NaN. R must be ≥ 1.</summary>
    public static void Max<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (r == 0 && (long)outer * inner > 0) throw new ArgumentException("Max over an empty axis has no identity.");
        Run<MaxReduce<T>, IdentityMap<T>, T>(y, x, y, outer, r, inner);
    }

    /// <summary>
    /// Shapes: y (outer, inner), mean (outer, inner), x (outer, R, inner).
    /// mean = Σ_R x / R; y = Σ_R (x − mean)² / max(0, R − correction) (two passes: no cancellation).
    /// </summary>
    public static void Var<T>(Span<T> y, Span<T> mean, ReadOnlySpan<T> x, int outer, int r, int inner, double correction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Mean(mean, x, outer, r, inner);
        Run<SumReduce<T>, SquaredDeviationMap<T>, T>(y, x, mean, outer, r, inner);
        Scale(y, T.One / T.CreateTruncating(Math.Max(0.0, r - correction)));
    }

    private static void Scale<T>(Span<T> y, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] *= s;
    }

    /// <summary>
    /// Shapes: dx (outer, R, inner), x (outer, R, inner), dy (outer, inner), y = max (outer, inner).
    /// evenly = false: dy goes to the first position along R holding the max (torch.max(dim)).
    /// evenly = true: dy is split evenly among all positions equal to the max (torch.max() / torch.amax).
    /// Accumulates into dx. Backward-only and scalar: a max is rarely on a hot path.
    /// </summary>
    public static void MaxBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> y, int outer, int r, int inner, bool evenly)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var count = new int[inner];
        for (int o = 0; o < outer; o++)
        {
            int yb = o * inner, xb = o * r * inner;
            Array.Clear(count);
            for (int k = 0; k < r; k++)
                for (int i = 0; i < inner; i++)
                    if (Same(x[xb + k * inner + i], y[yb + i]) && (evenly || count[i] == 0)) count[i]++;
            if (!evenly)
            {
                for (int k = 0; k < r; k++)
                    for (int i = 0; i < inner; i++)
                        if (count[i] == 1 && Same(x[xb + k * inner + i], y[yb + i])) { dx[xb + k * inner + i] += dy[yb + i]; count[i] = 2; }
                continue;
            }
            for (int k = 0; k < r; k++)
                for (int i = 0; i < inner; i++)
                    if (Same(x[xb + k * inner + i], y[yb + i])) dx[xb + k * inner + i] += dy[yb + i] / T.CreateTruncating(count[i]);
        }
    }

    private static bool Same<T>(T a, T b) where T : IFloatingPointIeee754<T> => a == b || (T.IsNaN(a) && T.IsNaN(b));

    /// <summary>
    /// Shapes: dx (outer, R, inner), dy (outer, inner), x (outer, R, inner), mean (outer, inner).
    /// var = Σ(x − μ)²/D with D = max(0, R − correction). ∂var/∂x_k = 2(x_k − μ)/D (term 1) − Σ_j 2(x_j − μ)/D · ∂μ/∂x_k
    /// (term 2), and term 2 vanishes because Σ_j (x_j − μ) = 0. So dx += dy · 2(x − μ)/D.
    /// </summary>
    public static void VarBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, int outer, int r, int inner, double correction)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.CreateTruncating(2.0 / Math.Max(0.0, r - correction));
        for (int o = 0; o < outer; o++)
        {
            int yb = o * inner, xb = o * r * inner;
            for (int k = 0; k < r; k++)
            {
                int row = xb + k * inner;
                for (int i = 0; i < inner; i++) dx[row + i] += dy[yb + i] * s * (x[row + i] - mean[yb + i]);
            }
        }
    }

    /// <summary>The driver: y[o, i] = op over k of map(x[o, k, i], m[o, i]). m may be y itself when the map ignores it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<TOp, TMap, T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> m, int outer, int r, int inner)
        where TOp : struct, IReduceOp<T> where TMap : struct, IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        long total = (long)outer * r * inner;
        if (y.Length != outer * inner || x.Length != total || m.Length != y.Length)
            throw new ArgumentException($"Reduce: y has {y.Length} elements, x {x.Length}, for (outer {outer}, R {r}, inner {inner}).");
        if (y.Length == 0) return;
        if (r == 0) { y.Fill(TOp.Identity); return; }
        fixed (T* py = y) fixed (T* px = x) fixed (T* pm = m)
        {
            nint ay = (nint)py, ax = (nint)px, am = (nint)pm;
            if (outer == 1 && total > SplitElements)
            {
                // One output row: split R into fixed chunks (a function of the shape only), reduce each, combine in order.
                int rc = Math.Max(1, SplitElements / inner), chunks = (r + rc - 1) / rc;
                var partial = ArrayPool<T>.Shared.Rent(chunks * inner);
                fixed (T* pp = partial)
                {
                    nint ap = (nint)pp;
                    Parts(chunks, total, c => Block<TOp, TMap, T>((T*)ap + (long)c * inner, (T*)ax + (long)c * rc * inner, (T*)am,
                        Math.Min(rc, r - c * rc), inner));
                    for (int i = 0; i < inner; i++) py[i] = pp[i];
                    for (int c = 1; c < chunks; c++)
                        for (int i = 0; i < inner; i++) py[i] = TOp.Combine(py[i], pp[(long)c * inner + i]);
                }
                ArrayPool<T>.Shared.Return(partial);
                return;
            }
            // Independent output rows: any partition gives the same result, so split outer evenly.
            int parts = total >= ParallelThreshold ? Math.Min(outer, 4 * KernelPool.Threads) : 1;
            Parts(parts, total, p =>
            {
                int o0 = (int)((long)outer * p / parts), o1 = (int)((long)outer * (p + 1) / parts);
                for (int o = o0; o < o1; o++)
                    Block<TOp, TMap, T>((T*)ay + (long)o * inner, (T*)ax + (long)o * r * inner, (T*)am + (long)o * inner, r, inner);
            });
        }
    }

    private static void Parts(int parts, long total, Action<int> body)
    {
        if (parts == 1 || total < ParallelThreshold || KernelPool.Threads == 1) { for (int p = 0; p < parts; p++) body(p); return; }
        KernelPool.Run(parts, body);
    }

    /// <summary>y (inner) = op over k &lt; rows of map(x[k, i], m[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Block<TOp, TMap, T>(T* y, T* x, T* m, int rows, int inner)
        where TOp : struct, IReduceOp<T> where TMap : struct, IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            // Row: two vector accumulators over the contiguous run, then lanes and tail in order.
            T mv = *m;
            int i = 0;
            T s = TOp.Identity;
            if (Vector512.IsHardwareAccelerated && rows >= Vector512<T>.Count)
            {
                int w = Vector512<T>.Count;
                var vm = Vector512.Create(mv);
                var a0 = Vector512.Create(TOp.Identity); var a1 = a0;
                for (; i <= rows - 2 * w; i += 2 * w)
                {
                    a0 = TOp.Combine(a0, TMap.Map(Vector512.Load(x + i), vm));
                    a1 = TOp.Combine(a1, TMap.Map(Vector512.Load(x + i + w), vm));
                }
                for (; i <= rows - w; i += w) a0 = TOp.Combine(a0, TMap.Map(Vector512.Load(x + i), vm));
                a0 = TOp.Combine(a0, a1);
                for (int l = 0; l < w; l++) s = TOp.Combine(s, a0[l]);
            }
            else if (Vector256.IsHardwareAccelerated && rows >= Vector256<T>.Count)
            {
                int w = Vector256<T>.Count;
                var vm = Vector256.Create(mv);
                var a0 = Vector256.Create(TOp.Identity); var a1 = a0;
                for (; i <= rows - 2 * w; i += 2 * w)
                {
                    a0 = TOp.Combine(a0, TMap.Map(Vector256.Load(x + i), vm));
                    a1 = TOp.Combine(a1, TMap.Map(Vector256.Load(x + i + w), vm));
                }
                for (; i <= rows - w; i += w) a0 = TOp.Combine(a0, TMap.Map(Vector256.Load(x + i), vm));
                a0 = TOp.Combine(a0, a1);
                for (int l = 0; l < w; l++) s = TOp.Combine(s, a0[l]);
            }
            for (; i < rows; i++) s = TOp.Combine(s, TMap.Map(x[i], mv));
            *y = s;
            return;
        }

        // Columns, vectorised along inner. Rows are reduced in groups of Group into a stack tile first (a
        // two-level cascade: float error grows with Group + rows/Group instead of rows), each group's tile then
        // combined into y in order. Within a group, four vector columns stay in registers across all its rows.
        const int Tile = 1024, Group = 64;
        T* acc = stackalloc T[Tile];
        for (int t0 = 0; t0 < inner; t0 += Tile)
        {
            int tn = Math.Min(Tile, inner - t0);
            T* yt = y + t0;
            for (int g0 = 0; g0 < rows; g0 += Group)
            {
                GroupColumns<TOp, TMap, T>(acc, x + (long)g0 * inner + t0, m + t0, Math.Min(Group, rows - g0), inner, tn);
                if (g0 == 0) for (int i = 0; i < tn; i++) yt[i] = acc[i];
                else for (int i = 0; i < tn; i++) yt[i] = TOp.Combine(yt[i], acc[i]);
            }
        }
    }

    /// <summary>acc[i] = op over k &lt; rows of map(x[k·stride + i], m[i]) for i &lt; n, in k order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // too large to inline: optimised from the first call
    private static unsafe void GroupColumns<TOp, TMap, T>(T* acc, T* x, T* m, int rows, long stride, int n)
        where TOp : struct, IReduceOp<T> where TMap : struct, IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            int w = Vector512<T>.Count;
            for (; i <= n - 4 * w; i += 4 * w)
            {
                T* p = x + i;
                Vector512<T> m0 = LoadM<TMap, T>(m + i), m1 = LoadM<TMap, T>(m + i + w), m2 = LoadM<TMap, T>(m + i + 2 * w), m3 = LoadM<TMap, T>(m + i + 3 * w);
                Vector512<T> a0 = TMap.Map(Vector512.Load(p), m0), a1 = TMap.Map(Vector512.Load(p + w), m1),
                    a2 = TMap.Map(Vector512.Load(p + 2 * w), m2), a3 = TMap.Map(Vector512.Load(p + 3 * w), m3);
                for (int k = 1; k < rows; k++)
                {
                    p += stride;
                    a0 = TOp.Combine(a0, TMap.Map(Vector512.Load(p), m0));
                    a1 = TOp.Combine(a1, TMap.Map(Vector512.Load(p + w), m1));
                    a2 = TOp.Combine(a2, TMap.Map(Vector512.Load(p + 2 * w), m2));
                    a3 = TOp.Combine(a3, TMap.Map(Vector512.Load(p + 3 * w), m3));
                }
                a0.Store(acc + i); a1.Store(acc + i + w); a2.Store(acc + i + 2 * w); a3.Store(acc + i + 3 * w);
            }
            for (; i <= n - w; i += w)
            {
                T* p = x + i;
                var m0 = LoadM<TMap, T>(m + i);
                var a0 = TMap.Map(Vector512.Load(p), m0);
                for (int k = 1; k < rows; k++) { p += stride; a0 = TOp.Combine(a0, TMap.Map(Vector512.Load(p), m0)); }
                a0.Store(acc + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            int w = Vector256<T>.Count;
            for (; i <= n - 4 * w; i += 4 * w)
            {
                T* p = x + i;
                Vector256<T> m0 = LoadM256<TMap, T>(m + i), m1 = LoadM256<TMap, T>(m + i + w), m2 = LoadM256<TMap, T>(m + i + 2 * w), m3 = LoadM256<TMap, T>(m + i + 3 * w);
                Vector256<T> a0 = TMap.Map(Vector256.Load(p), m0), a1 = TMap.Map(Vector256.Load(p + w), m1),
                    a2 = TMap.Map(Vector256.Load(p + 2 * w), m2), a3 = TMap.Map(Vector256.Load(p + 3 * w), m3);
                for (int k = 1; k < rows; k++)
                {
                    p += stride;
                    a0 = TOp.Combine(a0, TMap.Map(Vector256.Load(p), m0));
                    a1 = TOp.Combine(a1, TMap.Map(Vector256.Load(p + w), m1));
                    a2 = TOp.Combine(a2, TMap.Map(Vector256.Load(p + 2 * w), m2));
                    a3 = TOp.Combine(a3, TMap.Map(Vector256.Load(p + 3 * w), m3));
                }
                a0.Store(acc + i); a1.Store(acc + i + w); a2.Store(acc + i + 2 * w); a3.Store(acc + i + 3 * w);
            }
            for (; i <= n - w; i += w)
            {
                T* p = x + i;
                var m0 = LoadM256<TMap, T>(m + i);
                var a0 = TMap.Map(Vector256.Load(p), m0);
                for (int k = 1; k < rows; k++) { p += stride; a0 = TOp.Combine(a0, TMap.Map(Vector256.Load(p), m0)); }
                a0.Store(acc + i);
            }
        }
        for (; i < n; i++)
        {
            T a = TMap.Map(x[i], m[i]);
            for (int k = 1; k < rows; k++) a = TOp.Combine(a, TMap.Map(x[k * stride + i], m[i]));
            acc[i] = a;
        }
    }

    // The map's parameter, or zero without touching memory when the map ignores it (m may alias y, and
    // reloading just-stored y as a vector stalls on store forwarding).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<T> LoadM<TMap, T>(T* m) where TMap : struct, IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
        => TMap.UsesM ? Vector512.Load(m) : Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<T> LoadM256<TMap, T>(T* m) where TMap : struct, IReduceMap<T> where T : unmanaged, IFloatingPointIeee754<T>
        => TMap.UsesM ? Vector256.Load(m) : Vector256<T>.Zero;
}
