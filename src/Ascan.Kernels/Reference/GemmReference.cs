// Naive GEMM: the oracle for the fast kernels and the float64 path.
using System.Numerics;

namespace Ascan.Kernels;

public static class GemmReference
{
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc,
        bool accumulate, Epilogue<T> epilogue = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T av = transA ? a[p * lda + i] : a[i * lda + p];
                    T bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                if (accumulate) sum += c[i * ldc + j];
                T v;
                if (epilogue.ResidualBeforeAct && !epilogue.Residual.IsEmpty)
                    v = ApplyEpilogue(sum + epilogue.Residual[i * ldc + j], j, epilogue);
                else
                {
                    v = ApplyEpilogue(sum, j, epilogue);
                    if (!epilogue.Residual.IsEmpty) v += epilogue.Residual[i * ldc + j];
                }
                c[i * ldc + j] = v;
            }
        }
    }

    /// <summary>act(v + bias[col]); the residual is added by the caller, which knows the row.</summary>
    public static T ApplyEpilogue<T>(T v, int col, Epilogue<T> e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!e.Bias.IsEmpty) v += e.Bias[col];
        return e.Act switch
        {
            Activation.None => v,
            Activation.Relu => T.Max(v, T.Zero),
            Activation.Gelu => T.CreateTruncating(0.5) * v * (T.One + ErfReference.Erf(v / T.Sqrt(T.CreateTruncating(2.0)))),
            Activation.Silu => v / (T.One + T.Exp(-v)),
            _ => throw new ArgumentOutOfRangeException(nameof(e)),
        };
    }
}

/// <summary>erf to double precision (Abramowitz–Stegun 7.1.26 is too coarse; this uses a series / continued fraction).</summary>
public static class ErfReference
{
    public static T Erf<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
        => T.CreateTruncating(Erf(double.CreateTruncating(x)));

    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        double r;
        if (ax < 2.5)
        {
            // Maclaurin series: erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 100; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            r = 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // Continued fraction for erfc (Lentz), accurate for x >= 2.5.
            double x2 = ax * ax;
            double f = ax, c = ax, d = 0, tiny = 1e-300;
            for (int n = 1; n < 200; n++)
            {
                double an = n / 2.0;
                d = ax + an * d; if (d == 0) d = tiny; d = 1 / d;
                c = ax + an / c; if (c == 0) c = tiny;
                double delta = c * d; f *= delta;
                if (Math.Abs(delta - 1) < 1e-16) break;
            }
            double erfc = Math.Exp(-x2) / Math.Sqrt(Math.PI) / f;
            r = 1 - erfc;
        }
        return x < 0 ? -r : r;
    }
}
