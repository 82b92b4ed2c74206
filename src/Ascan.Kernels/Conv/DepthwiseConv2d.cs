// Direct depthwise Conv2d (groups == C == O) on NHWC: vectorised over channels, no im2col.
using System.Numerics;

namespace Ascan.Kernels;

/// <summary>
/// Depthwise weight layout (KH, KW, 1, C): each tap's weights are contiguous over channels, as are
/// NHWC pixels, so every tap is one fused multiply-add pass over C lanes. Work splits by output rows
/// (forward), input rows (backward data, written as a gather so rows stay disjoint) and taps
/// (backward weight): each element's summation order is fixed, whatever the thread count.
/// </summary>
internal static unsafe class DepthwiseConv2d
{
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Conv2dGeometry g, Activation act)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* py = y) fixed (T* px = x) fixed (T* pw = w) fixed (T* pb = bias)
        {
            nint yA = (nint)py, xA = (nint)px, wA = (nint)pw, bA = (nint)pb;
            int biasLen = bias.Length;
            ForRows(g.B * g.OutH, (first, end) =>
            {
                var ys = new Span<T>((void*)yA, g.OutputLength);
                var xs = new ReadOnlySpan<T>((void*)xA, g.InputLength);
                var ws = new ReadOnlySpan<T>((void*)wA, g.WeightLength);
                var bs = new ReadOnlySpan<T>((void*)bA, biasLen);
                int c = g.C;
                for (int row = first; row < end; row++)
                {
                    int b = row / g.OutH, oh = row - b * g.OutH;
                    for (int ow = 0; ow < g.OutW; ow++)
                    {
                        var acc = ys.Slice(((b * g.OutH + oh) * g.OutW + ow) * c, c);
                        acc.Clear();
                        for (int kh = 0; kh < g.KH; kh++)
                        {
                            int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                            if ((uint)ih >= (uint)g.H) continue;
                            for (int kw = 0; kw < g.KW; kw++)
                            {
                                int iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                                if ((uint)iw >= (uint)g.W) continue;
                                VectorOps.MultiplyAdd(acc, xs.Slice(((b * g.H + ih) * g.W + iw) * c, c), ws.Slice((kh * g.KW + kw) * c, c));
                            }
                        }
                        if (!bs.IsEmpty || act != Activation.None) GemmGeneric.ApplyEpilogue(acc, bs, act);
                    }
                }
            });
        }
    }

    // dx[ih, iw] += Σ over taps whose output position (oh, ow) exists: dy[oh, ow] ⊙ w[kh, kw],
    // with ih = oh·s − p + kh·d  ⇒  oh = (ih + p − kh·d) / s when that division is exact.
    public static void BackwardData<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* pw = w)
        {
            nint dxA = (nint)pdx, dyA = (nint)pdy, wA = (nint)pw;
            ForRows(g.B * g.H, (first, end) =>
            {
                var dxs = new Span<T>((void*)dxA, g.InputLength);
                var dys = new ReadOnlySpan<T>((void*)dyA, g.OutputLength);
                var ws = new ReadOnlySpan<T>((void*)wA, g.WeightLength);
                int c = g.C;
                for (int row = first; row < end; row++)
                {
                    int b = row / g.H, ih = row - b * g.H;
                    for (int iw = 0; iw < g.W; iw++)
                    {
                        var acc = dxs.Slice(((b * g.H + ih) * g.W + iw) * c, c);
                        for (int kh = 0; kh < g.KH; kh++)
                        {
                            int th = ih + g.PadH - kh * g.DilationH;
                            if (th < 0 || th % g.StrideH != 0) continue;
                            int oh = th / g.StrideH;
                            if (oh >= g.OutH) continue;
                            for (int kw = 0; kw < g.KW; kw++)
                            {
                                int tw = iw + g.PadW - kw * g.DilationW;
                                if (tw < 0 || tw % g.StrideW != 0) continue;
                                int ow = tw / g.StrideW;
                                if (ow >= g.OutW) continue;
                                VectorOps.MultiplyAdd(acc, dys.Slice(((b * g.OutH + oh) * g.OutW + ow) * c, c), ws.Slice((kh * g.KW + kw) * c, c));
                            }
                        }
                    }
                }
            });
        }
    }

    // dw[kh, kw] += Σ_{b, oh, ow} x[ih, iw] ⊙ dy[oh, ow]; one tap per part, summed into a scratch row first.
    public static void BackwardWeight<T>(Span<T> dw, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pdw = dw) fixed (T* px = x) fixed (T* pdy = dy)
        {
            nint dwA = (nint)pdw, xA = (nint)px, dyA = (nint)pdy;
            ForRows(g.KH * g.KW, (first, end) =>
            {
                var xs = new ReadOnlySpan<T>((void*)xA, g.InputLength);
                var dys = new ReadOnlySpan<T>((void*)dyA, g.OutputLength);
                int c = g.C;
                var acc = Scratch<T>.Get(c).AsSpan(0, c);
                for (int tap = first; tap < end; tap++)
                {
                    int kh = tap / g.KW, kw = tap - kh * g.KW;
                    acc.Clear();
                    for (int b = 0; b < g.B; b++)
                    for (int oh = 0; oh < g.OutH; oh++)
                    {
                        int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                        if ((uint)ih >= (uint)g.H) continue;
                        for (int ow = 0; ow < g.OutW; ow++)
                        {
                            int iw = ow * g.StrideW - g.PadW + kw * g.DilationW;
                            if ((uint)iw >= (uint)g.W) continue;
                            VectorOps.MultiplyAdd(acc, xs.Slice(((b * g.H + ih) * g.W + iw) * c, c), dys.Slice(((b * g.OutH + oh) * g.OutW + ow) * c, c));
                        }
                    }
                    VectorOps.Add(new Span<T>((void*)(dwA + (nint)tap * c * sizeof(T)), c), acc);
                }
            });
        }
    }

    // Rows (or taps) in contiguous ranges, one per thread; small problems stay on the caller.
    private static void ForRows(int count, Action<int, int> body) => Conv2dKernels.ForImages(count, body);
}
