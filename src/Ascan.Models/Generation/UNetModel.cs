// The class-conditional diffusion UNet of SPEC §4: conv_in → down levels of C/T blocks (stride-2 conv between them)
// → middle → up levels with skip concatenation → GroupNorm → SiLU → conv_out, every block reading cond = t_emb + y_emb.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Generation;

/// <summary>The UNet's C and T blocks: the shared <see cref="ConvBlock"/> and <see cref="TransformerBlock"/> with their diffusion options.</summary>
public static class UNetBlocks
{
    /// <summary>FusedMBConv with GroupNorm + SiLU and ADM's scale-shift from cond (emb_proj) after its first norm.</summary>
    public static ConvBlock C(ParamPath p, int width, UNetConfig c) => new(p, new ConvBlockConfig(width)
    {
        Expansion = c.ExpansionRatio, Norm = BlockNorm.GroupNorm, NormGroups = c.NormGroups, Act = Activation.Silu, CondDim = c.Cond,
    });

    /// <summary>
    /// Pre-norm transformer with DiT's adaLN-Zero (affine-free LayerNorms, eps 1e-6; adaLN_modulation.1 zero-initialised:
    /// shift/scale/gate of attention and MLP), Linears Xavier-uniform with zero biases (DiT's basic init); the
    /// cross-attention step exists when the config has a ContextDim.
    /// </summary>
    public static TransformerBlock T(ParamPath p, int width, UNetConfig c) => new(p, new TransformerBlockConfig(width, width / c.HeadDim)
    {
        MlpHidden = width * c.MlpRatio, NormEps = 1e-6, CondDim = c.Cond, ContextDim = c.ContextDim,
        AttnWeightInit = Init.XavierUniform(), AttnBiasInit = Init.Zeros, MlpWeightInit = Init.XavierUniform(), MlpBiasInit = Init.Zeros,
    });

    /// <summary>The blocks of one block string, in order.</summary>
    public static ModuleList<HybridBlock> Build(ParamPath p, string layout, int width, UNetConfig c)
    {
        var list = new ModuleList<HybridBlock>(p);
        foreach (char k in layout)
            list.Add(k switch
            {
                'C' => q => C(q, width, c),
                'T' => q => T(q, width, c),
                _ => throw new ArgumentException($"UNet {p}: unknown block kind '{k}' in \"{layout}\" (expected 'C' or 'T')."),
            });
        return list;
    }

    /// <summary>Runs the blocks in order. Shapes: x (B, H, W, w), cond (B, D), context (B, S, Dc) or null → (B, H, W, w).</summary>
    public static Tensor Run(ModuleList<HybridBlock> blocks, Tensor x, Tensor cond, Tensor? context)
    {
        foreach (var b in blocks.Items) x = b.Forward(x, cond, context);
        return x;
    }
}

/// <summary>Down level i: its blocks at width w_i, then (not after the last level) downsample = conv3×3/2 (w_i → w_{i+1}, bias).</summary>
public sealed class UNetDownLevel : Module
{
    public readonly ModuleList<HybridBlock> Blocks;
    public readonly Conv2d? Downsample;

    public UNetDownLevel(ParamPath p, UNetConfig c, int i) : base(p)
    {
        Blocks = UNetBlocks.Build(p.Sub("blocks"), c.Levels[i], c.Widths[i], c);
        if (i < c.NumLevels - 1)
            Downsample = new Conv2d(p.Sub("downsample"), new Conv2dConfig(c.Widths[i], c.Widths[i + 1], 3) { Stride = 2, Padding = 1 });
    }
}

/// <summary>
/// Up level k (mirrors down level i = L−1−k): skip_proj = conv1×1 (2·w_i → w_i, bias) on cat(h, skip_i) along
/// channels (h first), its blocks at w_i, then (not after level 0) upsample = nearest ×2 → upsample.conv 3×3 (w_i → w_{i−1}).
/// </summary>
public sealed class UNetUpLevel : Module
{
    public readonly Conv2d SkipProj;
    public readonly ModuleList<HybridBlock> Blocks;
    public readonly Conv2d? UpsampleConv;

    public UNetUpLevel(ParamPath p, UNetConfig c, int k) : base(p)
    {
        int i = c.NumLevels - 1 - k, w = c.Widths[i];
        SkipProj = new Conv2d(p.Sub("skip_proj"), new Conv2dConfig(2 * w, w, 1));
        Blocks = UNetBlocks.Build(p.Sub("blocks"), c.UpLevel(k), w, c);
        if (i > 0) UpsampleConv = new Conv2d(p.Sub("upsample").Sub("conv"), new Conv2dConfig(w, c.Widths[i - 1], 3) { Padding = 1 });
    }
}

/// <summary>
/// Class-conditional diffusion UNet of C and T blocks (SPEC §4). Keys: conv_in, t_embedder.mlp.{0,2},
/// y_embedder.embedding_table, down.{i}.blocks.{j}.*, down.{i}.downsample, mid.blocks.{j}.*, up.{k}.skip_proj,
/// up.{k}.blocks.{j}.*, up.{k}.upsample.conv, norm_out, conv_out (zero-initialised, as ADM and DiT: the model starts
/// by predicting 0). Up levels are numbered in execution order as diffusers' up_blocks (up.0 at the lowest resolution).
/// Maps are channels-last inside; the public input and output are NCHW.
/// </summary>
public sealed class UNetModel : Module
{
    public readonly Conv2d ConvIn, ConvOut;
    public readonly TimestepEmbedder TEmbedder;
    public readonly LabelEmbedder YEmbedder;
    public readonly ModuleList<UNetDownLevel> Down;
    public readonly ModuleList<HybridBlock> Mid;
    public readonly ModuleList<UNetUpLevel> Up;
    public readonly GroupNorm NormOut;
    public UNetConfig Config { get; }

    public UNetModel(ParamPath p, UNetConfig config) : base(p)
    {
        config.Validate();
        Config = config;
        int w0 = config.Widths[0];
        ConvIn = new Conv2d(p.Sub("conv_in"), new Conv2dConfig(config.InChannels, w0, 3) { Padding = 1 });
        TEmbedder = new TimestepEmbedder(p.Sub("t_embedder"), config.Cond, config.FrequencyEmbeddingSize, config.MaxPeriod);
        YEmbedder = new LabelEmbedder(p.Sub("y_embedder"), config.NumClasses, config.Cond);
        Down = new ModuleList<UNetDownLevel>(p.Sub("down"));
        for (int i = 0; i < config.NumLevels; i++) { int level = i; Down.Add(q => new UNetDownLevel(q, config, level)); }
        Mid = UNetBlocks.Build(p.Sub("mid").Sub("blocks"), config.Middle, config.Widths[^1], config);
        Up = new ModuleList<UNetUpLevel>(p.Sub("up"));
        for (int k = 0; k < config.NumLevels; k++) { int level = k; Up.Add(q => new UNetUpLevel(q, config, level)); }
        NormOut = new GroupNorm(p.Sub("norm_out"), config.NormGroups, w0);
        ConvOut = new Conv2d(p.Sub("conv_out"), new Conv2dConfig(w0, config.Out, 3) { Padding = 1, WeightInit = Init.Zeros, BiasInit = Init.Zeros });
    }

    /// <summary>The id of the null (unconditional) class: NumClasses.</summary>
    public int NullClass => YEmbedder.NullClass;

    /// <summary>cond = t_embedder(t) + y_embedder(y). Shapes: t (B) float timesteps, y (B) class ids (NullClass allowed) → (B, D).</summary>
    public Tensor Condition(Tensor t, int[] y)
    {
        if (t.Rank != 1 || t.Dim(0) != y.Length)
            throw new ArgumentException($"UNetModel: timesteps (B) and {y.Length} class ids must agree, got t {ShapeUtil.Format(t.Shape)}.");
        return TEmbedder.Forward(t) + YEmbedder.Forward(y);
    }

    /// <summary>
    /// The denoiser's output (ε or v). Shapes: x (B, C_in, H, W) NCHW with H, W multiples of 2^(L−1); t (B) float
    /// timesteps; y (B) class ids in [0, NumClasses] (NumClasses = null class); context (B, S, Dc) for a model built
    /// with ContextDim, else null → (B, C_out, H, W) NCHW.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor t, int[] y, Tensor? context = null)
    {
        var c = Config;
        if (x.Rank != 4 || x.Dim(1) != c.InChannels)
            throw new ArgumentException($"UNetModel: expected x of shape (B, {c.InChannels}, H, W), got {ShapeUtil.Format(x.Shape)}.");
        int m = 1 << (c.NumLevels - 1);
        if (x.Dim(2) % m != 0 || x.Dim(3) % m != 0)
            throw new ArgumentException($"UNetModel: H and W must be multiples of {m} ({c.NumLevels} levels), got {x.Dim(2)}×{x.Dim(3)}.");
        if (y.Length != x.Dim(0)) throw new ArgumentException($"UNetModel: {y.Length} class ids for a batch of {x.Dim(0)}.");
        if ((context != null) != (c.ContextDim != null))
            throw new ArgumentException(c.ContextDim == null ? "UNetModel: a context was given to a model built without ContextDim." : $"UNetModel: this model's T blocks need a context (B, S, {c.ContextDim}).");

        var cond = Condition(t, y);                                    // (B, D)
        var h = ConvIn.Forward(x.Permute(0, 2, 3, 1).Contiguous());    // (B, H, W, w0)
        var skips = new Tensor[c.NumLevels];
        for (int i = 0; i < c.NumLevels; i++)
        {
            var level = Down[i];
            h = UNetBlocks.Run(level.Blocks, h, cond, context);        // (B, H/2^i, W/2^i, w_i)
            skips[i] = h;
            if (level.Downsample != null) h = level.Downsample.Forward(h); // (B, H/2^(i+1), W/2^(i+1), w_{i+1})
        }
        h = UNetBlocks.Run(Mid, h, cond, context);                     // (B, H/2^(L−1), W/2^(L−1), w_{L−1})
        for (int k = 0; k < c.NumLevels; k++)
        {
            var level = Up[k];
            int i = c.NumLevels - 1 - k;
            h = level.SkipProj.Forward(Ops.Cat([h, skips[i]], 3));     // (B, ·, ·, 2·w_i) → (B, ·, ·, w_i)
            h = UNetBlocks.Run(level.Blocks, h, cond, context);
            if (level.UpsampleConv != null)
                h = level.UpsampleConv.Forward(Ops.Upsample(h, 2.0, UpsampleMode.Nearest)); // (B, H/2^(i−1), W/2^(i−1), w_{i−1})
        }
        h = Ops.Silu(NormOut.Forward(h));                              // (B, H, W, w0)
        return ConvOut.Forward(h).Permute(0, 3, 1, 2).Contiguous();    // (B, C_out, H, W)
    }
}
