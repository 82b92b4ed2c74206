// pytorch-fid's InceptionV3 (fid_inception_v3: torchvision's Inception3 layout with FIDInceptionA/C/E_1/E_2) as a
// pool3 feature extractor, under the keys of pt_inception-2015-12-05; channels-last inside.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Inception;

/// <summary>
/// Configuration of <see cref="FidInceptionV3"/>. The defaults are pytorch-fid's network (2048-d pool3, 1008-class fc
/// that the features never use). <see cref="WidthDivisor"/> divides every channel count (not the 3 input channels):
/// the parity fixtures run a 1/16-width twin through this same code, every block type and key kept.
/// </summary>
public sealed record FidInceptionConfig
{
    /// <summary>Every channel count is divided by this (1 = the real network; 16 = the fixtures' twin).</summary>
    public int WidthDivisor { get; init; } = 1;

    /// <summary>Classes of the fc the TF weights carry (1008); present so the file loads strictly, never run. 0: no fc.</summary>
    public int NumClasses { get; init; } = 1008;

    /// <summary>Side the images are resized to (bilinear, align_corners=False) before the network.</summary>
    public int ResizeTo { get; init; } = 299;

    /// <summary>pytorch-fid's resize_input: false feeds the images at their own size.</summary>
    public bool ResizeInput { get; init; } = true;

    /// <summary>pytorch-fid's normalize_input: images in [0, 1] become 2x − 1.</summary>
    public bool NormalizeInput { get; init; } = true;

    /// <summary>The network pytorch-fid computes FID with.</summary>
    public static FidInceptionConfig PytorchFid => new();

    public FidInceptionV3 Build(ParamPath p) => new(p, this);

    /// <summary>A channel count of the real network at this width.</summary>
    internal int C(int channels)
    {
        if (WidthDivisor < 1 || channels % WidthDivisor != 0)
            throw new ArgumentException($"FidInceptionConfig: WidthDivisor {WidthDivisor} must divide every channel count ({channels} does not divide).");
        return channels / WidthDivisor;
    }
}

/// <summary>
/// torchvision's BasicConv2d: conv (no bias) → BatchNorm (eps 0.001) → ReLU; keys conv.weight, bn.{weight, bias,
/// running_mean, running_var}. In eval the BatchNorm folds into the conv and the ReLU runs in its output step.
/// </summary>
public sealed class BasicConv2d : Module, ILayer
{
    private readonly Conv2d _conv;
    private readonly BatchNorm2d _bn;

    /// <param name="kernel">(KH, KW); <paramref name="padding"/> (padH, padW).</param>
    public BasicConv2d(ParamPath p, int inChannels, int outChannels, (int H, int W) kernel, int stride = 1, (int H, int W) padding = default) : base(p)
    {
        _conv = new Conv2d(p.Sub("conv"), new Conv2dConfig(inChannels, outChannels, kernel.H)
        { KernelWidth = kernel.W, Stride = stride, Padding = padding.H, PaddingWidth = padding.W, Bias = false });
        _bn = new BatchNorm2d(p.Sub("bn"), new BatchNorm2dConfig(outChannels) { Eps = 0.001 });
    }

    public BasicConv2d(ParamPath p, int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0)
        : this(p, inChannels, outChannels, (kernel, kernel), stride, (padding, padding)) { }

    /// <summary>Shapes: x (B, H, W, in) → (B, OH, OW, out).</summary>
    public Tensor Forward(Tensor x) => _conv.Forward(x, _bn, Activation.Relu);
}

/// <summary>TF's average pool of the FID blocks: 3×3, stride 1, padding 1, padded zeros not counted (count_include_pad=False).</summary>
internal static class FidPool
{
    public static Tensor Avg(Tensor x) => Ops.AvgPool2d(x, 3, 1, 1, countIncludePad: false);
}

/// <summary>
/// FIDInceptionA (Mixed_5b/5c/5d): branch1x1 (64) ‖ branch5x5_1 (48) → branch5x5_2 5×5 (64) ‖ branch3x3dbl_1 (64) →
/// _2 3×3 (96) → _3 3×3 (96) ‖ avg-pool (no pad count) → branch_pool (poolFeatures); concatenated in that order.
/// </summary>
public sealed class FidInceptionA : Module, ILayer
{
    private readonly BasicConv2d _b1, _b5a, _b5b, _b3a, _b3b, _b3c, _pool;

    public FidInceptionA(ParamPath p, FidInceptionConfig c, int inChannels, int poolFeatures) : base(p)
    {
        _b1 = new BasicConv2d(p.Sub("branch1x1"), inChannels, c.C(64), 1);
        _b5a = new BasicConv2d(p.Sub("branch5x5_1"), inChannels, c.C(48), 1);
        _b5b = new BasicConv2d(p.Sub("branch5x5_2"), c.C(48), c.C(64), 5, padding: 2);
        _b3a = new BasicConv2d(p.Sub("branch3x3dbl_1"), inChannels, c.C(64), 1);
        _b3b = new BasicConv2d(p.Sub("branch3x3dbl_2"), c.C(64), c.C(96), 3, padding: 1);
        _b3c = new BasicConv2d(p.Sub("branch3x3dbl_3"), c.C(96), c.C(96), 3, padding: 1);
        _pool = new BasicConv2d(p.Sub("branch_pool"), inChannels, poolFeatures, 1);
        OutChannels = c.C(64) + c.C(64) + c.C(96) + poolFeatures;
    }

    public int OutChannels { get; }

    /// <summary>Shapes: x (B, H, W, in) → (B, H, W, OutChannels).</summary>
    public Tensor Forward(Tensor x) => Ops.Cat(
        [_b1.Forward(x), _b5b.Forward(_b5a.Forward(x)), _b3c.Forward(_b3b.Forward(_b3a.Forward(x))), _pool.Forward(FidPool.Avg(x))], 3);
}

/// <summary>
/// torchvision's InceptionB (Mixed_6a): branch3x3 3×3/2 (384) ‖ branch3x3dbl_1 (64) → _2 3×3 (96) → _3 3×3/2 (96) ‖
/// max-pool 3×3/2; (B, H, W, in) → (B, ⌊(H−3)/2⌋+1, …, 384+96+in).
/// </summary>
public sealed class InceptionB : Module, ILayer
{
    private readonly BasicConv2d _b3, _bda, _bdb, _bdc;

    public InceptionB(ParamPath p, FidInceptionConfig c, int inChannels) : base(p)
    {
        _b3 = new BasicConv2d(p.Sub("branch3x3"), inChannels, c.C(384), 3, stride: 2);
        _bda = new BasicConv2d(p.Sub("branch3x3dbl_1"), inChannels, c.C(64), 1);
        _bdb = new BasicConv2d(p.Sub("branch3x3dbl_2"), c.C(64), c.C(96), 3, padding: 1);
        _bdc = new BasicConv2d(p.Sub("branch3x3dbl_3"), c.C(96), c.C(96), 3, stride: 2);
        OutChannels = c.C(384) + c.C(96) + inChannels;
    }

    public int OutChannels { get; }

    public Tensor Forward(Tensor x) => Ops.Cat(
        [_b3.Forward(x), _bdc.Forward(_bdb.Forward(_bda.Forward(x))), Ops.MaxPool2d(x, 3, 2)], 3);
}

/// <summary>
/// FIDInceptionC (Mixed_6b..6e): branch1x1 (192) ‖ branch7x7_1 (c7) → _2 1×7 → _3 7×1 (192) ‖ branch7x7dbl_1 (c7) →
/// _2 7×1 → _3 1×7 → _4 7×1 → _5 1×7 (192) ‖ avg-pool (no pad count) → branch_pool (192); 768 channels out.
/// </summary>
public sealed class FidInceptionC : Module, ILayer
{
    private readonly BasicConv2d _b1, _b7a, _b7b, _b7c, _bda, _bdb, _bdc, _bdd, _bde, _pool;

    public FidInceptionC(ParamPath p, FidInceptionConfig c, int inChannels, int channels7x7) : base(p)
    {
        int c7 = channels7x7, o = c.C(192);
        (int, int) k17 = (1, 7), k71 = (7, 1), p17 = (0, 3), p71 = (3, 0);
        _b1 = new BasicConv2d(p.Sub("branch1x1"), inChannels, o, 1);
        _b7a = new BasicConv2d(p.Sub("branch7x7_1"), inChannels, c7, 1);
        _b7b = new BasicConv2d(p.Sub("branch7x7_2"), c7, c7, k17, padding: p17);
        _b7c = new BasicConv2d(p.Sub("branch7x7_3"), c7, o, k71, padding: p71);
        _bda = new BasicConv2d(p.Sub("branch7x7dbl_1"), inChannels, c7, 1);
        _bdb = new BasicConv2d(p.Sub("branch7x7dbl_2"), c7, c7, k71, padding: p71);
        _bdc = new BasicConv2d(p.Sub("branch7x7dbl_3"), c7, c7, k17, padding: p17);
        _bdd = new BasicConv2d(p.Sub("branch7x7dbl_4"), c7, c7, k71, padding: p71);
        _bde = new BasicConv2d(p.Sub("branch7x7dbl_5"), c7, o, k17, padding: p17);
        _pool = new BasicConv2d(p.Sub("branch_pool"), inChannels, o, 1);
        OutChannels = 4 * o;
    }

    public int OutChannels { get; }

    public Tensor Forward(Tensor x) => Ops.Cat(
    [
        _b1.Forward(x),
        _b7c.Forward(_b7b.Forward(_b7a.Forward(x))),
        _bde.Forward(_bdd.Forward(_bdc.Forward(_bdb.Forward(_bda.Forward(x))))),
        _pool.Forward(FidPool.Avg(x)),
    ], 3);
}

/// <summary>
/// torchvision's InceptionD (Mixed_7a): branch3x3_1 (192) → _2 3×3/2 (320) ‖ branch7x7x3_1 (192) → _2 1×7 → _3 7×1
/// → _4 3×3/2 (192) ‖ max-pool 3×3/2; 320+192+in channels out.
/// </summary>
public sealed class InceptionD : Module, ILayer
{
    private readonly BasicConv2d _b3a, _b3b, _b7a, _b7b, _b7c, _b7d;

    public InceptionD(ParamPath p, FidInceptionConfig c, int inChannels) : base(p)
    {
        int c192 = c.C(192);
        _b3a = new BasicConv2d(p.Sub("branch3x3_1"), inChannels, c192, 1);
        _b3b = new BasicConv2d(p.Sub("branch3x3_2"), c192, c.C(320), 3, stride: 2);
        _b7a = new BasicConv2d(p.Sub("branch7x7x3_1"), inChannels, c192, 1);
        _b7b = new BasicConv2d(p.Sub("branch7x7x3_2"), c192, c192, (1, 7), padding: (0, 3));
        _b7c = new BasicConv2d(p.Sub("branch7x7x3_3"), c192, c192, (7, 1), padding: (3, 0));
        _b7d = new BasicConv2d(p.Sub("branch7x7x3_4"), c192, c192, 3, stride: 2);
        OutChannels = c.C(320) + c192 + inChannels;
    }

    public int OutChannels { get; }

    public Tensor Forward(Tensor x) => Ops.Cat(
        [_b3b.Forward(_b3a.Forward(x)), _b7d.Forward(_b7c.Forward(_b7b.Forward(_b7a.Forward(x)))), Ops.MaxPool2d(x, 3, 2)], 3);
}

/// <summary>
/// FIDInceptionE_1 (Mixed_7b, average pool without pad count) and FIDInceptionE_2 (Mixed_7c, max pool 3×3/1 pad 1):
/// branch1x1 (320) ‖ branch3x3_1 (384) → [_2a 1×3 ‖ _2b 3×1] ‖ branch3x3dbl_1 (448) → _2 3×3 (384) → [_3a 1×3 ‖
/// _3b 3×1] ‖ pool → branch_pool (192); 320+768+768+192 = 2048 channels out.
/// </summary>
public sealed class FidInceptionE : Module, ILayer
{
    private readonly BasicConv2d _b1, _b3, _b3a, _b3b, _bd1, _bd2, _bda, _bdb, _pool;
    private readonly bool _maxPool;

    public FidInceptionE(ParamPath p, FidInceptionConfig c, int inChannels, bool maxPool) : base(p)
    {
        int c384 = c.C(384);
        _maxPool = maxPool;
        _b1 = new BasicConv2d(p.Sub("branch1x1"), inChannels, c.C(320), 1);
        _b3 = new BasicConv2d(p.Sub("branch3x3_1"), inChannels, c384, 1);
        _b3a = new BasicConv2d(p.Sub("branch3x3_2a"), c384, c384, (1, 3), padding: (0, 1));
        _b3b = new BasicConv2d(p.Sub("branch3x3_2b"), c384, c384, (3, 1), padding: (1, 0));
        _bd1 = new BasicConv2d(p.Sub("branch3x3dbl_1"), inChannels, c.C(448), 1);
        _bd2 = new BasicConv2d(p.Sub("branch3x3dbl_2"), c.C(448), c384, 3, padding: 1);
        _bda = new BasicConv2d(p.Sub("branch3x3dbl_3a"), c384, c384, (1, 3), padding: (0, 1));
        _bdb = new BasicConv2d(p.Sub("branch3x3dbl_3b"), c384, c384, (3, 1), padding: (1, 0));
        _pool = new BasicConv2d(p.Sub("branch_pool"), inChannels, c.C(192), 1);
        OutChannels = c.C(320) + 4 * c384 + c.C(192);
    }

    public int OutChannels { get; }

    public Tensor Forward(Tensor x)
    {
        var b3 = _b3.Forward(x);
        var bd = _bd2.Forward(_bd1.Forward(x));
        var pooled = _maxPool ? Ops.MaxPool2d(x, 3, 1, 1) : FidPool.Avg(x);
        return Ops.Cat([_b1.Forward(x), _b3a.Forward(b3), _b3b.Forward(b3), _bda.Forward(bd), _bdb.Forward(bd), _pool.Forward(pooled)], 3);
    }
}

/// <summary>
/// pytorch-fid's InceptionV3 with output_blocks=[3] (pool3): images in [0, 1] (B, 3, H, W) → bilinear resize to
/// 299×299 (align_corners=False) → 2x − 1 → Conv2d_1a_3x3/2 → 2a → 2b → max-pool 3×3/2 → 3b_1x1 → 4a → max-pool
/// 3×3/2 → Mixed_5b..5d (A) → 6a (B) → 6b..6e (C) → 7a (D) → 7b (E_1) → 7c (E_2) → global average pool.
/// Keys are those of pt_inception-2015-12-05 (fc.* present, loaded and never run; num_batches_tracked ignored).
/// </summary>
public sealed class FidInceptionV3 : Module, ILayer
{
    private readonly BasicConv2d _c1a, _c2a, _c2b, _c3b, _c4a;
    private readonly ILayer[] _mixed;
    private readonly Linear? _fc;

    public FidInceptionConfig Config { get; }

    /// <summary>Width of the pool3 features (2048 at full width).</summary>
    public int NumFeatures { get; }

    public FidInceptionV3(ParamPath p, FidInceptionConfig config) : base(p)
    {
        Config = config;
        var c = config;
        _c1a = new BasicConv2d(p.Sub("Conv2d_1a_3x3"), 3, c.C(32), 3, stride: 2);
        _c2a = new BasicConv2d(p.Sub("Conv2d_2a_3x3"), c.C(32), c.C(32), 3);
        _c2b = new BasicConv2d(p.Sub("Conv2d_2b_3x3"), c.C(32), c.C(64), 3, padding: 1);
        _c3b = new BasicConv2d(p.Sub("Conv2d_3b_1x1"), c.C(64), c.C(80), 1);
        _c4a = new BasicConv2d(p.Sub("Conv2d_4a_3x3"), c.C(80), c.C(192), 3);
        var m5b = new FidInceptionA(p.Sub("Mixed_5b"), c, c.C(192), c.C(32));
        var m5c = new FidInceptionA(p.Sub("Mixed_5c"), c, m5b.OutChannels, c.C(64));
        var m5d = new FidInceptionA(p.Sub("Mixed_5d"), c, m5c.OutChannels, c.C(64));
        var m6a = new InceptionB(p.Sub("Mixed_6a"), c, m5d.OutChannels);
        var m6b = new FidInceptionC(p.Sub("Mixed_6b"), c, m6a.OutChannels, c.C(128));
        var m6c = new FidInceptionC(p.Sub("Mixed_6c"), c, m6b.OutChannels, c.C(160));
        var m6d = new FidInceptionC(p.Sub("Mixed_6d"), c, m6c.OutChannels, c.C(160));
        var m6e = new FidInceptionC(p.Sub("Mixed_6e"), c, m6d.OutChannels, c.C(192));
        var m7a = new InceptionD(p.Sub("Mixed_7a"), c, m6e.OutChannels);
        var m7b = new FidInceptionE(p.Sub("Mixed_7b"), c, m7a.OutChannels, maxPool: false);
        var m7c = new FidInceptionE(p.Sub("Mixed_7c"), c, m7b.OutChannels, maxPool: true);
        _mixed = [m5b, m5c, m5d, m6a, m6b, m6c, m6d, m6e, m7a, m7b, m7c];
        NumFeatures = m7c.OutChannels;
        if (config.NumClasses > 0) _fc = new Linear(p.Sub("fc"), NumFeatures, config.NumClasses);
    }

    /// <summary>
    /// Shapes: images (B, 3, H, W) in [0, 1] → pool3 features (B, NumFeatures). Images of another size are resized
    /// to 299×299 first (as pytorch-fid always does; at 299 that resize is the identity).
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        if (images.Rank != 4 || images.Dim(1) != 3)
            throw new ArgumentException($"FidInceptionV3: expected images of shape (B, 3, H, W), got {ShapeUtil.Format(images.Shape)}.");
        var x = images.Permute(0, 2, 3, 1).Contiguous();                       // (B, H, W, 3)
        int side = Config.ResizeTo;
        if (Config.ResizeInput && (x.Dim(1) != side || x.Dim(2) != side))
            x = Ops.Upsample(x, (side, side), UpsampleMode.Bilinear, alignCorners: false);   // (B, 299, 299, 3)
        if (Config.NormalizeInput) x = x * 2.0 - 1.0;
        x = _c2b.Forward(_c2a.Forward(_c1a.Forward(x)));                       // (B, 147, 147, 64)
        x = Ops.MaxPool2d(x, 3, 2);                                             // (B, 73, 73, 64)
        x = _c4a.Forward(_c3b.Forward(x));                                      // (B, 71, 71, 192)
        x = Ops.MaxPool2d(x, 3, 2);                                             // (B, 35, 35, 192)
        foreach (var m in _mixed) x = m.Forward(x);                             // (B, 8, 8, 2048)
        var pooled = Ops.AdaptiveAvgPool2d(x, 1);                               // (B, 1, 1, 2048)
        return pooled.Reshape(pooled.Dim(0), pooled.Dim(3));                    // (B, 2048)
    }

    /// <summary>The fc of the TF weights (1008 classes), or null; FID never runs it.</summary>
    public Linear? Fc => _fc;
}
