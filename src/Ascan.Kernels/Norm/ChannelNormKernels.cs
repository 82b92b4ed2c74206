// Channels-last BatchNorm and GroupNorm kernels, built on per-channel column sums and per-channel affine maps.
// Shapes: BatchNorm x (m, c) with m = B·H·W; GroupNorm x (batch, hw, c); per-channel vectors (c).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>Column reductions and per-channel affine maps over an (m, c) row-major block.</summary>
public static class ChannelKernel
{
    /// <summary>
    /// sumA[ch] += Σ_r a[r,ch]; sumAB[ch] += Σ_r (a[r,ch] − centerA[ch])·(b[r,ch] − centerB[ch]).
    /// Any of sumA, sumAB, centerA, centerB may be empty (no output / centre 0). Serial, in row order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ColumnSums<T>(Span<T> sumA, Span<T> sumAB, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        ReadOnlySpan<T> centerA, ReadOnlySpan<T> centerB, int m, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        bool doA = !sumA.IsEmpty, doAB = !sumAB.IsEmpty, hasCa = !centerA.IsEmpty, hasCb = !centerB.IsEmpty;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        ref T sar = ref MemoryMarshal.GetReference(sumA);
        ref T sabr = ref MemoryMarshal.GetReference(sumAB);
        ref T car = ref MemoryMarshal.GetReference(centerA);
        ref T cbr = ref MemoryMarshal.GetReference(centerB);
        // Channel blocks outside, rows inside: the accumulators of one block stay in registers.
        int ch = 0;
        for (; ch <= c - w; ch += w)
        {
            var s1 = Vector512<T>.Zero; var s2 = Vector512<T>.Zero;
            var ca = hasCa ? Vector512.LoadUnsafe(ref car, (nuint)ch) : Vector512<T>.Zero;
            var cb = hasCb ? Vector512.LoadUnsafe(ref cbr, (nuint)ch) : Vector512<T>.Zero;
            for (int r = 0; r < m; r++)
            {
                var av = Vector512.LoadUnsafe(ref ar, (nuint)(r * c + ch));
                if (doA) s1 += av;
                if (doAB) s2 = RowMath.Fma(av - ca, Vector512.LoadUnsafe(ref br, (nuint)(r * c + ch)) - cb, s2);
            }
            if (doA) (Vector512.LoadUnsafe(ref sar, (nuint)ch) + s1).StoreUnsafe(ref sar, (nuint)ch);
            if (doAB) (Vector512.LoadUnsafe(ref sabr, (nuint)ch) + s2).StoreUnsafe(ref sabr, (nuint)ch);
        }
        for (; ch < c; ch++)
        {
            T s1 = T.Zero, s2 = T.Zero;
            T ca = hasCa ? Unsafe.Add(ref car, ch) : T.Zero, cb = hasCb ? Unsafe.Add(ref cbr, ch) : T.Zero;
            for (int r = 0; r < m; r++)
            {
                T av = Unsafe.Add(ref ar, r * c + ch);
                s1 += av;
                if (doAB) s2 += (av - ca) * (Unsafe.Add(ref br, r * c + ch) - cb);
            }
            if (doA) Unsafe.Add(ref sar, ch) += s1;
            if (doAB) Unsafe.Add(ref sabr, ch) += s2;
        }
    }

    /// <summary>y[r,ch] = x[r,ch]·scale[ch] + shift[ch].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> scale, ReadOnlySpan<T> shift, int m, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T sr = ref MemoryMarshal.GetReference(scale);
        ref T tr = ref MemoryMarshal.GetReference(shift);
        for (int r = 0; r < m; r++)
        {
            int ch = 0, o = r * c;
            for (; ch <= c - w; ch += w)
                RowMath.Fma(Vector512.LoadUnsafe(ref xr, (nuint)(o + ch)), Vector512.LoadUnsafe(ref sr, (nuint)ch), Vector512.LoadUnsafe(ref tr, (nuint)ch))
                    .StoreUnsafe(ref yr, (nuint)(o + ch));
            for (; ch < c; ch++) Unsafe.Add(ref yr, o + ch) = Unsafe.Add(ref xr, o + ch) * Unsafe.Add(ref sr, ch) + Unsafe.Add(ref tr, ch);
        }
    }

    /// <summary>
    /// dx[r,ch] += dy[r,ch]·a[ch] + x[r,ch]·b[ch] + k[ch]: every norm backward is this map once its reductions are known.
    /// <paramref name="overwrite"/>: dx holds nothing yet (may be uninitialised) and is set, not added to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> k, int m, int c,
        bool overwrite = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        ref T dxr = ref MemoryMarshal.GetReference(dx);
        ref T dyr = ref MemoryMarshal.GetReference(dy);
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        ref T kr = ref MemoryMarshal.GetReference(k);
        for (int r = 0; r < m; r++)
        {
            int ch = 0, o = r * c;
            for (; ch <= c - w; ch += w)
            {
                var v = overwrite ? Vector512.LoadUnsafe(ref kr, (nuint)ch) : Vector512.LoadUnsafe(ref dxr, (nuint)(o + ch)) + Vector512.LoadUnsafe(ref kr, (nuint)ch);
                v = RowMath.Fma(Vector512.LoadUnsafe(ref dyr, (nuint)(o + ch)), Vector512.LoadUnsafe(ref ar, (nuint)ch), v);
                v = RowMath.Fma(Vector512.LoadUnsafe(ref xr, (nuint)(o + ch)), Vector512.LoadUnsafe(ref br, (nuint)ch), v);
                v.StoreUnsafe(ref dxr, (nuint)(o + ch));
            }
            for (; ch < c; ch++)
            {
                T v = Unsafe.Add(ref dyr, o + ch) * Unsafe.Add(ref ar, ch) + Unsafe.Add(ref xr, o + ch) * Unsafe.Add(ref br, ch) + Unsafe.Add(ref kr, ch);
                Unsafe.Add(ref dxr, o + ch) = overwrite ? v : Unsafe.Add(ref dxr, o + ch) + v;
            }
        }
    }

    /// <summary>Fixed row blocks for an (m, c) pass: a function of the size only.</summary>
    internal static int Parts(int m, int c) => LayerNormKernel.Parts(m, c);

    /// <summary>ColumnSums over row blocks in parallel; block partials are added in block order (deterministic).</summary>
    public static unsafe void ColumnSumsParallel<T>(Span<T> sumA, Span<T> sumAB, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        ReadOnlySpan<T> centerA, ReadOnlySpan<T> centerB, int m, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Parts(m, c);
        if (parts <= 1) { ColumnSums(sumA, sumAB, a, b, centerA, centerB, m, c); return; }
        // Pooled: parts·2·c values can pass the large-object threshold, and a fresh array per call would pile up as
        // large-object garbage (freed only by full collections) over a training run.
        var partial = System.Buffers.ArrayPool<T>.Shared.Rent(parts * 2 * c);
        partial.AsSpan(0, parts * 2 * c).Clear();
        bool doA = !sumA.IsEmpty, doAB = !sumAB.IsEmpty;
        fixed (T* pa = a) fixed (T* pb = b) fixed (T* pca = centerA) fixed (T* pcb = centerB) fixed (T* pp = partial)
        {
            var ap = new Pinned<T>(pa, a.Length); var bp = new Pinned<T>(pb, b.Length);
            var cap = new Pinned<T>(pca, centerA.Length); var cbp = new Pinned<T>(pcb, centerB.Length); var ppp = new Pinned<T>(pp, partial.Length);
            KernelPool.Run(parts, p =>
            {
                int r0 = (int)((long)m * p / parts), r1 = (int)((long)m * (p + 1) / parts);
                ColumnSums(doA ? ppp.Slice(p * 2 * c, c) : default, doAB ? ppp.Slice(p * 2 * c + c, c) : default,
                    ap.Slice(r0 * c, (r1 - r0) * c), bp.IsEmpty ? default : bp.Slice(r0 * c, (r1 - r0) * c), cap.Span, cbp.Span, r1 - r0, c);
            });
        }
        for (int p = 0; p < parts; p++)
        {
            if (doA) RowMath.Add(sumA, partial.AsSpan(p * 2 * c, c));
            if (doAB) RowMath.Add(sumAB, partial.AsSpan(p * 2 * c + c, c));
        }
        System.Buffers.ArrayPool<T>.Shared.Return(partial);
    }

    /// <summary>Affine over row blocks in parallel (rows are independent).</summary>
    public static unsafe void AffineParallel<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> scale, ReadOnlySpan<T> shift, int m, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Parts(m, c);
        if (parts <= 1) { Affine(y, x, scale, shift, m, c); return; }
        fixed (T* py = y) fixed (T* px = x) fixed (T* ps = scale) fixed (T* pt = shift)
        {
            var yp = new Pinned<T>(py, y.Length); var xp = new Pinned<T>(px, x.Length); var sp = new Pinned<T>(ps, c); var tp = new Pinned<T>(pt, c);
            KernelPool.Run(parts, p =>
            {
                int r0 = (int)((long)m * p / parts), r1 = (int)((long)m * (p + 1) / parts);
                Affine(yp.Slice(r0 * c, (r1 - r0) * c), xp.Slice(r0 * c, (r1 - r0) * c), sp.Span, tp.Span, r1 - r0, c);
            });
        }
    }

    /// <summary>AffineBackward over row blocks in parallel (rows are independent).</summary>
    public static unsafe void AffineBackwardParallel<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> k, int m, int c,
        bool overwrite = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Parts(m, c);
        if (parts <= 1) { AffineBackward(dx, dy, x, a, b, k, m, c, overwrite); return; }
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* px = x) fixed (T* pa = a) fixed (T* pb = b) fixed (T* pk = k)
        {
            var dxp = new Pinned<T>(pdx, dx.Length); var dyp = new Pinned<T>(pdy, dy.Length); var xp = new Pinned<T>(px, x.Length);
            var ap = new Pinned<T>(pa, c); var bp = new Pinned<T>(pb, c); var kp = new Pinned<T>(pk, c);
            KernelPool.Run(parts, p =>
            {
                int r0 = (int)((long)m * p / parts), r1 = (int)((long)m * (p + 1) / parts), len = (r1 - r0) * c;
                AffineBackward(dxp.Slice(r0 * c, len), dyp.Slice(r0 * c, len), xp.Slice(r0 * c, len), ap.Span, bp.Span, kp.Span, r1 - r0, c, overwrite);
            });
        }
    }
}

/// <summary>BatchNorm with channels last: statistics per channel over all m = B·H·W rows.</summary>
public static class BatchNormKernel
{
    /// <summary>Batch mean and biased variance per channel (two passes: the mean, then centred squares).</summary>
    public static void Statistics<T>(Span<T> mean, Span<T> variance, ReadOnlySpan<T> x, int m, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // One pass: Σx and Σ(x − s)² about a shift s = the first row (a sample of each channel, so s is near the mean
        // and var = E[(x − s)²] − (mean − s)² loses little). Where that difference cancels badly, the exact two-pass.
        mean.Clear(); variance.Clear();
        var shift = x[..c].ToArray();
        ChannelKernel.ColumnSumsParallel(mean, variance, x, x, shift, shift, m, c);
        T invM = T.One / T.CreateTruncating(Math.Max(m, 1));
        bool ok = true;
        for (int ch = 0; ch < c; ch++)
        {
            mean[ch] *= invM;
            T e2 = variance[ch] * invM, d = mean[ch] - shift[ch], v = e2 - d * d;
            if (!(v >= e2 * T.CreateTruncating(0.01))) { ok = false; break; }
            variance[ch] = v;
        }
        if (ok) return;
        mean.Clear(); variance.Clear();
        ChannelKernel.ColumnSumsParallel(mean, default, x, default, default, default, m, c);
        T inv = T.One / T.CreateTruncating(Math.Max(m, 1));
        for (int ch = 0; ch < c; ch++) mean[ch] *= inv;
        ChannelKernel.ColumnSumsParallel(default, variance, x, x, mean, mean, m, c);
        for (int ch = 0; ch < c; ch++) variance[ch] *= inv;
    }

    /// <summary>
    /// y = (x − mean)·rstd·w + b as a per-channel affine (training: batch statistics; eval: running ones).
    /// Fills rstd = 1/√(var + eps). Empty weight/bias mean 1 and 0.
    /// </summary>
    public static void Forward<T>(Span<T> y, Span<T> rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int m, int c, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var scale = new T[c]; var shift = new T[c];
        T e = T.CreateTruncating(eps);
        for (int ch = 0; ch < c; ch++)
        {
            rstd[ch] = T.One / T.Sqrt(variance[ch] + e);
            scale[ch] = weight.IsEmpty ? rstd[ch] : rstd[ch] * weight[ch];
            shift[ch] = (bias.IsEmpty ? T.Zero : bias[ch]) - mean[ch] * scale[ch];
        }
        ChannelKernel.AffineParallel(y, x, scale, shift, m, c);
    }

    /// <summary>
    /// Accumulates dx, dw, db (each may be empty). training: the statistics are functions of x (batch
    /// statistics) and the backward goes through them; otherwise they are constants (eval mode).
    /// </summary>
    public static void Backward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd, int m, int c, bool training, bool overwriteDx = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // s1 = Σ dy, s2 = Σ dy·(x − mean): then Σ dy·x̂ = rstd·s2.
        var s1 = new T[c]; var s2 = new T[c];
        ChannelKernel.ColumnSumsParallel(s1, s2, dy, x, default, mean, m, c);
        BackwardFromSums(dx, dw, db, dy, x, weight, mean, rstd, s1, s2, m, c, training, overwriteDx);
    }

    /// <summary>The rest of <see cref="Backward"/> once s1 = Σ dy and s2 = Σ dy·(x − mean) are known.</summary>
    public static void BackwardFromSums<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd, ReadOnlySpan<T> s1, ReadOnlySpan<T> s2, int m, int c, bool training,
        bool overwriteDx = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            if (!dw.IsEmpty) dw[ch] += rstd[ch] * s2[ch];
            if (!db.IsEmpty) db[ch] += s1[ch];
        }
        if (dx.IsEmpty) return;
        var a = new T[c]; var b = new T[c]; var k = new T[c];
        T inv = T.One / T.CreateTruncating(Math.Max(m, 1));
        for (int ch = 0; ch < c; ch++)
        {
            T g = weight.IsEmpty ? T.One : weight[ch];
            a[ch] = g * rstd[ch];
            if (!training) continue; // eval: y is affine in x, dx = dy·w·rstd
            // With g = w, x̂ = (x − μ)·rstd:
            //   term 1: direct path      rstd·w·dy
            //   term 2: through μ        −rstd·w·mean(dy)
            //   term 3: through rstd     −rstd·w·x̂·mean(dy·x̂) = −w·rstd³·(x − μ)·s2/m
            T t3 = g * rstd[ch] * rstd[ch] * rstd[ch] * s2[ch] * inv;
            b[ch] = -t3;
            k[ch] = -a[ch] * s1[ch] * inv + t3 * mean[ch];
        }
        ChannelKernel.AffineBackwardParallel(dx, dy, x, a, b, k, m, c, overwriteDx);
    }
}

/// <summary>
/// BatchNorm fused with the activation after it and a residual added after that: y = act(BN(x)) + residual, so the
/// normalised values are never stored (training saves only x) and the activation costs no pass of its own. The
/// backward recomputes z = BN(x) to get act'(z). Shapes: x, y, residual (m, c) channels last; statistics (c).
/// </summary>
public static class BatchNormActKernel
{
    /// <summary>y = act(x·scale + shift) + residual with the scale and shift of <see cref="BatchNormKernel.Forward"/>; fills rstd.</summary>
    public static unsafe void Forward<T>(Span<T> y, Span<T> rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> residual, Activation act, int m, int c, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var scale = new T[c]; var shift = new T[c];
        ScaleShift(scale, shift, rstd, mean, variance, weight, bias, c, eps);
        Apply(y, x, scale, shift, residual, act, m, c);
    }

    /// <summary>y = act(BN(x)) + residual from statistics already known as mean and rstd (a backward recomputing the forward).</summary>
    public static void ApplyWithRstd<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> residual, Activation act, int m, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var scale = new T[c]; var shift = new T[c];
        ScaleShiftFromRstd<T>(scale, shift, mean, rstd, weight, bias, c);
        Apply(y, x, scale, shift, residual, act, m, c);
    }

    /// <summary>BN(x) = x·scale + shift per channel: scale = rstd·weight, shift = bias − mean·scale (weight 1, bias 0 when empty).</summary>
    private static void ScaleShiftFromRstd<T>(Span<T> scale, Span<T> shift, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            scale[ch] = weight.IsEmpty ? rstd[ch] : rstd[ch] * weight[ch];
            shift[ch] = (bias.IsEmpty ? T.Zero : bias[ch]) - mean[ch] * scale[ch];
        }
    }

    private static unsafe void Apply<T>(Span<T> y, ReadOnlySpan<T> x, T[] scale, T[] shift, ReadOnlySpan<T> residual, Activation act, int m, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = ChannelKernel.Parts(m, c);
        fixed (T* py = y) fixed (T* px = x) fixed (T* ps = scale) fixed (T* pt = shift) fixed (T* pr = residual)
        {
            var yp = new Pinned<T>(py, y.Length); var xp = new Pinned<T>(px, x.Length); var sp = new Pinned<T>(ps, c); var tp = new Pinned<T>(pt, c);
            var rp = new Pinned<T>(pr, residual.Length);
            void Rows(int r0, int r1)
            {
                var yr = yp.Slice(r0 * c, (r1 - r0) * c);
                ChannelKernel.Affine(yr, xp.Slice(r0 * c, (r1 - r0) * c), sp.Span, tp.Span, r1 - r0, c);
                for (int r = r0; r < r1; r++)
                {
                    var row = yp.Slice(r * c, c);
                    var res = rp.IsEmpty ? default : rp.Slice(r * c, c);
                    if (typeof(T) == typeof(float))
                        EpilogueMath.ApplyRow(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(row), default, act,
                            System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(res));
                    else
                    {
                        GemmGeneric.ApplyEpilogue(row, default, act);
                        if (!res.IsEmpty) RowMath.Add(row, res);
                    }
                }
            }
            if (parts <= 1) Rows(0, m);
            else KernelPool.Run(parts, p => Rows((int)((long)m * p / parts), (int)((long)m * (p + 1) / parts)));
        }
    }

    /// <summary>
    /// Accumulates dx, dw, db (BatchNorm's backward, through the batch statistics when training) and dResidual += dy,
    /// from dz = dy ⊙ act'(z), z = BN(x) recomputed. dz is written to <paramref name="dzScratch"/> (m·c values) unless
    /// act is None, where dz = dy.
    /// <paramref name="overwriteDx"/>: dx holds nothing yet (may be uninitialised) and is set, not added to.
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dx, Span<T> dw, Span<T> db, Span<T> dResidual, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd, Span<T> dzScratch, Activation act,
        int m, int c, bool training, bool overwriteDx = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!dResidual.IsEmpty) RowMath.Add(dResidual, dy);
        ReadOnlySpan<T> dz = dy;
        if (act != Activation.None)
        {
            var scale = new T[c]; var shift = new T[c];
            for (int ch = 0; ch < c; ch++)
            {
                scale[ch] = weight.IsEmpty ? rstd[ch] : rstd[ch] * weight[ch];
                shift[ch] = (bias.IsEmpty ? T.Zero : bias[ch]) - mean[ch] * scale[ch];
            }
            // dz and its column sums in one pass; block partials are added in block order (deterministic).
            int parts = ChannelKernel.Parts(m, c);
            int partialLength = Math.Max(parts, 1) * 2 * c;
            var partial = System.Buffers.ArrayPool<T>.Shared.Rent(partialLength);   // pooled, as in ColumnSumsParallel
            partial.AsSpan(0, partialLength).Clear();
            fixed (T* pz = dzScratch) fixed (T* pdy = dy) fixed (T* px = x) fixed (T* ps = scale) fixed (T* pt = shift) fixed (T* pm = mean) fixed (T* pp = partial)
            {
                var zp = new Pinned<T>(pz, dzScratch.Length); var dyp = new Pinned<T>(pdy, dy.Length); var xp = new Pinned<T>(px, x.Length);
                var sp = new Pinned<T>(ps, c); var tp = new Pinned<T>(pt, c); var mp = new Pinned<T>(pm, c); var ppp = new Pinned<T>(pp, partial.Length);
                void Rows(int p, int r0, int r1)
                {
                    int len = (r1 - r0) * c;
                    var zr = zp.Slice(r0 * c, len); var dr = dyp.Slice(r0 * c, len); var xr = xp.Slice(r0 * c, len);
                    var s1 = ppp.Slice(p * 2 * c, c); var s2 = ppp.Slice(p * 2 * c + c, c);
                    switch (act)
                    {
                        case Activation.Gelu: ActGradSums<GeluGrad<T>, T>(zr, s1, s2, dr, xr, sp.Span, tp.Span, mp.Span, r1 - r0, c); break;
                        case Activation.Silu: ActGradSums<SiluGrad<T>, T>(zr, s1, s2, dr, xr, sp.Span, tp.Span, mp.Span, r1 - r0, c); break;
                        case Activation.Relu: ActGradSums<ReluGrad<T>, T>(zr, s1, s2, dr, xr, sp.Span, tp.Span, mp.Span, r1 - r0, c); break;
                        default: throw new ArgumentOutOfRangeException(nameof(act));
                    }
                }
                if (parts <= 1) Rows(0, 0, m);
                else KernelPool.Run(parts, p => Rows(p, (int)((long)m * p / parts), (int)((long)m * (p + 1) / parts)));
            }
            var sum1 = new T[c]; var sum2 = new T[c];
            for (int p = 0; p < Math.Max(parts, 1); p++)
            {
                RowMath.Add<T>(sum1, partial.AsSpan(p * 2 * c, c));
                RowMath.Add<T>(sum2, partial.AsSpan(p * 2 * c + c, c));
            }
            System.Buffers.ArrayPool<T>.Shared.Return(partial);
            dz = dzScratch[..(m * c)];
            BatchNormKernel.BackwardFromSums(dx, dw, db, dz, x, weight, mean, rstd, sum1, sum2, m, c, training, overwriteDx);
            return;
        }
        BatchNormKernel.Backward(dx, dw, db, dz, x, weight, mean, rstd, m, c, training, overwriteDx);
    }

    /// <summary>
    /// dz = dy ⊙ act'(z), z = x·scale + shift recomputed, with s1 = Σ dz and s2 = Σ dz·(x − mean) per channel (set, not
    /// added). Channel blocks outside, rows inside, like <see cref="ChannelKernel.ColumnSums{T}"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void ActGradSums<TOp, T>(Span<T> dz, Span<T> s1, Span<T> s2, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> scale, ReadOnlySpan<T> shift, ReadOnlySpan<T> mean, int m, int c)
        where TOp : struct, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        var op = default(TOp);
        int w = Vector512<T>.Count, ch = 0;
        for (; ch <= c - w; ch += w)
        {
            var sc = Vector512.Create(scale.Slice(ch, w)); var sh = Vector512.Create(shift.Slice(ch, w)); var mu = Vector512.Create(mean.Slice(ch, w));
            var a1 = Vector512<T>.Zero; var a2 = Vector512<T>.Zero;
            for (int r = 0; r < m; r++)
            {
                int o = r * c + ch;
                var xv = Vector512.Create(x.Slice(o, w));
                var z = RowMath.Fma(xv, sc, sh);
                var g = op.Grad(Vector512.Create(dy.Slice(o, w)), z, z);
                g.CopyTo(dz.Slice(o, w));
                a1 += g;
                a2 = RowMath.Fma(g, xv - mu, a2);
            }
            a1.CopyTo(s1.Slice(ch, w)); a2.CopyTo(s2.Slice(ch, w));
        }
        for (; ch < c; ch++)
        {
            T a1 = T.Zero, a2 = T.Zero;
            for (int r = 0; r < m; r++)
            {
                int o = r * c + ch;
                T z = x[o] * scale[ch] + shift[ch];
                T g = op.Grad(dy[o], z, z);
                dz[o] = g;
                a1 += g;
                a2 += g * (x[o] - mean[ch]);
            }
            s1[ch] = a1; s2[ch] = a2;
        }
    }

    /// <summary>rstd = 1/√(variance + eps), then scale and shift as <see cref="ScaleShiftFromRstd"/>.</summary>
    private static void ScaleShift<T>(Span<T> scale, Span<T> shift, Span<T> rstd, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int c, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T e = T.CreateTruncating(eps);
        for (int ch = 0; ch < c; ch++) rstd[ch] = T.One / T.Sqrt(variance[ch] + e);
        ScaleShiftFromRstd<T>(scale, shift, mean, rstd, weight, bias, c);
    }
}

/// <summary>GroupNorm with channels last: per sample, groups of c/groups consecutive channels, statistics over hw·c/groups.</summary>
public static class GroupNormKernel
{
    /// <summary>y, x (batch, hw, c); mean, rstd (batch, groups) saved for the backward.</summary>
    public static unsafe void Forward<T>(Span<T> y, Span<T> mean, Span<T> rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        int batch, int hw, int c, int groups, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = c / groups, block = hw * c;
        T e = T.CreateTruncating(eps), invN = T.One / T.CreateTruncating(Math.Max(hw * cg, 1));
        fixed (T* py = y) fixed (T* pm = mean) fixed (T* pr = rstd) fixed (T* px = x) fixed (T* pw = weight) fixed (T* pb = bias)
        {
            var yp = new Pinned<T>(py, y.Length); var mp = new Pinned<T>(pm, mean.Length); var rp = new Pinned<T>(pr, rstd.Length);
            var xp = new Pinned<T>(px, x.Length); var wp = new Pinned<T>(pw, weight.Length); var bp = new Pinned<T>(pb, bias.Length);
            void Sample(int s)
            {
                var xs = xp.Slice(s * block, block);
                var colSum = new T[c]; var center = new T[c]; var colSq = new T[c];
                ChannelKernel.ColumnSums<T>(colSum, default, xs, default, default, default, hw, c);
                for (int g = 0; g < groups; g++)
                {
                    T sum = T.Zero; for (int j = 0; j < cg; j++) sum += colSum[g * cg + j];
                    T mu = sum * invN; mp.Span[s * groups + g] = mu;
                    for (int j = 0; j < cg; j++) center[g * cg + j] = mu;
                }
                ChannelKernel.ColumnSums<T>(default, colSq, xs, xs, center, center, hw, c);
                var scale = new T[c]; var shift = new T[c];
                for (int g = 0; g < groups; g++)
                {
                    T v = T.Zero; for (int j = 0; j < cg; j++) v += colSq[g * cg + j];
                    T r = T.One / T.Sqrt(v * invN + e); rp.Span[s * groups + g] = r;
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j;
                        scale[ch] = wp.IsEmpty ? r : r * wp.Span[ch];
                        shift[ch] = (bp.IsEmpty ? T.Zero : bp.Span[ch]) - center[ch] * scale[ch];
                    }
                }
                ChannelKernel.Affine<T>(yp.Slice(s * block, block), xs, scale, shift, hw, c);
            }
            if ((long)batch * block < 1 << 15) for (int s = 0; s < batch; s++) Sample(s);
            else KernelPool.Run(batch, Sample);
        }
    }

    /// <summary>Accumulates dx, dw, db (each may be empty) from dy, x and the saved mean/rstd (batch, groups).</summary>
    public static unsafe void Backward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> rstd, int batch, int hw, int c, int groups) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = c / groups, block = hw * c;
        T invN = T.One / T.CreateTruncating(Math.Max(hw * cg, 1));
        // Per-sample dw/db partials, added in sample order afterwards: deterministic under any threading.
        var partial = new T[batch * 2 * c];
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* px = x) fixed (T* pw = weight) fixed (T* pm = mean) fixed (T* pr = rstd) fixed (T* pp = partial)
        {
            var dxp = new Pinned<T>(pdx, dx.Length); var dyp = new Pinned<T>(pdy, dy.Length); var xp = new Pinned<T>(px, x.Length);
            var wp = new Pinned<T>(pw, weight.Length); var mp = new Pinned<T>(pm, mean.Length); var rp = new Pinned<T>(pr, rstd.Length);
            var ppp = new Pinned<T>(pp, partial.Length);
            void Sample(int s)
            {
                var xs = xp.Slice(s * block, block); var dys = dyp.Slice(s * block, block);
                var center = new T[c];
                for (int ch = 0; ch < c; ch++) center[ch] = mp.Span[s * groups + ch / cg];
                // s1 = Σ_p dy, s2 = Σ_p dy·(x − μ_g), per channel.
                var s1 = ppp.Slice(s * 2 * c + c, c); var s2 = new T[c];
                ChannelKernel.ColumnSums<T>(s1, s2, dys, xs, default, center, hw, c);
                var dwS = ppp.Slice(s * 2 * c, c);
                for (int ch = 0; ch < c; ch++) dwS[ch] = rp.Span[s * groups + ch / cg] * s2[ch];
                if (dxp.IsEmpty) return;
                var a = new T[c]; var b = new T[c]; var k = new T[c];
                for (int g = 0; g < groups; g++)
                {
                    T r = rp.Span[s * groups + g], mu = mp.Span[s * groups + g];
                    // Group sums with g_i = dy_i·w_ch: Σg and Σ g·(x − μ).
                    T sg = T.Zero, sgc = T.Zero;
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j; T wv = wp.IsEmpty ? T.One : wp.Span[ch];
                        sg += wv * s1[ch]; sgc += wv * s2[ch];
                    }
                    // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), x̂ = (x − μ)·rstd:
                    //   term 1 rstd·w·dy; term 2 −rstd·Σg/N; term 3 −rstd³·(x − μ)·Σg(x − μ)/N.
                    T t3 = r * r * r * sgc * invN;
                    for (int j = 0; j < cg; j++)
                    {
                        int ch = g * cg + j; T wv = wp.IsEmpty ? T.One : wp.Span[ch];
                        a[ch] = r * wv; b[ch] = -t3; k[ch] = -r * sg * invN + t3 * mu;
                    }
                }
                ChannelKernel.AffineBackward<T>(dxp.Slice(s * block, block), dys, xs, a, b, k, hw, c);
            }
            if ((long)batch * block < 1 << 15) for (int s = 0; s < batch; s++) Sample(s);
            else KernelPool.Run(batch, Sample);
        }
        for (int s = 0; s < batch; s++)
        {
            if (!dw.IsEmpty) RowMath.Add(dw, partial.AsSpan(s * 2 * c, c));
            if (!db.IsEmpty) RowMath.Add(db, partial.AsSpan(s * 2 * c + c, c));
        }
    }
}
