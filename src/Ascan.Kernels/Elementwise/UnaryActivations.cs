// Activation kernels (ReLU, exact-erf GELU, SiLU, sigmoid, tanh) and their fused one-pass backward.
using System.Numerics;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

public readonly struct ReluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.IsNaN(x) ? x : T.Max(x, T.Zero);
    public Vector512<T> Apply(Vector512<T> x) => Vector512.ConditionalSelect(Vector512.IsNaN(x), x, Vector512.Max(x, Vector512<T>.Zero));
    public Vector256<T> Apply(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.IsNaN(x), x, Vector256.Max(x, Vector256<T>.Zero));
}

/// <summary>ReLU' = 1 where x &gt; 0, else 0 (0 at x = 0, as PyTorch).</summary>
public readonly struct ReluGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => x > T.Zero ? dy : T.Zero;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy & Vector512.GreaterThan(x, Vector512<T>.Zero);
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy & Vector256.GreaterThan(x, Vector256<T>.Zero);
}

/// <summary>GELU(x) = x·Φ(x), Φ the standard normal CDF (the exact erf form, PyTorch's default).</summary>
public readonly struct GeluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x)
    {
        double v = double.CreateTruncating(x);
        return T.CreateTruncating(v * FastMath.NormalCdf(v));
    }

    public Vector512<T> Apply(Vector512<T> x)
    {
        if (typeof(T) != typeof(float)) return Lanes.Map(x, this);
        var xf = x.As<T, float>();
        return (xf * FastMath.NormalCdf(xf)).As<float, T>();
    }

    public Vector256<T> Apply(Vector256<T> x)
    {
        if (typeof(T) != typeof(float)) return Lanes.Map(x, this);
        var xf = x.As<T, float>();
        return (xf * FastMath.NormalCdf(xf)).As<float, T>();
    }
}

/// <summary>
/// GELU'(x) = d/dx [x·Φ(x)] = Φ(x) (term 1, product rule on x) + x·φ(x) (term 2, Φ' = φ),
/// φ(x) = e^{−x²/2}/√(2π). One pass: dx += dy·(Φ + x·φ).
/// </summary>
public readonly struct GeluGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const float InvSqrt2Pi = 0.398942280401432678f;

    public T Grad(T dy, T x, T y)
    {
        double v = double.CreateTruncating(x);
        return T.CreateTruncating(double.CreateTruncating(dy) * (FastMath.NormalCdf(v) + v * FastMath.NormalPdf(v)));
    }

    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y)
    {
        if (typeof(T) != typeof(float)) return Lanes.Grad(dy, x, y, this);
        var xf = x.As<T, float>();
        var pdf = FastMath.Exp(xf * xf * Vector512.Create(-0.5f)) * Vector512.Create(InvSqrt2Pi);
        return (dy.As<T, float>() * Vector512.FusedMultiplyAdd(xf, pdf, FastMath.NormalCdf(xf))).As<float, T>();
    }

    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y)
    {
        if (typeof(T) != typeof(float)) return Lanes.Grad(dy, x, y, this);
        var xf = x.As<T, float>();
        var pdf = FastMath.Exp(xf * xf * Vector256.Create(-0.5f)) * Vector256.Create(InvSqrt2Pi);
        return (dy.As<T, float>() * Vector256.FusedMultiplyAdd(xf, pdf, FastMath.NormalCdf(xf))).As<float, T>();
    }
}

public readonly struct SigmoidOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.One / (T.One + T.Exp(-x));
    public Vector512<T> Apply(Vector512<T> x) => typeof(T) == typeof(float)
        ? FastMath.Sigmoid(x.As<T, float>()).As<float, T>()
        : (Vector512<double>.One / (Vector512<double>.One + Vector512.Exp(-x.As<T, double>()))).As<double, T>();
    public Vector256<T> Apply(Vector256<T> x) => typeof(T) == typeof(float)
        ? FastMath.Sigmoid(x.As<T, float>()).As<float, T>()
        : (Vector256<double>.One / (Vector256<double>.One + Vector256.Exp(-x.As<T, double>()))).As<double, T>();
}

/// <summary>σ' = σ(1 − σ): dx += dy·y·(1 − y), from the saved output.</summary>
public readonly struct SigmoidGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => dy * y * (T.One - y);
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy * y * (Vector512<T>.One - y);
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy * y * (Vector256<T>.One - y);
}

public readonly struct TanhOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Tanh(x);
    public Vector512<T> Apply(Vector512<T> x) => typeof(T) == typeof(float) ? FastMath.Tanh(x.As<T, float>()).As<float, T>() : Lanes.Map(x, this);
    public Vector256<T> Apply(Vector256<T> x) => typeof(T) == typeof(float) ? FastMath.Tanh(x.As<T, float>()).As<float, T>() : Lanes.Map(x, this);
}

/// <summary>tanh' = 1 − tanh²: dx += dy·(1 − y²), from the saved output.</summary>
public readonly struct TanhGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => dy * (T.One - y * y);
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy * (Vector512<T>.One - y * y);
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy * (Vector256<T>.One - y * y);
}

/// <summary>SiLU(x) = x·σ(x).</summary>
public readonly struct SiluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => x / (T.One + T.Exp(-x));
    public Vector512<T> Apply(Vector512<T> x) => x * default(SigmoidOp<T>).Apply(x);
    public Vector256<T> Apply(Vector256<T> x) => x * default(SigmoidOp<T>).Apply(x);
}

/// <summary>
/// SiLU'(x) = σ(x) (term 1, product rule on x) + x·σ(x)(1 − σ(x)) (term 2, σ' = σ(1 − σ))
/// = σ·(1 + x·(1 − σ)). One pass from x: dx += dy·σ·(1 + x(1 − σ)).
/// </summary>
public readonly struct SiluGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y)
    {
        T s = T.One / (T.One + T.Exp(-x));
        return dy * s * (T.One + x * (T.One - s));
    }

    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y)
    {
        var s = default(SigmoidOp<T>).Apply(x);
        return dy * s * (Vector512<T>.One + x * (Vector512<T>.One - s));
    }

    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y)
    {
        var s = default(SigmoidOp<T>).Apply(x);
        return dy * s * (Vector256<T>.One + x * (Vector256<T>.One - s));
    }
}

/// <summary>Named entry points for the activation kernels: forward y = f(x), backward (dX accumulate, dY, X).</summary>
public static class ActivationKernels
{
    public static void Gelu<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Apply<GeluOp<T>, T>(y, x);
    public static void GeluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Backward<GeluGrad<T>, T>(dx, dy, x, x);
    public static void Silu<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Apply<SiluOp<T>, T>(y, x);
    public static void SiluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Backward<SiluGrad<T>, T>(dx, dy, x, x);
    public static void Relu<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Apply<ReluOp<T>, T>(y, x);
    public static void ReluBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => UnaryKernel.Backward<ReluGrad<T>, T>(dx, dy, x, x);
}
