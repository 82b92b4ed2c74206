// torchvision's VisionTransformer (class token, learned positions, pre-norm encoder, nn.MultiheadAttention keys) under torchvision's state-dict keys.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Baselines;

/// <summary>Configuration of a <see cref="VisionTransformer"/>; defaults are vit_b_16 at 224×224.</summary>
public sealed record VisionTransformerConfig
{
    /// <summary>The one input size the model accepts (square): the position table has (ImageSize/PatchSize)² + 1 rows.</summary>
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    public int NumLayers { get; init; } = 12;
    public int NumHeads { get; init; } = 12;
    public int HiddenDim { get; init; } = 768;
    public int MlpDim { get; init; } = 3072;
    public int NumClasses { get; init; } = 1000;

    /// <summary>
    /// torchvision's dropout (after the position add, the attention and each MLP Linear).
    /// ASSUMPTION: torchvision's attention_dropout (on the attention probabilities) is not offered: it is 0 in
    /// every torchvision ViT, and the fused attention op has no dropout.
    /// </summary>
    public double Dropout { get; init; }

    public static VisionTransformerConfig B16 => new();

    public VisionTransformer Build(ParamPath p) => new(p, this);

    public int GridSize => ImageSize / PatchSize;

    internal void Validate()
    {
        if (PatchSize < 1 || ImageSize < PatchSize || ImageSize % PatchSize != 0)
            throw new ArgumentException($"VisionTransformerConfig: ImageSize {ImageSize} must be a positive multiple of PatchSize {PatchSize}.");
        if (NumLayers < 1 || NumHeads < 1 || HiddenDim % NumHeads != 0 || MlpDim < 1 || NumClasses < 0)
            throw new ArgumentException($"VisionTransformerConfig: need layers, heads, MLP width ≥ 1, HiddenDim ({HiddenDim}) divisible by NumHeads ({NumHeads}) and NumClasses ≥ 0.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"VisionTransformerConfig: Dropout {Dropout} must be in [0, 1).");
    }
}

/// <summary>
/// torchvision's EncoderBlock as the shared <see cref="TransformerBlock"/>: x + Dropout(Attn(ln_1(x))), then
/// + MLPBlock(ln_2(·)). The attention is torch.nn.MultiheadAttention (batch_first, self-attention, bias): one packed
/// in_proj_weight (3C, C) whose rows are [W_q; W_k; W_v], in_proj_bias (3C), out_proj; MLPBlock = Linear C→M (mlp.0)
/// → GELU → Dropout → Linear M→C (mlp.3) → Dropout (mlp.1, .2, .4 hold no tensors). LayerNorm eps 1e-6, exact GELU.
/// Init as torchvision: in_proj xavier-uniform with zero bias, out_proj Linear's default with zero bias, MLP
/// xavier-uniform weights and N(0, 1e-6) biases.
/// </summary>
internal static class VitBlock
{
    public static TransformerBlock Create(ParamPath p, int dim, int heads, int mlpDim, double dropout) =>
        new(p, new TransformerBlockConfig(dim, heads)
        {
            MlpHidden = mlpDim, NormEps = 1e-6, Layout = QkvLayout.InProj, Dropout = dropout, DropoutModules = true,
            HasDropPath = false, Norm1Name = "ln_1", AttnName = "self_attention", Norm2Name = "ln_2", TorchvisionMlpNames = true,
            AttnBiasInit = Init.Zeros, MlpWeightInit = Init.XavierUniform(), MlpBiasInit = Init.Normal(0, 1e-6),
        });
}

/// <summary>
/// torchvision's Encoder: + pos_embedding (1, N+1, C) → Dropout → encoder_layer_0..L-1 → ln (eps 1e-6).
/// It owns pos_embedding, so the key sits between conv_proj and the layers in state-dict order, as torchvision's.
/// </summary>
public sealed class TransformerEncoder : Module, ILayer
{
    private readonly Parameter _posEmbedding;
    private readonly Dropout _dropout;
    private readonly TransformerBlock[] _layers;
    private readonly LayerNorm _ln;

    public TransformerEncoder(ParamPath p, int tokens, VisionTransformerConfig config) : base(p)
    {
        int c = config.HiddenDim;
        _posEmbedding = AddParameter("pos_embedding", [1, tokens, c], Init.Normal(0, 0.02)); // BERT's init, as torchvision
        _dropout = new Dropout(p.Sub("dropout"), config.Dropout);
        var layers = p.Sub("layers");
        _layers = new TransformerBlock[config.NumLayers];
        for (int i = 0; i < config.NumLayers; i++)
            _layers[i] = VitBlock.Create(layers.Sub($"encoder_layer_{i}"), c, config.NumHeads, config.MlpDim, config.Dropout);
        _ln = new LayerNorm(p.Sub("ln"), c, eps: 1e-6);
    }

    public Tensor PosEmbedding => _posEmbedding.Value;

    /// <summary>Shapes: tokens (B, N+1, C) → normed tokens (B, N+1, C). On the fused path x, an intermediate of the
    /// caller, and every layer's output are freed once consumed.</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || !ShapeUtil.Equal(x.Shape[1..], PosEmbedding.Shape[1..]))
            throw new ArgumentException($"TransformerEncoder {Path}: expected tokens (B, {PosEmbedding.Dim(1)}, {PosEmbedding.Dim(2)}), got {ShapeUtil.Format(x.Shape)}.");
        bool fused = InferenceFusion.Applies(this, x);
        var h = _dropout.Forward(Ops.Add(x, PosEmbedding));
        InferenceFusion.Free(fused, x);
        foreach (var layer in _layers)
        {
            var y = layer.Forward(h);
            InferenceFusion.Free(fused, h);
            h = y;
        }
        var n = _ln.Forward(h);
        InferenceFusion.Free(fused, h);
        return n;
    }
}

/// <summary>
/// torchvision.models.vision_transformer.VisionTransformer (no conv stem, no representation layer). Keys:
/// class_token (1, 1, C), conv_proj (C, 3, P, P) + bias, encoder.pos_embedding (1, N+1, C),
/// encoder.layers.encoder_layer_{i}.{ln_1, self_attention.{in_proj_weight, in_proj_bias, out_proj}, ln_2, mlp.0, mlp.3},
/// encoder.ln, heads.head. Patches are tokens in row-major (h, w) order, the class token first.
/// Initialisation as torchvision: conv_proj trunc-normal std √(1/fan_in), positions N(0, 0.02), class token
/// and the head zeros (so before any training only the head receives a gradient).
/// Backbone API: ForwardFeatures gives the normed tokens (B, N+1, C); the one feature map of ForwardStages is the
/// patch tokens of the final (normed) encoder output reshaped to (B, H/P, W/P, C), at stride P.
/// </summary>
public sealed class VisionTransformer : TorchvisionClassifier
{
    private readonly Parameter _classToken;
    private readonly Conv2d _convProj;
    private readonly TransformerEncoder _encoder;
    private Linear? _head;
    private readonly FeatureInfo[] _featureInfo;

    public VisionTransformerConfig Config { get; }

    public VisionTransformer(ParamPath p, VisionTransformerConfig config) : base(p)
    {
        config.Validate();
        Config = config;
        int c = config.HiddenDim, ps = config.PatchSize, tokens = config.GridSize * config.GridSize + 1;
        _classToken = AddParameter("class_token", [1, 1, c], Init.Zeros);
        _convProj = new Conv2d(p.Sub("conv_proj"), new Conv2dConfig(3, c, ps)
        { Stride = ps, WeightInit = Init.TruncNormal(Math.Sqrt(1.0 / (3 * ps * ps))), BiasInit = Init.Zeros });
        _encoder = new TransformerEncoder(p.Sub("encoder"), tokens, config);
        NumFeatures = c;
        if (config.NumClasses > 0) _head = MakeHead(p.Sub("heads").Sub("head"), config.NumClasses);
        _featureInfo = [new FeatureInfo("encoder", c, ps)];
    }

    private Linear MakeHead(ParamPath q, int numClasses) =>
        new(q, new LinearConfig(NumFeatures, numClasses) { WeightInit = Init.Zeros, BiasInit = Init.Zeros });

    public override int NumClasses => _head?.Config.OutFeatures ?? 0;
    public override string HeadKey => "heads.head";
    public override int NumFeatures { get; }
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    public Tensor ClassToken => _classToken.Value;
    public Tensor PosEmbedding => _encoder.PosEmbedding;

    /// <summary>Shapes: images (B, 3, S, S) with S = ImageSize → normed tokens (B, N+1, C), class token first, N = (S/P)².</summary>
    public override Tensor ForwardFeatures(Tensor images)
    {
        int s = Config.ImageSize;
        if (images.Rank != 4 || images.Dim(2) != s || images.Dim(3) != s)
            throw new ArgumentException($"VisionTransformer: expected images (B, 3, {s}, {s}) (the model was built for {s}×{s}; set ImageSize to change), got {ShapeUtil.Format(images.Shape)}.");
        int b = images.Dim(0), c = Config.HiddenDim;
        bool fused = InferenceFusion.Applies(this, images);
        var input = ImagesToChannelsLast(images, 3);
        var x = _convProj.Forward(input);                                 // (B, S/P, S/P, C)
        FreeInput(fused, input, images);
        var cls = Ops.Expand(ClassToken, b, 1, c);                        // (B, 1, C)
        var tokens = Ops.Cat([cls, x.Reshape(b, -1, c)], 1);              // (B, N+1, C), row-major patches as torchvision
        InferenceFusion.Free(fused, x);
        return _encoder.Forward(tokens);                                  // (B, N+1, C)
    }

    /// <summary>Shapes: tokens (B, N+1, C) → logits (B, NumClasses), or the class token (B, C) with preLogits or no classifier.</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        if (features.Rank != 3 || features.Dim(2) != NumFeatures)
            throw new ArgumentException($"VisionTransformer.ForwardHead: expected tokens (B, T, {NumFeatures}), got {ShapeUtil.Format(features.Shape)}.");
        var cls = Ops.Slice(features, 1, 0, 1).Reshape(features.Dim(0), NumFeatures); // (B, C)
        if (preLogits || _head == null) return cls;
        return _head.Forward(cls);
    }

    /// <summary>Shapes: images (B, 3, S, S) → one map (B, S/P, S/P, C): the final normed patch tokens (class token dropped).</summary>
    public override IReadOnlyList<Tensor> ForwardStages(Tensor images)
    {
        var tokens = ForwardFeatures(images);
        int b = tokens.Dim(0), g = Config.GridSize;
        var patches = Ops.Slice(tokens, 1, 1, g * g);                  // (B, N, C)
        return [patches.Reshape(b, g, g, NumFeatures)];                // (B, S/P, S/P, C)
    }

    /// <summary>
    /// Older torchvision checkpoints name the MLPBlock's Linears mlp.linear_1 / mlp.linear_2; torchvision renames them
    /// on load through MLPBlock's version-2 hook, and state_dict() today writes mlp.0 / mlp.3. This returns a copy of
    /// <paramref name="state"/> with those keys renamed to today's mlp.0 / mlp.3, so such a file loads strictly.
    /// Other keys are passed through unchanged.
    /// </summary>
    public static Dictionary<string, Tensor> UpgradeLegacyKeys(IReadOnlyDictionary<string, Tensor> state)
    {
        var d = new Dictionary<string, Tensor>(state.Count);
        foreach (var (key, t) in state)
        {
            string k = key.Replace(".mlp.linear_1.", ".mlp.0.", StringComparison.Ordinal).Replace(".mlp.linear_2.", ".mlp.3.", StringComparison.Ordinal);
            if (!d.TryAdd(k, t)) throw new ArgumentException($"UpgradeLegacyKeys: both '{key}' and its new name '{k}' are present.");
        }
        return d;
    }

    /// <summary>A new heads.head for <paramref name="numClasses"/> classes, zero-initialised as torchvision (0 removes it).</summary>
    public override void ResetClassifier(int numClasses)
    {
        _head = ReplaceHead(_head, "heads.head", numClasses, q => MakeHead(q, numClasses));
    }
}
