// Optimizer base: parameter groups with their own lr / weight decay, named state for checkpoints, ZeroGrad.
using Ascan.Core;

namespace Ascan.Nn.Optim;

/// <summary>A set of parameters sharing hyper-parameters (torch's param_groups entry).</summary>
public sealed class ParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? weightDecay = null)
{
    public IReadOnlyList<Tensor> Params { get; } = parameters.ToList();
    /// <summary>Learning rate; null takes the optimizer's default. Schedulers set it each step.</summary>
    public double? Lr { get; set; } = lr;
    public double? WeightDecay { get; set; } = weightDecay;
}

public abstract class Optimizer
{
    private readonly List<ParamGroup> _groups;

    protected Optimizer(IEnumerable<ParamGroup> groups)
    {
        _groups = groups.ToList();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var g in _groups)
        foreach (var p in g.Params)
        {
            if (!seen.Add(p)) throw new ArgumentException($"Parameter {p.Name ?? p.ToString()} appears in more than one group.");
            if (!p.IsLeaf || !p.IsContiguous) throw new ArgumentException($"Parameter {p.Name} must be a contiguous leaf tensor.");
        }
        // An optimizer is built once, after its model was built and its weights loaded, right before training: what
        // that left on the managed heap (initial values, a loaded file's tensors) goes back to the OS now rather than
        // adding to the peak memory of the first training steps.
        InferenceFusion.CollectBeforePacking();
    }

    public IReadOnlyList<ParamGroup> Groups => _groups;

    /// <summary>Every parameter with its group, in order.</summary>
    protected IEnumerable<(Tensor Param, ParamGroup Group, int Index)> All()
    {
        int i = 0;
        foreach (var g in _groups) foreach (var p in g.Params) yield return (p, g, i++);
    }

    /// <summary>One update of every parameter that has a gradient (parameters without one are skipped, as torch).</summary>
    public abstract void Step();

    /// <summary>Zeroes gradients in place (no reallocation), or drops them with <paramref name="setToNone"/>.</summary>
    public void ZeroGrad(bool setToNone = false)
    {
        foreach (var (p, _, _) in All())
        {
            if (p.Grad == null) continue;
            if (setToNone) { p.Grad = null; continue; }
            if (p.Grad.DType == DType.F32) p.Grad.Span<float>().Clear(); else p.Grad.Span<double>().Clear();
        }
    }

    /// <summary>The key prefix of a parameter's state: its name when it has one, else "param{index}".</summary>
    protected static string StateKey(Tensor p, int index) => p.Name ?? $"param{index}";

    /// <summary>Optimizer state as named tensors ("&lt;param&gt;.exp_avg", "&lt;param&gt;.step", …), copies for checkpointing.</summary>
    public abstract Dictionary<string, Tensor> StateDict();

    /// <summary>Restores state written by <see cref="StateDict"/>; throws on a missing or mis-shaped entry.</summary>
    public abstract void LoadStateDict(IReadOnlyDictionary<string, Tensor> state);

    protected static Tensor NewState(Tensor like) => Tensor.Zeros(like.DType, like.ShapeArray()).Clone();

    protected static Tensor Read(IReadOnlyDictionary<string, Tensor> state, string key, Tensor like)
    {
        if (!state.TryGetValue(key, out var t)) throw new KeyNotFoundException($"Optimizer state has no entry '{key}'.");
        if (!ShapeUtil.Equal(t.Shape, like.Shape))
            throw new ArgumentException($"Optimizer state '{key}' has shape {ShapeUtil.Format(t.Shape)}, parameter has {ShapeUtil.Format(like.Shape)}.");
        return t.To(like.DType).Clone();
    }

    protected static long ReadStep(IReadOnlyDictionary<string, Tensor> state, string key)
    {
        if (!state.TryGetValue(key, out var t)) throw new KeyNotFoundException($"Optimizer state has no entry '{key}'.");
        return (long)Math.Round(t.Item());
    }

    protected static Tensor StepTensor(long step) => Tensor.Scalar(step, DType.F64).Clone();
}

public static class ParamGroups
{
    /// <summary>
    /// timm's param_groups_weight_decay: parameters of rank ≤ 1 (norm weights, biases), names ending in ".bias"
    /// and names in <paramref name="noDecay"/> get weight decay 0; the rest get <paramref name="weightDecay"/>.
    /// Returns [no-decay group, decay group], as timm.
    /// </summary>
    public static ParamGroup[] WeightDecay(Module model, double weightDecay, IEnumerable<string>? noDecay = null)
    {
        var skip = new HashSet<string>(noDecay ?? []);
        var decay = new List<Tensor>(); var none = new List<Tensor>();
        foreach (var (name, p) in model.NamedParameters())
            (p.Rank <= 1 || name.EndsWith(".bias", StringComparison.Ordinal) || skip.Contains(name) ? none : decay).Add(p);
        return [new ParamGroup(none, weightDecay: 0.0), new ParamGroup(decay, weightDecay: weightDecay)];
    }
}
