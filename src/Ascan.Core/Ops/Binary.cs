// Broadcasting add, sub, mul, div (tensor and scalar forms) with their backward.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    internal enum BinaryKind { Add, Sub, Mul, Div }

    public static Tensor Add(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Add);
    public static Tensor Sub(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Sub);
    public static Tensor Mul(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Mul);
    public static Tensor Div(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Div);

    public static Tensor Add(Tensor a, double s) => Binary(a, Tensor.Scalar(s, a.DType), BinaryKind.Add);
    public static Tensor Sub(Tensor a, double s) => Binary(a, Tensor.Scalar(s, a.DType), BinaryKind.Sub);
    public static Tensor Sub(double s, Tensor a) => Binary(Tensor.Scalar(s, a.DType), a, BinaryKind.Sub);
    public static Tensor Mul(Tensor a, double s) => Binary(a, Tensor.Scalar(s, a.DType), BinaryKind.Mul);
    public static Tensor Div(Tensor a, double s) => Binary(a, Tensor.Scalar(s, a.DType), BinaryKind.Div);
    public static Tensor Div(double s, Tensor a) => Binary(Tensor.Scalar(s, a.DType), a, BinaryKind.Div);

    /// <summary>dst += src (src broadcast to dst's shape), no graph: for gradient accumulation and optimizers.</summary>
    public static void AddInPlace(Tensor dst, Tensor src)
    {
        using var _ = Profiler.Scope("AddInPlace");
        if (!dst.IsContiguous) throw new ArgumentException("AddInPlace needs a contiguous destination.");
        if (!ShapeUtil.Equal(ShapeUtil.Broadcast(dst.Shape, src.Shape), dst.Shape))
            throw new ArgumentException($"Cannot add a tensor of shape {ShapeUtil.Format(src.Shape)} into one of shape {ShapeUtil.Format(dst.Shape)}.");
        CheckSameDType(dst, src, "AddInPlace");
        if (dst.DType == DType.F32) RunBinary<AddOp<float>, float>(dst, dst, src.Contiguous());
        else RunBinary<AddOp<double>, double>(dst, dst, src.Contiguous());
    }

    internal static void CheckSameDType(Tensor a, Tensor b, string op)
    {
        if (a.DType != b.DType) throw new ArgumentException($"{op}: element types differ ({a.DType} and {b.DType}); convert one with To().");
    }

    private static readonly string[] BinaryNames = Enum.GetNames<BinaryKind>(); // by value: the profiler's op names

    internal static Tensor Binary(Tensor a, Tensor b, BinaryKind kind)
    {
        using var _ = Profiler.Scope(BinaryNames[(int)kind]);
        CheckSameDType(a, b, kind.ToString());
        var shape = ShapeUtil.Broadcast(a.Shape, b.Shape);
        var y = Tensor.Empty(shape, a.DType, zero: false);
        var ac = a.Contiguous(); var bc = b.Contiguous();
        if (a.DType == DType.F32) BinaryDispatch<float>(y, ac, bc, kind); else BinaryDispatch<double>(y, ac, bc, kind);
        if (Autograd.NeedsGraph(a, b)) Autograd.Record(y, new BinaryNode(a, b, kind));
        return y;
    }

    private static void BinaryDispatch<T>(Tensor y, Tensor a, Tensor b, BinaryKind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case BinaryKind.Add: RunBinary<AddOp<T>, T>(y, a, b); break;
            case BinaryKind.Sub: RunBinary<SubOp<T>, T>(y, a, b); break;
            case BinaryKind.Mul: RunBinary<MulOp<T>, T>(y, a, b); break;
            default: RunBinary<DivOp<T>, T>(y, a, b); break;
        }
    }

    /// <summary>y (contiguous, broadcast shape) = Op(a, b) with a and b contiguous, broadcast by stride 0.</summary>
    internal static void RunBinary<TOp, T>(Tensor y, Tensor a, Tensor b)
        where TOp : struct, IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ys = y.Span<T>();
        var aArr = a.Storage.Array<T>(); var bArr = b.Storage.Array<T>();
        var plan = new RowPlan(y.Shape, Strided.BroadcastStrides(a, y.Shape), Strided.BroadcastStrides(b, y.Shape));
        int n = plan.RowLength, ia = plan.InnerA, ib = plan.InnerB;
        var c = plan.Start(a.Offset, b.Offset);
        for (int r = 0, rows = plan.Rows; r < rows; r++, c.Advance())
            BinaryKernel.Apply<TOp, T>(ys.Slice(r * n, n),
                aArr.AsSpan(c.A, ia == 0 ? 1 : n), ia, bArr.AsSpan(c.B, ib == 0 ? 1 : n), ib);
    }

    private sealed class BinaryNode : Node
    {
        private readonly BinaryKind _kind;
        private Tensor? _a, _b; // saved for mul/div

        public BinaryNode(Tensor a, Tensor b, BinaryKind kind) : base(a, b)
        {
            _kind = kind;
            if (kind is BinaryKind.Mul or BinaryKind.Div) { _a = a.Detach(); _b = b.Detach(); }
        }

        public override string Name => _kind.ToString();

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var da = GradOf(0); var db = GradOf(1);
            switch (_kind)
            {
                case BinaryKind.Add:
                    if (da != null) SumTo(da, g);
                    if (db != null) SumTo(db, g);
                    break;
                case BinaryKind.Sub:
                    if (da != null) SumTo(da, g);
                    if (db != null) SumTo(db, Mul(g, -1.0));
                    break;
                case BinaryKind.Mul:
                    // d(a·b)/da = b, d(a·b)/db = a
                    if (da != null) SumTo(da, Mul(g, _b!));
                    if (db != null) SumTo(db, Mul(g, _a!));
                    break;
                default:
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b²
                    if (da != null) SumTo(da, Div(g, _b!));
                    if (db != null) SumTo(db, Mul(Div(Div(g, _b!), _b!), Mul(_a!, -1.0)));
                    break;
            }
        }

        protected internal override void ReleaseSaved() { _a = null; _b = null; }
    }

    /// <summary>dst (a contiguous gradient buffer) += g summed over the dims where dst was broadcast.</summary>
    internal static void SumTo(Tensor dst, Tensor g)
    {
        g = g.Contiguous();
        if (dst.DType == DType.F32) Strided.SumTo<float>(dst, g); else Strided.SumTo<double>(dst, g);
    }
}

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator +(Tensor a, double s) => Ops.Add(a, s);
    public static Tensor operator +(double s, Tensor a) => Ops.Add(a, s);
    public static Tensor operator -(Tensor a, double s) => Ops.Sub(a, s);
    public static Tensor operator -(double s, Tensor a) => Ops.Sub(s, a);
    public static Tensor operator *(Tensor a, double s) => Ops.Mul(a, s);
    public static Tensor operator *(double s, Tensor a) => Ops.Mul(a, s);
    public static Tensor operator /(Tensor a, double s) => Ops.Div(a, s);
    public static Tensor operator /(double s, Tensor a) => Ops.Div(s, a);
    public static Tensor operator -(Tensor a) => Ops.Neg(a);
}
