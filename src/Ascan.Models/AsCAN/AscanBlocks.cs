// AsCAN building blocks (SPEC §2) on channels-last maps: stem, downsample, C block (FusedMBConv), T block (pre-norm transformer), stage.
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
        x = Bn1.ForwardAct(Conv1.Forward(x), Activation.Gelu);     // GELU(BN(conv)) as one op: BN's output is never stored
        return Bn2.ForwardAct(Conv2.Forward(x), Activation.Gelu);
    }

    private FoldedConv2d? _fused1, _fused2;

    /// <summary>The eval-mode forward with BN folded into the convs and GELU in their output step. Shapes: as <see cref="Forward"/>.</summary>
    public Tensor ForwardFused(Tensor x)
    {
        _fused1 ??= new FoldedConv2d(Conv1, Bn1);
        _fused2 ??= new FoldedConv2d(Conv2, Bn2);
        var h = _fused1.Forward(x, Activation.Gelu);   // (B, H/2, W/2, w/2)
        var y = _fused2.Forward(h, Activation.Gelu);   // (B, H/4, W/4, w)
        TensorScope.Release(h);
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
    public Tensor Forward(Tensor x) => Bn.Forward(Conv.Forward(x));

    private FoldedConv2d? _fused;

    /// <summary>The eval-mode forward, BN folded into the conv. Shapes: as <see cref="Forward"/>.</summary>
    public Tensor ForwardFused(Tensor x) => (_fused ??= new FoldedConv2d(Conv, Bn)).Forward(x);
}

/// <summary>A block of a stage: 'C' or 'T', same shape in and out, with its own drop-path rate.</summary>
public abstract class AscanBlock(ParamPath p) : Module(p), ILayer
{
    /// <summary>'C' or 'T'.</summary>
    public abstract char Kind { get; }

    public abstract double DropPathRate { get; }

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C).</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>
    /// The eval-mode inference forward on folded, pre-packed weights (see <see cref="AscanModel.FusedInference"/>):
    /// the same function as <see cref="Forward"/> up to float rounding. Never releases x; frees its own intermediates.
    /// Shapes: x (B, H, W, C) → (B, H, W, C).
    /// </summary>
    public abstract Tensor ForwardFused(Tensor x);
}

/// <summary>FusedMBConv (C block): x + DropPath(BN(conv1×1(GELU(BN(conv3×3(x, w → e·w))), e·w → w))).</summary>
public sealed class ConvBlock : AscanBlock
{
    public readonly Conv2d ConvExp, ConvProj;
    public readonly BatchNorm2d Bn1, Bn2;
    public readonly DropPath DropPath;

    public ConvBlock(ParamPath p, int width, int expansion = 4, double dropPath = 0) : base(p)
    {
        int hidden = width * expansion;
        ConvExp = AscanInit.Conv3x3(p.Sub("conv_exp"), width, hidden, 1);
        Bn1 = new BatchNorm2d(p.Sub("bn1"), hidden);
        ConvProj = new Conv2d(p.Sub("conv_proj"), new Conv2dConfig(hidden, width, 1) { Bias = false, WeightInit = AscanInit.Conv });
        Bn2 = new BatchNorm2d(p.Sub("bn2"), width);
        DropPath = new DropPath(p.Sub("drop_path"), dropPath);
    }

    public override char Kind => 'C';
    public override double DropPathRate => DropPath.P;

    /// <summary>Shapes: x (B, H, W, w) → (B, H, W, w).</summary>
    public override Tensor Forward(Tensor x)
    {
        // conv1×1(GELU(BN(conv3×3(x)))) with the (B, H, W, e·w) activation recomputed in the backward, not stored.
        var y = Bn1.ForwardActConv1x1(ConvExp.Forward(x), Activation.Gelu, ConvProj);   // (B, H, W, w)
        // Without an active drop-path the skip is added inside the BN op (no separate sum).
        if (!Training || DropPath.P == 0) return Bn2.ForwardAct(y, Activation.None, residual: x);
        return x + DropPath.Forward(Bn2.Forward(y));
    }

    private FoldedConv2d? _fusedExp, _fusedProj;

    /// <summary>conv3×3+BN+GELU in one pass, then conv1×1+BN with the skip added in its output step (drop-path is identity in eval).</summary>
    public override Tensor ForwardFused(Tensor x)
    {
        _fusedExp ??= new FoldedConv2d(ConvExp, Bn1);
        _fusedProj ??= new FoldedConv2d(ConvProj, Bn2);
        var h = _fusedExp.Forward(x, Activation.Gelu);             // (B, H, W, e·w)
        var y = _fusedProj.Forward(h, residual: x);                // (B, H, W, w)
        TensorScope.Release(h);
        return y;
    }
}

/// <summary>Multi-head self-attention: qkv linear (with bias) → softmax(q·kᵀ·HD^-½)·v → proj.</summary>
public sealed class Attention : Module, ILayer
{
    public readonly Linear Qkv, Proj;
    public int NumHeads { get; }
    public int HeadDim { get; }

    public Attention(ParamPath p, int dim, int headDim) : base(p)
    {
        if (headDim < 1 || dim % headDim != 0) throw new ArgumentException($"Attention {p}: width {dim} is not a multiple of head dim {headDim}.");
        HeadDim = headDim;
        NumHeads = dim / headDim;
        Qkv = AscanInit.Linear(p.Sub("qkv"), dim, 3 * dim);
        Proj = AscanInit.Linear(p.Sub("proj"), dim, dim);
    }

    /// <summary>Shapes: t (B, T, C) → (B, T, C).</summary>
    public Tensor Forward(Tensor t) => Forward(t, null);

    /// <summary>Shapes: t (B, T, C), residual (B, T, C) or null → (B, T, C): residual + Attn(t), the sum in the projection.</summary>
    public Tensor Forward(Tensor t, Tensor? residual)
    {
        var qkv = Qkv.Forward(t);                                                  // (B, T, 3·C) = (B, T, 3, NH, HD)
        var o = Ops.AttentionQkv(qkv, NumHeads, 1.0 / Math.Sqrt(HeadDim));        // (B, T, C), heads concatenated
        return residual == null ? Proj.Forward(o) : Proj.Forward(o, residual);     // (B, T, C)
    }

    private PackedLinear? _qkv, _proj;

    /// <summary>Inference: packed qkv, attention read straight from the (B, T, 3, NH, HD) projection, packed proj with
    /// <paramref name="residual"/> added in its output step. Shapes: t (B, T, C), residual (B, T, C) or null → (B, T, C).</summary>
    public Tensor ForwardFused(Tensor t, Tensor? residual)
    {
        _qkv ??= new PackedLinear(Qkv);
        _proj ??= new PackedLinear(Proj);
        var qkv = _qkv.Forward(t);                                                   // (B, T, 3·C)
        var o = Ops.AttentionQkv(qkv, NumHeads, 1.0 / Math.Sqrt(HeadDim));           // (B, T, C)
        TensorScope.Release(qkv);
        var y = _proj.Forward(o, residual: residual);                                // (B, T, C)
        TensorScope.Release(o);
        return y;
    }
}

/// <summary>fc1 (C → r·C) → GELU → fc2 (r·C → C).</summary>
public sealed class Mlp : Module, ILayer
{
    public readonly Linear Fc1, Fc2;

    public Mlp(ParamPath p, int dim, int ratio) : base(p)
    {
        Fc1 = AscanInit.Linear(p.Sub("fc1"), dim, dim * ratio);
        Fc2 = AscanInit.Linear(p.Sub("fc2"), dim * ratio, dim);
    }

    /// <summary>Shapes: t (…, C) → (…, C).</summary>
    public Tensor Forward(Tensor t) => Forward(t, null);

    /// <summary>Shapes: t (…, C), residual (…, C) or null → (…, C): residual + MLP(t), the sum in fc2.</summary>
    public Tensor Forward(Tensor t, Tensor? residual)
    {
        var h = Ops.Gelu(Fc1.Forward(t));
        return residual == null ? Fc2.Forward(h) : Fc2.Forward(h, residual);
    }

    private PackedLinear? _fc1, _fc2;

    /// <summary>Inference: fc1+GELU in one pass, fc2 with <paramref name="residual"/> added in its output step. Shapes: t (…, C) → (…, C).</summary>
    public Tensor ForwardFused(Tensor t, Tensor? residual)
    {
        _fc1 ??= new PackedLinear(Fc1);
        _fc2 ??= new PackedLinear(Fc2);
        var h = _fc1.Forward(t, Activation.Gelu);    // (…, r·C)
        var y = _fc2.Forward(h, residual: residual); // (…, C)
        TensorScope.Release(h);
        return y;
    }
}

/// <summary>
/// Vanilla pre-norm transformer (T block) over the H·W tokens: t += Attn(LN(t)); t += MLP(LN(t)). No positional
/// embedding: the convolutions before it already encode position.
/// </summary>
public sealed class TransformerBlock : AscanBlock
{
    public readonly LayerNorm Norm1, Norm2;
    public readonly Attention Attn;
    public readonly Mlp Mlp;
    public readonly DropPath DropPath;

    public TransformerBlock(ParamPath p, int width, int headDim = 32, int mlpRatio = 4, double dropPath = 0) : base(p)
    {
        Norm1 = new LayerNorm(p.Sub("norm1"), width, 1e-5);
        Attn = new Attention(p.Sub("attn"), width, headDim);
        Norm2 = new LayerNorm(p.Sub("norm2"), width, 1e-5);
        Mlp = new Mlp(p.Sub("mlp"), width, mlpRatio);
        DropPath = new DropPath(p.Sub("drop_path"), dropPath);
    }

    public override char Kind => 'T';
    public override double DropPathRate => DropPath.P;

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C); channels-last makes the token view (B, H·W, C) free.</summary>
    public override Tensor Forward(Tensor x)
    {
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = x.Dim(3);
        var t = x.Reshape(b, h * w, c);                           // (B, T, C)
        if (!Training || DropPath.P == 0)
        {
            // No sample dropped: both skips are added in the output step of the projection GEMMs.
            t = Attn.Forward(Norm1.Forward(t), residual: t);
            t = Mlp.Forward(Norm2.Forward(t), residual: t);
        }
        else
        {
            t = t + DropPath.Forward(Attn.Forward(Norm1.Forward(t)));
            t = t + DropPath.Forward(Mlp.Forward(Norm2.Forward(t)));
        }
        return t.Reshape(b, h, w, c);                             // (B, H, W, C)
    }

    /// <summary>Both residual adds happen in the output step of the projection GEMMs; no permute copies around attention.</summary>
    public override Tensor ForwardFused(Tensor x)
    {
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = x.Dim(3);
        var t = x.Reshape(b, h * w, c);                           // (B, T, C)
        var n1 = Norm1.Forward(t);
        var t1 = Attn.ForwardFused(n1, residual: t);              // t + Attn(LN(t))
        TensorScope.Release(n1);
        var n2 = Norm2.Forward(t1);
        var t2 = Mlp.ForwardFused(n2, residual: t1);              // t1 + MLP(LN(t1))
        TensorScope.Release(n2);
        TensorScope.Release(t1);
        return t2.Reshape(b, h, w, c);                            // (B, H, W, C)
    }
}

/// <summary>One stage: optional downsample, then its blocks in the order of the stage string.</summary>
public sealed class AscanStage : Module, ILayer
{
    public readonly Downsample? Downsample;
    public readonly ModuleList<AscanBlock> Blocks;
    public int Width { get; }

    /// <param name="dropPaths">One rate per block of <paramref name="layout"/>.</param>
    public AscanStage(ParamPath p, int inChannels, int width, string layout, bool downsample, AscanConfig config, ReadOnlySpan<double> dropPaths) : base(p)
    {
        Width = width;
        if (downsample) Downsample = new Downsample(p.Sub("downsample"), inChannels, width);
        else if (inChannels != width) throw new ArgumentException($"Stage {p}: without a downsample the input width {inChannels} must equal the stage width {width}.");
        Blocks = new ModuleList<AscanBlock>(p.Sub("blocks"));
        for (int j = 0; j < layout.Length; j++)
        {
            double dp = dropPaths[j];
            Blocks.Add(layout[j] switch
            {
                'C' => q => new ConvBlock(q, width, config.ExpansionRatio, dp),
                'T' => q => new TransformerBlock(q, width, config.HeadDim, config.MlpRatio, dp),
                var k => throw new ArgumentException($"Stage {p}: unknown block kind '{k}' in \"{layout}\" (expected 'C' or 'T')."),
            });
        }
    }

    /// <summary>The stage's block string, e.g. "CCTT".</summary>
    public string Layout => new(Blocks.Items.Select(b => b.Kind).ToArray());

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H', W', w) with H' = ⌈H/2⌉ after a downsample, else H.</summary>
    public Tensor Forward(Tensor x)
    {
        if (Downsample != null) x = Downsample.Forward(x);
        foreach (var block in Blocks.Items) x = block.Forward(x);
        return x;
    }

    /// <summary>
    /// The eval-mode inference forward (folded, pre-packed weights). Each intermediate map is freed once the next
    /// one exists; the input too when <paramref name="releaseInput"/> (the caller no longer needs it).
    /// Shapes: as <see cref="Forward"/>.
    /// </summary>
    public Tensor ForwardFused(Tensor x, bool releaseInput)
    {
        if (Downsample != null)
        {
            var d = Downsample.ForwardFused(x);
            if (releaseInput) TensorScope.Release(x);
            x = d;
            releaseInput = true;
        }
        foreach (var block in Blocks.Items)
        {
            var y = block.ForwardFused(x);
            if (releaseInput) TensorScope.Release(x);
            x = y;
            releaseInput = true;
        }
        return x;
    }
}
