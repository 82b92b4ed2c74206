// Naive softmax / log-softmax twins: the oracle for the fused row kernels.
using System.Numerics;

namespace Ascan.Kernels;

public static class SoftmaxReference
{
    /// <summary>Shapes: y, x (rows, n). Computed in double, straight from the definition.</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, int rows, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            double m = double.NegativeInfinity;
            for (int j = 0; j < n; j++) m = Math.Max(m, double.CreateTruncating(x[r * n + j]));
            double s = 0;
            for (int j = 0; j < n; j++) s += Math.Exp(double.CreateTruncating(x[r * n + j]) - m);
            for (int j = 0; j < n; j++)
            {
                double v = double.CreateTruncating(x[r * n + j]) - m;
                y[r * n + j] = T.CreateTruncating(log ? v - Math.Log(s) : Math.Exp(v) / s);
            }
        }
    }

    /// <summary>dx += the vector-Jacobian product of (log-)softmax at output y, via the full Jacobian.</summary>
    public static void Backward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y, int rows, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < n; i++)
            {
                double acc = 0;
                for (int j = 0; j < n; j++)
                {
                    double yi = double.CreateTruncating(y[r * n + i]), yj = double.CreateTruncating(y[r * n + j]);
                    // Jacobian ∂y_j/∂x_i: softmax y_j(δ_ij − y_i); log-softmax δ_ij − e^{y_i}.
                    double jac = log ? (i == j ? 1 : 0) - Math.Exp(yi) : yj * ((i == j ? 1 : 0) - yi);
                    acc += double.CreateTruncating(dy[r * n + j]) * jac;
                }
                dx[r * n + i] += T.CreateTruncating(acc);
            }
    }
}
