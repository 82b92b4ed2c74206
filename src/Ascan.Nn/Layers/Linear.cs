// Linear layer: y = act(x·Wᵀ + b) + residual with the weight in PyTorch layout (out, in); packed and fused in eval.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>Configuration of a <see cref="Linear"/>; initialisers default to PyTorch's.</summary>
public sealed record LinearConfig(int InFeatures, int OutFeatures, bool Bias = true)
{
    public Initializer? WeightInit { get; init; }
    public Initializer? BiasInit { get; init; }
    public Linear Build(ParamPath p) => new(p, this);
}

/// <summary>
/// A linear map. Training records the product, the activation and the residual add as ops; in eval (no graph to
/// record, see <see cref="InferenceFusion"/>) the same call is one GEMM pass with bias, activation and residual in its
/// output step, on a weight packed once and re-packed only when it changes.
/// </summary>
public sealed class Linear : Module, ILayer
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;
    private PackedLinear? _packed, _packedScaled;
    private Tensor? _scale;
    public LinearConfig Config { get; }

    public Linear(ParamPath p, int inFeatures, int outFeatures, bool bias = true) : this(p, new LinearConfig(inFeatures, outFeatures, bias)) { }

    public Linear(ParamPath p, LinearConfig config) : base(p)
    {
        Config = config;
        _weight = AddParameter("weight", [config.OutFeatures, config.InFeatures], config.WeightInit ?? Init.TorchDefaultWeight);
        if (config.Bias) _bias = AddParameter("bias", [config.OutFeatures], config.BiasInit ?? Init.TorchDefaultBias(config.InFeatures));
    }

    public Tensor Weight => _weight.Value;
    public Tensor? Bias => _bias?.Value;

    /// <summary>Shapes: x (…, in) → (…, out).</summary>
    public Tensor Forward(Tensor x) => Forward(x, Activation.None);

    /// <summary>residual + Linear(x), the sum done in the GEMM's output step. Shapes: x (…, in), residual (…, out) → (…, out).</summary>
    public Tensor Forward(Tensor x, Tensor residual) => Forward(x, Activation.None, residual);

    /// <summary>
    /// act(x·Wᵀ + b) + residual, or act(x·Wᵀ + b + residual) with <paramref name="residualBeforeAct"/>.
    /// Shapes: x (…, in), residual (…, out) or null → (…, out).
    /// </summary>
    public Tensor Forward(Tensor x, Activation act, Tensor? residual = null, bool residualBeforeAct = false)
    {
        if (InferenceFusion.Applies(this, x, other: residual))
            return (_packed ??= new PackedLinear(this)).Forward(x, act, residual, residualBeforeAct);
        if (act == Activation.None) return Ops.Linear(x, Weight, Bias, residual);
        if (residualBeforeAct && residual != null) return InferenceFusion.Activate(Ops.Linear(x, Weight, Bias, residual), act);
        return InferenceFusion.Epilogue(Ops.Linear(x, Weight, Bias), act, residual, false);
    }

    /// <summary>
    /// (x·Wᵀ + b) ⊙ scale + residual with a per-output-feature <paramref name="scale"/> (a layer scale, any shape of
    /// Out elements, e.g. ConvNeXt's (C, 1, 1) parameter itself). In eval the scale is folded into the packed weight
    /// and bias, re-packed only when the scale tensor (or its values) change: pass the parameter, not a fresh view.
    /// Shapes: x (…, in), scale (out) or (out, 1, 1), residual (…, out) or null → (…, out).
    /// </summary>
    public Tensor ForwardScaled(Tensor x, Tensor scale, Tensor? residual = null)
    {
        if (scale.Numel != Config.OutFeatures)
            throw new ArgumentException($"Linear {Path}: the output scale has {scale.Numel} values for {Config.OutFeatures} outputs.");
        if (InferenceFusion.Applies(this, x, other: scale, other2: residual))
        {
            _scale = scale;
            return (_packedScaled ??= new PackedLinear(() => Weight, () => Bias, () => _scale!)).Forward(x, residual: residual);
        }
        var y = Ops.Mul(Ops.Linear(x, Weight, Bias), scale.Rank == 1 ? scale : scale.Reshape(Config.OutFeatures));
        return residual == null ? y : Ops.Add(y, residual);
    }
}
