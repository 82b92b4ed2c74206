// View ops: reshape, permute/transpose, slice, expand and contiguous — the only ops that know strides.
namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>Same elements, new shape (one dim may be -1). A view when the input is contiguous, else a copy.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        using var _ = Profiler.Scope("Reshape");
        var sh = ResolveShape(shape, x.Numel, x.Shape);
        var c = x.Contiguous();
        var y = new Tensor(c.Storage, sh, Tensor.ContiguousStrides(sh), c.Offset);
        if (Autograd.NeedsGraph(c)) Autograd.Record(y, new ReshapeNode(c));
        return y;
    }

    private static int[] ResolveShape(int[] shape, int numel, ReadOnlySpan<int> from)
    {
        var sh = (int[])shape.Clone();
        int infer = Array.IndexOf(sh, -1);
        if (infer >= 0)
        {
            if (Array.IndexOf(sh, -1, infer + 1) >= 0) throw new ArgumentException("Reshape: only one dimension may be -1.");
            int known = 1; for (int i = 0; i < sh.Length; i++) if (i != infer) known *= sh[i];
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"Reshape: cannot reshape {ShapeUtil.Format(from)} to {ShapeUtil.Format(shape)}.");
            sh[infer] = numel / known;
        }
        if (ShapeUtil.Numel(sh) != numel)
            throw new ArgumentException($"Reshape: cannot reshape {ShapeUtil.Format(from)} ({numel} elements) to {ShapeUtil.Format(shape)}.");
        return sh;
    }

    private sealed class ReshapeNode(Tensor x) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0);
            if (d != null) AddInPlace(d, Reshape(g, d.ShapeArray()));
        }
    }

    /// <summary>Reorders dimensions: result dim i is input dim axes[i]. Always a view.</summary>
    public static Tensor Permute(Tensor x, params int[] axes)
    {
        using var _ = Profiler.Scope("Permute");
        if (axes.Length != x.Rank) throw new ArgumentException($"Permute: {axes.Length} axes given for a tensor of rank {x.Rank}.");
        var norm = axes.Select(a => ShapeUtil.Axis(a, x.Rank)).ToArray();
        if (norm.Distinct().Count() != norm.Length) throw new ArgumentException($"Permute: axes [{string.Join(", ", axes)}] repeat a dimension.");
        var sh = norm.Select(a => x.Shape[a]).ToArray();
        var st = norm.Select(a => x.Strides[a]).ToArray();
        var y = new Tensor(x.Storage, sh, st, x.Offset);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new PermuteNode(x, norm));
        return y;
    }

    private sealed class PermuteNode(Tensor x, int[] axes) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0); if (d == null) return;
            var inverse = new int[axes.Length];
            for (int i = 0; i < axes.Length; i++) inverse[axes[i]] = i;
            AddInPlace(d, Permute(g, inverse));
        }
    }

    public static Tensor Transpose(Tensor x, int a, int b)
    {
        var axes = Enumerable.Range(0, x.Rank).ToArray();
        a = ShapeUtil.Axis(a, x.Rank); b = ShapeUtil.Axis(b, x.Rank);
        (axes[a], axes[b]) = (axes[b], axes[a]);
        return Permute(x, axes);
    }

    /// <summary>Elements start, start+step, … (length of them) along an axis. Always a view.</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length, int step = 1)
    {
        using var _ = Profiler.Scope("Slice");
        axis = ShapeUtil.Axis(axis, x.Rank);
        int n = x.Shape[axis];
        if (start < 0) start += n;
        if (step < 1) throw new ArgumentException("Slice: step must be positive.");
        if (length < 0 || start < 0 || (length > 0 && start + (length - 1) * step >= n))
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: [{start}, +{length}·{step}) is outside dimension {axis} of size {n}.");
        var sh = x.ShapeArray(); sh[axis] = length;
        var st = (int[])x.Strides.Clone(); st[axis] *= step;
        var y = new Tensor(x.Storage, sh, st, x.Offset + start * x.Strides[axis]);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new SliceNode(x, axis, start, length, step));
        return y;
    }

    private sealed class SliceNode(Tensor x, int axis, int start, int length, int step) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0); if (d == null) return;
            // The gradient buffer is contiguous: slice it the same way and add into that region.
            var sh = d.ShapeArray(); sh[axis] = length;
            var st = (int[])d.Strides.Clone(); st[axis] *= step;
            var region = new Tensor(d.Storage, sh, st, d.Offset + start * d.Strides[axis]);
            var gc = g.Contiguous();
            if (d.DType == DType.F32) Strided.AddInto<float>(region, gc.Span<float>()); else Strided.AddInto<double>(region, gc.Span<double>());
        }
    }

    /// <summary>Broadcasts size-1 dims (and new leading dims) to <paramref name="shape"/> without copying (stride 0).</summary>
    public static Tensor Expand(Tensor x, params int[] shape)
    {
        using var _ = Profiler.Scope("Expand");
        if (!ShapeUtil.Equal(ShapeUtil.Broadcast(x.Shape, shape), shape))
            throw new ArgumentException($"Expand: shape {ShapeUtil.Format(x.Shape)} cannot be expanded to {ShapeUtil.Format(shape)}.");
        var y = new Tensor(x.Storage, (int[])shape.Clone(), Strided.BroadcastStrides(x, shape), x.Offset);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new ExpandNode(x));
        return y;
    }

    private sealed class ExpandNode(Tensor x) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0); if (d != null) SumTo(d, g);
        }
    }

    /// <summary>The tensor itself when contiguous, else a contiguous copy (differentiable).</summary>
    public static Tensor Contiguous(Tensor x)
    {
        if (x.IsContiguous) return x;
        using var _ = Profiler.Scope("Contiguous"); // only calls that copy
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        if (x.DType == DType.F32) Strided.Copy(y.Span<float>(), x); else Strided.Copy(y.Span<double>(), x);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new ContiguousNode(x));
        return y;
    }

    private sealed class ContiguousNode(Tensor x) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0); if (d != null) AddInPlace(d, g);
        }
    }

    public static Tensor Unsqueeze(Tensor x, int axis)
    {
        axis = axis < 0 ? axis + x.Rank + 1 : axis;
        var sh = x.ShapeArray().ToList(); sh.Insert(axis, 1);
        return Reshape(x, sh.ToArray());
    }

    public static Tensor Squeeze(Tensor x, int axis)
    {
        axis = ShapeUtil.Axis(axis, x.Rank);
        if (x.Shape[axis] != 1) throw new ArgumentException($"Squeeze: dimension {axis} has size {x.Shape[axis]}, not 1.");
        var sh = x.ShapeArray().ToList(); sh.RemoveAt(axis);
        return Reshape(x, sh.ToArray());
    }

    /// <summary>Merges dims start..end (inclusive) into one.</summary>
    public static Tensor Flatten(Tensor x, int start = 0, int end = -1)
    {
        start = ShapeUtil.Axis(start, x.Rank); end = ShapeUtil.Axis(end, x.Rank);
        var sh = new List<int>();
        for (int i = 0; i < start; i++) sh.Add(x.Shape[i]);
        int m = 1; for (int i = start; i <= end; i++) m *= x.Shape[i];
        sh.Add(m);
        for (int i = end + 1; i < x.Rank; i++) sh.Add(x.Shape[i]);
        return Reshape(x, sh.ToArray());
    }
}

public sealed partial class Tensor
{
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);
    public Tensor Permute(params int[] axes) => Ops.Permute(this, axes);
    public Tensor Transpose(int a, int b) => Ops.Transpose(this, a, b);
    public Tensor Slice(int axis, int start, int length, int step = 1) => Ops.Slice(this, axis, start, length, step);
    public Tensor Expand(params int[] shape) => Ops.Expand(this, shape);
    public Tensor Contiguous() => Ops.Contiguous(this);
    public Tensor Unsqueeze(int axis) => Ops.Unsqueeze(this, axis);
    public Tensor Squeeze(int axis) => Ops.Squeeze(this, axis);
    public Tensor Flatten(int start = 0, int end = -1) => Ops.Flatten(this, start, end);
}
