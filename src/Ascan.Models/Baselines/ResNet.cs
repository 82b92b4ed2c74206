// torchvision's ResNet with Bottleneck blocks (v1.5: stride on the 3×3 conv) under torchvision's state-dict keys, channels-last inside.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Baselines;

/// <summary>
/// Configuration of a Bottleneck <see cref="ResNet"/>. The defaults are torchvision's resnet50; every width and
/// depth can be reduced (the parity fixtures build a narrow, shallow one through this same code).
/// </summary>
public sealed record ResNetConfig
{
    /// <summary>Blocks per stage (torchvision's <c>layers</c>).</summary>
    public int[] Layers { get; init; } = [3, 4, 6, 3];

    /// <summary>Bottleneck planes per stage; a stage outputs planes × <see cref="Expansion"/> channels.</summary>
    public int[] Planes { get; init; } = [64, 128, 256, 512];

    /// <summary>Channels of the 7×7 stem conv (torchvision hard-codes 64).</summary>
    public int StemWidth { get; init; } = 64;

    /// <summary>torchvision's <c>width_per_group</c>: the 3×3 conv has planes·(WidthPerGroup/64)·Groups channels.</summary>
    public int WidthPerGroup { get; init; } = 64;

    public int Groups { get; init; } = 1;
    public int NumClasses { get; init; } = 1000;

    /// <summary>torchvision's zero_init_residual: the last BN of every block starts at γ = 0.</summary>
    public bool ZeroInitResidual { get; init; }

    public const int Expansion = 4;

    public static ResNetConfig ResNet50 => new();

    public ResNet Build(ParamPath p) => new(p, this);

    internal void Validate()
    {
        if (Layers.Length != 4 || Planes.Length != 4)
            throw new ArgumentException($"ResNetConfig: Layers and Planes need 4 entries (one per stage), got {Layers.Length} and {Planes.Length}.");
        if (Layers.Any(n => n < 1) || Planes.Any(n => n < 1) || StemWidth < 1 || WidthPerGroup < 1 || Groups < 1 || NumClasses < 0)
            throw new ArgumentException("ResNetConfig: depths, widths and groups must be positive and NumClasses ≥ 0.");
    }
}

/// <summary>
/// torchvision's Bottleneck: 1×1 (in → width) → BN → ReLU → 3×3 (stride here: ResNet v1.5) → BN → ReLU →
/// 1×1 (width → planes·4) → BN, plus the identity or the downsample branch (1×1 conv with the stride → BN), → ReLU.
/// Keys: conv1, bn1, conv2, bn2, conv3, bn3, downsample.0, downsample.1. BN eps 1e-5.
/// </summary>
public sealed class Bottleneck : Module, ILayer
{
    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm2d _bn1, _bn2, _bn3;
    private readonly Sequential? _downsample;

    public Bottleneck(ParamPath p, int inChannels, int planes, int stride, int groups, int baseWidth, bool zeroInitLastBn) : base(p)
    {
        int width = (int)(planes * (baseWidth / 64.0)) * groups;
        int outChannels = planes * ResNetConfig.Expansion;
        var convInit = Init.KaimingNormal(FanMode.FanOut, Nonlinearity.Relu);
        _conv1 = new Conv2d(p.Sub("conv1"), new Conv2dConfig(inChannels, width, 1) { Bias = false, WeightInit = convInit });
        _bn1 = new BatchNorm2d(p.Sub("bn1"), width);
        _conv2 = new Conv2d(p.Sub("conv2"), new Conv2dConfig(width, width, 3) { Stride = stride, Padding = 1, Groups = groups, Bias = false, WeightInit = convInit });
        _bn2 = new BatchNorm2d(p.Sub("bn2"), width);
        _conv3 = new Conv2d(p.Sub("conv3"), new Conv2dConfig(width, outChannels, 1) { Bias = false, WeightInit = convInit });
        _bn3 = new BatchNorm2d(p.Sub("bn3"), outChannels);
        if (zeroInitLastBn) Init.Apply(_bn3.Weight!, Init.Zeros, p.Rng);
        if (stride != 1 || inChannels != outChannels)
        {
            _downsample = new Sequential(p.Sub("downsample"));
            _downsample.Add(q => new Conv2d(q, new Conv2dConfig(inChannels, outChannels, 1) { Stride = stride, Bias = false, WeightInit = convInit }));
            _downsample.Add(q => new BatchNorm2d(q, outChannels));
        }
    }

    /// <summary>
    /// Shapes: x (B, H, W, in) → (B, ⌈H/stride⌉, ⌈W/stride⌉, planes·4). Each conv takes its BatchNorm and ReLU (folded
    /// and in the output step in eval); conv3 adds the identity before its ReLU. Never frees x.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var h1 = _conv1.Forward(x, _bn1, Activation.Relu);
        var h2 = _conv2.Forward(h1, _bn2, Activation.Relu);
        InferenceFusion.Free(fused, h1);
        var identity = _downsample == null ? x : ((Conv2d)_downsample[0]).Forward(x, (BatchNorm2d)_downsample[1]);
        var y = _conv3.Forward(h2, _bn3, Activation.Relu, identity, residualBeforeAct: true); // relu(bn3(conv3(h2)) + identity)
        InferenceFusion.Free(fused, h2);
        if (!ReferenceEquals(identity, x)) InferenceFusion.Free(fused, identity);
        return y;
    }
}

/// <summary>
/// torchvision.models.resnet.ResNet with <see cref="Bottleneck"/> blocks: conv1 7×7/2 → bn1 → ReLU → maxpool 3×3/2 →
/// layer1..layer4 (strides 1, 2, 2, 2) → global average pool → fc. Keys exactly torchvision's (conv1, bn1,
/// layer{i}.{j}.…, fc); num_batches_tracked in a torchvision file is accepted and ignored. Initialisation as
/// torchvision: convs kaiming-normal (fan_out, ReLU), BN γ = 1, β = 0, fc PyTorch's default.
/// </summary>
public sealed class ResNet : TorchvisionClassifier
{
    private readonly Conv2d _conv1;
    private readonly BatchNorm2d _bn1;
    private readonly Sequential[] _layers;
    private Linear? _fc;
    private readonly FeatureInfo[] _featureInfo;

    public ResNetConfig Config { get; }

    public ResNet(ParamPath p, ResNetConfig config) : base(p)
    {
        config.Validate();
        Config = config;
        _conv1 = new Conv2d(p.Sub("conv1"), new Conv2dConfig(3, config.StemWidth, 7)
        { Stride = 2, Padding = 3, Bias = false, WeightInit = Init.KaimingNormal(FanMode.FanOut, Nonlinearity.Relu) });
        _bn1 = new BatchNorm2d(p.Sub("bn1"), config.StemWidth);
        _layers = new Sequential[4];
        _featureInfo = new FeatureInfo[4];
        int inChannels = config.StemWidth;
        for (int i = 0; i < 4; i++)
        {
            int stride = i == 0 ? 1 : 2, planes = config.Planes[i];
            var layer = _layers[i] = new Sequential(p.Sub($"layer{i + 1}"));
            for (int j = 0; j < config.Layers[i]; j++)
            {
                int cin = inChannels, s = j == 0 ? stride : 1;
                layer.Add(q => new Bottleneck(q, cin, planes, s, config.Groups, config.WidthPerGroup, config.ZeroInitResidual));
                inChannels = planes * ResNetConfig.Expansion;
            }
            _featureInfo[i] = new FeatureInfo($"layer{i + 1}", inChannels, 4 << i);
        }
        NumFeatures = inChannels;
        if (config.NumClasses > 0) _fc = new Linear(p.Sub("fc"), inChannels, config.NumClasses);
    }

    public override int NumClasses => _fc?.Config.OutFeatures ?? 0;
    public override string HeadKey => "fc";
    public override int NumFeatures { get; }
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>Shapes: images (B, 3, H, W) → layer4 output (B, H/32, W/32, NumFeatures).</summary>
    public override Tensor ForwardFeatures(Tensor images) => Run(images, keep: false)[^1];

    /// <summary>Shapes: images (B, 3, H, W) → layer1..layer4 outputs (B, H/s, W/s, C) at s = 4, 8, 16, 32.</summary>
    public override IReadOnlyList<Tensor> ForwardStages(Tensor images) => Run(images, keep: true);

    /// <summary>conv1 → bn1 → ReLU → max-pool (B, H/4, W/4, StemWidth), then the layers; maps freed once consumed on the fused path.</summary>
    private List<Tensor> Run(Tensor images, bool keep)
    {
        bool fused = InferenceFusion.Applies(this, images);
        var input = ImagesToChannelsLast(images, 3);
        var s = _conv1.Forward(input, _bn1, Activation.Relu);         // (B, H/2, W/2, StemWidth)
        FreeInput(fused, input, images);
        var x = Ops.MaxPool2d(s, 3, 2, 1);                             // (B, H/4, W/4, StemWidth)
        InferenceFusion.Free(fused, s);
        return RunStages(_layers, (layer, t) => layer.Forward(t), x, fused, keep);
    }

    /// <summary>Shapes: features (B, H', W', C) → logits (B, NumClasses), or the pooled (B, C) with preLogits or no classifier.</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        var pooled = Ops.AdaptiveAvgPool2d(features, 1);         // (B, 1, 1, C)
        pooled = pooled.Reshape(pooled.Dim(0), pooled.Dim(3));   // (B, C)
        if (preLogits || _fc == null) return pooled;
        return _fc.Forward(pooled);
    }

    /// <summary>A new fc for <paramref name="numClasses"/> classes with PyTorch's default init (0 removes it).</summary>
    public override void ResetClassifier(int numClasses)
    {
        _fc = ReplaceHead(_fc, "fc", numClasses, q => new Linear(q, NumFeatures, numClasses));
    }
}
