// 2-d convolution layer on channels-last input, weight stored in PyTorch layout (O, C/groups, KH, KW).
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>Configuration of a <see cref="Conv2d"/> (square kernel); initialisers default to PyTorch's.</summary>
public sealed record Conv2dConfig(int InChannels, int OutChannels, int KernelSize)
{
    public int Stride { get; init; } = 1;
    public int Padding { get; init; }
    public int Dilation { get; init; } = 1;
    public int Groups { get; init; } = 1;
    public bool Bias { get; init; } = true;
    public Initializer? WeightInit { get; init; }
    public Initializer? BiasInit { get; init; }
    public Conv2d Build(Path p) => new(p, this);
}

public sealed class Conv2d : Module, ILayer
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;
    public Conv2dConfig Config { get; }

    public Conv2d(Path p, Conv2dConfig config) : base(p)
    {
        if (config.Groups < 1 || config.InChannels % config.Groups != 0 || config.OutChannels % config.Groups != 0)
            throw new ArgumentException($"Conv2d {p}: groups {config.Groups} must divide in ({config.InChannels}) and out ({config.OutChannels}) channels.");
        Config = config;
        int k = config.KernelSize;
        _weight = AddParameter("weight", [config.OutChannels, config.InChannels / config.Groups, k, k], config.WeightInit ?? Init.TorchDefaultWeight);
        if (config.Bias) _bias = AddParameter("bias", [config.OutChannels], config.BiasInit ?? Init.TorchDefaultBias(config.InChannels / config.Groups * k * k));
    }

    public Tensor Weight => _weight.Value;
    public Tensor? Bias => _bias?.Value;

    /// <summary>Shapes: x (B, H, W, C) → (B, OH, OW, O).</summary>
    public Tensor Forward(Tensor x) =>
        Ops.Conv2d(x, Weight, Bias, Config.Stride, Config.Padding, Config.Dilation, Config.Groups);
}
