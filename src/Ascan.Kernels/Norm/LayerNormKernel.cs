// LayerNorm over the last axis: fused one-pass-statistics forward and fused backward (dX, dW, dB).
// Shapes: x, y, dy, dx (rows, n); weight, bias, dw, db (n) or empty; mean, rstd (rows).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

public static class LayerNormKernel
{
    private const int ParallelThreshold = 1 << 15;

    /// <summary>Number of row blocks for <paramref name="rows"/>×<paramref name="n"/>: a function of the size only, so reductions are reproducible.</summary>
    internal static int Parts(int rows, int n)
    {
        long work = (long)rows * Math.Max(n, 1);
        return work < ParallelThreshold ? 1 : (int)Math.Min(rows, Math.Min(64, work / ParallelThreshold));
    }

    /// <summary>
    /// y = (x − mean)·rstd·weight + bias per row, with rstd = 1/√(var + eps) (biased variance).
    /// Saves mean and rstd per row for the backward. Empty weight/bias mean 1 and 0.
    /// </summary>
    public static unsafe void Forward<T>(Span<T> y, Span<T> mean, Span<T> rstd, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int rows, int n, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T e = T.CreateTruncating(eps);
        fixed (T* py = y) fixed (T* pm = mean) fixed (T* pr = rstd) fixed (T* px = x) fixed (T* pw = weight) fixed (T* pb = bias)
        {
            var yp = new Pinned<T>(py, rows * n); var mp = new Pinned<T>(pm, rows); var rp = new Pinned<T>(pr, rows);
            var xp = new Pinned<T>(px, rows * n); var wp = new Pinned<T>(pw, weight.Length); var bp = new Pinned<T>(pb, bias.Length);
            int parts = Parts(rows, n);
            KernelPool.Run(parts, p =>
            {
                int r0 = (int)((long)rows * p / parts), r1 = (int)((long)rows * (p + 1) / parts);
                for (int r = r0; r < r1; r++)
                    ForwardRow(yp.Slice(r * n, n), out mp.Span[r], out rp.Span[r], xp.Slice(r * n, n), wp.Span, bp.Span, e);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRow<T>(Span<T> y, out T mean, out T rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        if (n == 0) { mean = T.Zero; rstd = T.One / T.Sqrt(eps); return; }
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        // One pass over x for Σd and Σd², with d = x − x₀: shifting by a sample of the row keeps
        // Σd² − (Σd)²/n from cancelling catastrophically when |mean| ≫ std.
        T shift = x[0];
        var sv = Vector512.Create(shift);
        Vector512<T> s1 = Vector512<T>.Zero, s2 = Vector512<T>.Zero;
        for (; i <= n - w; i += w)
        {
            var d = Vector512.LoadUnsafe(ref xr, (nuint)i) - sv;
            s1 += d; s2 = RowMath.Fma(d, d, s2);
        }
        T sum = Vector512.Sum(s1), sumSq = Vector512.Sum(s2);
        for (; i < n; i++) { T d = Unsafe.Add(ref xr, i) - shift; sum += d; sumSq += d * d; }
        T nn = T.CreateTruncating(n);
        T md = sum / nn;
        T variance = T.Max(sumSq / nn - md * md, T.Zero);
        mean = shift + md;
        rstd = T.One / T.Sqrt(variance + eps);

        // y = x·(rstd·w) + (b − mean·rstd·w)
        var mv = Vector512.Create(mean); var rv = Vector512.Create(rstd);
        bool hasW = !weight.IsEmpty, hasB = !bias.IsEmpty;
        ref T wr = ref MemoryMarshal.GetReference(weight);
        ref T br = ref MemoryMarshal.GetReference(bias);
        for (i = 0; i <= n - w; i += w)
        {
            var v = (Vector512.LoadUnsafe(ref xr, (nuint)i) - mv) * rv;
            if (hasW) v *= Vector512.LoadUnsafe(ref wr, (nuint)i);
            if (hasB) v += Vector512.LoadUnsafe(ref br, (nuint)i);
            v.StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++)
        {
            T v = (Unsafe.Add(ref xr, i) - mean) * rstd;
            if (hasW) v *= Unsafe.Add(ref wr, i);
            if (hasB) v += Unsafe.Add(ref br, i);
            Unsafe.Add(ref yr, i) = v;
        }
    }

    /// <summary>
    /// Accumulates dx, dw and db (each may be empty to skip it) from dy, the input x and the saved
    /// mean/rstd. Rows are split into a fixed number of blocks by size; each block sums its own dw/db
    /// partial and the partials are added in block order, so results do not depend on the thread count.
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Parts(rows, n);
        bool needW = !dw.IsEmpty, needB = !db.IsEmpty;
        // Partial dw/db per block: block 0 writes straight into dw/db when there is one block.
        // Pooled (it can pass the large-object threshold; fresh ones would pile up as large-object garbage).
        var partial = parts > 1 && (needW || needB) ? System.Buffers.ArrayPool<T>.Shared.Rent(parts * 2 * n) : null;
        partial?.AsSpan(0, parts * 2 * n).Clear();
        fixed (T* pdx = dx) fixed (T* pdw = dw) fixed (T* pdb = db) fixed (T* pdy = dy) fixed (T* px = x)
        fixed (T* pw = weight) fixed (T* pm = mean) fixed (T* pr = rstd) fixed (T* ppart = partial)
        {
            var dxp = new Pinned<T>(pdx, dx.Length); var dwp = new Pinned<T>(pdw, dw.Length); var dbp = new Pinned<T>(pdb, db.Length);
            var dyp = new Pinned<T>(pdy, rows * n); var xp = new Pinned<T>(px, rows * n); var wp = new Pinned<T>(pw, weight.Length);
            var mp = new Pinned<T>(pm, rows); var rp = new Pinned<T>(pr, rows);
            var pp = new Pinned<T>(ppart, partial?.Length ?? 0);
            KernelPool.Run(parts, p =>
            {
                int r0 = (int)((long)rows * p / parts), r1 = (int)((long)rows * (p + 1) / parts);
                Span<T> pdwS = !needW ? default : parts > 1 ? pp.Slice(p * 2 * n, n) : dwp.Span;
                Span<T> pdbS = !needB ? default : parts > 1 ? pp.Slice(p * 2 * n + n, n) : dbp.Span;
                for (int r = r0; r < r1; r++)
                    BackwardRow(dxp.IsEmpty ? default : dxp.Slice(r * n, n), pdwS, pdbS, dyp.Slice(r * n, n), xp.Slice(r * n, n), wp.Span, mp.Span[r], rp.Span[r]);
            });
            if (partial != null)
                for (int p = 0; p < parts; p++)
                {
                    if (needW) RowMath.Add(dw, partial.AsSpan(p * 2 * n, n));
                    if (needB) RowMath.Add(db, partial.AsSpan(p * 2 * n + n, n));
                }
        }
        if (partial != null) System.Buffers.ArrayPool<T>.Shared.Return(partial);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, T mean, T rstd) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, w = Vector512<T>.Count, i;
        if (n == 0) return;
        bool hasW = !weight.IsEmpty;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dyr = ref MemoryMarshal.GetReference(dy);
        ref T wr = ref MemoryMarshal.GetReference(weight);
        var mv = Vector512.Create(mean); var rv = Vector512.Create(rstd);

        // Parameter gradients: dw += dy·x̂, db += dy, with x̂ = (x − mean)·rstd.
        if (!dw.IsEmpty)
        {
            ref T dwr = ref MemoryMarshal.GetReference(dw);
            for (i = 0; i <= n - w; i += w)
                RowMath.Fma(Vector512.LoadUnsafe(ref dyr, (nuint)i), (Vector512.LoadUnsafe(ref xr, (nuint)i) - mv) * rv, Vector512.LoadUnsafe(ref dwr, (nuint)i))
                    .StoreUnsafe(ref dwr, (nuint)i);
            for (; i < n; i++) Unsafe.Add(ref dwr, i) += Unsafe.Add(ref dyr, i) * (Unsafe.Add(ref xr, i) - mean) * rstd;
        }
        if (!db.IsEmpty) RowMath.Add(db, dy);
        if (dx.IsEmpty) return;

        // With g = dy·w and y = x̂·w + b, x̂_i = (x_i − μ)·rstd:
        //   term 1: direct path            rstd·g_i
        //   term 2: through μ               −rstd·mean(g)
        //   term 3: through rstd (variance) −rstd·x̂_i·mean(g·x̂)
        // dx_i = rstd·(g_i − mean(g) − x̂_i·mean(g·x̂))
        Vector512<T> sg = Vector512<T>.Zero, sgx = Vector512<T>.Zero;
        for (i = 0; i <= n - w; i += w)
        {
            var g = Vector512.LoadUnsafe(ref dyr, (nuint)i);
            if (hasW) g *= Vector512.LoadUnsafe(ref wr, (nuint)i);
            var xh = (Vector512.LoadUnsafe(ref xr, (nuint)i) - mv) * rv;
            sg += g; sgx = RowMath.Fma(g, xh, sgx);
        }
        T sumG = Vector512.Sum(sg), sumGx = Vector512.Sum(sgx);
        for (; i < n; i++)
        {
            T g = Unsafe.Add(ref dyr, i);
            if (hasW) g *= Unsafe.Add(ref wr, i);
            sumG += g; sumGx += g * (Unsafe.Add(ref xr, i) - mean) * rstd;
        }
        T nn = T.CreateTruncating(n);
        T meanG = sumG / nn, meanGx = sumGx / nn;
        var mgv = Vector512.Create(meanG); var mgxv = Vector512.Create(meanGx);
        ref T dxr = ref MemoryMarshal.GetReference(dx);
        for (i = 0; i <= n - w; i += w)
        {
            var g = Vector512.LoadUnsafe(ref dyr, (nuint)i);
            if (hasW) g *= Vector512.LoadUnsafe(ref wr, (nuint)i);
            var xh = (Vector512.LoadUnsafe(ref xr, (nuint)i) - mv) * rv;
            RowMath.Fma(rv, g - mgv - xh * mgxv, Vector512.LoadUnsafe(ref dxr, (nuint)i)).StoreUnsafe(ref dxr, (nuint)i);
        }
        for (; i < n; i++)
        {
            T g = Unsafe.Add(ref dyr, i);
            if (hasW) g *= Unsafe.Add(ref wr, i);
            T xh = (Unsafe.Add(ref xr, i) - mean) * rstd;
            Unsafe.Add(ref dxr, i) += rstd * (g - meanG - xh * meanGx);
        }
    }
}
