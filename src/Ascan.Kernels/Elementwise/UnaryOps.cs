// Operator structs for neg, exp, log, sqrt, abs, pow (scalar exponent), clamp and their backward (dy·f').
using System.Numerics;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

// float uses FastMath's polynomials; float64 uses the BCL vector functions or the scalar Math form lane by lane,
// which keeps gradient checks accurate to ~1e-15 through the same driver.

public readonly struct NegOp<T> : IUnaryOp<T>, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => -x;
    public Vector512<T> Apply(Vector512<T> x) => -x;
    public Vector256<T> Apply(Vector256<T> x) => -x;
    public T Grad(T dy, T x, T y) => -dy;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => -dy;
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => -dy;
}

public readonly struct ExpOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Exp(x);
    public Vector512<T> Apply(Vector512<T> x) => typeof(T) == typeof(float)
        ? FastMath.Exp(x.As<T, float>()).As<float, T>() : Vector512.Exp(x.As<T, double>()).As<double, T>();
    public Vector256<T> Apply(Vector256<T> x) => typeof(T) == typeof(float)
        ? FastMath.Exp(x.As<T, float>()).As<float, T>() : Vector256.Exp(x.As<T, double>()).As<double, T>();
}

/// <summary>d e^x = e^x · dx = y · dy.</summary>
public readonly struct ExpGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => dy * y;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy * y;
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy * y;
}

public readonly struct LogOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Log(x);
    public Vector512<T> Apply(Vector512<T> x) => typeof(T) == typeof(float)
        ? Vector512.Log(x.As<T, float>()).As<float, T>() : Vector512.Log(x.As<T, double>()).As<double, T>();
    public Vector256<T> Apply(Vector256<T> x) => typeof(T) == typeof(float)
        ? Vector256.Log(x.As<T, float>()).As<float, T>() : Vector256.Log(x.As<T, double>()).As<double, T>();
}

/// <summary>d log x = dx / x.</summary>
public readonly struct LogGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => dy / x;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy / x;
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy / x;
}

public readonly struct SqrtOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Sqrt(x);
    public Vector512<T> Apply(Vector512<T> x) => Vector512.Sqrt(x);
    public Vector256<T> Apply(Vector256<T> x) => Vector256.Sqrt(x);
}

/// <summary>d √x = dx / (2√x) = dy / (2y) (∞ at x = 0, as PyTorch).</summary>
public readonly struct SqrtGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => dy / (y + y);
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) => dy / (y + y);
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) => dy / (y + y);
}

public readonly struct AbsOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Abs(x);
    public Vector512<T> Apply(Vector512<T> x) => Vector512.Abs(x);
    public Vector256<T> Apply(Vector256<T> x) => Vector256.Abs(x);
}

/// <summary>d|x| = sign(x)·dx with sign(0) = 0 (PyTorch's convention).</summary>
public readonly struct AbsGrad<T> : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Grad(T dy, T x, T y) => x > T.Zero ? dy : x < T.Zero ? -dy : T.Zero;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) =>
        (dy & Vector512.GreaterThan(x, Vector512<T>.Zero)) - (dy & Vector512.LessThan(x, Vector512<T>.Zero));
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) =>
        (dy & Vector256.GreaterThan(x, Vector256<T>.Zero)) - (dy & Vector256.LessThan(x, Vector256<T>.Zero));
}

/// <summary>x^p for a scalar exponent p; common exponents are vectorised, others go lane by lane through T.Pow.</summary>
public readonly struct PowOp<T>(T p) : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _p = p;
    private static readonly T Two = T.CreateTruncating(2), Three = T.CreateTruncating(3), Half = T.CreateTruncating(0.5);

    public T Apply(T x) => _p == Two ? x * x : T.Pow(x, _p);

    public Vector512<T> Apply(Vector512<T> x)
    {
        if (_p == Two) return x * x;
        if (_p == T.One) return x;
        if (_p == Three) return x * x * x;
        if (_p == Half) return Vector512.Sqrt(x);
        if (_p == -T.One) return Vector512<T>.One / x;
        return Lanes.Map(x, this);
    }

    public Vector256<T> Apply(Vector256<T> x)
    {
        if (_p == Two) return x * x;
        if (_p == T.One) return x;
        if (_p == Three) return x * x * x;
        if (_p == Half) return Vector256.Sqrt(x);
        if (_p == -T.One) return Vector256<T>.One / x;
        return Lanes.Map(x, this);
    }
}

/// <summary>d x^p = p·x^(p−1)·dx; exactly 0 for p = 0 (PyTorch masks it, avoiding 0·∞ at x = 0).</summary>
public readonly struct PowGrad<T>(T p) : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _p = p;
    private static readonly T Two = T.CreateTruncating(2);

    public T Grad(T dy, T x, T y) => _p == T.Zero ? T.Zero : _p == Two ? dy * (x + x) : dy * _p * T.Pow(x, _p - T.One);

    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y)
    {
        if (_p == T.Zero) return Vector512<T>.Zero;
        if (_p == T.One) return dy;
        if (_p == Two) return dy * (x + x);
        return Lanes.Grad(dy, x, y, this);
    }

    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y)
    {
        if (_p == T.Zero) return Vector256<T>.Zero;
        if (_p == T.One) return dy;
        if (_p == Two) return dy * (x + x);
        return Lanes.Grad(dy, x, y, this);
    }
}

/// <summary>min(max(x, lo), hi) as torch.clamp (a missing bound is ±∞; lo &gt; hi gives hi; NaN stays NaN).</summary>
public readonly struct ClampOp<T>(T lo, T hi) : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _lo = lo, _hi = hi;
    public T Apply(T x) => T.IsNaN(x) ? x : T.Min(T.Max(x, _lo), _hi);
    public Vector512<T> Apply(Vector512<T> x) =>
        Vector512.ConditionalSelect(Vector512.IsNaN(x), x, Vector512.Min(Vector512.Max(x, Vector512.Create(_lo)), Vector512.Create(_hi)));
    public Vector256<T> Apply(Vector256<T> x) =>
        Vector256.ConditionalSelect(Vector256.IsNaN(x), x, Vector256.Min(Vector256.Max(x, Vector256.Create(_lo)), Vector256.Create(_hi)));
}

/// <summary>The gradient passes where lo ≤ x ≤ hi, bounds included (torch.clamp's backward), else 0.</summary>
public readonly struct ClampGrad<T>(T lo, T hi) : IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _lo = lo, _hi = hi;
    public T Grad(T dy, T x, T y) => x >= _lo && x <= _hi ? dy : T.Zero;
    public Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y) =>
        dy & Vector512.GreaterThanOrEqual(x, Vector512.Create(_lo)) & Vector512.LessThanOrEqual(x, Vector512.Create(_hi));
    public Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y) =>
        dy & Vector256.GreaterThanOrEqual(x, Vector256.Create(_lo)) & Vector256.LessThanOrEqual(x, Vector256.Create(_hi));
}
