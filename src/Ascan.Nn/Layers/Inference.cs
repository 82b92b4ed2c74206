// Inference forms of layers: Linear and Conv2d(+BatchNorm folded) packed once, re-derived whenever a source tensor changes.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>
/// The tensors a derived value was computed from, with the storage version each had (<see cref="Storage.Version"/>).
/// Every write goes through a span of the storage, which bumps its version, and a parameter swapped by
/// <see cref="Module.To"/> is a different tensor, so an unchanged stamp means the derived value is still exact.
/// </summary>
internal sealed class SourceStamp
{
    private readonly Tensor?[] _tensors;
    private readonly long[] _versions;

    /// <summary>Record after the sources were read (reading bumps the version too).</summary>
    public SourceStamp(params Tensor?[] tensors)
    {
        _tensors = tensors;
        _versions = tensors.Select(t => t?.Storage.Version ?? 0).ToArray();
    }

    public bool Matches(params Tensor?[] now)
    {
        if (now.Length != _tensors.Length) return false;
        for (int i = 0; i < now.Length; i++)
        {
            if (!ReferenceEquals(now[i], _tensors[i])) return false;
            if (now[i] is { } t && t.Storage.Version != _versions[i]) return false;
        }
        return true;
    }
}

/// <summary>
/// Decides when a module may run its fused inference path: eval mode, float32, the packed kernels present, and no
/// autograd graph to record (no-grad scope, or neither input nor any parameter requires a gradient).
/// </summary>
public static class InferenceFusion
{
    /// <summary>
    /// One full, compacting collection, for a model about to pack its inference weights (or about to train, see the
    /// optimizer): what building or loading it left on the managed heap (initial values, the loaded file's tensors)
    /// is returned to the OS first, so it does not add to the process's peak memory on top of the packed weights or
    /// the first step's activations.
    /// </summary>
    public static void CollectBeforePacking()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>Whether <paramref name="m"/> (and <paramref name="also"/>, a module it fuses with, e.g. the BatchNorm
    /// after a conv) may run fused on <paramref name="x"/> and its other inputs (<paramref name="other"/>,
    /// <paramref name="other2"/>: a residual, a layer scale, a condition, a context).</summary>
    public static bool Applies(Module m, Tensor x, Module? also = null, Tensor? other = null, Tensor? other2 = null)
    {
        if (m.Training || !m.FusedInference || x.DType != DType.F32 || !Ops.PackedKernelsSupported) return false;
        if (also != null && (also.Training || !also.FusedInference)) return false;
        if (!Autograd.IsEnabled) return true;
        if (x.RequiresGrad || other?.RequiresGrad == true || other2?.RequiresGrad == true || m.Parameters().Any(p => p.RequiresGrad)) return false;
        return also == null || !also.Parameters().Any(p => p.RequiresGrad);
    }

    /// <summary>
    /// Frees intermediates of a fused forward (<paramref name="fused"/>: the caller's <see cref="Applies"/> decision)
    /// once nothing reads them: no graph holds them then. Does nothing on the plain path, where the backward may
    /// need them.
    /// </summary>
    public static void Free(bool fused, Tensor t)
    {
        if (fused) TensorScope.Release(t);
    }

    /// <inheritdoc cref="Free(bool, Tensor)"/>
    public static void Free(bool fused, Tensor a, Tensor b) { Free(fused, a); Free(fused, b); }

    /// <summary>
    /// act(y) + residual, or act(y + residual) with <paramref name="residualBeforeAct"/>, as separate recorded ops: the
    /// plain (training) form of a GEMM's fused output step.
    /// </summary>
    public static Tensor Epilogue(Tensor y, Activation act, Tensor? residual, bool residualBeforeAct)
    {
        if (residual != null && residualBeforeAct) return Activate(Ops.Add(y, residual), act);
        y = Activate(y, act);
        return residual == null ? y : Ops.Add(y, residual);
    }

    /// <summary>The activation as its recorded op (identity for None).</summary>
    public static Tensor Activate(Tensor x, Activation act) => act switch
    {
        Activation.None => x,
        Activation.Relu => Ops.Relu(x),
        Activation.Gelu => Ops.Gelu(x),
        Activation.Silu => Ops.Silu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, "Unknown activation."),
    };
}

/// <summary>
/// A <see cref="Linear"/> for inference: y = act(x·Wᵀ + b) + residual in one GEMM pass. For few rows (batch 1: the
/// tokens of one image) the weight is packed once and kept — packing it on every call would cost as much as the
/// product; it is re-packed when the weight or bias changed. For many rows the GEMM packs as it goes and no copy
/// of the weight is kept (memory).
/// </summary>
public sealed class PackedLinear : IDisposable
{
    /// <summary>Row counts up to this use (and create) the packed weight.</summary>
    public const int PackRowsMax = 512;

    private readonly Func<Tensor> _w;
    private readonly Func<Tensor?> _b;
    private readonly Func<Tensor>? _scale;
    private PackedB? _weight;
    private Tensor? _scaledBias;
    private SourceStamp? _stamp;

    public PackedLinear(Linear linear) : this(() => linear.Weight, () => linear.Bias) { }

    /// <summary>
    /// A linear map from parameters that are not a <see cref="Linear"/> module (e.g. a fused (3C, C) in-projection),
    /// read through the getters on every call so a parameter swapped by <see cref="Module.To"/> is seen. With
    /// <paramref name="outScale"/> (a per-output-feature vector, such as ConvNeXt's layer scale) the map becomes
    /// (x·Wᵀ + b) ⊙ s, folded into the packed weight and bias (always packed then).
    /// </summary>
    public PackedLinear(Func<Tensor> weight, Func<Tensor?> bias, Func<Tensor>? outScale = null)
    {
        _w = weight; _b = bias; _scale = outScale;
    }

    /// <summary>Shapes: x (…, in), residual (…, out) or null → (…, out).</summary>
    public Tensor Forward(Tensor x, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        int rows = x.Rank == 0 ? 0 : x.Numel / Math.Max(1, x.Dim(-1));
        if (rows > PackRowsMax && _weight == null && _scale == null) return Ops.LinearFused(x, _w(), _b(), act, residual, residualBeforeAct);
        Refresh();
        return Ops.LinearPacked(x, _weight!, _scale == null ? _b() : _scaledBias, act, residual, residualBeforeAct);
    }

    private void Refresh()
    {
        var w = _w(); var b = _b(); var s = _scale?.Invoke();
        if (_stamp != null && _weight!.IsCurrent && _stamp.Matches(w, b, s)) return;
        _weight?.Dispose();
        if (s == null) _weight = Ops.PackLinearWeight(w);
        else
        {
            // (x·Wᵀ + b) ⊙ s = x·(diag(s)·W)ᵀ + b ⊙ s: scale row o of W and b[o] by s[o].
            int outF = w.Dim(0), inF = w.Dim(1);
            var sv = s.ToArray<float>(); var wv = w.ToArray<float>();
            if (sv.Length != outF) throw new ArgumentException($"PackedLinear: output scale has {sv.Length} values for {outF} outputs.");
            for (int o = 0; o < outF; o++)
                for (int i = 0; i < inF; i++) wv[o * inF + i] *= sv[o];
            _weight = PackedB.Create(wv, inF, transB: true, k: inF, n: outF);
            var bv = b?.ToArray<float>() ?? new float[outF];
            for (int o = 0; o < outF; o++) bv[o] *= sv[o];
            _scaledBias = Tensor.FromArray(bv, outF).Clone();
        }
        _stamp = new SourceStamp(w, b, s);
    }

    public void Dispose() { _weight?.Dispose(); _weight = null; _stamp = null; }
}

/// <summary>
/// A <see cref="Conv2d"/> (groups 1) with an optional following <see cref="BatchNorm2d"/> folded in, packed for
/// inference: BN(conv(x)) = conv(x; W·s) + (β + (b − μ)·s) with s = γ/√(σ² + ε) per output channel, computed in
/// double. Forward adds the activation and a residual in the same pass. Rebuilt when any source tensor changed.
/// </summary>
public sealed class FoldedConv2d : IDisposable
{
    private readonly Conv2d _conv;
    private readonly BatchNorm2d? _bn;
    private PackedConv2dWeight? _weight;
    private Tensor? _bias;
    private SourceStamp? _stamp;

    public FoldedConv2d(Conv2d conv, BatchNorm2d? bn = null)
    {
        if (conv.Config.Groups != 1) throw new ArgumentException($"FoldedConv2d {conv.Path}: groups {conv.Config.Groups}; only groups 1 is packed.");
        if (bn != null && (bn.RunningMean == null || bn.RunningVar == null))
            throw new ArgumentException($"FoldedConv2d {bn.Path}: a BatchNorm without running statistics cannot be folded.");
        if (bn != null && bn.Config.NumFeatures != conv.Config.OutChannels)
            throw new ArgumentException($"FoldedConv2d: {bn.Path} has {bn.Config.NumFeatures} channels, {conv.Path} outputs {conv.Config.OutChannels}.");
        _conv = conv; _bn = bn;
    }

    /// <summary>
    /// y = act(BN(conv(x))) + residual, or act(BN(conv(x)) + residual) with <paramref name="residualBeforeAct"/>.
    /// Shapes: x (B, H, W, C), residual (B, OH, OW, O) or null → (B, OH, OW, O).
    /// </summary>
    public Tensor Forward(Tensor x, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        Refresh();
        return Ops.Conv2dPacked(x, _weight!, _bias, act, residual, residualBeforeAct);
    }

    private Tensor?[] Sources() => [_conv.Weight, _conv.Bias, _bn?.Weight, _bn?.Bias, _bn?.RunningMean, _bn?.RunningVar];

    private void Refresh()
    {
        var src = Sources();
        if (_stamp != null && _weight!.IsCurrent && _stamp.Matches(src)) return;
        _weight?.Dispose();
        var cfg = _conv.Config;
        int o = cfg.OutChannels;
        var convBias = _conv.Bias?.ToArray<double>();
        double[]? scale = null;
        var bias = new double[o];
        if (convBias != null) convBias.CopyTo(bias, 0);
        if (_bn != null)
        {
            // s = γ/√(σ² + ε); shift = β + (b − μ)·s (γ = 1, β = 0 without affine parameters).
            var mean = _bn.RunningMean!.ToArray<double>(); var var = _bn.RunningVar!.ToArray<double>();
            var gamma = _bn.Weight?.ToArray<double>(); var beta = _bn.Bias?.ToArray<double>();
            scale = new double[o];
            for (int i = 0; i < o; i++)
            {
                scale[i] = (gamma?[i] ?? 1.0) / Math.Sqrt(var[i] + _bn.Config.Eps);
                bias[i] = (beta?[i] ?? 0.0) + (bias[i] - mean[i]) * scale[i];
            }
        }
        _weight = Ops.PackConv2dWeight(_conv.Weight, (cfg.Stride, cfg.Stride), cfg.Pad, (cfg.Dilation, cfg.Dilation), scale);
        _bias = convBias != null || _bn != null ? Tensor.FromArray(bias.Select(v => (float)v).ToArray(), o).Clone() : null;
        _stamp = new SourceStamp(Sources());
    }

    public void Dispose() { _weight?.Dispose(); _weight = null; _stamp = null; }
}
