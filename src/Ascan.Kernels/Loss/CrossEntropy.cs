// Fused log-softmax + NLL kernels for cross-entropy over rows of logits (classes contiguous).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// Shapes: logits (N, C) row-major, classes contiguous; targets (N); weight (C) or empty (all ones).
/// Per row i with log-probabilities lp = x − lse (lse = log Σ exp x, computed max-shifted):
///   nll_i    = w[t_i] · (lse_i − x_{i,t_i})
///   smooth_i = Σ_c w_c · (lse_i − x_{i,c})
/// both 0 when t_i is the ignore index. The op combines them with label smoothing and the reduction.
/// </summary>
public static class CrossEntropyKernel
{
    private const int ParallelRowsThreshold = 1 << 15; // elements; below this one thread is faster

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardHard<T>(Span<T> nll, Span<T> smooth, Span<T> lse, ReadOnlySpan<T> logits, ReadOnlySpan<int> targets,
        ReadOnlySpan<T> weight, int ignoreIndex, int n, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckTargets(targets, ignoreIndex, n, c);
        if (n == 0) return;
        // Spans cannot be captured by the parallel body: pin through arrays of refs is not possible, so
        // rows are processed in fixed chunks on unmanaged views of the same memory.
        unsafe
        {
            fixed (T* pNll = nll, pSmooth = smooth, pLse = lse, pX = logits, pW = weight)
            fixed (int* pT = targets)
            {
                nint aN = (nint)pNll, aS = (nint)pSmooth, aL = (nint)pLse, aX = (nint)pX, aW = (nint)pW, aT = (nint)pT;
                int wLen = weight.Length;
                RunRows(n, c, (r0, r1) =>
                {
                    var x = new ReadOnlySpan<T>((T*)aX, n * c);
                    var w = new ReadOnlySpan<T>((T*)aW, wLen);
                    var t = new ReadOnlySpan<int>((int*)aT, n);
                    var sN = new Span<T>((T*)aN, n); var sS = new Span<T>((T*)aS, n); var sL = new Span<T>((T*)aL, n);
                    for (int i = r0; i < r1; i++)
                    {
                        var row = x.Slice(i * c, c);
                        T l = LogSumExp(row);
                        sL[i] = l;
                        int ti = t[i];
                        if (ti == ignoreIndex) { sN[i] = T.Zero; sS[i] = T.Zero; continue; }
                        T wt = w.IsEmpty ? T.One : w[ti];
                        sN[i] = wt * (l - row[ti]);
                        // Σ_c w_c (lse − x_c) = lse·Σw − Σ w_c x_c
                        sS[i] = w.IsEmpty ? l * T.CreateChecked(c) - BinaryKernel.Sum(row) : l * BinaryKernel.Sum(w) - Dot(w, row);
                    }
                });
            }
        }
    }

    /// <summary>
    /// dX (N, C) += for each non-ignored row i, with p = softmax(x_i), W = Σ_c w_c:
    ///   term 1 (NLL):    a_i · w[t] · (p_k − δ_{k,t})            a_i = coefNll[i]
    ///   term 2 (smooth): b_i · (W · p_k − w_k)                  b_i = coefSmooth[i]
    /// (d/dx_k of Σ_c w_c (lse − x_c) = W·p_k − w_k, since d lse/dx_k = p_k).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardHard<T>(Span<T> dx, ReadOnlySpan<T> logits, ReadOnlySpan<T> lse, ReadOnlySpan<int> targets,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> coefNll, ReadOnlySpan<T> coefSmooth, int ignoreIndex, int n, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0) return;
        unsafe
        {
            fixed (T* pDx = dx, pX = logits, pL = lse, pW = weight, pA = coefNll, pB = coefSmooth)
            fixed (int* pT = targets)
            {
                nint aDx = (nint)pDx, aX = (nint)pX, aL = (nint)pL, aW = (nint)pW, aA = (nint)pA, aB = (nint)pB, aT = (nint)pT;
                int wLen = weight.Length;
                RunRows(n, c, (r0, r1) =>
                {
                    var x = new ReadOnlySpan<T>((T*)aX, n * c);
                    var d = new Span<T>((T*)aDx, n * c);
                    var w = new ReadOnlySpan<T>((T*)aW, wLen);
                    var t = new ReadOnlySpan<int>((int*)aT, n);
                    var l = new ReadOnlySpan<T>((T*)aL, n);
                    var a = new ReadOnlySpan<T>((T*)aA, n); var b = new ReadOnlySpan<T>((T*)aB, n);
                    T wSum = w.IsEmpty ? T.CreateChecked(c) : BinaryKernel.Sum(w);
                    for (int i = r0; i < r1; i++)
                    {
                        int ti = t[i];
                        if (ti == ignoreIndex) continue;
                        T wt = w.IsEmpty ? T.One : w[ti];
                        T an = a[i] * wt, bs = b[i];
                        // dx_k += p_k·(an + bs·W) − bs·w_k, then dx_t −= an
                        var dRow = d.Slice(i * c, c);
                        ScaledSoftmaxAdd(dRow, x.Slice(i * c, c), l[i], an + bs * wSum);
                        if (bs != T.Zero)
                        {
                            if (w.IsEmpty) { for (int k = 0; k < c; k++) dRow[k] -= bs; }
                            else for (int k = 0; k < c; k++) dRow[k] -= bs * w[k];
                        }
                        dRow[ti] -= an;
                    }
                });
            }
        }
    }

    /// <summary>
    /// Soft targets q (N, C), already smoothed by the caller: loss_i = Σ_c q_c (lse_i − x_c).
    /// Writes loss (N) and lse (N).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardSoft<T>(Span<T> loss, Span<T> lse, ReadOnlySpan<T> logits, ReadOnlySpan<T> q, int n, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            var row = logits.Slice(i * c, c); var qi = q.Slice(i * c, c);
            T l = LogSumExp(row);
            lse[i] = l;
            loss[i] = l * BinaryKernel.Sum(qi) - Dot(qi, row);
        }
    }

    /// <summary>
    /// dX (N, C) += g_i · (Q_i · p_k − q_k) with Q_i = Σ_c q_c (d/dx_k of Σ_c q_c (lse − x_c));
    /// dQ (N, C) += g_i · (lse_i − x_k) when dq is not empty (the caller applies the smoothing factor).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardSoft<T>(Span<T> dx, Span<T> dq, ReadOnlySpan<T> logits, ReadOnlySpan<T> q, ReadOnlySpan<T> lse,
        ReadOnlySpan<T> g, int n, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            var row = logits.Slice(i * c, c); var qi = q.Slice(i * c, c);
            if (!dx.IsEmpty)
            {
                var dRow = dx.Slice(i * c, c);
                ScaledSoftmaxAdd(dRow, row, lse[i], g[i] * BinaryKernel.Sum(qi));
                for (int k = 0; k < c; k++) dRow[k] -= g[i] * qi[k];
            }
            if (!dq.IsEmpty)
            {
                var dqRow = dq.Slice(i * c, c);
                for (int k = 0; k < c; k++) dqRow[k] += g[i] * (lse[i] - row[k]);
            }
        }
    }

    /// <summary>log Σ exp(x), shifted by the maximum so it never overflows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T LogSumExp<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.IsEmpty) return T.NegativeInfinity;
        T m = Max(x);
        if (T.IsInfinity(m)) return m; // all −∞ gives −∞; any +∞ gives +∞
        T s;
        if (typeof(T) == typeof(float))
        {
            var xf = MemoryMarshal.Cast<T, float>(x);
            float mf = float.CreateTruncating(m);
            int i = 0, w = Vector512<float>.Count;
            var acc = Vector512<float>.Zero; var mv = Vector512.Create(mf);
            for (; i <= xf.Length - w; i += w) acc += Vector512.Exp(Vector512.Create(xf.Slice(i, w)) - mv);
            float sf = Vector512.Sum(acc);
            for (; i < xf.Length; i++) sf += MathF.Exp(xf[i] - mf);
            s = T.CreateTruncating(sf);
        }
        else
        {
            s = T.Zero;
            for (int i = 0; i < x.Length; i++) s += T.Exp(x[i] - m);
        }
        return m + T.Log(s);
    }

    /// <summary>d[k] += scale · exp(x[k] − lse) (a scaled softmax, SIMD for float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaledSoftmaxAdd<T>(Span<T> d, ReadOnlySpan<T> x, T lse, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (typeof(T) == typeof(float))
        {
            var df = MemoryMarshal.Cast<T, float>(d); var xf = MemoryMarshal.Cast<T, float>(x);
            int w = Vector512<float>.Count;
            var lv = Vector512.Create(float.CreateTruncating(lse)); var sv = Vector512.Create(float.CreateTruncating(scale));
            ref float dr = ref MemoryMarshal.GetReference(df); ref float xr = ref MemoryMarshal.GetReference(xf);
            for (; i <= xf.Length - w; i += w)
                (Vector512.LoadUnsafe(ref dr, (nuint)i) + sv * Vector512.Exp(Vector512.LoadUnsafe(ref xr, (nuint)i) - lv)).StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < x.Length; i++) d[i] += scale * T.Exp(x[i] - lse);
    }

    private static T Max<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, w = Vector512<T>.Count;
        T m = T.NegativeInfinity;
        if (x.Length >= w)
        {
            var mv = Vector512.Create(x.Slice(0, w));
            for (i = w; i <= x.Length - w; i += w) mv = Vector512.Max(mv, Vector512.Create(x.Slice(i, w)));
            for (int k = 0; k < w; k++) m = T.Max(m, mv[k]);
        }
        for (; i < x.Length; i++) m = T.Max(m, x[i]);
        return m;
    }

    private static T Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, w = Vector512<T>.Count;
        var acc = Vector512<T>.Zero;
        for (; i <= a.Length - w; i += w) acc += Vector512.Create(a.Slice(i, w)) * Vector512.Create(b.Slice(i, w));
        T s = Vector512.Sum(acc);
        for (; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static void CheckTargets(ReadOnlySpan<int> targets, int ignoreIndex, int n, int c)
    {
        for (int i = 0; i < n; i++)
        {
            int t = targets[i];
            if (t != ignoreIndex && (uint)t >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target {t} at row {i} is outside [0, {c}) and is not the ignore index {ignoreIndex}.");
        }
    }

    /// <summary>Rows in fixed contiguous chunks (one per part) so results never depend on scheduling.</summary>
    private static void RunRows(int n, int c, Action<int, int> body)
    {
        long work = (long)n * c;
        int parts = work < ParallelRowsThreshold ? 1 : Math.Min(KernelPool.Threads, n);
        if (parts <= 1) { body(0, n); return; }
        KernelPool.Run(parts, p => body((int)((long)n * p / parts), (int)((long)n * (p + 1) / parts)));
    }
}
