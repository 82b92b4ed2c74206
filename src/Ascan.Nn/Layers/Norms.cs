// Normalisation layers: BatchNorm2d (running statistics), LayerNorm and GroupNorm, all channels-last.
using Ascan.Core;

namespace Ascan.Nn;

public sealed record BatchNorm2dConfig(int NumFeatures)
{
    public double Eps { get; init; } = 1e-5;
    public double Momentum { get; init; } = 0.1;
    public bool Affine { get; init; } = true;
    public bool TrackRunningStats { get; init; } = true;
    public BatchNorm2d Build(ParamPath p) => new(p, this);
}

/// <summary>
/// BatchNorm over the last (channel) axis of (B, H, W, C). Buffers running_mean (zeros) and running_var (ones)
/// are updated in training with the unbiased batch variance. num_batches_tracked is counted in
/// <see cref="NumBatchesTracked"/> but kept out of the state dict (only momentum = None would need it).
/// </summary>
public sealed class BatchNorm2d : Module, ILayer
{
    private readonly Parameter? _weight, _bias, _mean, _var;
    public BatchNorm2dConfig Config { get; }
    public long NumBatchesTracked { get; private set; }

    public BatchNorm2d(ParamPath p, int numFeatures) : this(p, new BatchNorm2dConfig(numFeatures)) { }

    public BatchNorm2d(ParamPath p, BatchNorm2dConfig config) : base(p)
    {
        Config = config;
        int c = config.NumFeatures;
        if (config.Affine) { _weight = AddParameter("weight", [c], Init.Ones); _bias = AddParameter("bias", [c], Init.Zeros); }
        if (config.TrackRunningStats) { _mean = AddBuffer("running_mean", [c], Init.Zeros); _var = AddBuffer("running_var", [c], Init.Ones); }
    }

    public Tensor? Weight => _weight?.Value;
    public Tensor? Bias => _bias?.Value;
    public Tensor? RunningMean => _mean?.Value;
    public Tensor? RunningVar => _var?.Value;

    /// <summary>Shapes: x (…, C) → (…, C). Batch statistics in training (or without running stats), running ones in eval.</summary>
    public Tensor Forward(Tensor x)
    {
        bool useBatch = Training || _mean == null;
        if (Training && _mean != null) NumBatchesTracked++;
        return Ops.BatchNorm(x, Weight, Bias, RunningMean, RunningVar, useBatch, Config.Momentum, Config.Eps);
    }

    /// <summary>
    /// conv1×1(act(BN(x))) as one op that never stores act(BN(x)) (<see cref="Ops.BatchNormActConv1x1"/>); the conv must be
    /// 1×1, stride 1, without bias or groups. Shapes: x (B, H, W, C) → (B, H, W, conv.OutChannels).
    /// </summary>
    public Tensor ForwardActConv1x1(Tensor x, Ascan.Kernels.Activation act, Conv2d conv)
    {
        var cc = conv.Config;
        if (cc.Kernel != (1, 1) || cc.Stride != 1 || cc.Pad != (0, 0) || cc.Groups != 1 || conv.Bias != null)
            throw new ArgumentException($"{Path}.ForwardActConv1x1: {conv.Path} must be a 1×1, stride-1 conv without bias or groups.");
        bool useBatch = Training || _mean == null;
        if (Training && _mean != null) NumBatchesTracked++;
        return Ops.BatchNormActConv1x1(x, Weight, Bias, RunningMean, RunningVar, useBatch, act, conv.Weight, Config.Momentum, Config.Eps);
    }

    /// <summary>act(BN(x)) + residual as one op (<see cref="Ops.BatchNormAct"/>). Shapes: x (…, C), residual like x or null → like x.</summary>
    public Tensor ForwardAct(Tensor x, Ascan.Kernels.Activation act, Tensor? residual = null)
    {
        bool useBatch = Training || _mean == null;
        if (Training && _mean != null) NumBatchesTracked++;
        return Ops.BatchNormAct(x, Weight, Bias, RunningMean, RunningVar, useBatch, act, residual, Config.Momentum, Config.Eps);
    }
}

public sealed record LayerNormConfig(int NormalizedShape)
{
    public double Eps { get; init; } = 1e-5;
    public bool ElementwiseAffine { get; init; } = true;
    public LayerNorm Build(ParamPath p) => new(p, this);
}

/// <summary>LayerNorm over the last axis; weight ones, bias zeros.</summary>
public sealed class LayerNorm : Module, ILayer
{
    private readonly Parameter? _weight, _bias;
    public LayerNormConfig Config { get; }

    public LayerNorm(ParamPath p, int normalizedShape, double eps = 1e-5) : this(p, new LayerNormConfig(normalizedShape) { Eps = eps }) { }

    public LayerNorm(ParamPath p, LayerNormConfig config) : base(p)
    {
        Config = config;
        if (config.ElementwiseAffine)
        {
            _weight = AddParameter("weight", [config.NormalizedShape], Init.Ones);
            _bias = AddParameter("bias", [config.NormalizedShape], Init.Zeros);
        }
    }

    public Tensor? Weight => _weight?.Value;
    public Tensor? Bias => _bias?.Value;

    /// <summary>Shapes: x (…, D) → (…, D).</summary>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Config.Eps);
}

public sealed record GroupNormConfig(int NumGroups, int NumChannels)
{
    public double Eps { get; init; } = 1e-5;
    public bool Affine { get; init; } = true;
    public GroupNorm Build(ParamPath p) => new(p, this);
}

/// <summary>GroupNorm over channels-last input (groups of consecutive channels, as torch).</summary>
public sealed class GroupNorm : Module, ILayer
{
    private readonly Parameter? _weight, _bias;
    public GroupNormConfig Config { get; }

    public GroupNorm(ParamPath p, int numGroups, int numChannels, double eps = 1e-5) : this(p, new GroupNormConfig(numGroups, numChannels) { Eps = eps }) { }

    public GroupNorm(ParamPath p, GroupNormConfig config) : base(p)
    {
        if (config.NumGroups < 1 || config.NumChannels % config.NumGroups != 0)
            throw new ArgumentException($"GroupNorm {p}: {config.NumGroups} groups must divide {config.NumChannels} channels.");
        Config = config;
        if (config.Affine)
        {
            _weight = AddParameter("weight", [config.NumChannels], Init.Ones);
            _bias = AddParameter("bias", [config.NumChannels], Init.Zeros);
        }
    }

    public Tensor? Weight => _weight?.Value;
    public Tensor? Bias => _bias?.Value;

    /// <summary>Shapes: x (B, …, C) → same.</summary>
    public Tensor Forward(Tensor x) => Ops.GroupNorm(x, Config.NumGroups, Weight, Bias, Config.Eps);
}
