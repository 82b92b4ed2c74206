// Shape ops: concatenation, split/chunk (views), and padding with PyTorch's F.pad convention.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public enum PadMode { Constant, Reflect, Replicate }

public static partial class Ops
{
    /// <summary>
    /// Shapes: inputs agree on every dim but <paramref name="axis"/> → that dim is the sum of theirs.
    /// Copied as outer × (size·inner) blocks, so concatenating channels of NHWC maps is one block per pixel.
    /// </summary>
    public static Tensor Cat(IReadOnlyList<Tensor> xs, int axis)
    {
        using var _ = Profiler.Scope("Cat");
        if (xs.Count == 0) throw new ArgumentException("Cat: needs at least one tensor.");
        var first = xs[0];
        axis = ShapeUtil.Axis(axis, first.Rank);
        var shape = first.ShapeArray(); shape[axis] = 0;
        for (int i = 0; i < xs.Count; i++)
        {
            var t = xs[i];
            CheckSameDType(first, t, "Cat");
            bool ok = t.Rank == first.Rank;
            for (int d = 0; ok && d < t.Rank; d++) ok = d == axis || t.Shape[d] == first.Shape[d];
            if (!ok) throw new ArgumentException($"Cat: tensor {i} has shape {ShapeUtil.Format(t.Shape)}, which does not match {ShapeUtil.Format(first.Shape)} outside axis {axis}.");
            shape[axis] += t.Shape[axis];
        }
        var (outer, inner) = OuterInner(shape, axis);
        var y = Tensor.Empty(shape, first.DType, zero: false);
        int total = shape[axis] * inner, off = 0;
        foreach (var t in xs)
        {
            int len = t.Shape[axis] * inner;
            var tc = t.Contiguous();
            if (y.DType == DType.F32) CopyBlocks(y.Span<float>(), total, off, tc.Span<float>(), len, 0, len, outer, false);
            else CopyBlocks(y.Span<double>(), total, off, tc.Span<double>(), len, 0, len, outer, false);
            off += len;
        }
        if (Autograd.NeedsGraph(xs.ToArray())) Autograd.Record(y, new CatNode(xs.ToArray(), axis));
        return y;
    }

    private sealed class CatNode(Tensor[] xs, int axis) : Node(xs)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var (outer, inner) = OuterInner(g.Shape, axis);
            int total = g.Dim(axis) * inner, off = 0;
            for (int i = 0; i < Inputs.Length; i++)
            {
                int len = Inputs[i].Shape[axis] * inner;
                if (GradOf(i) is { } d)
                {
                    // Each input's gradient is its own block of the output gradient.
                    if (g.DType == DType.F32) CopyBlocks(d.Span<float>(), len, 0, g.Span<float>(), total, off, len, outer, true);
                    else CopyBlocks(d.Span<double>(), len, 0, g.Span<double>(), total, off, len, outer, true);
                }
                off += len;
            }
        }
    }

    internal static (int Outer, int Inner) OuterInner(ReadOnlySpan<int> shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, inner);
    }

    /// <summary>For r in [0, rows): dst[r·dstRow + dstOff, +len) (+)= src[r·srcRow + srcOff, +len).</summary>
    private static void CopyBlocks<T>(Span<T> dst, int dstRow, int dstOff, ReadOnlySpan<T> src, int srcRow, int srcOff, int len, int rows, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var s = src.Slice(r * srcRow + srcOff, len);
            var d = dst.Slice(r * dstRow + dstOff, len);
            if (accumulate) BinaryKernel.Apply<AddOp<T>, T>(d, d, 1, s, 1); else s.CopyTo(d);
        }
    }

    /// <summary>Views of consecutive pieces of the given sizes along an axis (sizes must add up to its length).</summary>
    public static Tensor[] Split(Tensor x, int[] sizes, int axis)
    {
        axis = ShapeUtil.Axis(axis, x.Rank);
        if (sizes.Any(s => s < 0) || sizes.Sum() != x.Shape[axis])
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] must be non-negative and add up to {x.Shape[axis]}, the size of axis {axis} of {ShapeUtil.Format(x.Shape)}.");
        var r = new Tensor[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++) r[i] = Slice(x, axis, start, sizes[i]);
        return r;
    }

    /// <summary>As torch.chunk: pieces of ⌈n/chunks⌉ along an axis, the last one smaller; may return fewer than asked.</summary>
    public static Tensor[] Chunk(Tensor x, int chunks, int axis)
    {
        if (chunks < 1) throw new ArgumentException($"Chunk: chunks must be at least 1, got {chunks}.");
        axis = ShapeUtil.Axis(axis, x.Rank);
        int n = x.Shape[axis], size = (n + chunks - 1) / chunks;
        if (n == 0) return Enumerable.Range(0, chunks).Select(_ => Slice(x, axis, 0, 0)).ToArray();
        var sizes = new List<int>();
        for (int start = 0; start < n; start += size) sizes.Add(Math.Min(size, n - start));
        return Split(x, sizes.ToArray(), axis);
    }

    /// <summary>
    /// As torch.nn.functional.pad: pads = (last_lo, last_hi, prev_lo, prev_hi, …), pairs from the last
    /// dim backwards; negative pads crop. Reflect (pad &lt; size, edge not repeated) and replicate too.
    /// Example NHWC: Pad(x, [0, 0, 1, 1, 2, 2]) pads W by 1 and H by 2 on each side.
    /// </summary>
    public static Tensor Pad(Tensor x, int[] pads, double value = 0, PadMode mode = PadMode.Constant)
    {
        using var _ = Profiler.Scope("Pad");
        if (pads.Length % 2 != 0 || pads.Length / 2 > x.Rank)
            throw new ArgumentException($"Pad: {pads.Length} pads given for a tensor of rank {x.Rank}; need pairs (lo, hi) for at most {x.Rank} dims.");
        // maps[d][o] = the input index read by output index o along dim d, or −1 for the fill value.
        var shape = x.ShapeArray();
        var maps = new int[x.Rank][];
        for (int d = 0; d < x.Rank; d++)
        {
            int k = x.Rank - 1 - d, lo = 2 * k < pads.Length ? pads[2 * k] : 0, hi = 2 * k < pads.Length ? pads[2 * k + 1] : 0;
            int n = x.Shape[d], o = n + lo + hi;
            if (o < 0) throw new ArgumentException($"Pad: pads ({lo}, {hi}) crop dim {d} of size {n} to a negative size.");
            if (mode == PadMode.Reflect && (lo >= n || hi >= n))
                throw new ArgumentException($"Pad: reflect padding ({lo}, {hi}) must be smaller than dim {d} of size {n}.");
            if (mode == PadMode.Replicate && n == 0 && o > 0) throw new ArgumentException($"Pad: cannot replicate-pad the empty dim {d}.");
            var m = new int[o];
            for (int i = 0; i < o; i++)
            {
                int s = i - lo;
                m[i] = mode switch
                {
                    PadMode.Reflect => s < 0 ? -s : s >= n ? 2 * (n - 1) - s : s,
                    PadMode.Replicate => Math.Clamp(s, 0, n - 1),
                    _ => s >= 0 && s < n ? s : -1,
                };
            }
            maps[d] = m; shape[d] = o;
        }
        var xc = x.Contiguous();
        var y = Tensor.Empty(shape, x.DType, zero: false);
        if (x.DType == DType.F32) PadWalk<float>(y.Span<float>(), xc.Span<float>(), x.Shape, maps, (float)value, backward: false);
        else PadWalk<double>(y.Span<double>(), xc.Span<double>(), x.Shape, maps, value, backward: false);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new PadNode(x, maps));
        return y;
    }

    private sealed class PadNode(Tensor x, int[][] maps) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            // Each output element read one input element (or none): send its gradient back there.
            if (g.DType == DType.F32) PadWalk<float>(g.Span<float>(), dx.Span<float>(), dx.Shape, maps, 0, backward: true);
            else PadWalk<double>(g.Span<double>(), dx.Span<double>(), dx.Shape, maps, 0, backward: true);
        }
    }

    /// <summary>
    /// Walks the output (shape = map lengths) row by row. Forward: y[o] = x[map(o)] or the fill value.
    /// Backward: x[map(o)] += y[o] (here x is dX and y is dY), in a fixed order.
    /// </summary>
    private static void PadWalk<T>(Span<T> y, Span<T> x, ReadOnlySpan<int> inShape, int[][] maps, T fill, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rank = maps.Length;
        if (rank == 0) { if (backward) x[0] += y[0]; else y[0] = x[0]; return; }
        var last = maps[rank - 1];
        int rowLen = last.Length, inRow = inShape[rank - 1], rows = y.Length / Math.Max(rowLen, 1);
        if (rowLen == 0 || y.Length == 0) return;
        bool identity = rowLen == inRow && last.Select((m, i) => m == i).All(b => b);
        var idx = new int[rank];
        var inStrides = Tensor.ContiguousStrides(inShape);
        for (int r = 0; r < rows; r++)
        {
            int src = 0; bool inside = true;
            for (int d = 0; d < rank - 1; d++)
            {
                int m = maps[d][idx[d]];
                if (m < 0) { inside = false; break; }
                src += m * inStrides[d];
            }
            var yrow = y.Slice(r * rowLen, rowLen);
            if (!inside) { if (!backward) yrow.Fill(fill); }
            else if (identity)
            {
                var xrow = x.Slice(src, inRow);
                if (backward) BinaryKernel.Apply<AddOp<T>, T>(xrow, xrow, 1, yrow, 1); else xrow.CopyTo(yrow);
            }
            else
            {
                for (int i = 0; i < rowLen; i++)
                {
                    int m = last[i];
                    if (backward) { if (m >= 0) x[src + m] += yrow[i]; }
                    else yrow[i] = m >= 0 ? x[src + m] : fill;
                }
            }
            for (int d = rank - 2; d >= 0; d--) { if (++idx[d] < maps[d].Length) break; idx[d] = 0; }
        }
    }
}

public sealed partial class Tensor
{
    public Tensor[] Split(int[] sizes, int axis) => Ops.Split(this, sizes, axis);
    public Tensor[] Chunk(int chunks, int axis) => Ops.Chunk(this, chunks, axis);
    public Tensor Pad(int[] pads, double value = 0, PadMode mode = PadMode.Constant) => Ops.Pad(this, pads, value, mode);
}
