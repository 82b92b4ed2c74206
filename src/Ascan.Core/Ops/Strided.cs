// Strided iteration for view ops and broadcasting: coalesced dimensions walked row by row.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

/// <summary>
/// A loop nest over a shape with two operands given by their strides in that shape (stride 0 =
/// broadcast). Adjacent dimensions that are contiguous for both operands are merged, so the common
/// cases become one long row. Walk it with <see cref="Cursor"/>.
/// </summary>
internal sealed class RowPlan
{
    public readonly int[] Shape;     // coalesced; the last dim is the row
    public readonly int[] StridesA;
    public readonly int[] StridesB;

    public RowPlan(ReadOnlySpan<int> shape, ReadOnlySpan<int> stridesA, ReadOnlySpan<int> stridesB)
    {
        var sh = new List<int>(); var sa = new List<int>(); var sb = new List<int>();
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue; // size-1 dims never move the index
            int n = sh.Count;
            if (n > 0 && sa[n - 1] == stridesA[i] * shape[i] && sb[n - 1] == stridesB[i] * shape[i])
            {
                sh[n - 1] *= shape[i]; sa[n - 1] = stridesA[i]; sb[n - 1] = stridesB[i];
            }
            else { sh.Add(shape[i]); sa.Add(stridesA[i]); sb.Add(stridesB[i]); }
        }
        if (sh.Count == 0) { sh.Add(1); sa.Add(1); sb.Add(1); }
        Shape = sh.ToArray(); StridesA = sa.ToArray(); StridesB = sb.ToArray();
    }

    public int RowLength => Shape[^1];
    public int InnerA => StridesA[^1];
    public int InnerB => StridesB[^1];
    public int Rows { get { int r = 1; for (int i = 0; i < Shape.Length - 1; i++) r *= Shape[i]; return r; } }

    public Cursor Start(int baseA, int baseB) => new(this, baseA, baseB);

    /// <summary>Offsets of the current row's first element in A and B; Advance() moves to the next row.</summary>
    public struct Cursor
    {
        private readonly RowPlan _p;
        private readonly int[] _idx;
        public int A, B;

        public Cursor(RowPlan p, int a, int b) { _p = p; _idx = new int[p.Shape.Length]; A = a; B = b; }

        public void Advance()
        {
            for (int d = _p.Shape.Length - 2; d >= 0; d--)
            {
                _idx[d]++; A += _p.StridesA[d]; B += _p.StridesB[d];
                if (_idx[d] < _p.Shape[d]) return;
                A -= _p.StridesA[d] * _p.Shape[d]; B -= _p.StridesB[d] * _p.Shape[d]; _idx[d] = 0;
            }
        }
    }
}

internal static class Strided
{
    /// <summary>Strides of <paramref name="t"/> seen in the broadcast shape <paramref name="outShape"/> (0 on broadcast dims).</summary>
    public static int[] BroadcastStrides(Tensor t, ReadOnlySpan<int> outShape)
    {
        var r = new int[outShape.Length];
        int lead = outShape.Length - t.Rank;
        for (int i = 0; i < t.Rank; i++)
            r[lead + i] = t.Shape[i] == 1 && outShape[lead + i] != 1 ? 0 : t.Strides[i];
        return r;
    }

    /// <summary>dst (contiguous, the view's logical shape) = the elements of the view src.</summary>
    public static void Copy<T>(Span<T> dst, Tensor src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dstStrides = Tensor.ContiguousStrides(src.Shape);
        var plan = new RowPlan(src.Shape, dstStrides, src.Strides);
        var s = src.Storage.Array<T>();
        if (plan.RowLength < 16 && plan.InnerB != 1 && SourceRowPlan(src, dstStrides) is { } byRows)
        {
            // A short, strided row (NCHW → NHWC: rows of 3 channels): walk in the source's contiguous order instead,
            // long rows read in sequence and written with a stride.
            int len = byRows.RowLength, step = byRows.InnerA;
            var rc = byRows.Start(0, src.Offset);
            for (int r = 0, rows = byRows.Rows; r < rows; r++, rc.Advance())
            {
                var srow = s.AsSpan(rc.B, len);
                int a = rc.A;
                for (int i = 0; i < len; i++, a += step) dst[a] = srow[i];
            }
            return;
        }
        int n = plan.RowLength, inner = plan.InnerB;
        var c = plan.Start(0, src.Offset);
        for (int r = 0, rows = plan.Rows; r < rows; r++, c.Advance())
        {
            var d = dst.Slice(c.A, n);
            if (inner == 1) s.AsSpan(c.B, n).CopyTo(d);
            else for (int i = 0; i < n; i++) d[i] = s[c.B + i * inner];
        }
    }

    /// <summary>The copy's loop nest with the source's unit-stride dimension innermost, or null when there is none long enough.</summary>
    private static RowPlan? SourceRowPlan(Tensor src, int[] dstStrides)
    {
        int k = -1;
        for (int i = 0; i < src.Rank; i++)
            if (src.Strides[i] == 1 && src.Shape[i] >= 16) { k = i; break; }
        if (k < 0) return null;
        var order = Enumerable.Range(0, src.Rank).Where(i => i != k).Append(k).ToArray();
        return new RowPlan(order.Select(i => src.Shape[i]).ToArray(), order.Select(i => dstStrides[i]).ToArray(), order.Select(i => src.Strides[i]).ToArray());
    }

    /// <summary>The view dst += src (contiguous, dst's logical shape). dst must not overlap itself (no stride-0 dims).</summary>
    public static void AddInto<T>(Tensor dst, ReadOnlySpan<T> src) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = new RowPlan(dst.Shape, dst.Strides, Tensor.ContiguousStrides(dst.Shape));
        var d = dst.Storage.Array<T>();
        int n = plan.RowLength, inner = plan.InnerA;
        var c = plan.Start(dst.Offset, 0);
        for (int r = 0, rows = plan.Rows; r < rows; r++, c.Advance())
        {
            var srow = src.Slice(c.B, n);
            if (inner == 1)
            {
                var drow = d.AsSpan(c.A, n);
                BinaryKernel.Apply<AddOp<T>, T>(drow, drow, 1, srow, 1);
            }
            else for (int i = 0; i < n; i++) d[c.A + i * inner] += srow[i];
        }
    }

    /// <summary>
    /// Reduces g (contiguous, shape outShape) onto dst (contiguous, a shape that broadcasts to outShape):
    /// dst += sum of g over the broadcast dimensions. Sequential, so the result is deterministic.
    /// </summary>
    public static void SumTo<T>(Tensor dst, Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gs = g.Span<T>();
        var d = dst.Span<T>();
        if (ShapeUtil.Equal(dst.Shape, g.Shape)) { BinaryKernel.Apply<AddOp<T>, T>(d, d, 1, gs, 1); return; }
        var plan = new RowPlan(g.Shape, BroadcastStrides(dst, g.Shape), Tensor.ContiguousStrides(g.Shape));
        int n = plan.RowLength, inner = plan.InnerA;
        var c = plan.Start(0, 0);
        for (int r = 0, rows = plan.Rows; r < rows; r++, c.Advance())
        {
            var grow = gs.Slice(c.B, n);
            if (inner == 1) { var drow = d.Slice(c.A, n); BinaryKernel.Apply<AddOp<T>, T>(drow, drow, 1, grow, 1); }
            else d[c.A] += BinaryKernel.Sum(grow);
        }
    }
}
