// The AsCAN classifier (SPEC §2): stem → stages of C and T blocks → global average pool → LayerNorm → Linear.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.AsCAN;

/// <summary>
/// Asymmetric convolution-attention network. Parameter names are SPEC §2's checkpoint keys (stem.conv1.weight,
/// stages.{i}.downsample.conv.weight, stages.{i}.blocks.{j}.attn.qkv.weight, norm.weight, head.weight …), so a
/// PyTorch module with the same names (tools/ascan_torch.py) loads strictly. Feature maps are channels-last.
/// Built with <see cref="AscanConfig.FeaturesOnly"/> it has no final norm and no head: the backbone of a dense model.
/// </summary>
public sealed class AscanModel : ClassifierModel
{
    public readonly Stem Stem;
    public readonly ModuleList<AscanStage> Stages;
    private readonly LayerNorm? _norm;
    private Linear? _head;
    private readonly FeatureInfo[] _featureInfo;

    public AscanConfig Config { get; private set; }

    public AscanModel(ParamPath p, AscanConfig config) : base(p)
    {
        config.Validate();
        Config = config;
        Stem = new Stem(p.Sub("stem"), config.Widths[0]);
        Stages = new ModuleList<AscanStage>(p.Sub("stages"));
        var rates = config.DropPathRates();
        int k = 0;
        for (int i = 0; i < config.NumStages; i++)
        {
            int cin = i == 0 ? config.Widths[0] : config.Widths[i - 1], first = k;
            string layout = config.Stages[i];
            Stages.Add(q => new AscanStage(q, cin, config.Widths[i], layout, downsample: i > 0, config, rates.AsSpan(first, layout.Length)));
            k += layout.Length;
        }
        if (!config.FeaturesOnly)
        {
            _norm = new LayerNorm(p.Sub("norm"), config.Widths[^1], 1e-5);
            if (config.NumClasses > 0) _head = AscanInit.Linear(p.Sub("head"), config.Widths[^1], config.NumClasses);
        }
        _featureInfo = Enumerable.Range(0, config.NumStages)
            .Select(i => new FeatureInfo($"stages.{i}", config.Widths[i], 4 << i, config.Stages[i])).ToArray();
    }

    /// <summary>The final LayerNorm (null when built features-only).</summary>
    public LayerNorm Norm => _norm ?? throw new InvalidOperationException("This AsCAN backbone was built features-only: it has no final norm.");

    /// <summary>The classifier, or null when <see cref="NumClasses"/> is 0.</summary>
    public Linear? Head => _head;

    public override int NumClasses => _head?.Config.OutFeatures ?? 0;
    public override string HeadKey => "head";
    public override int NumFeatures => Config.Widths[^1];
    public override IReadOnlyList<FeatureInfo> FeatureInfo => _featureInfo;

    /// <summary>Shapes: images (B, 3, H, W) → last stage (B, H/32, W/32, C_last) (sizes rounded up at each stride-2 conv).</summary>
    public override Tensor ForwardFeatures(Tensor images) => Run(images, keep: false)[^1];

    /// <summary>Shapes: images (B, 3, H, W) → one map per stage, (B, H/s, W/s, w_i) at strides s = 4, 8, 16, 32.</summary>
    public override IReadOnlyList<Tensor> ForwardStages(Tensor images) => Run(images, keep: true);

    private List<Tensor> Run(Tensor images, bool keep)
    {
        bool fused = InferenceFusion.Applies(this, images);
        var input = ImagesToChannelsLast(images, 3);      // (B, H, W, 3)
        var x = Stem.Forward(input);                      // (B, H/4, W/4, w0)
        FreeInput(fused, input, images);
        return RunStages(Stages.Items, (s, t, free) => s.Forward(t, free), x, fused, keep, ownsInput: true, stageFrees: true);
    }

    /// <summary>Shapes: features (B, H, W, C) → logits (B, classes), or normalised pooled features (B, C) when
    /// <paramref name="preLogits"/> or when there is no head.</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        if (features.Rank != 4 || features.Dim(3) != NumFeatures)
            throw new ArgumentException($"AscanModel.ForwardHead expects channels-last features (B, H, W, {NumFeatures}), got {ShapeUtil.Format(features.Shape)}.");
        bool fused = InferenceFusion.Applies(this, features);
        var pooled = Norm.Forward(features.Mean([1, 2])); // (B, C)
        if (preLogits || _head == null) return pooled;
        var logits = _head.Forward(pooled);               // (B, classes)
        InferenceFusion.Free(fused, pooled);
        return logits;
    }

    /// <summary>A new, freshly initialised head for <paramref name="numClasses"/> classes (0 removes it); the rest is kept.</summary>
    public override void ResetClassifier(int numClasses)
    {
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "Number of classes must be ≥ 0.");
        if (_norm == null) throw new InvalidOperationException("ResetClassifier: this AsCAN backbone was built features-only (no final norm or head).");
        int c = NumFeatures;
        if (_head != null && numClasses > 0) _head = ReplaceChild("head", q => AscanInit.Linear(q, c, numClasses));
        else if (_head != null) { RemoveChild("head"); _head = null; }
        else if (numClasses > 0)
        {
            // No head yet (built with 0 classes): the new one registers last, where "head" sits in the state dict.
            _head = AscanInit.Linear(Path.Sub("head"), c, numClasses);
            var dtype = _norm.Weight?.DType ?? Path.DType;
            if (dtype != Path.DType) _head.To(dtype);
            _head.Train(Training);
            _head.FusedInference = FusedInference;
        }
        Config = Config with { NumClasses = numClasses };
    }
}
