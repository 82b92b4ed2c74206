// Reductions over any set of axes (sum, mean, max, var) with keepDim, and their backward.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>Σ over <paramref name="axes"/> (null = all). Shapes: x (…) → x with those axes removed (or 1 with keepDim).</summary>
    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDim = false) => SumOrMean(x, axes, keepDim, mean: false);
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => SumOrMean(x, new[] { axis }, keepDim, mean: false);

    /// <summary>Mean over <paramref name="axes"/> (null = all); NaN over an empty axis. Shapes as <see cref="Sum(Tensor, int[], bool)"/>.</summary>
    public static Tensor Mean(Tensor x, int[]? axes = null, bool keepDim = false) => SumOrMean(x, axes, keepDim, mean: true);
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => SumOrMean(x, new[] { axis }, keepDim, mean: true);

    /// <summary>
    /// Max values along one axis, as torch.max(x, dim).values: the gradient goes to the first position
    /// holding the max. Propagates NaN. Shapes: x (…) → x without that axis (or 1 with keepDim).
    /// </summary>
    public static Tensor Max(Tensor x, int axis, bool keepDim = false) => MaxCore(x, new[] { axis }, keepDim, evenly: false);

    /// <summary>
    /// Max over <paramref name="axes"/> (null = all), as torch.amax / torch.max(x): with ties the gradient is
    /// split evenly among all positions equal to the max (PyTorch 1.13's evenly_distribute_backward; checked:
    /// x = [1, 2, 3, 2, 3] gives [0, 0, .5, 0, .5]). Shapes as <see cref="Sum(Tensor, int[], bool)"/>.
    /// </summary>
    public static Tensor Max(Tensor x, int[]? axes = null, bool keepDim = false) => MaxCore(x, axes, keepDim, evenly: true);

    /// <summary>Variance over <paramref name="axes"/> (null = all), as torch.var(unbiased): divisor R − 1 when unbiased, else R.</summary>
    public static Tensor Var(Tensor x, int[]? axes = null, bool unbiased = true, bool keepDim = false) => Var(x, axes, unbiased ? 1.0 : 0.0, keepDim);
    public static Tensor Var(Tensor x, int axis, bool unbiased = true, bool keepDim = false) => Var(x, new[] { axis }, unbiased ? 1.0 : 0.0, keepDim);

    /// <summary>Variance with divisor max(0, R − correction) (torch.var(correction=…)); NaN/∞ when that is 0, as PyTorch.</summary>
    public static Tensor Var(Tensor x, int[]? axes, double correction, bool keepDim = false)
    {
        using var _ = Profiler.Scope("Var");
        var p = ReducePlan.Of(x.Shape, axes, keepDim);
        var src = p.Source(x);
        var y = Tensor.Empty(p.OutShape, x.DType, zero: false);
        var mean = Tensor.Empty(p.OutShape, x.DType, zero: false);
        if (x.DType == DType.F32) ReduceKernel.Var(y.Span<float>(), mean.Span<float>(), src.Span<float>(), p.Outer, p.R, p.Inner, correction);
        else ReduceKernel.Var(y.Span<double>(), mean.Span<double>(), src.Span<double>(), p.Outer, p.R, p.Inner, correction);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new VarNode(x, p, src, mean, correction));
        return y;
    }

    private static Tensor SumOrMean(Tensor x, int[]? axes, bool keepDim, bool mean)
    {
        using var _ = Profiler.Scope(mean ? "Mean" : "Sum");
        var p = ReducePlan.Of(x.Shape, axes, keepDim);
        var src = p.Source(x);
        var y = Tensor.Empty(p.OutShape, x.DType, zero: false);
        if (x.DType == DType.F32)
        {
            if (mean) ReduceKernel.Mean(y.Span<float>(), src.Span<float>(), p.Outer, p.R, p.Inner);
            else ReduceKernel.Sum(y.Span<float>(), src.Span<float>(), p.Outer, p.R, p.Inner);
        }
        else
        {
            if (mean) ReduceKernel.Mean(y.Span<double>(), src.Span<double>(), p.Outer, p.R, p.Inner);
            else ReduceKernel.Sum(y.Span<double>(), src.Span<double>(), p.Outer, p.R, p.Inner);
        }
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new SumNode(x, p, mean));
        return y;
    }

    private static Tensor MaxCore(Tensor x, int[]? axes, bool keepDim, bool evenly)
    {
        using var _ = Profiler.Scope("Max");
        var p = ReducePlan.Of(x.Shape, axes, keepDim);
        if (p.R == 0) throw new ArgumentException($"Max over an empty axis of a tensor of shape {ShapeUtil.Format(x.Shape)}.");
        var src = p.Source(x);
        var y = Tensor.Empty(p.OutShape, x.DType, zero: false);
        if (x.DType == DType.F32) ReduceKernel.Max(y.Span<float>(), src.Span<float>(), p.Outer, p.R, p.Inner);
        else ReduceKernel.Max(y.Span<double>(), src.Span<double>(), p.Outer, p.R, p.Inner);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new MaxNode(x, p, src, y.Detach(), evenly));
        return y;
    }

    /// <summary>
    /// How a reduction sees its input: (Outer, R, Inner) over a contiguous source. When the reduced axes
    /// (ignoring size-1 dims) are one run, the source is the input itself — last axes give rows (Inner = 1),
    /// leading axes give column sums (Outer = 1, e.g. NHWC per-channel) — otherwise the reduced axes are
    /// permuted last into a copy (Perm) and reduced as rows.
    /// </summary>
    private sealed class ReducePlan
    {
        public int Outer = 1, R = 1, Inner = 1;
        public int[]? Perm;
        public int[] KeepShape = [], OutShape = [];

        public static ReducePlan Of(ReadOnlySpan<int> shapeSpan, int[]? axes, bool keepDim)
        {
            var shape = shapeSpan.ToArray();
            int rank = shape.Length;
            var ax = ShapeUtil.Axes(axes, rank);
            var red = new bool[rank];
            foreach (var a in ax) red[a] = true;
            var p = new ReducePlan
            {
                KeepShape = Enumerable.Range(0, rank).Select(d => red[d] ? 1 : shape[d]).ToArray(),
                OutShape = Enumerable.Range(0, rank).Where(d => keepDim || !red[d]).Select(d => red[d] ? 1 : shape[d]).ToArray(),
            };
            // Phase 0: kept dims before the run, 1: inside the reduced run, 2: kept dims after it; 3: not a run.
            int phase = 0;
            for (int d = 0; d < rank && phase < 3; d++)
            {
                if (shape[d] == 1) continue;
                if (red[d]) { if (phase == 0) phase = 1; else if (phase == 2) phase = 3; }
                else if (phase == 1) phase = 2;
                if (phase == 3) break;
                if (phase == 0) p.Outer *= shape[d]; else if (phase == 1) p.R *= shape[d]; else p.Inner *= shape[d];
            }
            if (phase == 3)
            {
                p.Perm = Enumerable.Range(0, rank).Where(d => !red[d]).Concat(ax).ToArray();
                p.Outer = 1; p.R = 1; p.Inner = 1;
                for (int d = 0; d < rank; d++) { if (red[d]) p.R *= shape[d]; else p.Outer *= shape[d]; }
            }
            return p;
        }

        /// <summary>The contiguous, graph-free tensor the kernels read: x itself or its permuted copy.</summary>
        public Tensor Source(Tensor x) => Perm == null ? x.Detach().Contiguous() : x.Detach().Permute(Perm).Contiguous();

        /// <summary>dx += t, where t is in the source layout (permuted back when needed).</summary>
        public void AddBack(Tensor dx, Tensor t)
        {
            if (Perm == null) { AddInPlace(dx, t.Reshape(dx.ShapeArray())); return; }
            var inverse = new int[Perm.Length];
            for (int i = 0; i < Perm.Length; i++) inverse[Perm[i]] = i;
            var permShape = Perm.Select(a => dx.Shape[a]).ToArray();
            AddInPlace(dx, t.Reshape(permShape).Permute(inverse));
        }
    }

    /// <summary>Sum: dx += dy broadcast over the reduced axes; mean also scales by 1/R.</summary>
    private sealed class SumNode(Tensor x, ReducePlan p, bool mean) : Node(x)
    {
        public override string Name => mean ? "Mean" : "Sum";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            var gk = g.Reshape(p.KeepShape);
            AddInPlace(dx, mean ? Mul(gk, 1.0 / p.R) : gk);
        }
    }

    /// <summary>Max: dy to the first max (single axis) or split evenly over ties (amax / full).</summary>
    private sealed class MaxNode(Tensor x, ReducePlan p, Tensor src, Tensor y, bool evenly) : Node(x)
    {
        private Tensor? _src = src, _y = y;

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (p.Perm == null) Run(dx, g);
            else { var t = Tensor.Empty(_src!.Shape, dx.DType); Run(t, g); p.AddBack(dx, t); }
        }

        private void Run(Tensor dx, Tensor g)
        {
            if (dx.DType == DType.F32) ReduceKernel.MaxBackward(dx.Span<float>(), g.Span<float>(), _src!.Span<float>(), _y!.Span<float>(), p.Outer, p.R, p.Inner, evenly);
            else ReduceKernel.MaxBackward(dx.Span<double>(), g.Span<double>(), _src!.Span<double>(), _y!.Span<double>(), p.Outer, p.R, p.Inner, evenly);
        }

        protected internal override void ReleaseSaved() { _src = null; _y = null; }
    }

    /// <summary>Var: dx += dy·2(x − μ)/max(0, R − correction) (the mean's own dependence on x cancels, see the kernel).</summary>
    private sealed class VarNode(Tensor x, ReducePlan p, Tensor src, Tensor mean, double correction) : Node(x)
    {
        private Tensor? _src = src, _mean = mean;

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (p.Perm == null) Run(dx, g);
            else { var t = Tensor.Empty(_src!.Shape, dx.DType); Run(t, g); p.AddBack(dx, t); }
        }

        private void Run(Tensor dx, Tensor g)
        {
            if (dx.DType == DType.F32) ReduceKernel.VarBackward(dx.Span<float>(), g.Span<float>(), _src!.Span<float>(), _mean!.Span<float>(), p.Outer, p.R, p.Inner, correction);
            else ReduceKernel.VarBackward(dx.Span<double>(), g.Span<double>(), _src!.Span<double>(), _mean!.Span<double>(), p.Outer, p.R, p.Inner, correction);
        }

        protected internal override void ReleaseSaved() { _src = null; _mean = null; }
    }
}

public sealed partial class Tensor
{
    public Tensor Sum(int[]? axes = null, bool keepDim = false) => Ops.Sum(this, axes, keepDim);
    public Tensor Sum(int axis, bool keepDim = false) => Ops.Sum(this, axis, keepDim);
    public Tensor Mean(int[]? axes = null, bool keepDim = false) => Ops.Mean(this, axes, keepDim);
    public Tensor Mean(int axis, bool keepDim = false) => Ops.Mean(this, axis, keepDim);
    public Tensor Max(int axis, bool keepDim = false) => Ops.Max(this, axis, keepDim);
    public Tensor Max(int[]? axes = null, bool keepDim = false) => Ops.Max(this, axes, keepDim);
    public Tensor Var(int[]? axes = null, bool unbiased = true, bool keepDim = false) => Ops.Var(this, axes, unbiased, keepDim);
    public Tensor Var(int axis, bool unbiased = true, bool keepDim = false) => Ops.Var(this, axis, unbiased, keepDim);
    public Tensor Var(int[]? axes, double correction, bool keepDim = false) => Ops.Var(this, axes, correction, keepDim);
}
