// Window-average pooling on NHWC (AvgPool2d and AdaptiveAvgPool2d), SIMD along channels.
// Shapes: x (B, H, W, C), y (B, OH, OW, C) with OH = hAxis.Size, OW = wAxis.Size.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Ascan.Kernels;

public static unsafe class AvgPool2dKernel
{
    /// <summary>y[b, oh, ow, :] = Σ over the window of x[b, ih, iw, :] / (hDiv[oh]·wDiv[ow]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, PoolAxis hAxis, PoolAxis wAxis)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = hAxis.Size, ow = wAxis.Size;
        Check(y.Length, x.Length, b, h, w, c, oh, ow);
        fixed (T* yp0 = y) fixed (T* xp0 = x)
        {
            nint ya = (nint)yp0, xa = (nint)xp0; int yl = y.Length, xl = x.Length;
            SpatialParallel.For(b * oh, (long)yl + xl, (lo, hi) =>
            {
                var ys = new Span<T>((void*)ya, yl); var xs = new ReadOnlySpan<T>((void*)xa, xl);
                var div = new T[1];
                for (int row = lo; row < hi; row++)
                {
                    int bi = row / oh, i = row % oh;
                    for (int j = 0; j < ow; j++)
                    {
                        var acc = ys.Slice(((bi * oh + i) * ow + j) * c, c);
                        acc.Clear();
                        for (int ih = hAxis.Start[i]; ih < hAxis.End[i]; ih++)
                        for (int iw = wAxis.Start[j]; iw < wAxis.End[j]; iw++)
                            BinaryKernel.Apply<AddOp<T>, T>(acc, acc, 1, xs.Slice(((bi * h + ih) * w + iw) * c, c), 1);
                        div[0] = T.CreateChecked(hAxis.Divisor[i] * wAxis.Divisor[j]);
                        BinaryKernel.Apply<DivOp<T>, T>(acc, acc, 1, div, 0);
                    }
                }
            });
        }
    }

    /// <summary>dx[window of (oh, ow)] += dy[b, oh, ow, :] / divisor. Images run in parallel (windows overlap within one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(Span<T> dx, ReadOnlySpan<T> dy, int b, int h, int w, int c, PoolAxis hAxis, PoolAxis wAxis)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = hAxis.Size, ow = wAxis.Size;
        Check(dy.Length, dx.Length, b, h, w, c, oh, ow);
        fixed (T* dxp0 = dx) fixed (T* dyp0 = dy)
        {
            nint dxa = (nint)dxp0, dya = (nint)dyp0; int xl = dx.Length, yl = dy.Length;
            SpatialParallel.For(b, (long)xl + yl, (lo, hi) =>
            {
                var dxs = new Span<T>((void*)dxa, xl); var dys = new ReadOnlySpan<T>((void*)dya, yl);
                var g = new T[c]; var div = new T[1];
                for (int bi = lo; bi < hi; bi++)
                for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    // d y / d x = 1/divisor for every x in the window: scale once, add to each.
                    div[0] = T.CreateChecked(hAxis.Divisor[i] * wAxis.Divisor[j]);
                    BinaryKernel.Apply<DivOp<T>, T>(g, dys.Slice(((bi * oh + i) * ow + j) * c, c), 1, div, 0);
                    for (int ih = hAxis.Start[i]; ih < hAxis.End[i]; ih++)
                    for (int iw = wAxis.Start[j]; iw < wAxis.End[j]; iw++)
                    {
                        var d = dxs.Slice(((bi * h + ih) * w + iw) * c, c);
                        BinaryKernel.Apply<AddOp<T>, T>(d, d, 1, g, 1);
                    }
                }
            });
        }
    }

    internal static void Check(int yLen, int xLen, int b, int h, int w, int c, int oh, int ow)
    {
        if (xLen != b * h * w * c) throw new ArgumentException($"Pooling kernel: input has {xLen} elements, expected {b}×{h}×{w}×{c}.");
        if (yLen != b * oh * ow * c) throw new ArgumentException($"Pooling kernel: output has {yLen} elements, expected {b}×{oh}×{ow}×{c}.");
    }
}
