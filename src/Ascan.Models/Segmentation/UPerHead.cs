// UPerNet's decode head as mmseg's UPerHead: pyramid pooling on the last stage, an FPN over all stages, a fuse conv.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Segmentation;

/// <summary>One pyramid-pooling branch (mmseg's PPM entry <c>psp_modules.{i}</c>): AdaptiveAvgPool2d(scale) at ".0", ConvModule 1×1 at ".1".</summary>
public sealed class PoolBranch : Module
{
    public readonly ConvModule Conv;
    public int Scale { get; }

    public PoolBranch(ParamPath p, int scale, int inChannels, int channels) : base(p)
    {
        if (scale < 1) throw new ArgumentException($"{p}: pool scale {scale} must be positive.");
        Scale = scale;
        Conv = new ConvModule(p.Sub(1), inChannels, channels, 1);
    }

    /// <summary>Pool to scale×scale, 1×1 ConvModule, bilinear back to x's size. Shapes: x (B, H, W, Cin) → (B, H, W, channels).</summary>
    public Tensor Forward(Tensor x, bool fused)
    {
        var pooled = Ops.AdaptiveAvgPool2d(x, Scale);   // (B, s, s, Cin)
        var y = Conv.Forward(pooled);                   // (B, s, s, channels)
        InferenceFusion.Free(fused, pooled);
        return SegResize.ToAndFree(fused, y, x.Dim(1), x.Dim(2));
    }
}

/// <summary>
/// mmseg's UPerHead (Unified Perceptual Parsing) on channels-last maps. With stage outputs x₀…x_L (strides 4…32):
/// <code>
/// psp      = bottleneck(cat(x_L, up(ppm_s(x_L)) for s in pool_scales))   3×3 ConvModule
/// lat_i    = lateral_convs[i](x_i), i &lt; L;  lat_L = psp                    1×1 ConvModules
/// lat_{i-1} += resize(lat_i, size of lat_{i-1})    for i = L … 1           top-down
/// fpn_i    = fpn_convs[i](lat_i), i &lt; L;  fpn_L = lat_L                    3×3 ConvModules
/// logits   = conv_seg(dropout(fpn_bottleneck(cat(resize(fpn_i, size of fpn_0)))))
/// </code>
/// every resize bilinear with align_corners = false. Keys: <c>psp_modules.{i}.1.conv/bn</c>, <c>bottleneck.*</c>,
/// <c>lateral_convs.{i}.*</c>, <c>fpn_convs.{i}.*</c>, <c>fpn_bottleneck.*</c>, <c>conv_seg.*</c>.
/// </summary>
public sealed class UPerHead : DecodeHead
{
    public readonly ModuleList<PoolBranch> PspModules;
    public readonly ConvModule Bottleneck;
    public readonly ModuleList<ConvModule> LateralConvs;
    public readonly ModuleList<ConvModule> FpnConvs;
    public readonly ConvModule FpnBottleneck;

    public IReadOnlyList<int> InChannels { get; }

    public UPerHead(ParamPath p, IReadOnlyList<int> inChannels, int channels, int numClasses, IReadOnlyList<int> poolScales, double dropoutRatio)
        : base(p, channels, numClasses, dropoutRatio)
    {
        if (inChannels.Count < 2) throw new ArgumentException($"{p}: UPerHead needs at least two feature maps, got {inChannels.Count}.");
        if (poolScales.Count < 1) throw new ArgumentException($"{p}: UPerHead needs at least one pool scale.");
        InChannels = inChannels.ToArray();
        int last = inChannels[^1];
        PspModules = new ModuleList<PoolBranch>(p.Sub("psp_modules"));
        foreach (int s in poolScales) PspModules.Add(q => new PoolBranch(q, s, last, channels));
        Bottleneck = new ConvModule(p.Sub("bottleneck"), last + poolScales.Count * channels, channels, 3);
        LateralConvs = new ModuleList<ConvModule>(p.Sub("lateral_convs"));
        FpnConvs = new ModuleList<ConvModule>(p.Sub("fpn_convs"));
        for (int i = 0; i < inChannels.Count - 1; i++)
        {
            int cin = inChannels[i];
            LateralConvs.Add(q => new ConvModule(q, cin, channels, 1));
            FpnConvs.Add(q => new ConvModule(q, channels, channels, 3));
        }
        FpnBottleneck = new ConvModule(p.Sub("fpn_bottleneck"), inChannels.Count * channels, channels, 3);
    }

    /// <summary>Parameters of a UPerHead, without building it.</summary>
    public static long CountParameters(IReadOnlyList<int> inChannels, int channels, int numClasses, int poolScales = 4)
    {
        int last = inChannels[^1], levels = inChannels.Count;
        long n = poolScales * ConvModule.CountParameters(last, channels, 1)
               + ConvModule.CountParameters(last + poolScales * channels, channels, 3)
               + ConvModule.CountParameters(levels * channels, channels, 3)
               + ClassifierParameterCount(channels, numClasses);
        for (int i = 0; i < levels - 1; i++)
            n += ConvModule.CountParameters(inChannels[i], channels, 1) + ConvModule.CountParameters(channels, channels, 3);
        return n;
    }

    /// <summary>
    /// Shapes: features (B, H_i, W_i, InChannels[i]) → logits (B, H₀, W₀, classes). The features are the caller's and
    /// never freed; on the fused path every intermediate is freed after its last use.
    /// </summary>
    public override Tensor Forward(IReadOnlyList<Tensor> features)
    {
        if (features.Count != InChannels.Count)
            throw new ArgumentException($"{Path}: expected {InChannels.Count} feature maps, got {features.Count}.");
        for (int i = 0; i < features.Count; i++)
            if (features[i].Rank != 4 || features[i].Dim(3) != InChannels[i])
                throw new ArgumentException($"{Path}: feature map {i} must be channels-last (B, H, W, {InChannels[i]}), got {ShapeUtil.Format(features[i].Shape)}.");
        bool fused = InferenceFusion.Applies(this, features[0]);
        int levels = features.Count;

        var laterals = new Tensor[levels];
        for (int i = 0; i < levels - 1; i++) laterals[i] = LateralConvs[i].Forward(features[i]);   // (B, H_i, W_i, C)
        laterals[^1] = PspForward(features[^1], fused);                                           // (B, H_L, W_L, C)

        // Top-down: lat_{i-1} += resize(lat_i). On the fused path the sum is written into lat_{i-1} itself.
        for (int i = levels - 1; i > 0; i--)
        {
            var prev = laterals[i - 1];
            var up = SegResize.To(laterals[i], prev.Dim(1), prev.Dim(2));
            if (fused) Ops.AddInPlace(prev, up);
            else laterals[i - 1] = Ops.Add(prev, up);
            if (!ReferenceEquals(up, laterals[i])) InferenceFusion.Free(fused, up);
        }

        var outs = new Tensor[levels];
        for (int i = 0; i < levels - 1; i++)
        {
            outs[i] = FpnConvs[i].Forward(laterals[i]);                                          // (B, H_i, W_i, C)
            InferenceFusion.Free(fused, laterals[i]);
        }
        outs[^1] = laterals[^1];
        int h0 = outs[0].Dim(1), w0 = outs[0].Dim(2);
        for (int i = levels - 1; i > 0; i--) outs[i] = SegResize.ToAndFree(fused, outs[i], h0, w0);  // (B, H₀, W₀, C)

        var cat = Ops.Cat(outs, 3);                                                               // (B, H₀, W₀, levels·C)
        foreach (var o in outs) InferenceFusion.Free(fused, o);
        var feats = FpnBottleneck.Forward(cat);                                                   // (B, H₀, W₀, C)
        InferenceFusion.Free(fused, cat);
        return ClassifyAndFree(fused, feats);                                                     // (B, H₀, W₀, classes)
    }

    /// <summary>bottleneck(cat(x, ppm branches)). Shapes: x (B, H, W, C_L) → (B, H, W, C).</summary>
    private Tensor PspForward(Tensor x, bool fused)
    {
        var parts = new List<Tensor>(PspModules.Count + 1) { x };
        foreach (var branch in PspModules.Items) parts.Add(branch.Forward(x, fused));
        var cat = Ops.Cat(parts, 3);                                                              // (B, H, W, C_L + n·C)
        for (int i = 1; i < parts.Count; i++) InferenceFusion.Free(fused, parts[i]);
        var y = Bottleneck.Forward(cat);
        InferenceFusion.Free(fused, cat);
        return y;
    }
}
