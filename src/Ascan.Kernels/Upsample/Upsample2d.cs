// Nearest and bilinear resampling on NHWC, forward and scatter backward, SIMD along channels.
// Shapes: x (B, H, W, C), y (B, OH, OW, C); per-axis tables from UpsampleAxis.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

public static unsafe class Upsample2dKernel
{
    /// <summary>y[b, i, j, :] = x[b, hIdx[i], wIdx[j], :] (row copies).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NearestForward<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, int[] hIdx, int[] wIdx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = hIdx.Length, ow = wIdx.Length;
        AvgPool2dKernel.Check(y.Length, x.Length, b, h, w, c, oh, ow);
        fixed (T* yp0 = y) fixed (T* xp0 = x)
        {
            nint ya = (nint)yp0, xa = (nint)xp0; int yl = y.Length, xl = x.Length;
            SpatialParallel.For(b * oh, yl, (lo, hi) =>
            {
                var ys = new Span<T>((void*)ya, yl); var xs = new ReadOnlySpan<T>((void*)xa, xl);
                for (int row = lo; row < hi; row++)
                {
                    int bi = row / oh, i = row % oh;
                    var src = xs.Slice((bi * h + hIdx[i]) * w * c, w * c);
                    var dst = ys.Slice(row * ow * c, ow * c);
                    for (int j = 0; j < ow; j++) src.Slice(wIdx[j] * c, c).CopyTo(dst.Slice(j * c, c));
                }
            });
        }
    }

    /// <summary>dx[b, hIdx[i], wIdx[j], :] += dy[b, i, j, :]. Images in parallel; fixed order within one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NearestBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, int b, int h, int w, int c, int[] hIdx, int[] wIdx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = hIdx.Length, ow = wIdx.Length;
        AvgPool2dKernel.Check(dy.Length, dx.Length, b, h, w, c, oh, ow);
        fixed (T* dxp0 = dx) fixed (T* dyp0 = dy)
        {
            nint dxa = (nint)dxp0, dya = (nint)dyp0; int xl = dx.Length, yl = dy.Length;
            SpatialParallel.For(b, (long)xl + yl, (lo, hi) =>
            {
                var dxs = new Span<T>((void*)dxa, xl); var dys = new ReadOnlySpan<T>((void*)dya, yl);
                for (int bi = lo; bi < hi; bi++)
                for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    var d = dxs.Slice(((bi * h + hIdx[i]) * w + wIdx[j]) * c, c);
                    BinaryKernel.Apply<AddOp<T>, T>(d, d, 1, dys.Slice(((bi * oh + i) * ow + j) * c, c), 1);
                }
            });
        }
    }

    /// <summary>y[b, i, j, :] = Σ over the 2×2 taps of λh·λw·x[b, tap, :].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearForward<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, LinearAxis ha, LinearAxis wa)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = ha.Size, ow = wa.Size;
        AvgPool2dKernel.Check(y.Length, x.Length, b, h, w, c, oh, ow);
        fixed (T* yp0 = y) fixed (T* xp0 = x)
        {
            nint ya = (nint)yp0, xa = (nint)xp0; int yl = y.Length, xl = x.Length;
            SpatialParallel.For(b * oh, 4L * yl, (lo, hi) =>
            {
                var ys = new Span<T>((void*)ya, yl); var xs = new ReadOnlySpan<T>((void*)xa, xl);
                for (int row = lo; row < hi; row++)
                {
                    int bi = row / oh, i = row % oh;
                    var r0 = xs.Slice((bi * h + ha.I0[i]) * w * c, w * c);
                    var r1 = xs.Slice((bi * h + ha.I1[i]) * w * c, w * c);
                    for (int j = 0; j < ow; j++)
                    {
                        T a = T.CreateChecked(ha.L0[i]), bb = T.CreateChecked(ha.L1[i]);
                        T l = T.CreateChecked(wa.L0[j]), r = T.CreateChecked(wa.L1[j]);
                        int c0 = wa.I0[j] * c, c1 = wa.I1[j] * c;
                        Blend4(ys.Slice((row * ow + j) * c, c),
                            r0.Slice(c0, c), a * l, r0.Slice(c1, c), a * r,
                            r1.Slice(c0, c), bb * l, r1.Slice(c1, c), bb * r);
                    }
                }
            });
        }
    }

    /// <summary>dx at each of the 2×2 taps += its weight · dy[b, i, j, :]. Images in parallel; fixed order within one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, int b, int h, int w, int c, LinearAxis ha, LinearAxis wa)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = ha.Size, ow = wa.Size;
        AvgPool2dKernel.Check(dy.Length, dx.Length, b, h, w, c, oh, ow);
        fixed (T* dxp0 = dx) fixed (T* dyp0 = dy)
        {
            nint dxa = (nint)dxp0, dya = (nint)dyp0; int xl = dx.Length, yl = dy.Length;
            SpatialParallel.For(b, 4L * yl + xl, (lo, hi) =>
            {
                var dxs = new Span<T>((void*)dxa, xl); var dys = new ReadOnlySpan<T>((void*)dya, yl);
                for (int bi = lo; bi < hi; bi++)
                for (int i = 0; i < oh; i++)
                {
                    int r0 = (bi * h + ha.I0[i]) * w * c, r1 = (bi * h + ha.I1[i]) * w * c;
                    T a = T.CreateChecked(ha.L0[i]), bb = T.CreateChecked(ha.L1[i]);
                    for (int j = 0; j < ow; j++)
                    {
                        T l = T.CreateChecked(wa.L0[j]), r = T.CreateChecked(wa.L1[j]);
                        int c0 = wa.I0[j] * c, c1 = wa.I1[j] * c;
                        var g = dys.Slice(((bi * oh + i) * ow + j) * c, c);
                        // y = Σ wₖ·xₖ, so dxₖ += wₖ·dy for each tap (taps may coincide at edges: both add).
                        Axpy(dxs.Slice(r0 + c0, c), a * l, g);
                        Axpy(dxs.Slice(r0 + c1, c), a * r, g);
                        Axpy(dxs.Slice(r1 + c0, c), bb * l, g);
                        Axpy(dxs.Slice(r1 + c1, c), bb * r, g);
                    }
                }
            });
        }
    }

    /// <summary>y = wa·a + wb·b + wc·c + wd·d, in that order (n each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Blend4<T>(Span<T> y, ReadOnlySpan<T> a, T wa, ReadOnlySpan<T> b, T wb, ReadOnlySpan<T> c, T wc, ReadOnlySpan<T> d, T wd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, vw = Vector512<T>.Count;
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T ar = ref MemoryMarshal.GetReference(a); ref T br = ref MemoryMarshal.GetReference(b);
        ref T cr = ref MemoryMarshal.GetReference(c); ref T dr = ref MemoryMarshal.GetReference(d);
        var va = Vector512.Create(wa); var vb = Vector512.Create(wb); var vc = Vector512.Create(wc); var vd = Vector512.Create(wd);
        for (; i <= n - vw; i += vw)
        {
            var s = va * Vector512.LoadUnsafe(ref ar, (nuint)i) + vb * Vector512.LoadUnsafe(ref br, (nuint)i)
                  + vc * Vector512.LoadUnsafe(ref cr, (nuint)i) + vd * Vector512.LoadUnsafe(ref dr, (nuint)i);
            s.StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref yr, i) = wa * Unsafe.Add(ref ar, i) + wb * Unsafe.Add(ref br, i) + wc * Unsafe.Add(ref cr, i) + wd * Unsafe.Add(ref dr, i);
    }

    /// <summary>y += alpha·x (n each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Axpy<T>(Span<T> y, T alpha, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, vw = Vector512<T>.Count;
        ref T yr = ref MemoryMarshal.GetReference(y); ref T xr = ref MemoryMarshal.GetReference(x);
        var va = Vector512.Create(alpha);
        for (; i <= n - vw; i += vw)
            (Vector512.LoadUnsafe(ref yr, (nuint)i) + va * Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) += alpha * Unsafe.Add(ref xr, i);
    }
}
