// Direct depthwise Conv2d (groups == C == O) on NHWC: vectorised over channels, no im2col.
using System.Numerics;
using System.Runtime.Intrinsics;

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
        if (typeof(T) == typeof(float) && g.C % 32 == 0 && Vector512.IsHardwareAccelerated)
        {
            fixed (T* py = y) fixed (T* px = x) fixed (T* pw = w) fixed (T* pb = bias)
            {
                nint yA = (nint)py, xA = (nint)px, wA = (nint)pw, bA = bias.IsEmpty ? 0 : (nint)pb;
                ForRows(g.B * g.OutH, (first, end) => ForwardFloatRows((float*)yA, (float*)xA, (float*)wA, (float*)bA, g, act, first, end));
            }
            return;
        }
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

    /// <summary>
    /// The float forward for C a multiple of 32: 32 channels × 4 output pixels stay in 8 registers over all taps, each
    /// tap's two weight vectors loaded once for the four pixels (the generic path kept the sums in memory).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void ForwardFloatRows(float* y, float* x, float* w, float* bias, Conv2dGeometry g, Activation act, int first, int end)
    {
        FloatMode.EnsureFlushToZero();
        int c = g.C, outH = g.OutH, outW = g.OutW, h = g.H, wd = g.W, khs = g.KH, kws = g.KW;
        int sh = g.StrideH, sw = g.StrideW, ph = g.PadH, pw = g.PadW, dh = g.DilationH, dw = g.DilationW;
        for (int row = first; row < end; row++)
        {
            int b = row / outH, oh = row - b * outH;
            float* image = x + (nint)b * h * wd * c;
            float* yRow = y + (nint)row * outW * c;
            for (int c0 = 0; c0 < c; c0 += 32)
            {
                for (int ow0 = 0; ow0 < outW; ow0 += 4)
                {
                    int n = Math.Min(4, outW - ow0);
                    var a00 = Vector512<float>.Zero; var a01 = a00; var a10 = a00; var a11 = a00;
                    var a20 = a00; var a21 = a00; var a30 = a00; var a31 = a00;
                    for (int kh = 0; kh < khs; kh++)
                    {
                        int ih = oh * sh - ph + kh * dh;
                        if ((uint)ih >= (uint)h) continue;
                        float* xr = image + (nint)ih * wd * c + c0;
                        for (int kw = 0; kw < kws; kw++)
                        {
                            float* wt = w + (nint)(kh * kws + kw) * c + c0;
                            var w0 = Vector512.Load(wt);
                            var w1 = Vector512.Load(wt + 16);
                            int iw = ow0 * sw - pw + kw * dw;
                            if ((uint)iw < (uint)wd)
                            {
                                float* p = xr + (nint)iw * c;
                                a00 = Vector512.FusedMultiplyAdd(Vector512.Load(p), w0, a00);
                                a01 = Vector512.FusedMultiplyAdd(Vector512.Load(p + 16), w1, a01);
                            }
                            iw += sw;
                            if (n > 1 && (uint)iw < (uint)wd)
                            {
                                float* p = xr + (nint)iw * c;
                                a10 = Vector512.FusedMultiplyAdd(Vector512.Load(p), w0, a10);
                                a11 = Vector512.FusedMultiplyAdd(Vector512.Load(p + 16), w1, a11);
                            }
                            iw += sw;
                            if (n > 2 && (uint)iw < (uint)wd)
                            {
                                float* p = xr + (nint)iw * c;
                                a20 = Vector512.FusedMultiplyAdd(Vector512.Load(p), w0, a20);
                                a21 = Vector512.FusedMultiplyAdd(Vector512.Load(p + 16), w1, a21);
                            }
                            iw += sw;
                            if (n > 3 && (uint)iw < (uint)wd)
                            {
                                float* p = xr + (nint)iw * c;
                                a30 = Vector512.FusedMultiplyAdd(Vector512.Load(p), w0, a30);
                                a31 = Vector512.FusedMultiplyAdd(Vector512.Load(p + 16), w1, a31);
                            }
                        }
                    }
                    float* o = yRow + (nint)ow0 * c + c0;
                    StoreDw(o, a00, a01, bias, c0, act);
                    if (n > 1) StoreDw(o + c, a10, a11, bias, c0, act);
                    if (n > 2) StoreDw(o + 2 * c, a20, a21, bias, c0, act);
                    if (n > 3) StoreDw(o + 3 * c, a30, a31, bias, c0, act);
                }
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void StoreDw(float* o, Vector512<float> v0, Vector512<float> v1, float* bias, int c0, Activation act)
    {
        if (bias != null)
        {
            v0 += Vector512.Load(bias + c0);
            v1 += Vector512.Load(bias + c0 + 16);
        }
        EpilogueMath.Activate(v0, act).Store(o);
        EpilogueMath.Activate(v1, act).Store(o + 16);
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
