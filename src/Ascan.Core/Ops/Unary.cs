// Element-wise unary ops (neg, exp, log, sqrt, pow, abs, clamp), the shared unary forward/backward plumbing and its node.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    internal enum UnaryKind { Neg, Exp, Log, Sqrt, Abs, Pow, Clamp, Relu, Gelu, Silu, Sigmoid, Tanh }

    /// <summary>−x. Shapes: any → same.</summary>
    public static Tensor Neg(Tensor x) => Unary(x, UnaryKind.Neg);

    /// <summary>e^x. Shapes: any → same.</summary>
    public static Tensor Exp(Tensor x) => Unary(x, UnaryKind.Exp);

    /// <summary>Natural log (NaN below 0, −∞ at 0). Shapes: any → same.</summary>
    public static Tensor Log(Tensor x) => Unary(x, UnaryKind.Log);

    /// <summary>√x. Shapes: any → same.</summary>
    public static Tensor Sqrt(Tensor x) => Unary(x, UnaryKind.Sqrt);

    /// <summary>|x|; gradient sign(x) with sign(0) = 0. Shapes: any → same.</summary>
    public static Tensor Abs(Tensor x) => Unary(x, UnaryKind.Abs);

    /// <summary>x^exponent for a scalar exponent (torch.pow(tensor, number)). Shapes: any → same.</summary>
    public static Tensor Pow(Tensor x, double exponent) => Unary(x, UnaryKind.Pow, exponent);

    /// <summary>
    /// min(max(x, min), max) as torch.clamp; a null bound is absent. The gradient passes where
    /// min ≤ x ≤ max, bounds included (PyTorch 1.13's clamp_backward). Shapes: any → same.
    /// </summary>
    public static Tensor Clamp(Tensor x, double? min = null, double? max = null)
    {
        if (min == null && max == null) throw new ArgumentException("Clamp needs at least one of min and max.");
        return Unary(x, UnaryKind.Clamp, min ?? double.NegativeInfinity, max ?? double.PositiveInfinity);
    }

    private static readonly string[] UnaryNames = Enum.GetNames<UnaryKind>(); // by value: the profiler's op names

    internal static Tensor Unary(Tensor x, UnaryKind kind, double p0 = 0, double p1 = 0)
    {
        using var _ = Profiler.Scope(UnaryNames[(int)kind]);
        var xc = x.Detach().Contiguous();
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        if (x.DType == DType.F32) UnaryForward<float>(kind, y.Span<float>(), xc.Span<float>(), p0, p1);
        else UnaryForward<double>(kind, y.Span<double>(), xc.Span<double>(), p0, p1);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new UnaryNode(x, xc, y, kind, p0, p1));
        return y;
    }

    private static void UnaryForward<T>(UnaryKind kind, Span<T> y, ReadOnlySpan<T> x, double p0, double p1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T a = T.CreateTruncating(p0), b = T.CreateTruncating(p1);
        switch (kind)
        {
            case UnaryKind.Neg: UnaryKernel.Apply<NegOp<T>, T>(y, x); break;
            case UnaryKind.Exp: UnaryKernel.Apply<ExpOp<T>, T>(y, x); break;
            case UnaryKind.Log: UnaryKernel.Apply<LogOp<T>, T>(y, x); break;
            case UnaryKind.Sqrt: UnaryKernel.Apply<SqrtOp<T>, T>(y, x); break;
            case UnaryKind.Abs: UnaryKernel.Apply<AbsOp<T>, T>(y, x); break;
            case UnaryKind.Pow: UnaryKernel.Apply(y, x, new PowOp<T>(a)); break;
            case UnaryKind.Clamp: UnaryKernel.Apply(y, x, new ClampOp<T>(a, b)); break;
            case UnaryKind.Relu: UnaryKernel.Apply<ReluOp<T>, T>(y, x); break;
            case UnaryKind.Gelu: UnaryKernel.Apply<GeluOp<T>, T>(y, x); break;
            case UnaryKind.Silu: UnaryKernel.Apply<SiluOp<T>, T>(y, x); break;
            case UnaryKind.Sigmoid: UnaryKernel.Apply<SigmoidOp<T>, T>(y, x); break;
            default: UnaryKernel.Apply<TanhOp<T>, T>(y, x); break;
        }
    }

    /// <summary>dx += dy·f'(x), one fused pass; y = f(x) is used by exp, sqrt, sigmoid and tanh.</summary>
    private static void UnaryBackward<T>(UnaryKind kind, Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> y, double p0, double p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T a = T.CreateTruncating(p0), b = T.CreateTruncating(p1);
        switch (kind)
        {
            case UnaryKind.Neg: UnaryKernel.Backward<NegOp<T>, T>(dx, dy, dy, dy); break;
            case UnaryKind.Exp: UnaryKernel.Backward<ExpGrad<T>, T>(dx, dy, y, y); break;
            case UnaryKind.Log: UnaryKernel.Backward<LogGrad<T>, T>(dx, dy, x, x); break;
            case UnaryKind.Sqrt: UnaryKernel.Backward<SqrtGrad<T>, T>(dx, dy, y, y); break;
            case UnaryKind.Abs: UnaryKernel.Backward<AbsGrad<T>, T>(dx, dy, x, x); break;
            case UnaryKind.Pow: UnaryKernel.Backward(dx, dy, x, x, new PowGrad<T>(a)); break;
            case UnaryKind.Clamp: UnaryKernel.Backward(dx, dy, x, x, new ClampGrad<T>(a, b)); break;
            case UnaryKind.Relu: UnaryKernel.Backward<ReluGrad<T>, T>(dx, dy, x, x); break;
            case UnaryKind.Gelu: UnaryKernel.Backward<GeluGrad<T>, T>(dx, dy, x, x); break;
            case UnaryKind.Silu: UnaryKernel.Backward<SiluGrad<T>, T>(dx, dy, x, x); break;
            case UnaryKind.Sigmoid: UnaryKernel.Backward<SigmoidGrad<T>, T>(dx, dy, y, y); break;
            default: UnaryKernel.Backward<TanhGrad<T>, T>(dx, dy, y, y); break;
        }
    }

    /// <summary>Backward of every unary op: saves x or y (whichever the derivative needs) and runs one fused kernel.</summary>
    private sealed class UnaryNode : Node
    {
        private readonly UnaryKind _kind;
        private readonly double _p0, _p1;
        private Tensor? _saved; // x (contiguous) or y, by kind; null for neg

        public UnaryNode(Tensor x, Tensor xc, Tensor y, UnaryKind kind, double p0, double p1) : base(x)
        {
            _kind = kind; _p0 = p0; _p1 = p1;
            _saved = kind switch
            {
                UnaryKind.Neg => null,
                UnaryKind.Exp or UnaryKind.Sqrt or UnaryKind.Sigmoid or UnaryKind.Tanh => y.Detach(),
                _ => xc,
            };
        }

        public override string Name => _kind.ToString();

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0);
            if (dx == null) return;
            var s = _saved ?? g;
            if (dx.DType == DType.F32) UnaryBackward<float>(_kind, dx.Span<float>(), g.Span<float>(), s.Span<float>(), s.Span<float>(), _p0, _p1);
            else UnaryBackward<double>(_kind, dx.Span<double>(), g.Span<double>(), s.Span<double>(), s.Span<double>(), _p0, _p1);
        }

        protected internal override void ReleaseSaved()
        {
            // xc is a copy only when x was a strided view; y is the caller's output (kept).
            if (_kind is not (UnaryKind.Exp or UnaryKind.Sqrt or UnaryKind.Sigmoid or UnaryKind.Tanh)) ReleaseOwned(_saved, Inputs[0]);
            _saved = null;
        }
    }
}

public sealed partial class Tensor
{
    public Tensor Neg() => Ops.Neg(this);
    public Tensor Exp() => Ops.Exp(this);
    public Tensor Log() => Ops.Log(this);
    public Tensor Sqrt() => Ops.Sqrt(this);
    public Tensor Abs() => Ops.Abs(this);
    public Tensor Pow(double exponent) => Ops.Pow(this, exponent);
    public Tensor Clamp(double? min = null, double? max = null) => Ops.Clamp(this, min, max);
}
