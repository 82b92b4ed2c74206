// The module base: parameters, buffers and children registered on construction, mode, dtype and state dicts.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>A module that maps one tensor to one tensor (what <see cref="Sequential"/> chains).</summary>
public interface ILayer
{
    Tensor Forward(Tensor x);
}

/// <summary>
/// Base of every layer and model. A module is built on a <see cref="Nn.ParamPath"/>: its parameters get that
/// path's keys, and it attaches itself as a child of the nearest module above it in the path tree, so the
/// tree is known without reflection and in construction order. Parameters come before buffers, and a
/// module's own tensors before its children's, as in a PyTorch state dict.
/// </summary>
public abstract class Module
{
    private readonly List<Parameter> _parameters = new();
    private readonly List<Parameter> _buffers = new();
    private readonly List<(string Name, Module Module)> _children = new();

    public ParamPath Path { get; }

    /// <summary>Training mode (dropout active, BatchNorm uses batch statistics); set with Train()/Eval().</summary>
    public bool Training { get; private set; } = true;

    private bool _fusedInference = true;

    /// <summary>
    /// Whether this module's layers take their fused inference path when it applies (eval mode, float32, no autograd
    /// graph to record; see <see cref="InferenceFusion"/>): BatchNorm folded into the conv before it, activations and
    /// residual adds in the output step of the GEMM, weights packed once, intermediates freed as soon as they are
    /// consumed. Outputs equal the plain layers' up to float rounding. Default on; setting it applies to the whole
    /// subtree (off runs every layer as in training, the oracle the fused path is tested against).
    /// </summary>
    public bool FusedInference
    {
        get => _fusedInference;
        set { foreach (var m in Modules()) m._fusedInference = value; }
    }

    protected Module(ParamPath path)
    {
        Path = path;
        if (path.Owner != null) throw new InvalidOperationException($"Path '{path}' already holds a {path.Owner.GetType().Name}.");
        path.Owner = this;
        for (var up = path.Parent; up != null; up = up.Parent)
        {
            if (up.Owner == null) continue;
            string rel = up.Name.Length == 0 ? path.Name : path.Name[(up.Name.Length + 1)..];
            up.Owner._children.Add((rel, this));
            break;
        }
    }

    /// <summary>Creates a trainable parameter <paramref name="name"/> of the given shape, filled by <paramref name="init"/>.</summary>
    protected Parameter AddParameter(string name, int[] shape, Initializer init) => Add(name, shape, init, isBuffer: false);

    /// <summary>Creates a buffer (saved in the state dict, never trained).</summary>
    protected Parameter AddBuffer(string name, int[] shape, Initializer init) => Add(name, shape, init, isBuffer: true);

    private Parameter Add(string name, int[] shape, Initializer init, bool isBuffer)
    {
        string key = Path.Key(name);
        Path.Claim(key);
        int n = ShapeUtil.Numel(shape);
        // One reused double scratch and the persistent storage itself: building a large model this way leaves no
        // per-tensor garbage behind (it would otherwise stay in the process's peak memory).
        var values = InitScratch(n);
        init(values, shape, Path.Rng);
        var storage = Storage.AllocatePersistent(Path.DType, n);
        if (Path.DType == DType.F32)
        {
            var dst = storage.Array<float>();
            for (int i = 0; i < n; i++) dst[i] = (float)values[i];
        }
        else values.CopyTo(storage.Array<double>());
        var t = Tensor.FromStorage(storage, shape);
        var p = new Parameter(key, t, isBuffer);
        (isBuffer ? _buffers : _parameters).Add(p);
        return p;
    }

    [ThreadStatic] private static double[]? _initScratch;

    private static Span<double> InitScratch(int n)
    {
        if (_initScratch == null || _initScratch.Length < n) _initScratch = new double[Math.Max(n, 1 << 16)];
        return _initScratch.AsSpan(0, n);
    }

    /// <summary>Drops this thread's initialisation scratch (as large as the largest parameter, in double) once a model is built.</summary>
    public static void ReleaseInitScratch() => _initScratch = null;

    /// <summary>A copy whose storage never returns to a TensorScope pool (parameters outlive every step).</summary>
    internal static Tensor Persistent(Tensor t) => t.Clone();

    public IReadOnlyList<(string Name, Module Module)> Children => _children;

    /// <summary>
    /// Removes the child registered as <paramref name="name"/> (its path relative to this module, e.g. "head")
    /// with its whole subtree: its keys leave the state dict and its path can hold a new module, which then
    /// registers at the end. The removed module must not be used afterwards.
    /// </summary>
    protected Module RemoveChild(string name)
    {
        int i = ChildIndex(name);
        var old = _children[i].Module;
        _children.RemoveAt(i);
        old.SetRegistered(false);
        return old;
    }

    /// <summary>
    /// Replaces the child <paramref name="name"/> with <c>make(path)</c> built on the same path, keeping its place
    /// in the state dict and the removed child's mode (train/eval) and element type (a model moved to F64 gets
    /// an F64 replacement). When <paramref name="make"/> throws, the old child is put back.
    /// </summary>
    protected T ReplaceChild<T>(string name, Func<ParamPath, T> make) where T : Module
    {
        int i = ChildIndex(name);
        var old = _children[i].Module;
        _children.RemoveAt(i);
        old.SetRegistered(false);
        int count = _children.Count;
        T m;
        try
        {
            m = make(old.Path);
            if (!ReferenceEquals(m.Path, old.Path))
                throw new InvalidOperationException($"ReplaceChild('{name}'): build the new module on the path it is given ({old.Path}), not on {m.Path}.");
        }
        catch
        {
            // Undo whatever make registered before failing, then restore the old child in its place.
            for (int k = _children.Count - 1; k >= count; k--) { _children[k].Module.SetRegistered(false); _children.RemoveAt(k); }
            old.SetRegistered(true);
            _children.Insert(i, (name, old));
            throw;
        }
        // The constructor appended the new module to this module's children; move it to the old slot.
        int j = _children.FindIndex(c => ReferenceEquals(c.Module, m));
        _children.RemoveAt(j);
        _children.Insert(i, (name, m));
        var dtype = old.Slots().Select(s => (DType?)s.Value.DType).FirstOrDefault();
        if (dtype is DType d) m.To(d);
        m.Train(old.Training);
        m.FusedInference = old.FusedInference;
        return m;
    }

    private int ChildIndex(string name)
    {
        int i = _children.FindIndex(c => c.Name == name);
        if (i < 0) throw new ArgumentException($"{this} has no child '{name}'; children: {string.Join(", ", _children.Select(c => c.Name))}.");
        return i;
    }

    /// <summary>Claims (or frees) the paths and keys of this subtree, for removal and restore.</summary>
    private void SetRegistered(bool on)
    {
        foreach (var m in Modules())
        {
            m.Path.Owner = on ? m : null;
            foreach (var s in m._parameters.Concat(m._buffers))
                if (on) m.Path.Claim(s.Name); else m.Path.Release(s.Name);
        }
    }

    /// <summary>This module and every descendant, depth first in construction order.</summary>
    public IEnumerable<Module> Modules()
    {
        yield return this;
        foreach (var (_, c) in _children) foreach (var m in c.Modules()) yield return m;
    }

    /// <summary>Parameter and buffer slots of the whole tree (parameters then buffers per module).</summary>
    public IEnumerable<Parameter> Slots()
    {
        foreach (var m in Modules())
        {
            foreach (var p in m._parameters) yield return p;
            foreach (var b in m._buffers) yield return b;
        }
    }

    public IEnumerable<(string Name, Tensor Value)> NamedParameters() =>
        Modules().SelectMany(m => m._parameters).Select(p => (p.Name, p.Value));

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Value);

    public IEnumerable<(string Name, Tensor Value)> NamedBuffers() =>
        Modules().SelectMany(m => m._buffers).Select(p => (p.Name, p.Value));

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Numel);

    /// <summary>Every parameter and buffer by its state-dict key, in state-dict order (tensors are shared, not copied).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var s in Slots()) d[s.Name] = s.Value;
        return d;
    }

    public void Train(bool on = true)
    {
        foreach (var m in Modules()) m.Training = on;
    }

    public void Eval() => Train(false);

    /// <summary>Converts every parameter and buffer to <paramref name="dtype"/> (e.g. F64 for gradient checks). Build optimizers afterwards.</summary>
    public void To(DType dtype)
    {
        foreach (var s in Slots())
            if (s.Value.DType != dtype) s.Replace(Persistent(s.Value.To(dtype)));
    }

    /// <summary>
    /// Copies matching tensors from <paramref name="state"/> into this module (in place, converting the element type).
    /// Returns what did not match: missing keys, unexpected keys, shape mismatches. A key ending in
    /// "num_batches_tracked" is accepted and ignored. Strict mode throws <see cref="StateDictException"/> with
    /// the whole report and loads nothing when anything does not match.
    /// </summary>
    public StateDictReport LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var report = new StateDictReport();
        var slots = Slots().ToDictionary(s => s.Name);
        foreach (var (key, t) in state)
        {
            if (key == "num_batches_tracked" || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal)) continue;
            if (!slots.TryGetValue(key, out var slot)) { report.Unexpected.Add(new StateDictReport.Entry(key, null, t.ShapeArray())); continue; }
            if (!ShapeUtil.Equal(slot.Value.Shape, t.Shape)) report.ShapeMismatches.Add(new StateDictReport.Entry(key, slot.Shape, t.ShapeArray()));
        }
        foreach (var s in slots.Values)
            if (!state.ContainsKey(s.Name)) report.Missing.Add(new StateDictReport.Entry(s.Name, s.Shape, null));
        if (strict && !report.IsClean) throw new StateDictException(report);
        foreach (var (key, t) in state)
        {
            if (!slots.TryGetValue(key, out var slot) || !ShapeUtil.Equal(slot.Value.Shape, t.Shape)) continue;
            CopyInto(slot.Value, t);
            report.Loaded.Add(key);
        }
        return report;
    }

    private static void CopyInto(Tensor dst, Tensor src)
    {
        if (dst.DType == DType.F32) src.ToArray<float>().CopyTo(dst.Span<float>());
        else src.ToArray<double>().CopyTo(dst.Span<double>());
    }

    public override string ToString() => $"{GetType().Name}({Path})";
}

/// <summary>What a state-dict load found: each entry names the key and the expected and found shapes.</summary>
public sealed class StateDictReport
{
    public sealed record Entry(string Key, int[]? Expected, int[]? Found)
    {
        public override string ToString() =>
            $"{Key}: expected {(Expected == null ? "nothing" : ShapeUtil.Format(Expected))}, found {(Found == null ? "nothing" : ShapeUtil.Format(Found))}";
    }

    public List<Entry> Missing { get; } = new();
    public List<Entry> Unexpected { get; } = new();
    public List<Entry> ShapeMismatches { get; } = new();
    public List<string> Loaded { get; } = new();

    public bool IsClean => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        void Section(string title, List<Entry> list)
        {
            if (list.Count == 0) return;
            sb.AppendLine($"{title} ({list.Count}):");
            foreach (var e in list) sb.Append("  ").AppendLine(e.ToString());
        }
        Section("Missing keys", Missing);
        Section("Unexpected keys", Unexpected);
        Section("Shape mismatches", ShapeMismatches);
        return sb.Length == 0 ? "state dict matches" : sb.ToString().TrimEnd();
    }
}

public sealed class StateDictException(StateDictReport report)
    : Exception("State dict does not match the module:\n" + report)
{
    public StateDictReport Report { get; } = report;
}
