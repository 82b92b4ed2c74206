// Softmax and log-softmax along an axis (fused row kernels on the last axis), with their backward nodes.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>Numerically stable softmax along <paramref name="axis"/>. Shapes: result like x.</summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => SoftmaxAlong(x, axis, log: false);

    /// <summary>Numerically stable log-softmax along <paramref name="axis"/>. Shapes: result like x.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => SoftmaxAlong(x, axis, log: true);

    private static Tensor SoftmaxAlong(Tensor x, int axis, bool log)
    {
        using var _ = Profiler.Scope(log ? "LogSoftmax" : "Softmax");
        if (x.Rank == 0) throw new ArgumentException("Softmax needs a tensor of rank ≥ 1.");
        int a = ShapeUtil.Axis(axis, x.Rank);
        if (a != x.Rank - 1)
        {
            // Other axes: move the axis last (a view), run the row kernel, move it back (differentiable views).
            var moved = SoftmaxLast(x.Transpose(a, -1), log);
            return moved.Transpose(a, -1).Contiguous();
        }
        return SoftmaxLast(x, log);
    }

    private static Tensor SoftmaxLast(Tensor x, bool log)
    {
        int n = x.Dim(-1), rows = n == 0 ? 0 : x.Numel / n;
        var xc = Dense(x);
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        if (x.DType == DType.F32)
        {
            if (log) SoftmaxKernel.LogForward(y.Span<float>(), xc.Span<float>(), rows, n); else SoftmaxKernel.Forward(y.Span<float>(), xc.Span<float>(), rows, n);
        }
        else
        {
            if (log) SoftmaxKernel.LogForward(y.Span<double>(), xc.Span<double>(), rows, n); else SoftmaxKernel.Forward(y.Span<double>(), xc.Span<double>(), rows, n);
        }
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new SoftmaxNode(x, y.Detach(), rows, n, log));
        return y;
    }

    /// <summary>Backward from the saved output alone: softmax dx = y∘(dy − Σdy∘y); log-softmax dx = dy − e^y·Σdy.</summary>
    private sealed class SoftmaxNode(Tensor x, Tensor y, int rows, int n, bool log) : Node(x)
    {
        private Tensor? _y = y;

        public override string Name => log ? "LogSoftmax" : "Softmax";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (g.DType == DType.F32) Run<float>(dx, g); else Run<double>(dx, g);
        }

        private void Run<T>(Tensor dx, Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (log) SoftmaxKernel.LogBackward(dx.Span<T>(), g.Span<T>(), _y!.Span<T>(), rows, n);
            else SoftmaxKernel.Backward(dx.Span<T>(), g.Span<T>(), _y!.Span<T>(), rows, n);
        }

        protected internal override void ReleaseSaved() => _y = null;
    }
}

public sealed partial class Tensor
{
    public Tensor Softmax(int axis = -1) => Ops.Softmax(this, axis);
    public Tensor LogSoftmax(int axis = -1) => Ops.LogSoftmax(this, axis);
}
