// The block contract of the C/T hybrids: a C block or a T block, same shape in and out, optionally conditioned.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>
/// A block of a hybrid stage: 'C' (<see cref="ConvBlock"/>) or 'T' (<see cref="TransformerBlock"/>), mapping a
/// channels-last map (B, H, W, C) to one of the same shape. A classifier calls <see cref="Forward(Tensor)"/>; a
/// diffusion UNet passes the time(+class) embedding and, for text, the context tokens.
/// </summary>
public abstract class HybridBlock(ParamPath p) : Module(p), ILayer
{
    /// <summary>'C' or 'T'.</summary>
    public abstract char Kind { get; }

    public abstract double DropPathRate { get; }

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C).</summary>
    public Tensor Forward(Tensor x) => Forward(x, null, null);

    /// <summary>
    /// Shapes: x (B, H, W, C); cond (B, D) — the embedding the block's scale/shift (or adaptive LayerNorm) reads,
    /// null when it has none; context (B, S, Dc) — tokens its cross-attention reads, null when it has none →
    /// (B, H, W, C).
    /// </summary>
    public abstract Tensor Forward(Tensor x, Tensor? cond, Tensor? context);

    /// <summary>(B, D) → (B, 1, …, 1, D) with <paramref name="rank"/> axes, to broadcast over a map or token axis.</summary>
    protected static Tensor Broadcastable(Tensor v, int rank)
    {
        var shape = Enumerable.Repeat(1, rank).ToArray();
        shape[0] = v.Dim(0); shape[^1] = v.Dim(1);
        return v.Reshape(shape);
    }

    /// <summary>x·(1 + scale) + shift (DiT's modulate, ADM's scale-shift norm). scale, shift broadcast to x.</summary>
    protected static Tensor Modulate(Tensor x, Tensor scale, Tensor shift) => Ops.Add(Ops.Mul(x, Ops.Add(scale, 1.0)), shift);

    /// <summary>Column block <paramref name="i"/> of <paramref name="n"/> equal blocks of (B, n·C), as (B, 1, …, C) of <paramref name="rank"/> axes.</summary>
    protected static Tensor Chunk(Tensor v, int n, int i, int rank)
    {
        int c = v.Dim(1) / n;
        return Broadcastable(Ops.Slice(v, 1, i * c, c).Contiguous(), rank);
    }

    /// <summary>The condition a conditioned block needs, checked: (B, D) with B of the input.</summary>
    protected Tensor RequireCond(Tensor? cond, int dim, Tensor x)
    {
        if (cond == null || cond.Rank != 2 || cond.Dim(1) != dim || cond.Dim(0) != x.Dim(0))
            throw new ArgumentException($"{GetType().Name} {Path}: needs a condition embedding (B, {dim}) with B = {x.Dim(0)}, got {(cond == null ? "none" : ShapeUtil.Format(cond.Shape))}.");
        return cond;
    }
}
