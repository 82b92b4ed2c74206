// Naive pooling loops straight from PyTorch's definitions: the oracle for the NHWC pooling kernels.
using System.Numerics;

namespace Ascan.Kernels;

public static class PoolReference
{
    /// <summary>AvgPool2d from its parameters (x (B, H, W, C) → y (B, OH, OW, C)), one element at a time.</summary>
    public static void AvgForward<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c,
        int kh, int kw, int sh, int sw, int ph, int pw, bool countIncludePad, bool ceilMode)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = PoolWindows.OutputSize(h, kh, sh, ph, 1, ceilMode), ow = PoolWindows.OutputSize(w, kw, sw, pw, 1, ceilMode);
        for (int bi = 0; bi < b; bi++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int ch = 0; ch < c; ch++)
        {
            int hs = i * sh - ph, ws = j * sw - pw;
            int he = Math.Min(hs + kh, h + ph), we = Math.Min(ws + kw, w + pw);
            int poolSize = (he - hs) * (we - ws);
            hs = Math.Max(hs, 0); ws = Math.Max(ws, 0); he = Math.Min(he, h); we = Math.Min(we, w);
            T s = T.Zero;
            for (int ih = hs; ih < he; ih++)
            for (int iw = ws; iw < we; iw++) s += x[((bi * h + ih) * w + iw) * c + ch];
            int div = countIncludePad ? poolSize : (he - hs) * (we - ws);
            y[((bi * oh + i) * ow + j) * c + ch] = s / T.CreateChecked(div);
        }
    }

    /// <summary>AdaptiveAvgPool2d: bin i spans [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉).</summary>
    public static void AdaptiveAvgForward<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, int oh, int ow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int bi = 0; bi < b; bi++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int ch = 0; ch < c; ch++)
        {
            int hs = (int)Math.Floor((double)i * h / oh), he = (int)Math.Ceiling((double)(i + 1) * h / oh);
            int ws = (int)Math.Floor((double)j * w / ow), we = (int)Math.Ceiling((double)(j + 1) * w / ow);
            T s = T.Zero;
            for (int ih = hs; ih < he; ih++)
            for (int iw = ws; iw < we; iw++) s += x[((bi * h + ih) * w + iw) * c + ch];
            y[((bi * oh + i) * ow + j) * c + ch] = s / T.CreateChecked((he - hs) * (we - ws));
        }
    }

    /// <summary>MaxPool2d with dilation: scans every tap, skipping padding; first strict max (or NaN) wins.</summary>
    public static void MaxForward<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, MaxPoolGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int bi = 0; bi < g.B; bi++)
        for (int i = 0; i < g.OH; i++)
        for (int j = 0; j < g.OW; j++)
        for (int ch = 0; ch < g.C; ch++)
        {
            T best = T.NegativeInfinity; int at = -1;
            for (int ki = 0; ki < g.KH; ki++)
            for (int kj = 0; kj < g.KW; kj++)
            {
                int ih = i * g.SH - g.PH + ki * g.DH, iw = j * g.SW - g.PW + kj * g.DW;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                T v = x[((bi * g.H + ih) * g.W + iw) * g.C + ch];
                if (at < 0 || v > best || T.IsNaN(v)) { best = v; at = ih * g.W + iw; }
            }
            int o = ((bi * g.OH + i) * g.OW + j) * g.C + ch;
            y[o] = best; argmax[o] = at;
        }
    }
}
