// The classifier base shared by AsCAN and the baselines: timm's backbone API on channels-last features.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary>One feature map a backbone exposes for dense heads; Blocks describes what built it (e.g. "CCCTTTTT").</summary>
public sealed record FeatureInfo(string Name, int Channels, int Reduction, string? Blocks = null);

/// <summary>
/// An image classifier with timm's backbone API. Images come in PyTorch's layout (B, 3, H, W); every
/// feature map inside is channels-last (B, H, W, C), converted once at the entrance.
/// </summary>
public abstract class ClassifierModel(ParamPath p) : Module(p), ILayer
{
    /// <summary>Number of output classes (0 = no classifier: Forward returns pooled features).</summary>
    public abstract int NumClasses { get; }

    /// <summary>Width of the pooled features that feed the classifier.</summary>
    public abstract int NumFeatures { get; }

    /// <summary>The feature maps <see cref="ForwardStages"/> returns, in order (e.g. strides 4, 8, 16, 32).</summary>
    public abstract IReadOnlyList<FeatureInfo> FeatureInfo { get; }

    /// <summary>Shapes: images (B, 3, H, W) → the last feature map, channels-last (B, H', W', C) (tokens (B, T, C) for ViT).</summary>
    public abstract Tensor ForwardFeatures(Tensor images);

    /// <summary>Shapes: features from <see cref="ForwardFeatures"/> → logits (B, classes), or pooled pre-logits (B, NumFeatures).</summary>
    public abstract Tensor ForwardHead(Tensor features, bool preLogits = false);

    /// <summary>Shapes: images (B, 3, H, W) → one channels-last map per <see cref="FeatureInfo"/> entry.</summary>
    public abstract IReadOnlyList<Tensor> ForwardStages(Tensor images);

    /// <summary>Replaces the classifier with a freshly initialised one for <paramref name="numClasses"/> (0 removes it).</summary>
    public abstract void ResetClassifier(int numClasses);

    /// <summary>Shapes: images (B, 3, H, W) → logits (B, classes).</summary>
    public Tensor Forward(Tensor images) => ForwardHead(ForwardFeatures(images));

    /// <summary>
    /// In eval mode with no autograd graph to record, run the model's fused inference path where it has one: norms
    /// folded into convs, bias, activation and residual adds in the GEMM output step, weights packed once (re-packed
    /// when they change), activations freed as soon as they are consumed. Outputs equal the plain path up to float
    /// rounding. Default on; off runs every op as in training.
    /// </summary>
    public bool FusedInference { get; set; } = true;

    private bool _collected;

    /// <summary>Whether this forward takes the fused inference path (see <see cref="FusedInference"/>).</summary>
    protected bool UseFused(Tensor x)
    {
        if (!FusedInference || !InferenceFusion.Applies(this, x)) return false;
        if (!_collected) { _collected = true; InferenceFusion.CollectBeforePacking(); }
        return true;
    }

    /// <summary>(B, C, H, W) → (B, H, W, C), checking that the channel count is what the stem expects.</summary>
    protected static Tensor ImagesToChannelsLast(Tensor images, int channels)
    {
        if (images.Rank != 4 || images.Dim(1) != channels)
            throw new ArgumentException($"Expected images of shape (B, {channels}, H, W), got {ShapeUtil.Format(images.Shape)}.");
        return images.Permute(0, 2, 3, 1).Contiguous();
    }
}
