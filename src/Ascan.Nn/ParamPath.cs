// Parameter paths (candle's VarBuilder idea): dotted names built while modules are constructed.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>
/// A position in the module tree, e.g. <c>root.Sub("stages").Sub(0).Sub("attn")</c> = "stages.0.attn".
/// A module constructed on a path registers its parameters under it, so parameter names are exactly
/// PyTorch state-dict keys. The root carries what construction needs: the element type and the seeded
/// generator every initialiser draws from (in construction order, so the same seed builds the same model).
/// </summary>
public sealed class ParamPath
{
    private readonly Dictionary<string, ParamPath> _children = new();
    private readonly RootState _root;

    /// <summary>The dotted name of this position ("" at the root).</summary>
    public string Name { get; }

    public ParamPath? Parent { get; }

    /// <summary>The module constructed on this path, if any.</summary>
    public Module? Owner { get; internal set; }

    public DType DType => _root.DType;
    public Rng Rng => _root.Rng;

    private sealed class RootState(DType dtype, Rng rng)
    {
        public readonly DType DType = dtype;
        public readonly Rng Rng = rng;
        public readonly HashSet<string> Keys = new();
    }

    private ParamPath(RootState root, ParamPath? parent, string name) { _root = root; Parent = parent; Name = name; }

    /// <summary>A new tree: parameters in <paramref name="dtype"/>, initialised from <paramref name="rng"/> (seed 0 when null).</summary>
    public static ParamPath Root(DType dtype = DType.F32, Rng? rng = null) => new(new RootState(dtype, rng ?? new Rng(0)), null, "");

    /// <summary>The child position <paramref name="segment"/> (the same object on every call).</summary>
    public ParamPath Sub(string segment)
    {
        if (string.IsNullOrEmpty(segment) || segment.Contains('.'))
            throw new ArgumentException($"Path segment '{segment}' must be non-empty and contain no '.'; chain Sub calls instead.");
        if (!_children.TryGetValue(segment, out var p))
            _children[segment] = p = new ParamPath(_root, this, Key(segment));
        return p;
    }

    public ParamPath Sub(int index) => Sub(index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The full key of a tensor named <paramref name="leaf"/> at this position.</summary>
    public string Key(string leaf) => Name.Length == 0 ? leaf : Name + "." + leaf;

    /// <summary>Reserves a full key; two tensors can never share a name.</summary>
    internal void Claim(string key)
    {
        if (!_root.Keys.Add(key)) throw new InvalidOperationException($"Two tensors are registered under the same name '{key}'.");
    }

    /// <summary>Frees a key claimed by a module that has been removed from the tree.</summary>
    internal void Release(string key) => _root.Keys.Remove(key);

    public override string ToString() => Name.Length == 0 ? "<root>" : Name;
}
