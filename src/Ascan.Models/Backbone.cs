// The backbone contract every image model builds on (timm's features_only / feature_info): stage outputs with their
// channels and strides, channels-last inside, what dense heads and UNet encoders read.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary>One feature map a backbone exposes for dense heads; Blocks describes what built it (e.g. "CCCTTTTT").</summary>
public sealed record FeatureInfo(string Name, int Channels, int Reduction, string? Blocks = null);

/// <summary>
/// An image backbone. Images come in PyTorch's layout (B, C, H, W); every feature map inside is channels-last
/// (B, H, W, C), converted once at the entrance. Eval mode is fast because its layers are (see
/// <see cref="Module.FusedInference"/>): a model has one forward.
/// </summary>
public abstract class Backbone(ParamPath p) : Module(p)
{
    /// <summary>The feature maps <see cref="ForwardStages"/> returns, in order (e.g. strides 4, 8, 16, 32).</summary>
    public abstract IReadOnlyList<FeatureInfo> FeatureInfo { get; }

    /// <summary>Shapes: images (B, 3, H, W) → one channels-last map per <see cref="FeatureInfo"/> entry.</summary>
    public abstract IReadOnlyList<Tensor> ForwardStages(Tensor images);

    private bool _collected;

    /// <summary>
    /// (B, C, H, W) → (B, H, W, C), checking the channel count the stem expects. Before the first fused (eval)
    /// forward, one compacting collection returns what building or loading left on the heap, so it does not add to
    /// the peak memory on top of the packed weights.
    /// </summary>
    protected Tensor ImagesToChannelsLast(Tensor images, int channels)
    {
        if (images.Rank != 4 || images.Dim(1) != channels)
            throw new ArgumentException($"Expected images of shape (B, {channels}, H, W), got {ShapeUtil.Format(images.Shape)}.");
        if (!_collected && InferenceFusion.Applies(this, images)) { _collected = true; InferenceFusion.CollectBeforePacking(); }
        return images.Permute(0, 2, 3, 1).Contiguous();
    }

    /// <summary>Frees <paramref name="input"/>, the channels-last copy of <paramref name="images"/>, once the stem read it (fused path only).</summary>
    protected static void FreeInput(bool fused, Tensor input, Tensor images)
    {
        if (input.Storage != images.Storage) InferenceFusion.Free(fused, input);
    }
}

/// <summary>
/// An image classifier with timm's backbone API: <see cref="ForwardFeatures"/> → <see cref="ForwardHead"/>, and the
/// stage outputs of <see cref="Backbone"/>. Built features-only (no classifier, no final norm) it is the backbone of
/// a segmenter or a UNet encoder.
/// </summary>
public abstract class ClassifierModel(ParamPath p) : Backbone(p), ILayer
{
    /// <summary>Number of output classes, read from the model's own head (0 = no classifier: Forward returns pooled features).</summary>
    public abstract int NumClasses { get; }

    /// <summary>
    /// The state-dict prefix of the classifier Linear ("head", "fc", "classifier.2", "heads.head"), whether or not the
    /// model has one now: the number of classes of a weights file is the first dimension of its "&lt;HeadKey&gt;.weight".
    /// Null when the family has no single classifier Linear.
    /// </summary>
    public virtual string? HeadKey => null;

    /// <summary>The number of classes the classifier in <paramref name="state"/> has (0 for headless weights), read from
    /// <see cref="HeadKey"/>; null when the family does not say where its head is.</summary>
    public int? NumClassesIn(IReadOnlyDictionary<string, Tensor> state) =>
        HeadKey is not { } k ? null : state.TryGetValue(k + ".weight", out var w) && w.Rank == 2 ? w.Dim(0) : 0;

    /// <summary>Width of the pooled features that feed the classifier.</summary>
    public abstract int NumFeatures { get; }

    /// <summary>Shapes: images (B, 3, H, W) → the last feature map, channels-last (B, H', W', C) (tokens (B, T, C) for ViT).</summary>
    public abstract Tensor ForwardFeatures(Tensor images);

    /// <summary>Shapes: features from <see cref="ForwardFeatures"/> → logits (B, classes), or pooled pre-logits (B, NumFeatures).</summary>
    public abstract Tensor ForwardHead(Tensor features, bool preLogits = false);

    /// <summary>Replaces the classifier with a freshly initialised one for <paramref name="numClasses"/> (0 removes it).</summary>
    public abstract void ResetClassifier(int numClasses);

    /// <summary>Shapes: images (B, 3, H, W) → logits (B, classes).</summary>
    public Tensor Forward(Tensor images) => ForwardHead(ForwardFeatures(images));

    /// <summary>
    /// Runs <paramref name="stages"/> in order on <paramref name="x"/>, keeping every stage output when
    /// <paramref name="keep"/> (ForwardStages) or only the last (ForwardFeatures). On the fused path each map is freed
    /// once the next exists, unless it is kept; <paramref name="ownsInput"/> says whether x itself may be freed.
    /// </summary>
    protected static List<Tensor> RunStages<T>(IEnumerable<T> stages, Func<T, Tensor, Tensor> forward, Tensor x, bool fused, bool keep, bool ownsInput = true) =>
        RunStages(stages, (s, t, _) => forward(s, t), x, fused, keep, ownsInput, stageFrees: false);

    /// <summary>
    /// As above, with <paramref name="forward"/> told whether the stage may free its input itself as soon as it has
    /// read it (<paramref name="stageFrees"/>: e.g. after a downsample, lowering the peak memory).
    /// </summary>
    protected static List<Tensor> RunStages<T>(IEnumerable<T> stages, Func<T, Tensor, bool, Tensor> forward, Tensor x, bool fused, bool keep, bool ownsInput, bool stageFrees)
    {
        var outs = new List<Tensor>();
        bool owned = ownsInput;
        foreach (var s in stages)
        {
            var y = forward(s, x, owned && fused && stageFrees);
            if (owned && !stageFrees && !ReferenceEquals(y, x)) InferenceFusion.Free(fused, x);
            x = y;
            owned = !keep;
            if (keep) outs.Add(x);
        }
        if (!keep) outs.Add(x);
        return outs;
    }
}
