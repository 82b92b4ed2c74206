// Naive interpolation loops from PyTorch's formulas: the oracle for the NHWC upsampling kernels.
using System.Numerics;

namespace Ascan.Kernels;

public static class UpsampleReference
{
    /// <summary>'nearest': src = min(⌊dst·in/out⌋, in−1) per axis (float32 arithmetic, as PyTorch).</summary>
    public static void Nearest<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, int oh, int ow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        float sh = (float)h / oh, sw = (float)w / ow;
        for (int bi = 0; bi < b; bi++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        for (int ch = 0; ch < c; ch++)
        {
            int ih = Math.Min((int)MathF.Floor(i * sh), h - 1), iw = Math.Min((int)MathF.Floor(j * sw), w - 1);
            y[((bi * oh + i) * ow + j) * c + ch] = x[((bi * h + ih) * w + iw) * c + ch];
        }
    }

    /// <summary>'bilinear' from the source-coordinate formula, each output element on its own.</summary>
    public static void Bilinear<T>(Span<T> y, ReadOnlySpan<T> x, int b, int h, int w, int c, int oh, int ow, bool alignCorners)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int bi = 0; bi < b; bi++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            var (h0, h1, lh) = Source(i, h, oh, alignCorners);
            var (w0, w1, lw) = Source(j, w, ow, alignCorners);
            for (int ch = 0; ch < c; ch++)
            {
                double x00 = double.CreateChecked(x[((bi * h + h0) * w + w0) * c + ch]), x01 = double.CreateChecked(x[((bi * h + h0) * w + w1) * c + ch]);
                double x10 = double.CreateChecked(x[((bi * h + h1) * w + w0) * c + ch]), x11 = double.CreateChecked(x[((bi * h + h1) * w + w1) * c + ch]);
                double v = (1 - lh) * ((1 - lw) * x00 + lw * x01) + lh * ((1 - lw) * x10 + lw * x11);
                y[((bi * oh + i) * ow + j) * c + ch] = T.CreateChecked(v);
            }
        }
    }

    private static (int, int, double) Source(int dst, int input, int output, bool alignCorners)
    {
        double src = alignCorners
            ? (output > 1 ? (double)(input - 1) / (output - 1) * dst : 0)
            : Math.Max(((double)input / output) * (dst + 0.5) - 0.5, 0);
        int i0 = (int)Math.Floor(src);
        if (i0 > input - 1) i0 = input - 1;
        int i1 = Math.Min(i0 + 1, input - 1);
        return (i0, i1, src - i0);
    }
}
