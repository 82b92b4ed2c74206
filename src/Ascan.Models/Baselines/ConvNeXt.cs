// torchvision's ConvNeXt (CNBlock, LayerNorm2d, layer scale, stochastic depth) under torchvision's state-dict keys, channels-last inside.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Baselines;

/// <summary>
/// Configuration of a <see cref="ConvNeXt"/>: torchvision's block_setting as per-stage widths and depths
/// (stage i has Dims[i] channels; a downsample to Dims[i+1] follows every stage but the last). Defaults are
/// convnext_tiny.
/// </summary>
public sealed record ConvNeXtConfig
{
    public int[] Dims { get; init; } = [96, 192, 384, 768];
    public int[] Depths { get; init; } = [3, 3, 9, 3];
    public int NumClasses { get; init; } = 1000;

    /// <summary>Stochastic-depth rate of the last block; block k of n gets rate·k/(n − 1), as torchvision.</summary>
    public double StochasticDepthProb { get; init; } = 0.1;

    /// <summary>Initial value of every block's layer_scale.</summary>
    public double LayerScale { get; init; } = 1e-6;

    /// <summary>A backbone for dense heads: no classifier.0 norm and no classifier (NumClasses is ignored).</summary>
    public bool FeaturesOnly { get; init; }

    public static ConvNeXtConfig Tiny => new();

    public ConvNeXt Build(ParamPath p) => new(p, this);

    internal void Validate()
    {
        if (Dims.Length != 4 || Depths.Length != 4)
            throw new ArgumentException($"ConvNeXtConfig: Dims and Depths need 4 entries (one per stage), got {Dims.Length} and {Depths.Length}.");
        if (Dims.Any(d => d < 1) || Depths.Any(d => d < 1) || NumClasses < 0)
            throw new ArgumentException("ConvNeXtConfig: widths and depths must be positive and NumClasses ≥ 0.");
        if (!(StochasticDepthProb >= 0 && StochasticDepthProb < 1))
            throw new ArgumentException($"ConvNeXtConfig: StochasticDepthProb {StochasticDepthProb} must be in [0, 1).");
    }

    /// <summary>torchvision's Conv2d/Linear init: trunc_normal(std 0.02, absolute bounds ±2), bias zeros.</summary>
    internal static readonly Initializer WeightInit = Init.TruncNormal(0.02);
}

/// <summary>
/// torchvision's CNBlock: depthwise 7×7 → LayerNorm (eps 1e-6) → Linear C→4C → GELU → Linear 4C→C → × layer_scale →
/// stochastic depth (per sample) → + input. Keys: layer_scale (C, 1, 1), block.0 (dwconv), block.2 (norm),
/// block.3 and block.5 (the Linears); block.1 and block.6 are torchvision's NCHW↔NHWC permutes, which
/// channels-last makes unnecessary, so the whole block runs without a single transpose.
/// </summary>
public sealed class CNBlock : Module, ILayer
{
    private readonly Conv2d _dwconv;
    private readonly LayerNorm _norm;
    private readonly Linear _pwconv1, _pwconv2;
    private readonly Parameter _layerScale;
    private readonly DropPath _dropPath;

    public CNBlock(ParamPath p, int dim, double layerScale, double dropPath) : base(p)
    {
        _layerScale = AddParameter("layer_scale", [dim, 1, 1], Init.Constant(layerScale));
        var block = p.Sub("block");
        var w = ConvNeXtConfig.WeightInit;
        _dwconv = new Conv2d(block.Sub(0), new Conv2dConfig(dim, dim, 7) { Padding = 3, Groups = dim, WeightInit = w, BiasInit = Init.Zeros });
        _norm = new LayerNorm(block.Sub(2), dim, eps: 1e-6);
        _pwconv1 = new Linear(block.Sub(3), new LinearConfig(dim, 4 * dim) { WeightInit = w, BiasInit = Init.Zeros });
        _pwconv2 = new Linear(block.Sub(5), new LinearConfig(4 * dim, dim) { WeightInit = w, BiasInit = Init.Zeros });
        _dropPath = new DropPath(p.Sub("stochastic_depth"), dropPath);
    }

    public Tensor LayerScale => _layerScale.Value;

    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, H, W, C). pwconv1 takes GELU in its output step and pwconv2 the layer scale
    /// (folded into its packed weight in eval) and, without an active drop-path, the skip. Never frees x.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var d = _dwconv.Forward(x);                                   // (B, H, W, C)
        var n = _norm.Forward(d);
        InferenceFusion.Free(fused, d);
        var u = _pwconv1.Forward(n, Activation.Gelu);                 // (B, H, W, 4C)
        InferenceFusion.Free(fused, n);
        bool drop = Training && _dropPath.P > 0;
        var h = _pwconv2.ForwardScaled(u, LayerScale, drop ? null : x); // layer_scale (C, 1, 1) is a per-channel scale: (C) on channels-last
        InferenceFusion.Free(fused, u);
        return drop ? Ops.Add(_dropPath.Forward(h), x) : h;
    }
}

/// <summary>
/// torchvision.models.convnext.ConvNeXt. Keys: features.0.{0,1} = stem (conv 4×4/4 with bias, LayerNorm2d);
/// features.{2i+1}.{j} = the CNBlocks of stage i; features.{2i+2}.{0,1} = downsample after stage i (LayerNorm2d,
/// conv 2×2/2 with bias); classifier.0 = LayerNorm2d, classifier.2 = Linear (classifier.1 is Flatten).
/// torchvision's LayerNorm2d permutes NCHW to NHWC and back around a last-axis LayerNorm; channels-last it is
/// just that LayerNorm (eps 1e-6). The head norms the pooled features: pool → LayerNorm → Linear.
/// </summary>
public sealed class ConvNeXt : TorchvisionClassifier
{
    private readonly Conv2d _stemConv;
    private readonly LayerNorm _stemNorm;
    private readonly Sequential[] _stages = new Sequential[4];
    private readonly (LayerNorm Norm, Conv2d Conv)[] _downsamples = new (LayerNorm, Conv2d)[3];
    private readonly LayerNorm? _headNorm;
    private Linear? _fc;
    private readonly FeatureInfo[] _featureInfo = new FeatureInfo[4];

    public ConvNeXtConfig Config { get; }

    public ConvNeXt(ParamPath p, ConvNeXtConfig config) : base(p)
    {
        config.Validate();
        Config = config;
        var features = p.Sub("features");
        var w = ConvNeXtConfig.WeightInit;
        _stemConv = new Conv2d(features.Sub(0).Sub(0), new Conv2dConfig(3, config.Dims[0], 4) { Stride = 4, WeightInit = w, BiasInit = Init.Zeros });
        _stemNorm = new LayerNorm(features.Sub(0).Sub(1), config.Dims[0], eps: 1e-6);
        int total = config.Depths.Sum(), blockId = 0;
        for (int i = 0; i < 4; i++)
        {
            int dim = config.Dims[i];
            _stages[i] = new Sequential(features.Sub(2 * i + 1));
            for (int j = 0; j < config.Depths[i]; j++, blockId++)
            {
                // torchvision: rate·id/(total − 1); a single-block network has no later block to scale towards.
                double sd = total > 1 ? config.StochasticDepthProb * blockId / (total - 1.0) : 0;
                _stages[i].Add(q => new CNBlock(q, dim, config.LayerScale, sd));
            }
            _featureInfo[i] = new FeatureInfo($"features.{2 * i + 1}", dim, 4 << i);
            if (i < 3)
            {
                var ds = features.Sub(2 * i + 2);
                _downsamples[i] = (new LayerNorm(ds.Sub(0), dim, eps: 1e-6),
                                   new Conv2d(ds.Sub(1), new Conv2dConfig(dim, config.Dims[i + 1], 2) { Stride = 2, WeightInit = w, BiasInit = Init.Zeros }));
            }
        }
        NumFeatures = config.Dims[3];
        if (config.FeaturesOnly) return;
        _headNorm = new LayerNorm(p.Sub("classifier").Sub(0), NumFeatures, eps: 1e-6);
        if (config.NumClasses > 0) _fc = MakeClassifier(p.Sub("classifier").Sub(2), config.NumClasses);
    }

    private Linear MakeClassifier(ParamPath q, int numClasses) =>
        new(q, new LinearConfig(NumFeatures, numClasses) { WeightInit = ConvNeXtConfig.WeightInit, BiasInit = Init.Zeros });

    public override int NumClasses => _fc?.Config.OutFeatures ?? 0;
    public override string HeadKey => "classifier.2";
    public override int NumFeatures { get; }
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>Shapes: images (B, 3, H, W) → stage outputs (B, H/s, W/s, Dims[i]) at s = 4, 8, 16, 32 (features.1/3/5/7).</summary>
    public override IReadOnlyList<Tensor> ForwardStages(Tensor images) => Run(images, keep: true);

    /// <summary>Shapes: images (B, 3, H, W) → last stage (B, H/32, W/32, Dims[3]).</summary>
    public override Tensor ForwardFeatures(Tensor images) => Run(images, keep: false)[^1];

    /// <summary>Stem (conv 4×4/4, LayerNorm), then per stage the downsample (LayerNorm, conv 2×2/2) and the blocks.</summary>
    private List<Tensor> Run(Tensor images, bool keep)
    {
        bool fused = InferenceFusion.Applies(this, images);
        var input = ImagesToChannelsLast(images, 3);
        var s = _stemConv.Forward(input);                              // (B, H/4, W/4, Dims[0])
        FreeInput(fused, input, images);
        var x = _stemNorm.Forward(s);
        InferenceFusion.Free(fused, s);
        return RunStages(Enumerable.Range(0, 4), (i, t) =>
        {
            if (i == 0) return _stages[0].Forward(t);
            var n = _downsamples[i - 1].Norm.Forward(t);
            var d = _downsamples[i - 1].Conv.Forward(n);
            InferenceFusion.Free(fused, n);
            var y = _stages[i].Forward(d);
            if (!ReferenceEquals(y, d)) InferenceFusion.Free(fused, d);
            return y;
        }, x, fused, keep);
    }

    /// <summary>Shapes: features (B, H', W', C) → logits (B, NumClasses), or the normed pooled (B, C) with preLogits or no classifier.</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        var pooled = Ops.AdaptiveAvgPool2d(features, 1);                                  // (B, 1, 1, C)
        if (_headNorm == null) throw new InvalidOperationException("ConvNeXt.ForwardHead: this backbone was built features-only (no classifier norm or head).");
        pooled = _headNorm.Forward(pooled.Reshape(pooled.Dim(0), pooled.Dim(3)));         // (B, C)
        if (preLogits || _fc == null) return pooled;
        return _fc.Forward(pooled);
    }

    /// <summary>A new classifier.2 for <paramref name="numClasses"/> classes, initialised as torchvision (0 removes it).</summary>
    public override void ResetClassifier(int numClasses)
    {
        _fc = ReplaceHead(_fc, "classifier.2", numClasses, q => MakeClassifier(q, numClasses));
    }
}
