// Naive float64 twins of the unary kernels: the oracle for tests (each value computed in double with Math.*).
using System.Numerics;

namespace Ascan.Kernels;

public static class UnaryReference
{
    /// <summary>Forward f(x) in float64.</summary>
    public static double Forward(string op, double x, double p0 = 0, double p1 = 0) => op switch
    {
        "neg" => -x,
        "exp" => Math.Exp(x),
        "log" => Math.Log(x),
        "sqrt" => Math.Sqrt(x),
        "abs" => Math.Abs(x),
        "pow" => Math.Pow(x, p0),
        "clamp" => double.IsNaN(x) ? x : Math.Min(Math.Max(x, p0), p1),
        "relu" => double.IsNaN(x) ? x : Math.Max(x, 0),
        "gelu" => x * 0.5 * (1 + FastMath.Erf(x / Math.Sqrt(2))),
        "silu" => x / (1 + Math.Exp(-x)),
        "sigmoid" => 1 / (1 + Math.Exp(-x)),
        "tanh" => Math.Tanh(x),
        _ => throw new ArgumentException($"Unknown unary op {op}."),
    };

    /// <summary>f'(x) in float64 (PyTorch's conventions at kinks: relu'(0) = 0, |x|'(0) = 0, clamp passes at the bounds).</summary>
    public static double Derivative(string op, double x, double p0 = 0, double p1 = 0)
    {
        switch (op)
        {
            case "neg": return -1;
            case "exp": return Math.Exp(x);
            case "log": return 1 / x;
            case "sqrt": return 0.5 / Math.Sqrt(x);
            case "abs": return x > 0 ? 1 : x < 0 ? -1 : 0;
            case "pow": return p0 == 0 ? 0 : p0 * Math.Pow(x, p0 - 1);
            case "clamp": return x >= p0 && x <= p1 ? 1 : 0;
            case "relu": return x > 0 ? 1 : 0;
            case "gelu": return 0.5 * (1 + FastMath.Erf(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
            case "silu": { double s = 1 / (1 + Math.Exp(-x)); return s * (1 + x * (1 - s)); }
            case "sigmoid": { double s = 1 / (1 + Math.Exp(-x)); return s * (1 - s); }
            case "tanh": { double t = Math.Tanh(x); return 1 - t * t; }
            default: throw new ArgumentException($"Unknown unary op {op}.");
        }
    }

    /// <summary>y[i] = f(x[i]), computed in double.</summary>
    public static void Apply<T>(string op, Span<T> y, ReadOnlySpan<T> x, double p0 = 0, double p1 = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = T.CreateTruncating(Forward(op, double.CreateTruncating(x[i]), p0, p1));
    }

    /// <summary>dx[i] += dy[i]·f'(x[i]), computed in double.</summary>
    public static void Backward<T>(string op, Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, double p0 = 0, double p1 = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < dx.Length; i++)
            dx[i] = T.CreateTruncating(double.CreateTruncating(dx[i]) + double.CreateTruncating(dy[i]) * Derivative(op, double.CreateTruncating(x[i]), p0, p1));
    }
}
