// Containers: Sequential (chains ILayer children in order) and ModuleList (indexed children "0", "1", …).
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>
/// Children at "&lt;path&gt;.0", "&lt;path&gt;.1", … run in order. Add with <see cref="Add{T}"/>, which builds the
/// child on the next index path: <c>seq.Add(q => new Linear(q, 3, 4))</c>.
/// </summary>
public sealed class Sequential(ParamPath p) : Module(p), ILayer
{
    public int Count => Children.Count;

    public T Add<T>(Func<ParamPath, T> make) where T : Module, ILayer => make(Path.Sub(Count));

    public ILayer this[int i] => (ILayer)Children[i].Module;

    /// <summary>Shapes: whatever the chain maps. On the fused inference path each intermediate is freed once the next exists.</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var input = x;
        foreach (var (_, m) in Children)
        {
            var y = ((ILayer)m).Forward(x);
            if (!ReferenceEquals(x, input) && !ReferenceEquals(y, x)) InferenceFusion.Free(fused, x);
            x = y;
        }
        return x;
    }
}

/// <summary>Typed, indexed children ("blocks.0", "blocks.1", …), as torch's ModuleList.</summary>
public sealed class ModuleList<T>(ParamPath p) : Module(p) where T : Module
{
    private readonly List<T> _items = new();

    public int Count => _items.Count;
    public T this[int i] => _items[i];
    public IReadOnlyList<T> Items => _items;

    public T Add(Func<ParamPath, T> make)
    {
        var m = make(Path.Sub(_items.Count));
        if (!ReferenceEquals(m.Path.Parent, Path)) throw new InvalidOperationException("ModuleList.Add: build the item on the path it is given.");
        _items.Add(m);
        return m;
    }
}
