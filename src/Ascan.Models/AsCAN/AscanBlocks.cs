// AsCAN's own pieces (SPEC §2) on channels-last maps: initialisers, stem, downsample, the C and T blocks with
// AsCAN's options, and a stage. The blocks themselves are the shared ones of Ascan.Nn (ConvBlock, TransformerBlock).
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.AsCAN;

/// <summary>Initialisers shared by the blocks.</summary>
internal static class AscanInit
{
    // ASSUMPTION: the paper gives no init. We follow timm's hybrids: convs kaiming-normal (fan-out, ReLU gain, as
    // EfficientNetV2 / ConvNeXt-era convnets), linears truncated normal std 0.02 with zero bias (as ViT), norms 1/0.
    public static readonly Initializer Conv = Init.KaimingNormal(FanMode.FanOut, Nonlinearity.Relu);
    public static readonly Initializer LinearWeight = Init.TruncNormal(0.02);

    public static Conv2d Conv3x3(ParamPath p, int cin, int cout, int stride) =>
        new(p, new Conv2dConfig(cin, cout, 3) { Stride = stride, Padding = 1, Bias = false, WeightInit = Conv });

    public static Linear Linear(ParamPath p, int cin, int cout) =>
        new(p, new LinearConfig(cin, cout) { WeightInit = LinearWeight, BiasInit = Init.Zeros });
}

/// <summary>AsCAN's C and T blocks: the shared blocks with AsCAN's norms, activations, widths and initialisers.</summary>
public static class AscanBlocks
{
    /// <summary>FusedMBConv: x + BN(conv1×1(GELU(BN(conv3×3(x, w → e·w))), e·w → w)), drop-path on the branch.</summary>
    public static ConvBlock C(ParamPath p, int width, int expansion = 4, double dropPath = 0) =>
        new(p, new ConvBlockConfig(width) { Expansion = expansion, DropPath = dropPath, ConvInit = AscanInit.Conv });

    /// <summary>Pre-norm transformer over the H·W tokens: head dim <paramref name="headDim"/>, qkv with bias, MLP ratio, LN eps 1e-5.</summary>
    public static TransformerBlock T(ParamPath p, int width, int headDim = 32, int mlpRatio = 4, double dropPath = 0)
    {
        if (headDim < 1 || width % headDim != 0) throw new ArgumentException($"Attention {p.Sub("attn")}: width {width} is not a multiple of head dim {headDim}.");
        return new(p, new TransformerBlockConfig(width, width / headDim)
        {
            MlpHidden = width * mlpRatio, DropPath = dropPath,
            AttnWeightInit = AscanInit.LinearWeight, AttnBiasInit = Init.Zeros,
            MlpWeightInit = AscanInit.LinearWeight, MlpBiasInit = Init.Zeros,
        });
    }
}

/// <summary>conv3×3/2 (3 → w/2) → BN → GELU → conv3×3/2 (w/2 → w) → BN → GELU; output stride 4.</summary>
public sealed class Stem : Module, ILayer
{
    public readonly Conv2d Conv1, Conv2;
    public readonly BatchNorm2d Bn1, Bn2;

    public Stem(ParamPath p, int width, int inChannels = 3) : base(p)
    {
        Conv1 = AscanInit.Conv3x3(p.Sub("conv1"), inChannels, width / 2, 2);
        Bn1 = new BatchNorm2d(p.Sub("bn1"), width / 2);
        Conv2 = AscanInit.Conv3x3(p.Sub("conv2"), width / 2, width, 2);
        Bn2 = new BatchNorm2d(p.Sub("bn2"), width);
    }

    /// <summary>Shapes: x (B, H, W, 3) → (B, ⌈⌈H/2⌉/2⌉, ⌈⌈W/2⌉/2⌉, w).</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var h = Conv1.Forward(x, Bn1, Activation.Gelu);   // GELU(BN(conv)) as one op: BN's output is never stored; folded in eval
        var y = Conv2.Forward(h, Bn2, Activation.Gelu);
        InferenceFusion.Free(fused, h);
        return y;
    }
}

/// <summary>conv3×3/2 (w_in → w_out, no bias) → BN: the entrance of stages 1–3.</summary>
public sealed class Downsample : Module, ILayer
{
    public readonly Conv2d Conv;
    public readonly BatchNorm2d Bn;

    public Downsample(ParamPath p, int inChannels, int outChannels) : base(p)
    {
        Conv = AscanInit.Conv3x3(p.Sub("conv"), inChannels, outChannels, 2);
        Bn = new BatchNorm2d(p.Sub("bn"), outChannels);
    }

    /// <summary>Shapes: x (B, H, W, Cin) → (B, ⌈H/2⌉, ⌈W/2⌉, Cout).</summary>
    public Tensor Forward(Tensor x) => Conv.Forward(x, Bn);
}

/// <summary>One stage: optional downsample, then its blocks in the order of the stage string.</summary>
public sealed class AscanStage : Module, ILayer
{
    public readonly Downsample? Downsample;
    public readonly ModuleList<HybridBlock> Blocks;
    public int Width { get; }

    /// <param name="dropPaths">One rate per block of <paramref name="layout"/>.</param>
    public AscanStage(ParamPath p, int inChannels, int width, string layout, bool downsample, AscanConfig config, ReadOnlySpan<double> dropPaths) : base(p)
    {
        Width = width;
        if (downsample) Downsample = new Downsample(p.Sub("downsample"), inChannels, width);
        else if (inChannels != width) throw new ArgumentException($"Stage {p}: without a downsample the input width {inChannels} must equal the stage width {width}.");
        Blocks = new ModuleList<HybridBlock>(p.Sub("blocks"));
        for (int j = 0; j < layout.Length; j++)
        {
            double dp = dropPaths[j];
            Blocks.Add(layout[j] switch
            {
                'C' => q => AscanBlocks.C(q, width, config.ExpansionRatio, dp),
                'T' => q => AscanBlocks.T(q, width, config.HeadDim, config.MlpRatio, dp),
                var k => throw new ArgumentException($"Stage {p}: unknown block kind '{k}' in \"{layout}\" (expected 'C' or 'T')."),
            });
        }
    }

    /// <summary>The stage's block string, e.g. "CCTT".</summary>
    public string Layout => new(Blocks.Items.Select(b => b.Kind).ToArray());

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H', W', w) with H' = ⌈H/2⌉ after a downsample, else H. Never frees x;
    /// on the fused path each intermediate map is freed once the next exists.</summary>
    public Tensor Forward(Tensor x) => Forward(x, freeInput: false);

    /// <summary>
    /// As <see cref="Forward(Tensor)"/>; with <paramref name="freeInput"/> (the caller no longer needs x, fused path
    /// only) x is freed as soon as the downsample or the first block has read it.
    /// </summary>
    public Tensor Forward(Tensor x, bool freeInput)
    {
        bool fused = InferenceFusion.Applies(this, x);
        bool owned = freeInput && fused;
        if (Downsample != null)
        {
            var d = Downsample.Forward(x);
            if (owned) TensorScope.Release(x);
            x = d;
            owned = true;
        }
        foreach (var block in Blocks.Items)
        {
            var y = block.Forward(x);
            if (owned) InferenceFusion.Free(fused, x);
            x = y;
            owned = true;
        }
        return x;
    }
}
