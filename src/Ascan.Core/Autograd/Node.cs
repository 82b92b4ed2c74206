// The autograd node: one per op application, holding what its backward needs in explicit fields.
namespace Ascan.Core;

/// <summary>
/// Records how an output was computed. <see cref="Backward"/> receives the output's gradient
/// (contiguous, output shape) and <b>accumulates</b> into the gradients of its inputs, obtained
/// with <see cref="GradOf"/> (null when that input needs no gradient, so the work is skipped).
/// Subclasses keep saved tensors in fields and clear them in <see cref="ReleaseSaved"/>.
/// </summary>
public abstract class Node
{
    internal readonly Tensor[] Inputs;
    internal bool Released;

    protected Node(params Tensor[] inputs) { Inputs = inputs; }

    public virtual string Name => GetType().Name.EndsWith("Node") ? GetType().Name[..^4] : GetType().Name;

    protected internal abstract void Backward(Tensor dOut);

    /// <summary>Drops saved tensors once the backward pass has used them.</summary>
    protected internal virtual void ReleaseSaved() { }

    /// <summary>
    /// Returns the pooled buffer of a saved tensor that only this node can see — a copy the op made for itself (its
    /// storage differs from <paramref name="input"/>'s, or there is no input to compare: op-internal statistics or a
    /// converted weight) — so a long backward pass does not hold every step's copies until the scope ends.
    /// </summary>
    protected static void ReleaseOwned(Tensor? saved, Tensor? input = null)
    {
        if (saved == null || (input != null && ReferenceEquals(saved.Storage, input.Storage))) return;
        saved.Storage.Release();
    }

    /// <summary>
    /// The contiguous gradient buffer of input <paramref name="i"/> to accumulate into
    /// (zero-filled on first use), or null when that input does not require a gradient.
    /// </summary>
    protected Tensor? GradOf(int i) => Autograd.GradBuffer(Inputs[i]);

    /// <summary>
    /// <see cref="GradOf"/> for a backward that computes every element of input <paramref name="i"/>'s gradient in one go:
    /// when no earlier consumer has written that gradient, its buffer comes uninitialised and <paramref name="fresh"/> is
    /// true — the node must then <b>overwrite</b> all of it (no zero-fill pass, no re-reading zeros to add to).
    /// Otherwise (a second consumer, or a leaf's persistent gradient) fresh is false and the node adds as usual.
    /// A node that takes the same tensor twice must write the fresh buffer before anything else adds to it.
    /// </summary>
    protected Tensor? GradOfForOverwrite(int i, out bool fresh) => Autograd.GradBuffer(Inputs[i], allowUninitialised: true, out fresh);

    protected bool NeedsGrad(int i) => Inputs[i].RequiresGrad;
}
