// Naive direct Conv2d (NHWC, weight (KH, KW, C/groups, O)): the oracle for the fast conv kernels.
using System.Numerics;

namespace Ascan.Kernels;

public static class ConvReference
{
    /// <summary>y = act(conv(x, w) + bias). Shapes as in <see cref="Conv2dGeometry"/>.</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, in Conv2dGeometry g,
        Activation act = Activation.None) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OutH, ow = g.OutW, cg = g.Cg, og = g.Og;
        var e = new Epilogue<T>(bias, act);
        for (int b = 0; b < g.B; b++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T sum = T.Zero;
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int ih = i * g.StrideH - g.PadH + kh * g.DilationH, iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                if ((uint)ih >= (uint)g.H || (uint)iw >= (uint)g.W) continue;
                for (int ci = 0; ci < cg; ci++)
                    sum += x[((b * g.H + ih) * g.W + iw) * g.C + grp * cg + ci] * w[((kh * g.KW + kw) * cg + ci) * g.O + o];
            }
            y[((b * oh + i) * ow + j) * g.O + o] = GemmReference.ApplyEpilogue(sum, o, e);
        }
    }

    /// <summary>dx += ∂L/∂x given dy = ∂L/∂y (pre-activation gradient).</summary>
    public static void BackwardData<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, in Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OutH, ow = g.OutW, cg = g.Cg, og = g.Og;
        for (int b = 0; b < g.B; b++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T d = dy[((b * oh + i) * ow + j) * g.O + o];
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int ih = i * g.StrideH - g.PadH + kh * g.DilationH, iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                if ((uint)ih >= (uint)g.H || (uint)iw >= (uint)g.W) continue;
                for (int ci = 0; ci < cg; ci++)
                    dx[((b * g.H + ih) * g.W + iw) * g.C + grp * cg + ci] += d * w[((kh * g.KW + kw) * cg + ci) * g.O + o];
            }
        }
    }

    /// <summary>dw += ∂L/∂w given dy = ∂L/∂y.</summary>
    public static void BackwardWeight<T>(Span<T> dw, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, in Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OutH, ow = g.OutW, cg = g.Cg, og = g.Og;
        for (int b = 0; b < g.B; b++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int o = 0; o < g.O; o++)
        {
            int grp = o / og;
            T d = dy[((b * oh + i) * ow + j) * g.O + o];
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int ih = i * g.StrideH - g.PadH + kh * g.DilationH, iw = j * g.StrideW - g.PadW + kw * g.DilationW;
                if ((uint)ih >= (uint)g.H || (uint)iw >= (uint)g.W) continue;
                for (int ci = 0; ci < cg; ci++)
                    dw[((kh * g.KW + kw) * cg + ci) * g.O + o] += d * x[((b * g.H + ih) * g.W + iw) * g.C + grp * cg + ci];
            }
        }
    }
}
