// mmcv's ConvModule as the decode heads use it: conv (no bias) → BatchNorm → ReLU, and the bilinear resize they share.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Segmentation;

/// <summary>
/// conv k×k (no bias: a norm follows, mmcv's bias="auto") → BatchNorm → ReLU, under mmcv's keys <c>conv.weight</c>,
/// <c>bn.*</c>. Initialised as mmcv's ConvModule.init_weights for a ReLU: conv kaiming-normal (fan_out, ReLU gain),
/// BN γ = 1, β = 0. One call to <see cref="Conv2d.Forward(Tensor, BatchNorm2d?, Activation, Tensor?, bool)"/>: in
/// eval the BN folds into the conv and the ReLU runs in its output step.
/// </summary>
public sealed class ConvModule : Module, ILayer
{
    internal static readonly Initializer ConvInit = Init.KaimingNormal(FanMode.FanOut, Nonlinearity.Relu);

    public readonly Conv2d Conv;
    public readonly BatchNorm2d Bn;

    /// <param name="padding">Defaults to kernel/2 ("same" for odd kernels), as every ConvModule of UPerNet.</param>
    public ConvModule(ParamPath p, int inChannels, int outChannels, int kernelSize, int? padding = null) : base(p)
    {
        Conv = new Conv2d(p.Sub("conv"), new Conv2dConfig(inChannels, outChannels, kernelSize)
        { Padding = padding ?? kernelSize / 2, Bias = false, WeightInit = ConvInit });
        Bn = new BatchNorm2d(p.Sub("bn"), outChannels);
    }

    /// <summary>Parameters of a ConvModule: conv weight and BN affine.</summary>
    public static long CountParameters(int inChannels, int outChannels, int kernelSize) =>
        (long)inChannels * outChannels * kernelSize * kernelSize + 2L * outChannels;

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H, W, Cout) (same size for odd kernels with the default padding).</summary>
    public Tensor Forward(Tensor x) => Conv.Forward(x, Bn, Activation.Relu);
}

/// <summary>The resize of mmseg's decode heads: bilinear, align_corners = false, on channels-last maps.</summary>
internal static class SegResize
{
    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, h, w, C). x itself when it already has that size (bilinear with
    /// align_corners = false at scale 1 samples every pixel exactly: the same values torch computes).
    /// </summary>
    public static Tensor To(Tensor x, int h, int w) =>
        x.Dim(1) == h && x.Dim(2) == w ? x : Ops.Upsample(x, (h, w), UpsampleMode.Bilinear, alignCorners: false);

    /// <summary><see cref="To"/>, freeing x on the fused path when a new map was made.</summary>
    public static Tensor ToAndFree(bool fused, Tensor x, int h, int w)
    {
        var y = To(x, h, w);
        if (!ReferenceEquals(y, x)) InferenceFusion.Free(fused, x);
        return y;
    }
}
