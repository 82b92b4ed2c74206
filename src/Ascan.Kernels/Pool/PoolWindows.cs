// Per-axis pooling windows (PyTorch's output-size and divisor rules) shared by the pooling kernels.
namespace Ascan.Kernels;

/// <summary>
/// One spatial axis of a window pooling: output i reads input [Start[i], End[i]) (already clipped to
/// the input) and contributes the factor Divisor[i] to its average's divisor. 2-d divisors are the
/// product of the two axes' factors, which holds for both of PyTorch's count_include_pad rules and
/// for adaptive pooling.
/// </summary>
public sealed class PoolAxis
{
    public int[] Start { get; }
    public int[] End { get; }
    public int[] Divisor { get; }
    public int Size => Start.Length;

    public PoolAxis(int[] start, int[] end, int[] divisor) { Start = start; End = end; Divisor = divisor; }
}

public static class PoolWindows
{
    /// <summary>
    /// PyTorch's pooling output size: ⌊(in + 2·pad − dil·(k−1) − 1 [+ stride−1 if ceil]) / stride⌋ + 1,
    /// and with ceil mode the last window must start inside the input or the left padding.
    /// </summary>
    public static int OutputSize(int input, int kernel, int stride, int pad, int dilation, bool ceilMode)
    {
        int num = input + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        int o = FloorDiv(num, stride) + 1;
        if (ceilMode && (o - 1) * stride >= input + pad) o--;
        return o;
    }

    private static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>AvgPool windows: start = o·stride − pad, the padded end clipped to in + pad, then both clipped to the input.</summary>
    public static PoolAxis Avg(int input, int kernel, int stride, int pad, bool countIncludePad, bool ceilMode)
    {
        int n = OutputSize(input, kernel, stride, pad, 1, ceilMode);
        var s = new int[Math.Max(n, 0)]; var e = new int[s.Length]; var d = new int[s.Length];
        for (int o = 0; o < s.Length; o++)
        {
            int start = o * stride - pad, end = Math.Min(start + kernel, input + pad);
            int padded = end - start;
            start = Math.Max(start, 0); end = Math.Min(end, input);
            s[o] = start; e[o] = end; d[o] = countIncludePad ? padded : end - start;
        }
        return new PoolAxis(s, e, d);
    }

    /// <summary>Adaptive bins: start = ⌊i·in/out⌋, end = ⌈(i+1)·in/out⌉ (bins may overlap).</summary>
    public static PoolAxis Adaptive(int input, int output)
    {
        var s = new int[output]; var e = new int[output]; var d = new int[output];
        for (int o = 0; o < output; o++)
        {
            s[o] = (int)((long)o * input / output);
            e[o] = (int)(((long)(o + 1) * input + output - 1) / output);
            d[o] = e[o] - s[o];
        }
        return new PoolAxis(s, e, d);
    }
}
