// Per-axis source indices and weights of torch.nn.functional.interpolate (nearest, bilinear).
namespace Ascan.Kernels;

/// <summary>Two-tap linear interpolation along one axis: output i = L0[i]·in[I0[i]] + L1[i]·in[I1[i]].</summary>
public sealed class LinearAxis
{
    public int[] I0 { get; }
    public int[] I1 { get; }
    public double[] L0 { get; }
    public double[] L1 { get; }
    public int Size => I0.Length;

    public LinearAxis(int[] i0, int[] i1, double[] l0, double[] l1) { I0 = i0; I1 = i1; L0 = l0; L1 = l1; }
}

public static class UpsampleAxis
{
    /// <summary>
    /// PyTorch 'nearest': src = min(⌊dst·s⌋, in−1) with s = 1/scale when a scale factor was given,
    /// else in/out — computed in float32 as PyTorch does, so the indices match bit for bit.
    /// </summary>
    public static int[] Nearest(int input, int output, double? scale)
    {
        var r = new int[output];
        float s = scale is > 0 ? (float)(1.0 / scale.Value) : (float)input / output;
        for (int o = 0; o < output; o++)
        {
            if (output == input) r[o] = o;
            else if (output == 2 * input) r[o] = o >> 1;
            else r[o] = Math.Min((int)MathF.Floor(o * s), input - 1);
        }
        return r;
    }

    /// <summary>
    /// PyTorch 'bilinear' source coordinate: align_corners → src = dst·(in−1)/(out−1); otherwise
    /// src = max((dst + ½)·s − ½, 0) with s = 1/scale or in/out. Taps ⌊src⌋ and the next one
    /// (clamped at the edge), weights 1−λ and λ. Downsampling uses the same two taps (no antialias).
    /// </summary>
    public static LinearAxis Linear(int input, int output, bool alignCorners, double? scale)
    {
        var i0 = new int[output]; var i1 = new int[output]; var l0 = new double[output]; var l1 = new double[output];
        double s = alignCorners
            ? (output > 1 ? (double)(input - 1) / (output - 1) : 0)
            : (scale is > 0 ? 1.0 / scale.Value : (double)input / output);
        for (int o = 0; o < output; o++)
        {
            double src = alignCorners ? s * o : Math.Max(s * (o + 0.5) - 0.5, 0);
            int a = Math.Min((int)src, input - 1);
            double lambda = Math.Min(src - a, 1);
            i0[o] = a; i1[o] = a < input - 1 ? a + 1 : a;
            l1[o] = lambda; l0[o] = 1 - lambda;
        }
        return new LinearAxis(i0, i1, l0, l1);
    }
}
