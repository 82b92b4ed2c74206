// Integer indexing: index_select, gather and embedding lookups, with scatter-add backward.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// As torch.index_select. Shapes: x (…, N, …) → (…, indices.Length, …) along <paramref name="axis"/>.
    /// Repeated indices read the same slice and their gradients add up.
    /// </summary>
    public static Tensor IndexSelect(Tensor x, int axis, int[] indices)
    {
        using var _ = Profiler.Scope("IndexSelect");
        axis = ShapeUtil.Axis(axis, x.Rank);
        int n = x.Shape[axis];
        for (int k = 0; k < indices.Length; k++) CheckIndex("IndexSelect", k, indices[k], n, $"axis {axis}");
        var (outer, inner) = OuterInner(x.Shape, axis);
        var shape = x.ShapeArray(); shape[axis] = indices.Length;
        var idx = (int[])indices.Clone();
        var xc = x.Contiguous();
        var y = Tensor.Empty(shape, x.DType, zero: false);
        if (x.DType == DType.F32) SelectRows(y.Span<float>(), xc.Span<float>(), idx, n, outer, inner, false);
        else SelectRows(y.Span<double>(), xc.Span<double>(), idx, n, outer, inner, false);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new IndexSelectNode(x, idx, n, outer, inner));
        return y;
    }

    private sealed class IndexSelectNode(Tensor x, int[] idx, int n, int outer, int inner) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (g.DType == DType.F32) SelectRows(g.Span<float>(), dx.Span<float>(), idx, n, outer, inner, true);
            else SelectRows(g.Span<double>(), dx.Span<double>(), idx, n, outer, inner, true);
        }
    }

    /// <summary>
    /// Forward: y[o, k, :] = x[o, idx[k], :]. Backward (scatter): x[o, idx[k], :] += y[o, k, :], k in
    /// order, so repeated indices accumulate deterministically. x has n slices of length inner per o.
    /// </summary>
    private static void SelectRows<T>(Span<T> y, Span<T> x, int[] idx, int n, int outer, int inner, bool scatter)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = idx.Length;
        for (int o = 0; o < outer; o++)
        for (int k = 0; k < m; k++)
        {
            var yr = y.Slice((o * m + k) * inner, inner);
            var xr = x.Slice((o * n + idx[k]) * inner, inner);
            if (scatter) BinaryKernel.Apply<AddOp<T>, T>(xr, xr, 1, yr, 1); else xr.CopyTo(yr);
        }
    }

    /// <summary>
    /// As torch.gather: out[p] = x[p with its <paramref name="axis"/> coordinate replaced by index[p]].
    /// Shapes: index (indexShape, same rank as x, each other dim ≤ x's) → out (indexShape).
    /// </summary>
    public static Tensor Gather(Tensor x, int axis, int[] index, int[] indexShape)
    {
        using var _ = Profiler.Scope("Gather");
        axis = ShapeUtil.Axis(axis, x.Rank);
        if (indexShape.Length != x.Rank)
            throw new ArgumentException($"Gather: index shape {ShapeUtil.Format(indexShape)} must have the rank of the input {ShapeUtil.Format(x.Shape)}.");
        if (ShapeUtil.Numel(indexShape) != index.Length)
            throw new ArgumentException($"Gather: {index.Length} indices given for index shape {ShapeUtil.Format(indexShape)}.");
        for (int d = 0; d < x.Rank; d++)
            if (d != axis && indexShape[d] > x.Shape[d])
                throw new ArgumentException($"Gather: index shape {ShapeUtil.Format(indexShape)} exceeds input {ShapeUtil.Format(x.Shape)} in dim {d}.");
        int n = x.Shape[axis];
        for (int k = 0; k < index.Length; k++) CheckIndex("Gather", k, index[k], n, $"axis {axis}");
        var src = GatherOffsets(x.Shape, axis, index, indexShape);
        var xc = x.Contiguous();
        var y = Tensor.Empty(indexShape, x.DType, zero: false);
        if (x.DType == DType.F32) GatherScatter(y.Span<float>(), xc.Span<float>(), src, false);
        else GatherScatter(y.Span<double>(), xc.Span<double>(), src, false);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new GatherNode(x, src));
        return y;
    }

    private sealed class GatherNode(Tensor x, int[] src) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            // scatter_add: each output element's gradient goes to the input element it read.
            if (g.DType == DType.F32) GatherScatter(g.Span<float>(), dx.Span<float>(), src, true);
            else GatherScatter(g.Span<double>(), dx.Span<double>(), src, true);
        }
    }

    /// <summary>Flat input offset read by each output element of a gather.</summary>
    private static int[] GatherOffsets(ReadOnlySpan<int> xShape, int axis, int[] index, int[] indexShape)
    {
        var xs = Tensor.ContiguousStrides(xShape);
        var pos = new int[indexShape.Length];
        var r = new int[index.Length];
        for (int p = 0; p < index.Length; p++)
        {
            int off = 0;
            for (int d = 0; d < pos.Length; d++) off += (d == axis ? index[p] : pos[d]) * xs[d];
            r[p] = off;
            for (int d = pos.Length - 1; d >= 0; d--) { if (++pos[d] < indexShape[d]) break; pos[d] = 0; }
        }
        return r;
    }

    private static void GatherScatter<T>(Span<T> y, Span<T> x, int[] src, bool scatter) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scatter) for (int p = 0; p < src.Length; p++) x[src[p]] += y[p];
        else for (int p = 0; p < src.Length; p++) y[p] = x[src[p]];
    }

    /// <summary>
    /// Embedding lookup. Shapes: weight (N, D), ids (idsShape) → (idsShape…, D). The row
    /// <paramref name="paddingIdx"/> (negative counts from N) is looked up as usual but gets no gradient.
    /// </summary>
    public static Tensor Embedding(Tensor weight, int[] ids, int[] idsShape, int? paddingIdx = null)
    {
        using var _ = Profiler.Scope("Embedding");
        string wn = weight.Name != null ? $" ({weight.Name})" : "";
        if (weight.Rank != 2) throw new ArgumentException($"Embedding: weight{wn} must be (N, D), got {ShapeUtil.Format(weight.Shape)}.");
        if (ShapeUtil.Numel(idsShape) != ids.Length)
            throw new ArgumentException($"Embedding: {ids.Length} ids given for ids shape {ShapeUtil.Format(idsShape)}.");
        int n = weight.Dim(0), dim = weight.Dim(1);
        int? pad = paddingIdx;
        if (pad is { } p)
        {
            if (p < -n || p >= n) throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: paddingIdx {p} is outside [{-n}, {n}) for weight{wn} with {n} rows.");
            if (p < 0) pad = p + n;
        }
        for (int k = 0; k < ids.Length; k++) CheckIndex("Embedding", k, ids[k], n, $"the {n} rows of weight{wn}");
        var idx = (int[])ids.Clone();
        var wc = weight.Contiguous();
        var y = Tensor.Empty([.. idsShape, dim], weight.DType, zero: false);
        if (weight.DType == DType.F32) SelectRows(y.Span<float>(), wc.Span<float>(), idx, n, 1, dim, false);
        else SelectRows(y.Span<double>(), wc.Span<double>(), idx, n, 1, dim, false);
        if (Autograd.NeedsGraph(weight)) Autograd.Record(y, new EmbeddingNode(weight, idx, dim, pad));
        return y;
    }

    private sealed class EmbeddingNode(Tensor weight, int[] idx, int dim, int? pad) : Node(weight)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dw = GradOf(0); if (dw == null) return;
            // Rows looked up by the padding id are dropped: the padding vector stays as it was.
            var use = pad is { } p ? idx.Select(i => i == p ? -1 : i).ToArray() : idx;
            if (g.DType == DType.F32) ScatterRows(dw.Span<float>(), g.Span<float>(), use, dim);
            else ScatterRows(dw.Span<double>(), g.Span<double>(), use, dim);
        }

        private static void ScatterRows<T>(Span<T> dw, Span<T> g, int[] use, int dim) where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int k = 0; k < use.Length; k++)
            {
                if (use[k] < 0) continue;
                var d = dw.Slice(use[k] * dim, dim);
                BinaryKernel.Apply<AddOp<T>, T>(d, d, 1, g.Slice(k * dim, dim), 1);
            }
        }
    }

    private static void CheckIndex(string op, int position, int value, int size, string what)
    {
        if ((uint)value >= (uint)size)
            throw new IndexOutOfRangeException($"{op}: index {value} at position {position} is out of range for {what}; valid indices are 0 to {size - 1} (size {size}).");
    }
}

public sealed partial class Tensor
{
    public Tensor IndexSelect(int axis, int[] indices) => Ops.IndexSelect(this, axis, indices);
    public Tensor Gather(int axis, int[] index, int[] indexShape) => Ops.Gather(this, axis, index, indexShape);
}
