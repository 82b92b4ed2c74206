// Naive float64 twins of the reductions over an (outer, R, inner) layout: the oracle for tests.
using System.Numerics;

namespace Ascan.Kernels;

public static class ReduceReference
{
    public static void Sum<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0;
                for (int k = 0; k < r; k++) s += double.CreateTruncating(x[(o * r + k) * inner + i]);
                y[o * inner + i] = T.CreateTruncating(s);
            }
    }

    public static void Max<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double m = double.NegativeInfinity;
                for (int k = 0; k < r; k++)
                {
                    double v = double.CreateTruncating(x[(o * r + k) * inner + i]);
                    if (double.IsNaN(v) || v > m) m = v;
                    if (double.IsNaN(m)) break;
                }
                y[o * inner + i] = T.CreateTruncating(m);
            }
    }

    public static void Var<T>(Span<T> y, ReadOnlySpan<T> x, int outer, int r, int inner, double correction) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0, q = 0;
                for (int k = 0; k < r; k++) s += double.CreateTruncating(x[(o * r + k) * inner + i]);
                double mu = s / r;
                for (int k = 0; k < r; k++) { double d = double.CreateTruncating(x[(o * r + k) * inner + i]) - mu; q += d * d; }
                y[o * inner + i] = T.CreateTruncating(q / Math.Max(0.0, r - correction));
            }
    }
}
