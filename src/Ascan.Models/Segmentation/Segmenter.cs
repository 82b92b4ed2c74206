// UPerNet as mmseg's EncoderDecoder: a features-only backbone, the UPerHead decode head and the auxiliary FCNHead.
using Ascan.Core;
using Ascan.Models.AsCAN;
using Ascan.Models.Baselines;
using Ascan.Nn;

namespace Ascan.Models.Segmentation;

/// <summary>
/// The heads of a UPerNet segmenter (SPEC §3; mmseg's upernet configs). Defaults are the paper-scale setting:
/// 512 decode channels, pool scales 1, 2, 3, 6, dropout 0.1, an auxiliary FCN head on stage 3 with 256 channels
/// and loss weight 0.4, 150 classes (ADE20K).
/// </summary>
public sealed record UperNetConfig
{
    public int NumClasses { get; init; } = 150;

    /// <summary>Width of every ConvModule of the decode head (mmseg's decode_head.channels).</summary>
    public int Channels { get; init; } = 512;

    public int[] PoolScales { get; init; } = [1, 2, 3, 6];

    /// <summary>Dropout2d before both classifiers (decode and auxiliary).</summary>
    public double DropoutRatio { get; init; } = 0.1;

    /// <summary>Width of the auxiliary FCN head; 0 builds none.</summary>
    public int AuxChannels { get; init; } = 256;

    /// <summary>The feature map the auxiliary head reads (2: stage 3, stride 16).</summary>
    public int AuxInIndex { get; init; } = 2;

    /// <summary>Weight of the auxiliary loss in the total (the task applies it; kept here so the config says it).</summary>
    public double AuxLossWeight { get; init; } = 0.4;

    public void Validate(int numFeatures)
    {
        if (NumClasses < 1) throw new ArgumentException($"UperNetConfig: NumClasses = {NumClasses} must be positive.");
        if (Channels < 1) throw new ArgumentException($"UperNetConfig: Channels = {Channels} must be positive.");
        if (AuxChannels < 0) throw new ArgumentException($"UperNetConfig: AuxChannels = {AuxChannels} must be ≥ 0 (0: no auxiliary head).");
        if (PoolScales is null || PoolScales.Length == 0 || PoolScales.Any(s => s < 1)) throw new ArgumentException("UperNetConfig: PoolScales must be positive and not empty.");
        if (DropoutRatio is < 0 or >= 1) throw new ArgumentException($"UperNetConfig: DropoutRatio = {DropoutRatio} must be in [0, 1).");
        if (AuxChannels > 0 && (AuxInIndex < 0 || AuxInIndex >= numFeatures))
            throw new ArgumentException($"UperNetConfig: AuxInIndex = {AuxInIndex}, but the backbone has {numFeatures} feature maps.");
    }

    /// <summary>Parameters of both heads for a backbone with these feature maps, without building them.</summary>
    public long HeadParameterCount(IReadOnlyList<int> featureChannels)
    {
        long n = UPerHead.CountParameters(featureChannels, Channels, NumClasses, PoolScales.Length);
        if (AuxChannels > 0) n += FcnHead.CountParameters(featureChannels[AuxInIndex], AuxChannels, NumClasses);
        return n;
    }
}

/// <summary>What the training forward returns: channels-last logits at the heads' strides (decode 4, auxiliary 16).</summary>
/// <param name="Decode">(B, H₀, W₀, classes): the decode head's logits at the first feature map's size (stride 4).</param>
/// <param name="Aux">(B, H₂, W₂, classes): the auxiliary head's logits, or null (eval, or no auxiliary head).</param>
public sealed record SegmentationLogits(Tensor Decode, Tensor? Aux);

/// <summary>
/// A semantic segmenter as mmseg's EncoderDecoder: <c>backbone.*</c> (a classifier built features-only: no final
/// norm, no head), <c>decode_head.*</c> (<see cref="UPerHead"/>) and <c>auxiliary_head.*</c> (<see cref="FcnHead"/>,
/// training only). <see cref="Forward"/> is mmseg's inference: decode logits resized bilinear (align_corners = false)
/// to the input size, NCHW. <see cref="ForwardLogits"/> is what a training task reads: both heads' logits
/// channels-last at their own strides; the task resizes them to the label size and weighs the auxiliary loss by
/// <see cref="UperNetConfig.AuxLossWeight"/>.
/// </summary>
public sealed class Segmenter : Module, ILayer
{
    public readonly ClassifierModel Backbone;
    public readonly UPerHead DecodeHead;
    public readonly FcnHead? AuxiliaryHead;

    public UperNetConfig Config { get; }
    public int NumClasses => Config.NumClasses;

    /// <param name="backbone">Builds the backbone features-only on the path it is given (<c>backbone</c>).</param>
    public Segmenter(ParamPath p, Func<ParamPath, ClassifierModel> backbone, UperNetConfig config) : base(p)
    {
        Backbone = backbone(p.Sub("backbone"));
        if (!ReferenceEquals(Backbone.Path, p.Sub("backbone"))) throw new InvalidOperationException("Segmenter: build the backbone on the path it is given.");
        var info = Backbone.FeatureInfo;
        config.Validate(info.Count);
        Config = config;
        var channels = info.Select(f => f.Channels).ToArray();
        DecodeHead = new UPerHead(p.Sub("decode_head"), channels, config.Channels, config.NumClasses, config.PoolScales, config.DropoutRatio);
        if (config.AuxChannels > 0)
            AuxiliaryHead = new FcnHead(p.Sub("auxiliary_head"), channels[config.AuxInIndex], config.AuxInIndex, config.AuxChannels, config.NumClasses, 1, config.DropoutRatio);
    }

    /// <summary>
    /// mmseg inference: decode logits resized to the input size. Shapes: images (B, 3, H, W) → logits (B, classes, H, W).
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        bool fused = InferenceFusion.Applies(this, images);
        var logits = ForwardLogits(images, withAux: false).Decode;                               // (B, H/4, W/4, K)
        var up = SegResize.ToAndFree(fused, logits, images.Dim(2), images.Dim(3));              // (B, H, W, K)
        var y = up.Permute(0, 3, 1, 2).Contiguous();                                            // (B, K, H, W)
        InferenceFusion.Free(fused, up);
        return y;
    }

    /// <summary>
    /// Both heads' logits, channels-last at their strides; the auxiliary head runs when <paramref name="withAux"/>
    /// (default: in training) and exists. Shapes: images (B, 3, H, W) → decode (B, H₀, W₀, K), aux (B, H₂, W₂, K).
    /// </summary>
    public SegmentationLogits ForwardLogits(Tensor images, bool? withAux = null)
    {
        bool fused = InferenceFusion.Applies(this, images);
        var features = Backbone.ForwardStages(images);                                           // (B, H/s, W/s, C_i)
        var decode = DecodeHead.Forward(features);
        var aux = AuxiliaryHead != null && (withAux ?? Training) ? AuxiliaryHead.Forward(features) : null;
        foreach (var f in features) InferenceFusion.Free(fused, f);
        return new SegmentationLogits(decode, aux);
    }

    /// <summary>
    /// Initialises the backbone from a classifier's state dict (e.g. ImageNet weights of the same family), with or
    /// without a "backbone." prefix. The classifier's own head and final norm, which a features-only backbone lacks,
    /// are skipped and returned; anything else must match exactly (every backbone tensor present, same shapes, no other
    /// keys), else an <see cref="ArgumentException"/> names what differs and nothing is loaded.
    /// </summary>
    public IReadOnlyList<string> LoadBackbone(IReadOnlyDictionary<string, Tensor> state)
    {
        const string prefix = "backbone.";
        bool prefixed = state.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
        var own = new Dictionary<string, Tensor>();
        var skipped = new List<string>();
        var classifierOnly = ClassifierOnlyPrefixes(Backbone);
        foreach (var (key, t) in state)
        {
            if (prefixed && !key.StartsWith(prefix, StringComparison.Ordinal))
                throw new ArgumentException($"LoadBackbone: '{key}' has no '{prefix}' prefix while other keys have one; pass a classifier's state dict, or a segmenter's to LoadStateDict.");
            string k = prefixed ? key[prefix.Length..] : key;
            if (classifierOnly.Any(c => k.StartsWith(c + ".", StringComparison.Ordinal))) skipped.Add(key);
            else own[prefix + k] = t;   // the backbone's own keys carry its path, "backbone."
        }
        try { Backbone.LoadStateDict(own, strict: true); }   // strict: loads nothing unless everything matches
        catch (StateDictException e)
        {
            throw new ArgumentException($"LoadBackbone: the state dict does not match the {Backbone.GetType().Name} backbone "
                + $"(skipped as classifier-only: {(skipped.Count == 0 ? "none" : string.Join(", ", skipped))}); nothing was loaded.\n{e.Report}",
                nameof(state), e);
        }
        return skipped;
    }

    /// <summary>The key prefixes a classifier has and its features-only backbone does not: the head and the final norm.</summary>
    public static IReadOnlyList<string> ClassifierOnlyPrefixes(ClassifierModel backbone)
    {
        var list = new List<string>();
        if (backbone.HeadKey is { } head) list.Add(head);
        switch (backbone)
        {
            case AscanModel: list.Add("norm"); break;
            case ConvNeXt: list.Add("classifier.0"); break;
        }
        return list;
    }

    /// <summary>Builds a registered segmenter (kind <see cref="ModelKind.Segmenter"/>); names the entry's kind when it is not one.</summary>
    public static Segmenter Create(string name, ModelOptions? options = null)
    {
        var e = ModelRegistry.Get(name);
        if (e.Kind != ModelKind.Segmenter)
            throw new ArgumentException($"Model '{name}' is a {e.Kind.ToString().ToLowerInvariant()}, not a segmenter. Segmenters: {string.Join(", ", ModelRegistry.List().Where(x => x.Kind == ModelKind.Segmenter).Select(x => x.Name))}.");
        return (Segmenter)ModelRegistry.Create(name, options);
    }
}
