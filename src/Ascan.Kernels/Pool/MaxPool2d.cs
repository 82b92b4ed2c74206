// Max pooling on NHWC with argmax indices (PyTorch's first-max rule), SIMD along channels for float.
// Shapes: x (B, H, W, C), y and argmax (B, OH, OW, C); argmax holds ih·W + iw within the image.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>Sizes of a 2-d max pooling; OH/OW from <see cref="PoolWindows.OutputSize"/>.</summary>
public readonly record struct MaxPoolGeometry(int B, int H, int W, int C, int OH, int OW,
    int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW)
{
    /// <summary>First input row of output row o's window that lies inside the image, and one past the last.</summary>
    public (int Lo, int Hi) Rows(int o) => Clip(o * SH - PH, KH, DH, H);
    public (int Lo, int Hi) Cols(int o) => Clip(o * SW - PW, KW, DW, W);

    // Window taps start, start+d, …, start+(k−1)·d; skip those before 0 (in steps of d) and stop at n.
    private static (int, int) Clip(int start, int k, int d, int n)
    {
        int end = Math.Min(start + (k - 1) * d + 1, n);
        while (start < 0) start += d;
        return (start, end);
    }
}

public static unsafe class MaxPool2dKernel
{
    /// <summary>
    /// y = max over the window (padding never wins), argmax = where it came from. A later tap
    /// replaces the running max only when strictly greater or NaN, so ties keep the first (row-major)
    /// position and NaN propagates, as in PyTorch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, MaxPoolGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        AvgPool2dKernel.Check(y.Length, x.Length, g.B, g.H, g.W, g.C, g.OH, g.OW);
        if (argmax.Length != y.Length) throw new ArgumentException("MaxPool2d kernel: argmax must have the output's length.");
        fixed (T* yp0 = y) fixed (int* ip0 = argmax) fixed (T* xp0 = x)
        {
            nint ya = (nint)yp0, ia = (nint)ip0, xa = (nint)xp0;
            int yl = y.Length, xl = x.Length;
            SpatialParallel.For(g.B * g.OH, (long)yl * g.KH * g.KW, (lo, hi) =>
            {
                var ys = new Span<T>((void*)ya, yl); var idx = new Span<int>((void*)ia, yl);
                var xs = new ReadOnlySpan<T>((void*)xa, xl);
                for (int row = lo; row < hi; row++)
                {
                    int b = row / g.OH, i = row % g.OH;
                    var (h0, h1) = g.Rows(i);
                    for (int j = 0; j < g.OW; j++)
                    {
                        var (w0, w1) = g.Cols(j);
                        int o = ((b * g.OH + i) * g.OW + j) * g.C;
                        Window(ys.Slice(o, g.C), idx.Slice(o, g.C), xs.Slice(b * g.H * g.W * g.C), g, h0, h1, w0, w1);
                    }
                }
            });
        }
    }

    private static void Window<T>(Span<T> y, Span<int> idx, ReadOnlySpan<T> img, MaxPoolGeometry g, int h0, int h1, int w0, int w1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = 0, n = g.C;
        if (typeof(T) == typeof(float))
        {
            var yf = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(y);
            var xf = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(img);
            for (; c <= n - Vector512<float>.Count; c += Vector512<float>.Count)
            {
                var best = Vector512.Create(float.NegativeInfinity);
                var at = Vector512.Create(h0 * g.W + w0);
                for (int ih = h0; ih < h1; ih += g.DH)
                for (int iw = w0; iw < w1; iw += g.DW)
                {
                    var v = Vector512.Create(xf.Slice((ih * g.W + iw) * n + c, Vector512<float>.Count));
                    var take = Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v);
                    best = Vector512.ConditionalSelect(take, v, best);
                    at = Vector512.ConditionalSelect(take.AsInt32(), Vector512.Create(ih * g.W + iw), at);
                }
                best.CopyTo(yf.Slice(c));
                at.CopyTo(idx.Slice(c));
            }
        }
        for (; c < n; c++)
        {
            T best = T.NegativeInfinity; int at = h0 * g.W + w0;
            for (int ih = h0; ih < h1; ih += g.DH)
            for (int iw = w0; iw < w1; iw += g.DW)
            {
                T v = img[(ih * g.W + iw) * n + c];
                if (v > best || T.IsNaN(v)) { best = v; at = ih * g.W + iw; }
            }
            y[c] = best; idx[c] = at;
        }
    }

    /// <summary>dx[b, argmax, c] += dy[b, oh, ow, c]. Images run in parallel; within one the order is fixed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax, MaxPoolGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        AvgPool2dKernel.Check(dy.Length, dx.Length, g.B, g.H, g.W, g.C, g.OH, g.OW);
        fixed (T* dxp0 = dx) fixed (T* dyp0 = dy) fixed (int* ip0 = argmax)
        {
            nint dxa = (nint)dxp0, dya = (nint)dyp0, ia = (nint)ip0;
            int xl = dx.Length, yl = dy.Length;
            SpatialParallel.For(g.B, (long)xl + yl, (lo, hi) =>
            {
                var dxs = new Span<T>((void*)dxa, xl); var dys = new ReadOnlySpan<T>((void*)dya, yl);
                var idx = new ReadOnlySpan<int>((void*)ia, yl);
                int per = g.OH * g.OW * g.C, img = g.H * g.W * g.C;
                for (int b = lo; b < hi; b++)
                {
                    var d = dxs.Slice(b * img, img);
                    for (int o = b * per, end = o + per; o < end; o++)
                        d[idx[o] * g.C + o % g.C] += dys[o];
                }
            });
        }
    }
}
