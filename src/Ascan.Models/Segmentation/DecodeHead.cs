// mmseg's BaseDecodeHead: what every decode head ends with (Dropout2d → 1×1 conv_seg) and its initialisation.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Segmentation;

/// <summary>
/// The classifier part of a decode head, as mmseg's BaseDecodeHead: <c>cls_seg(x) = conv_seg(dropout(x))</c> with a
/// 1×1 conv with bias (<c>conv_seg.weight</c>, <c>conv_seg.bias</c>), initialised normal std 0.01, bias 0 (its
/// init_cfg), and Dropout2d (whole channels) when the ratio is above 0. conv_seg is built first, so it comes first
/// in the state dict as in mmseg (BaseDecodeHead.__init__ runs before the subclass builds its convs).
/// </summary>
public abstract class DecodeHead : Module
{
    public readonly Conv2d ConvSeg;
    public readonly Dropout2d? Dropout;

    public int Channels { get; }
    public int NumClasses { get; }

    protected DecodeHead(ParamPath p, int channels, int numClasses, double dropoutRatio) : base(p)
    {
        if (channels < 1) throw new ArgumentException($"{p}: channels {channels} must be positive.");
        if (numClasses < 1) throw new ArgumentException($"{p}: number of classes {numClasses} must be positive.");
        if (dropoutRatio is < 0 or >= 1) throw new ArgumentException($"{p}: dropout ratio {dropoutRatio} must be in [0, 1).");
        Channels = channels;
        NumClasses = numClasses;
        ConvSeg = new Conv2d(p.Sub("conv_seg"), new Conv2dConfig(channels, numClasses, 1) { WeightInit = Init.Normal(0, 0.01), BiasInit = Init.Zeros });
        if (dropoutRatio > 0) Dropout = new Dropout2d(p.Sub("dropout"), dropoutRatio);
    }

    /// <summary>Parameters of conv_seg.</summary>
    public static long ClassifierParameterCount(int channels, int numClasses) => (long)channels * numClasses + numClasses;

    /// <summary>Shapes: feature maps (B, H_i, W_i, C_i), one per backbone stage → logits (B, H, W, classes) at the head's stride.</summary>
    public abstract Tensor Forward(IReadOnlyList<Tensor> features);

    /// <summary>conv_seg(dropout(x)), freeing x on the fused path. Shapes: (B, H, W, Channels) → (B, H, W, classes).</summary>
    protected Tensor ClassifyAndFree(bool fused, Tensor x)
    {
        var d = Dropout?.Forward(x) ?? x;
        var y = ConvSeg.Forward(d);
        if (!ReferenceEquals(d, x)) InferenceFusion.Free(fused, d);
        InferenceFusion.Free(fused, x);
        return y;
    }
}
