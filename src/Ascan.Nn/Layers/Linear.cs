// Linear layer: y = x·Wᵀ + b with the weight in PyTorch layout (out, in).
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>Configuration of a <see cref="Linear"/>; initialisers default to PyTorch's.</summary>
public sealed record LinearConfig(int InFeatures, int OutFeatures, bool Bias = true)
{
    public Initializer? WeightInit { get; init; }
    public Initializer? BiasInit { get; init; }
    public Linear Build(ParamPath p) => new(p, this);
}

public sealed class Linear : Module, ILayer
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;
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
    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);

    /// <summary>residual + Linear(x), the sum done in the GEMM's output step. Shapes: x (…, in), residual (…, out) → (…, out).</summary>
    public Tensor Forward(Tensor x, Tensor residual) => Ops.Linear(x, Weight, Bias, residual);
}
