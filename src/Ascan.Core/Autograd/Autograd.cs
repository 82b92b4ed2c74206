// Reverse-mode differentiation: graph recording rules, the no-grad scope and the backward pass.
namespace Ascan.Core;

public static class Autograd
{
    [ThreadStatic] private static int _noGradDepth;

    /// <summary>Whether ops record graph nodes on this thread.</summary>
    public static bool IsEnabled => _noGradDepth == 0;

    /// <summary>Inside the returned scope no graph is recorded (inference, optimizer steps).</summary>
    public static NoGradScope NoGrad() { _noGradDepth++; return new NoGradScope(); }

    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => _noGradDepth--;
    }

    /// <summary>True when an op over these inputs must record a node.</summary>
    public static bool NeedsGraph(Tensor a) => _noGradDepth == 0 && a.RequiresGrad;
    public static bool NeedsGraph(Tensor a, Tensor b) => _noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad);
    public static bool NeedsGraph(params Tensor?[] inputs)
    {
        if (_noGradDepth != 0) return false;
        foreach (var t in inputs) if (t != null && t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Attaches <paramref name="node"/> as the producer of <paramref name="output"/>.</summary>
    public static Tensor Record(Tensor output, Node node)
    {
        output.GradFn = node;
        output.SetRequiresGradFromOp();
        return output;
    }

    /// <summary>For ops without a backward: throws when a gradient would be needed.</summary>
    public static void NoBackward(string op, params Tensor?[] inputs)
    {
        if (NeedsGraph(inputs))
            throw new NotSupportedException($"{op} has no backward, but one of its inputs requires a gradient. Detach the input or run it under Autograd.NoGrad().");
    }

    internal static Tensor? GradBuffer(Tensor t) => GradBuffer(t, allowUninitialised: false, out _);

    /// <summary>The gradient buffer of t; a non-leaf's first one is left uninitialised when allowed (fresh: the caller overwrites it).</summary>
    internal static Tensor? GradBuffer(Tensor t, bool allowUninitialised, out bool fresh)
    {
        fresh = false;
        if (!t.RequiresGrad) return null;
        if (t.IsLeaf)
        {
            if (t.Grad == null)
            {
                var s = Storage.AllocatePersistent(t.DType, t.Numel);
                t.Grad = new Tensor(s, t.ShapeArray());
            }
            return t.Grad;
        }
        if (t.PendingGrad != null) return t.PendingGrad;
        fresh = allowUninitialised;
        return t.PendingGrad = Tensor.Empty(t.Shape, t.DType, zero: !allowUninitialised);
    }

    /// <summary>
    /// Back-propagates from <paramref name="root"/>. Without <paramref name="gradient"/> the root must
    /// have one element and is seeded with 1. Leaf gradients accumulate across calls; saved
    /// tensors are released, so a graph can be traversed once.
    /// </summary>
    public static void Backward(Tensor root, Tensor? gradient = null)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() on a tensor that does not require a gradient (no input had RequiresGrad, or it was computed under NoGrad).");
        if (gradient == null && root.Numel != 1)
            throw new InvalidOperationException($"Backward() without a gradient needs a one-element output, got shape {ShapeUtil.Format(root.Shape)}.");
        if (gradient != null && !ShapeUtil.Equal(gradient.Shape, root.Shape))
            throw new ArgumentException($"Gradient shape {ShapeUtil.Format(gradient.Shape)} does not match output shape {ShapeUtil.Format(root.Shape)}.");

        var order = TopologicalOrder(root);
        var seed = GradBuffer(root)!;
        if (gradient == null) Ops.AddInPlace(seed, Tensor.Full(1, root.DType, root.ShapeArray()));
        else Ops.AddInPlace(seed, gradient);

        using var _ = NoGrad();
        // Reverse topological order: every consumer of a tensor runs before its producer.
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            var node = t.GradFn!;
            var g = t.PendingGrad;
            t.PendingGrad = null;
            if (g == null) continue;
            if (node.Released)
                throw new InvalidOperationException($"Trying to backward through {node.Name} a second time: its saved tensors were released after the first backward.");
            node.Backward(g);
            node.ReleaseSaved();
            node.Released = true;
            // The output's gradient is autograd's own buffer and has now been consumed: back to the pool at once,
            // so the backward pass holds a few gradients at a time rather than one per activation.
            g.Storage.Release();
        }
    }

    /// <summary>Non-leaf tensors reachable from root, producers before consumers (iterative DFS).</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        if (root.GradFn == null) return order;
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn!.Inputs;
            if (next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var child = inputs[next];
                if (child.GradFn != null && child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(t);
        }
        return order;
    }
}

public sealed partial class Tensor
{
    internal void SetRequiresGradFromOp() => _requiresGrad = true;

    /// <summary>Back-propagates from this tensor (see <see cref="Autograd.Backward"/>).</summary>
    public void Backward(Tensor? gradient = null) => Autograd.Backward(this, gradient);
}
