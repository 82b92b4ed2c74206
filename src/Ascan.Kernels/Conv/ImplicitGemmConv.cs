// Implicit-GEMM convolution (float): the GEMM packs its A panels straight from the NHWC input, no im2col matrix.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// The im2col matrix of an NHWC input as a GEMM A source, never materialised: row m = output pixel (b, oh, ow)
/// over the whole batch, column k = (kh, kw, c) tap-major then channel, the order of the HWIO weight's rows.
/// Within one tap a pixel's channels are contiguous in memory, so a 14-row panel is packed by 16×16 register
/// transposes from 14 row pointers (null where the tap falls in the padding, which reads as zeros).
/// Groups must be 1 (grouped and depthwise convs keep their own kernels).
/// </summary>
internal readonly unsafe struct ConvA : IASource
{
    private readonly float* _x;
    private readonly int _h, _w, _c, _kw, _sh, _sw, _ph, _pw, _dh, _dw, _ow, _pix;
    private readonly nint _imageStride;

    public ConvA(float* x, in Conv2dGeometry g)
    {
        _x = x; _h = g.H; _w = g.W; _c = g.C; _kw = g.KW;
        _sh = g.StrideH; _sw = g.StrideW; _ph = g.PadH; _pw = g.PadW; _dh = g.DilationH; _dw = g.DilationW;
        _ow = g.OutW; _pix = g.OutH * g.OutW;
        _imageStride = (nint)g.H * g.W * g.C;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel
    {
        int mr = TK.Mr;
        bool vector = mr == 14 && Vector512.IsHardwareAccelerated;
        float** ptr = stackalloc float*[16];
        float** image = stackalloc float*[16];
        int* ih0 = stackalloc int[16];
        int* iw0 = stackalloc int[16];
        for (int r = 0; r < 16; r++) { ptr[r] = null; image[r] = null; }
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            for (int r = 0; r < mr; r++)
            {
                if (r >= rows) { image[r] = null; continue; }
                int m = i0 + ir + r, b = m / _pix, rem = m - b * _pix, oh = rem / _ow, ow = rem - oh * _ow;
                image[r] = _x + b * _imageStride;
                ih0[r] = oh * _sh - _ph;
                iw0[r] = ow * _sw - _pw;
            }
            float* panel = dst + (nint)ir * kc;
            // Walk the K range tap by tap: each tap contributes a run of contiguous channels per pixel.
            int t = p0 / _c, c0 = p0 - t * _c, kk = 0;
            while (kk < kc)
            {
                int len = Math.Min(_c - c0, kc - kk);
                int kh = t / _kw, kw = t - kh * _kw;
                for (int r = 0; r < mr; r++)
                {
                    float* img = image[r];
                    int ih = ih0[r] + kh * _dh, iw = iw0[r] + kw * _dw;
                    ptr[r] = img != null && (uint)ih < (uint)_h && (uint)iw < (uint)_w ? img + ((nint)ih * _w + iw) * _c + c0 : null;
                }
                float* d = panel + (nint)kk * mr;
                int q = 0;
                // Ascending stores: each transpose's 2-float spill lands where a later store (or the buffer's
                // slack past the last panel) goes.
                if (vector)
                    for (; q + 16 <= len; q += 16) GemmPacking.Transpose16To(new PointerRows(ptr, q), d + q * 14, 14);
                for (; q < len; q++)
                    for (int r = 0; r < mr; r++) d[q * mr + r] = ptr[r] == null ? 0f : ptr[r][q];
                kk += len; t++; c0 = 0;
            }
        }
        return dst;
    }
}

/// <summary>
/// The transposed im2col matrix as a GEMM A source, for the weight gradient dW = colsᵀ·dY: row kk = (kh, kw, c) —
/// the rows of the (KH, KW, C, O) weight — and column m = output pixel over the whole batch. Panel rows are
/// consecutive channels of one or a few taps, so each pixel contributes a few contiguous runs of x.
/// </summary>
internal readonly unsafe struct ConvAT : IASource
{
    private readonly float* _x, _xEnd;
    private readonly int _h, _w, _c, _kw, _sh, _sw, _ph, _pw, _dh, _dw, _ow, _pix;
    private readonly nint _imageStride;

    public ConvAT(float* x, in Conv2dGeometry g)
    {
        _x = x; _xEnd = x + (nint)g.InputLength;
        _h = g.H; _w = g.W; _c = g.C; _kw = g.KW;
        _sh = g.StrideH; _sw = g.StrideW; _ph = g.PadH; _pw = g.PadW; _dh = g.DilationH; _dw = g.DilationW;
        _ow = g.OutW; _pix = g.OutH * g.OutW;
        _imageStride = (nint)g.H * g.W * g.C;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float* Pack<TK>(int i0, int mc, int p0, int kc, float* dst) where TK : IMicroKernel
    {
        int mr = TK.Mr;
        // The runs of a panel (one per tap it touches, at most one per row): first row, length, tap, channel start.
        int* segRow = stackalloc int[16]; int* segLen = stackalloc int[16]; int* segKh = stackalloc int[16];
        int* segKw = stackalloc int[16]; int* segC = stackalloc int[16];
        // The kc pixels' image offsets and top-left input positions, decoded once (incrementally, no divisions per
        // pixel) and shared by every panel of this block.
        nint* pImage = stackalloc nint[kc];
        int* pIh = stackalloc int[kc];
        int* pIw = stackalloc int[kc];
        {
            int b = p0 / _pix, rem = p0 - b * _pix, oh = rem / _ow, ow = rem - oh * _ow;
            for (int p = 0; p < kc; p++)
            {
                pImage[p] = b * _imageStride; pIh[p] = oh * _sh - _ph; pIw[p] = ow * _sw - _pw;
                if (++ow == _ow) { ow = 0; if (++oh * _ow == _pix) { oh = 0; b++; } }
            }
        }
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            int segs = 0;
            for (int r = 0; r < rows;)
            {
                int kk = i0 + ir + r, tap = kk / _c, c0 = kk - tap * _c;
                int len = Math.Min(rows - r, _c - c0);
                segRow[segs] = r; segLen[segs] = len; segKh[segs] = tap / _kw; segKw[segs] = tap % _kw; segC[segs] = c0;
                segs++; r += len;
            }
            for (int p = 0; p < kc; p++)
            {
                float* image = _x + pImage[p];
                float* d = panel + (nint)p * mr;
                for (int sgi = 0; sgi < segs; sgi++)
                {
                    int ih = pIh[p] + segKh[sgi] * _dh, iw = pIw[p] + segKw[sgi] * _dw;
                    float* run = d + segRow[sgi];
                    int len = segLen[sgi];
                    if ((uint)ih < (uint)_h && (uint)iw < (uint)_w)
                    {
                        float* src = image + ((nint)ih * _w + iw) * _c + segC[sgi];
                        // A 16-wide copy spills past the run into places written later (ascending); it may not read
                        // past the end of x.
                        if (src + 16 <= _xEnd) Vector512.Store(Vector512.Load(src), run);
                        else for (int q = 0; q < len; q++) run[q] = src[q];
                    }
                    else Vector512.Store(Vector512<float>.Zero, run);
                }
                // Rows past the last one (a partial panel) must read as zero.
                for (int r = rows; r < mr; r++) d[r] = 0;
            }
        }
        return dst;
    }
}

public static unsafe partial class Conv2dKernels
{
    /// <summary>dW (KH·KW·C, O) += colsᵀ · dY over every pixel of the batch, as one GEMM on <see cref="ConvAT"/> (groups 1, float).</summary>
    private static void BackwardWeightImplicit(Span<float> dw, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in Conv2dGeometry g)
    {
        var geo = g;
        fixed (float* pdw = dw) fixed (float* px = x) fixed (float* pdy = dy)
        {
            int m = g.KH * g.KW * g.C, k = g.B * g.OutH * g.OutW;
            Sgemm.Run(new ConvAT(px, geo), new StridedB(pdy, g.O, false), m, g.O, k, pdw, g.O, true, default);
        }
    }

    /// <summary>Whether the implicit-GEMM float path handles this geometry (groups 1, packed float kernels present).</summary>
    internal static bool UsesImplicitGemm(in Conv2dGeometry g) => g.Groups == 1 && PackedB.IsSupported;

    /// <summary>
    /// y = act(conv(x, w) + bias) + residual with the weight pre-packed (<see cref="PackConvWeight"/>): the inference
    /// path. Groups must be 1. Shapes: x (B, H, W, C), y and residual (B, OutH, OutW, O), bias (O) or empty.
    /// </summary>
    public static void ForwardPacked(Span<float> y, ReadOnlySpan<float> x, PackedB w, in Conv2dGeometry g, Epilogue<float> epilogue = default)
    {
        Check(g, y.Length, g.OutputLength, x.Length, g.WeightLength);
        if (g.Groups != 1) throw new ArgumentException($"Conv2d packed path needs groups 1 ({g}).");
        if (w.K != g.KH * g.KW * g.C || w.N != g.O)
            throw new ArgumentException($"Conv2d packed weight is ({w.K}, {w.N}), geometry needs ({g.KH * g.KW * g.C}, {g.O}).");
        CheckEpilogue(epilogue, g);
        if (g.B == 0) return;
        var geo = g;
        fixed (float* py = y) fixed (float* px = x) fixed (float* pb = epilogue.Bias) fixed (float* pr = epilogue.Residual)
        {
            var epi = new EpilogueArgs(epilogue.Bias.IsEmpty ? null : pb, epilogue.Act, epilogue.Residual.IsEmpty ? null : pr, g.O, epilogue.ResidualBeforeAct);
            int m = g.B * g.OutH * g.OutW;
            if (g.IsPointwise) Sgemm.Run(new StridedA(px, g.C, false), w.AsSource(), m, g.O, g.C, py, g.O, false, epi);
            else Sgemm.Run(new ConvA(px, geo), w.AsSource(), m, g.O, w.K, py, g.O, false, epi);
        }
        GC.KeepAlive(w);
    }

    /// <summary>Whether <see cref="ForwardDirect"/> handles this geometry (≤ 4 input channels, 16–64 output channels).</summary>
    public static bool UsesDirectSmallChannel(in Conv2dGeometry g) => SmallChannelConv.Supports(g);

    /// <summary>
    /// y = act(conv(x, w) + bias) + residual for a stem-like conv with ≤ 4 input channels (<see cref="UsesDirectSmallChannel"/>),
    /// on the plain (KH, KW, C, O) weight. Shapes: x (B, H, W, C), y and residual (B, OutH, OutW, O).
    /// </summary>
    public static void ForwardDirect(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> wHwio, in Conv2dGeometry g, Epilogue<float> epilogue = default)
    {
        Check(g, y.Length, g.OutputLength, x.Length, wHwio.Length);
        if (!SmallChannelConv.Supports(g)) throw new ArgumentException($"Conv2d direct small-channel path does not handle {g}.");
        CheckEpilogue(epilogue, g);
        if (g.B == 0) return;
        fixed (float* py = y) fixed (float* px = x) fixed (float* pw = wHwio) fixed (float* pb = epilogue.Bias) fixed (float* pr = epilogue.Residual)
            SmallChannelConv.Forward(py, px, pw, g, new EpilogueArgs(epilogue.Bias.IsEmpty ? null : pb, epilogue.Act, epilogue.Residual.IsEmpty ? null : pr, g.O, epilogue.ResidualBeforeAct));
    }

    /// <summary>Packs a kernel-layout (KH, KW, C, O) weight, groups 1, as the B operand of <see cref="ForwardPacked"/>.</summary>
    public static PackedB PackConvWeight(ReadOnlySpan<float> wHwio, in Conv2dGeometry g)
    {
        if (g.Groups != 1) throw new ArgumentException($"Conv2d packed path needs groups 1 ({g}).");
        return PackedB.Create(wHwio, g.O, false, g.KH * g.KW * g.C, g.O);
    }

    /// <summary>The float forward of groups-1 convs on the implicit GEMM, weight (KH, KW, C, O) packed per call.</summary>
    private static void ForwardImplicit(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, in Conv2dGeometry g, Epilogue<float> epilogue)
    {
        if (SmallChannelConv.Supports(g))
        {
            ForwardDirect(y, x, w, g, epilogue);
            return;
        }
        var geo = g;
        fixed (float* py = y) fixed (float* px = x) fixed (float* pw = w) fixed (float* pb = epilogue.Bias) fixed (float* pr = epilogue.Residual)
        {
            var epi = new EpilogueArgs(epilogue.Bias.IsEmpty ? null : pb, epilogue.Act, epilogue.Residual.IsEmpty ? null : pr, g.O, epilogue.ResidualBeforeAct);
            int m = g.B * g.OutH * g.OutW, k = g.KH * g.KW * g.C;
            Sgemm.Run(new ConvA(px, geo), new StridedB(pw, g.O, false), m, g.O, k, py, g.O, false, epi);
        }
    }

    private static void CheckEpilogue<T>(Epilogue<T> e, in Conv2dGeometry g)
    {
        if (!e.Bias.IsEmpty && e.Bias.Length < g.O) throw new ArgumentException($"Conv2d bias has {e.Bias.Length} values, needs {g.O}.");
        if (!e.Residual.IsEmpty && e.Residual.Length < g.OutputLength)
            throw new ArgumentException($"Conv2d residual has {e.Residual.Length} values, needs {g.OutputLength}.");
    }
}
