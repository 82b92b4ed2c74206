// mmseg's FCNHead as UPerNet's auxiliary head: ConvModules on one stage, Dropout2d, 1×1 classifier.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Segmentation;

/// <summary>
/// mmseg's FCNHead with concat_input = False on feature map <see cref="InIndex"/>: <c>convs</c> = num_convs 3×3
/// ConvModules (the first from the stage's width to <see cref="DecodeHead.Channels"/>), then conv_seg(dropout(·)).
/// Keys: <c>conv_seg.*</c>, <c>convs.{i}.conv/bn</c>. UPerNet's auxiliary head: stage 3 (index 2), one conv,
/// 256 channels, loss weight 0.4, used in training only.
/// </summary>
public sealed class FcnHead : DecodeHead
{
    public readonly Sequential Convs;
    public int InIndex { get; }
    public int InChannelCount { get; }

    public FcnHead(ParamPath p, int inChannels, int inIndex, int channels, int numClasses, int numConvs = 1, double dropoutRatio = 0.1)
        : base(p, channels, numClasses, dropoutRatio)
    {
        if (numConvs < 1) throw new ArgumentException($"{p}: FCNHead needs at least one conv (num_convs = 0, the identity, is not supported).");
        InIndex = inIndex;
        InChannelCount = inChannels;
        Convs = new Sequential(p.Sub("convs"));
        for (int i = 0; i < numConvs; i++)
        {
            int cin = i == 0 ? inChannels : channels;
            Convs.Add(q => new ConvModule(q, cin, channels, 3));
        }
    }

    /// <summary>Parameters of an FCNHead, without building it.</summary>
    public static long CountParameters(int inChannels, int channels, int numClasses, int numConvs = 1) =>
        ConvModule.CountParameters(inChannels, channels, 3) + (numConvs - 1) * ConvModule.CountParameters(channels, channels, 3)
        + ClassifierParameterCount(channels, numClasses);

    /// <summary>Shapes: features (…, (B, H, W, InChannelCount) at InIndex, …) → logits (B, H, W, classes). Features are not freed.</summary>
    public override Tensor Forward(IReadOnlyList<Tensor> features)
    {
        if (InIndex >= features.Count) throw new ArgumentException($"{Path}: reads feature map {InIndex}, but only {features.Count} were given.");
        var x = features[InIndex];
        if (x.Rank != 4 || x.Dim(3) != InChannelCount)
            throw new ArgumentException($"{Path}: feature map {InIndex} must be channels-last (B, H, W, {InChannelCount}), got {ShapeUtil.Format(x.Shape)}.");
        bool fused = InferenceFusion.Applies(this, x);
        var h = Convs.Forward(x);                                          // (B, H, W, Channels)
        return ClassifyAndFree(fused, h);
    }
}
