// 2-d convolution on NHWC activations with PyTorch-layout weights (O, C/groups, KH, KW).
using System.Numerics;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// Shapes: x (B, H, W, C) channels-last, weight (O, C/groups, KH, KW) as in PyTorch, bias (O)
    /// → (B, OH, OW, O) with OH = (H + 2·padH − dilH·(KH−1) − 1) / strideH + 1.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        => Conv2d(x, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups)
    {
        CheckSameDType(x, weight, "Conv2d");
        var g = ConvGeometry(x, weight, bias, stride, padding, dilation, groups);
        MacCounter.Add((long)g.B * g.OH * g.OW * g.O * (g.C / g.Groups) * g.KH * g.KW);
        var xc = x.Contiguous(); var wc = weight.Contiguous(); var bc = bias?.Contiguous();
        var y = Tensor.Empty(new[] { g.B, g.OH, g.OW, g.O }, x.DType, zero: true);
        if (x.DType == DType.F32) NaiveConv.Forward(y.Span<float>(), xc.Span<float>(), wc.Span<float>(), bc == null ? default : bc.Span<float>(), g);
        else NaiveConv.Forward(y.Span<double>(), xc.Span<double>(), wc.Span<double>(), bc == null ? default : bc.Span<double>(), g);
        if (Autograd.NeedsGraph(x, weight, bias)) Autograd.Record(y, new Conv2dNode(x, weight, bias, xc, wc, g));
        return y;
    }

    private static ConvGeom ConvGeometry(Tensor x, Tensor w, Tensor? b, (int H, int W) s, (int H, int W) p, (int H, int W) d, int groups)
    {
        string wn = w.Name != null ? $" ({w.Name})" : "";
        if (x.Rank != 4) throw new ArgumentException($"Conv2d: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (w.Rank != 4) throw new ArgumentException($"Conv2d: weight{wn} must be (O, C/groups, KH, KW), got {ShapeUtil.Format(w.Shape)}.");
        if (groups < 1 || x.Dim(3) % groups != 0 || w.Dim(0) % groups != 0)
            throw new ArgumentException($"Conv2d: groups={groups} must divide input channels {x.Dim(3)} and output channels {w.Dim(0)}.");
        if (w.Dim(1) * groups != x.Dim(3))
            throw new ArgumentException($"Conv2d: weight{wn} {ShapeUtil.Format(w.Shape)} expects {w.Dim(1) * groups} input channels, input has {x.Dim(3)} (shape {ShapeUtil.Format(x.Shape)}, channels last).");
        if (b != null && (b.Rank != 1 || b.Dim(0) != w.Dim(0)))
            throw new ArgumentException($"Conv2d: bias shape {ShapeUtil.Format(b.Shape)}, expected [{w.Dim(0)}].");
        if (s.H < 1 || s.W < 1 || d.H < 1 || d.W < 1 || p.H < 0 || p.W < 0)
            throw new ArgumentException("Conv2d: stride and dilation must be ≥ 1 and padding ≥ 0.");
        var g = new ConvGeom(x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), w.Dim(0), w.Dim(2), w.Dim(3), s.H, s.W, p.H, p.W, d.H, d.W, groups);
        if (g.OH < 1 || g.OW < 1)
            throw new ArgumentException($"Conv2d: input {x.Dim(1)}×{x.Dim(2)} is too small for kernel {g.KH}×{g.KW} (dilation {d}, padding {p}).");
        return g;
    }

    private sealed class Conv2dNode : Node
    {
        private Tensor? _x, _w;
        private readonly ConvGeom _g;

        public Conv2dNode(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, ConvGeom g)
            : base(b == null ? new[] { x, w } : new[] { x, w, b })
        {
            _x = xc.Detach(); _w = wc.Detach(); _g = g;
        }

        protected internal override void Backward(Tensor g)
        {
            if (g.DType == DType.F32) Run<float>(g); else Run<double>(g);
        }

        private void Run<T>(Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (GradOf(0) is { } dx) NaiveConv.BackwardData(dx.Span<T>(), g.Span<T>(), _w!.Span<T>(), _g);
            if (GradOf(1) is { } dw) NaiveConv.BackwardWeight(dw.Span<T>(), _x!.Span<T>(), g.Span<T>(), _g);
            if (Inputs.Length > 2 && GradOf(2) is { } db) SumTo(db, g);
        }

        protected internal override void ReleaseSaved() { _x = null; _w = null; }
    }
}

internal readonly record struct ConvGeom(int B, int H, int W, int C, int O, int KH, int KW,
    int SH, int SW, int PH, int PW, int DH, int DW, int Groups)
{
    public int OH => (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
    public int OW => (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;
}

/// <summary>Direct convolution loops: the oracle, and the path until the GEMM-based kernels are wired in.</summary>
internal static class NaiveConv
{
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.C / g.Groups, og = g.O / g.Groups;
        for (int b = 0; b < g.B; b++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T s = bias.IsEmpty ? T.Zero : bias[o];
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.SH - g.PH + kh * g.DH; if ((uint)ih >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = ow * g.SW - g.PW + kw * g.DW; if ((uint)iw >= (uint)g.W) continue;
                    int xo = ((b * g.H + ih) * g.W + iw) * g.C + grp * cg;
                    for (int c = 0; c < cg; c++) s += x[xo + c] * w[((o * cg + c) * g.KH + kh) * g.KW + kw];
                }
            }
            y[((b * g.OH + oh) * g.OW + ow) * g.O + o] = s;
        }
    }

    public static void BackwardData<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.C / g.Groups, og = g.O / g.Groups;
        for (int b = 0; b < g.B; b++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T gy = dy[((b * g.OH + oh) * g.OW + ow) * g.O + o];
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.SH - g.PH + kh * g.DH; if ((uint)ih >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = ow * g.SW - g.PW + kw * g.DW; if ((uint)iw >= (uint)g.W) continue;
                    int xo = ((b * g.H + ih) * g.W + iw) * g.C + grp * cg;
                    for (int c = 0; c < cg; c++) dx[xo + c] += gy * w[((o * cg + c) * g.KH + kh) * g.KW + kw];
                }
            }
        }
    }

    public static void BackwardWeight<T>(Span<T> dw, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.C / g.Groups, og = g.O / g.Groups;
        for (int b = 0; b < g.B; b++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T gy = dy[((b * g.OH + oh) * g.OW + ow) * g.O + o];
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.SH - g.PH + kh * g.DH; if ((uint)ih >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = ow * g.SW - g.PW + kw * g.DW; if ((uint)iw >= (uint)g.W) continue;
                    int xo = ((b * g.H + ih) * g.W + iw) * g.C + grp * cg;
                    for (int c = 0; c < cg; c++) dw[((o * cg + c) * g.KH + kh) * g.KW + kw] += gy * x[xo + c];
                }
            }
        }
    }
}
