// 2-d convolution layer on channels-last input, weight stored in PyTorch layout (O, C/groups, KH, KW); in eval a
// following BatchNorm folds into it, activation and residual run in its output step.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>
/// Configuration of a <see cref="Conv2d"/>; initialisers default to PyTorch's. The kernel is KernelSize × KernelSize
/// and the padding Padding on both axes unless <see cref="KernelWidth"/> / <see cref="PaddingWidth"/> set the width's
/// own (Inception's 1×7 with padding (0, 3): KernelSize 1, KernelWidth 7, Padding 0, PaddingWidth 3).
/// </summary>
public sealed record Conv2dConfig(int InChannels, int OutChannels, int KernelSize)
{
    /// <summary>Kernel width when it differs from the height (KernelSize); null: square.</summary>
    public int? KernelWidth { get; init; }

    /// <summary>Padding of the width axis when it differs from the height's (Padding); null: the same.</summary>
    public int? PaddingWidth { get; init; }

    /// <summary>(KH, KW).</summary>
    public (int H, int W) Kernel => (KernelSize, KernelWidth ?? KernelSize);

    /// <summary>(padH, padW).</summary>
    public (int H, int W) Pad => (Padding, PaddingWidth ?? Padding);

    public int Stride { get; init; } = 1;
    public int Padding { get; init; }
    public int Dilation { get; init; } = 1;
    public int Groups { get; init; } = 1;
    public bool Bias { get; init; } = true;
    public Initializer? WeightInit { get; init; }
    public Initializer? BiasInit { get; init; }
    public Conv2d Build(ParamPath p) => new(p, this);
}

/// <summary>
/// A convolution, optionally followed by its BatchNorm, an activation and a residual add. Training records each as
/// an op (BN and activation as one). In eval with no graph to record (<see cref="InferenceFusion"/>) a groups-1 conv
/// runs packed: the BatchNorm folded into its weight and bias, activation and residual in its output step.
/// </summary>
public sealed class Conv2d : Module, ILayer
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;
    private FoldedConv2d? _folded;
    private BatchNorm2d? _foldedBn;
    public Conv2dConfig Config { get; }

    public Conv2d(ParamPath p, Conv2dConfig config) : base(p)
    {
        if (config.Groups < 1 || config.InChannels % config.Groups != 0 || config.OutChannels % config.Groups != 0)
            throw new ArgumentException($"Conv2d {p}: groups {config.Groups} must divide in ({config.InChannels}) and out ({config.OutChannels}) channels.");
        Config = config;
        var (kh, kw) = config.Kernel;
        _weight = AddParameter("weight", [config.OutChannels, config.InChannels / config.Groups, kh, kw], config.WeightInit ?? Init.TorchDefaultWeight);
        if (config.Bias) _bias = AddParameter("bias", [config.OutChannels], config.BiasInit ?? Init.TorchDefaultBias(config.InChannels / config.Groups * kh * kw));
    }

    public Tensor Weight => _weight.Value;
    public Tensor? Bias => _bias?.Value;

    /// <summary>Shapes: x (B, H, W, C) → (B, OH, OW, O).</summary>
    public Tensor Forward(Tensor x) => Forward(x, null);

    /// <summary>
    /// act(BN(conv(x))) + residual, or act(BN(conv(x)) + residual) with <paramref name="residualBeforeAct"/>
    /// (ResNet's ReLU after the add); without <paramref name="bn"/> the conv alone.
    /// Shapes: x (B, H, W, C), residual (B, OH, OW, O) or null → (B, OH, OW, O).
    /// </summary>
    public Tensor Forward(Tensor x, BatchNorm2d? bn, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        if (CanFold(x, bn, residual)) return Folded(bn).Forward(x, act, residual, residualBeforeAct);
        var y = Ops.Conv2d(x, Weight, Bias, (Config.Stride, Config.Stride), Config.Pad, (Config.Dilation, Config.Dilation), Config.Groups);
        if (bn == null || (residual != null && residualBeforeAct)) return InferenceFusion.Epilogue(bn?.Forward(y) ?? y, act, residual, residualBeforeAct);
        if (act == Activation.None && residual == null) return bn.Forward(y);
        return bn.ForwardAct(y, act, residual);
    }

    /// <summary>
    /// bn2(next(act(bn1(conv(x))))) + residual, FusedMBConv's body; <paramref name="next"/> is a 1×1, stride-1 conv
    /// without bias or groups. Training: one op computes next(act(bn1(·))) and recomputes the activated map in the
    /// backward instead of storing it. Eval: both convs with their BatchNorm folded, act in the first's output step,
    /// the residual in the second's. Shapes: x (B, H, W, C), residual (B, H', W', O₂) or null → (B, H', W', O₂).
    /// </summary>
    public Tensor ForwardBnActConv1x1Bn(Tensor x, BatchNorm2d bn1, Activation act, Conv2d next, BatchNorm2d bn2, Tensor? residual)
    {
        if (CanFold(x, bn1, null) && next.CanFold(x, bn2, residual))
        {
            var h = Folded(bn1).Forward(x, act);                  // (B, H', W', O₁)
            var y = next.Folded(bn2).Forward(h, Activation.None, residual);
            TensorScope.Release(h);
            return y;
        }
        var z = bn1.ForwardActConv1x1(Forward(x), act, next);     // (B, H', W', O₂); act(bn1(·)) never stored
        return residual == null ? bn2.Forward(z) : bn2.ForwardAct(z, Activation.None, residual);
    }

    /// <summary>This conv packed with <paramref name="bn"/> folded in, built once and rebuilt only for another BatchNorm
    /// (the packed form itself re-derives when a weight or statistic changes).</summary>
    private FoldedConv2d Folded(BatchNorm2d? bn)
    {
        if (_folded == null || !ReferenceEquals(_foldedBn, bn))
        {
            _folded?.Dispose();
            (_folded, _foldedBn) = (new FoldedConv2d(this, bn), bn);
        }
        return _folded;
    }

    private bool CanFold(Tensor x, BatchNorm2d? bn, Tensor? residual) =>
        Config.Groups == 1 && InferenceFusion.Applies(this, x, bn, residual)
        && (bn == null || (bn.RunningMean != null && bn.RunningVar != null));
}
