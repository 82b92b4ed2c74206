// Counts multiply-accumulates of conv, linear, matmul and attention while a forward pass runs.
namespace Ascan.Core;

/// <summary>
/// <c>using var c = MacCounter.Begin(); model.Forward(x); c.Total</c> gives the MACs of that pass:
/// conv2d, linear, matmul and the two attention matmuls (q·kᵀ and p·v), one per multiply-add — the
/// rule SPEC §2 uses for its GMACs column. Norms, activations and pooling are not counted.
/// </summary>
public sealed class MacCounter : IDisposable
{
    [ThreadStatic] private static MacCounter? _current;
    private readonly MacCounter? _parent;

    public long Total { get; private set; }

    private MacCounter(MacCounter? parent) { _parent = parent; }

    public static MacCounter Begin() => _current = new MacCounter(_current);

    internal static void Add(long macs)
    {
        for (var c = _current; c != null; c = c._parent) c.Total += macs;
    }

    public void Dispose() { if (_current == this) _current = _parent; }
}
