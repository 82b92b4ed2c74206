// The T block: a pre-norm transformer, t += Attn(LN(t)); [t += CrossAttn(LN(t), context)]; t += MLP(LN(t)), with
// adaptive-LayerNorm modulation from a condition for a diffusion UNet, and the key names of AsCAN or torchvision's ViT.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>Configuration of a <see cref="TransformerBlock"/>; defaults are AsCAN's T block (SPEC §2).</summary>
public sealed record TransformerBlockConfig(int Dim, int NumHeads)
{
    public int MlpHidden { get; init; }
    public double NormEps { get; init; } = 1e-5;
    public Activation MlpAct { get; init; } = Activation.Gelu;
    public QkvLayout Layout { get; init; } = QkvLayout.Linear;

    /// <summary>Dropout after the attention and inside the MLP (torchvision's ViT).</summary>
    public double Dropout { get; init; }

    /// <summary>torchvision's layout: the Dropout modules exist even at rate 0 (each forks the generator).</summary>
    public bool DropoutModules { get; init; }
    public double DropPath { get; init; }

    /// <summary>Whether the block has a drop-path module (torchvision's ViT has none: no generator is forked for it).</summary>
    public bool HasDropPath { get; init; } = true;

    /// <summary>
    /// Width of the condition embedding for adaptive LayerNorm (DiT's adaLN-Zero): the norms lose their affine
    /// parameters and adaLN_modulation.1 = Linear(SiLU(cond)) → shift, scale, gate for the attention and the MLP
    /// (zero-initialised, so each block starts as the identity). Null: plain pre-norm.
    /// </summary>
    public int? CondDim { get; init; }

    /// <summary>Width of the context tokens (text) for a cross-attention step between attention and MLP; null: none.</summary>
    public int? ContextDim { get; init; }

    /// <summary>State-dict names: AsCAN / timm (norm1, attn, norm2, mlp.fc1/fc2) or torchvision's ViT (ln_1, self_attention, ln_2, mlp.0/3).</summary>
    public string Norm1Name { get; init; } = "norm1";
    public string AttnName { get; init; } = "attn";
    public string Norm2Name { get; init; } = "norm2";
    public string MlpName { get; init; } = "mlp";
    public bool TorchvisionMlpNames { get; init; }

    public Initializer? AttnWeightInit { get; init; }
    public Initializer? AttnBiasInit { get; init; }
    public Initializer? AttnProjBiasInit { get; init; }
    public Initializer? MlpWeightInit { get; init; }
    public Initializer? MlpBiasInit { get; init; }

    public int MlpWidth => MlpHidden > 0 ? MlpHidden : 4 * Dim;

    public TransformerBlock Build(ParamPath p) => new(p, this);
}

/// <summary>
/// Pre-norm transformer block over tokens (B, T, C), or a channels-last map (B, H, W, C) read as its H·W tokens (a
/// free reshape). No positional embedding: the convolutions before it already encode position. Without drop-path,
/// dropout or gates, both skips are added in the output step of the projection GEMMs.
/// </summary>
public sealed class TransformerBlock : HybridBlock
{
    public readonly LayerNorm Norm1, Norm2;
    public readonly Attention Attn;
    public readonly LayerNorm? NormCross;
    public readonly Attention? CrossAttn;
    public readonly Mlp Mlp;
    public readonly Linear? Modulation;
    public readonly Dropout? Dropout;
    public readonly DropPath? DropPath;
    public TransformerBlockConfig Config { get; }

    public TransformerBlock(ParamPath p, TransformerBlockConfig config) : base(p)
    {
        Config = config;
        int c = config.Dim;
        bool ada = config.CondDim != null;
        var norm = new LayerNormConfig(c) { Eps = config.NormEps, ElementwiseAffine = !ada };
        AttentionConfig Attn(int? contextDim) => new(c, config.NumHeads)
        {
            Layout = config.Layout, ContextDim = contextDim,
            QkvWeightInit = config.AttnWeightInit, QkvBiasInit = config.AttnBiasInit,
            ProjWeightInit = config.AttnWeightInit, ProjBiasInit = config.AttnProjBiasInit ?? config.AttnBiasInit,
        };
        Norm1 = new LayerNorm(p.Sub(config.Norm1Name), norm);
        this.Attn = new Attention(p.Sub(config.AttnName), Attn(null));
        if (config.Dropout > 0 || config.DropoutModules) Dropout = new Dropout(p.Sub("dropout"), config.Dropout);
        if (config.ContextDim is int cd)
        {
            NormCross = new LayerNorm(p.Sub("norm_cross"), new LayerNormConfig(c) { Eps = config.NormEps });
            CrossAttn = new Attention(p.Sub("cross_attn"), Attn(cd));
        }
        Norm2 = new LayerNorm(p.Sub(config.Norm2Name), norm);
        var mlp = new MlpConfig(c, config.MlpWidth)
        {
            Act = config.MlpAct, Dropout = config.Dropout, WeightInit = config.MlpWeightInit, BiasInit = config.MlpBiasInit,
        };
        Mlp = new Mlp(p.Sub(config.MlpName), config.TorchvisionMlpNames ? mlp.TorchvisionNames() : mlp);
        if (config.CondDim is int d)
            Modulation = new Linear(p.Sub("adaLN_modulation").Sub(1), new LinearConfig(d, 6 * c) { WeightInit = Init.Zeros, BiasInit = Init.Zeros });
        if (config.HasDropPath) DropPath = new DropPath(p.Sub("drop_path"), config.DropPath);
        else if (config.DropPath != 0) throw new ArgumentException($"TransformerBlock {p}: DropPath {config.DropPath} requested on a block built without drop-path.");
    }

    public override char Kind => 'T';
    public override double DropPathRate => DropPath?.P ?? 0;

    /// <summary>Shapes: x (B, T, C) or (B, H, W, C); cond (B, CondDim); context (B, S, ContextDim) → like x.</summary>
    public override Tensor Forward(Tensor x, Tensor? cond, Tensor? context)
    {
        if ((x.Rank != 3 && x.Rank != 4) || x.Dim(-1) != Config.Dim)
            throw new ArgumentException($"TransformerBlock {Path}: expected tokens (B, T, {Config.Dim}) or a map (B, H, W, {Config.Dim}), got {ShapeUtil.Format(x.Shape)}.");
        var t = x.Rank == 4 ? x.Reshape(x.Dim(0), x.Dim(1) * x.Dim(2), x.Dim(3)) : x;   // (B, T, C)
        bool fused = InferenceFusion.Applies(this, t, other: cond, other2: context);
        Tensor? mod = Modulation?.Forward(Ops.Silu(RequireCond(cond, Config.CondDim ?? 0, x)));  // (B, 6·C)
        Tensor? Part(int i) => mod == null ? null : Chunk(mod, 6, i, 3);                          // (B, 1, C)
        bool branch = mod != null || (Training && (DropPathRate > 0 || Dropout?.P > 0));

        // t += gate·Attn(modulate(LN(t)))
        var n1 = Norm1.Forward(t);
        if (mod != null) n1 = Modulate(n1, Part(1)!, Part(0)!);
        var t1 = branch ? t + Branch(Attn.Forward(n1), Part(2), Dropout) : Attn.Forward(n1, residual: t);
        InferenceFusion.Free(fused, n1);

        // t += CrossAttn(LN(t), context)
        if (CrossAttn != null)
        {
            var nc = NormCross!.Forward(t1);
            var t2 = branch ? t1 + Branch(CrossAttn.Forward(nc, context: context), null, null) : CrossAttn.Forward(nc, residual: t1, context: context);
            InferenceFusion.Free(fused, nc, t1);
            t1 = t2;
        }

        // t += gate·MLP(modulate(LN(t)))
        var n2 = Norm2.Forward(t1);
        if (mod != null) n2 = Modulate(n2, Part(4)!, Part(3)!);
        var t3 = branch ? t1 + Branch(Mlp.Forward(n2), Part(5), null) : Mlp.Forward(n2, residual: t1);
        InferenceFusion.Free(fused, n2, t1);
        return t3.Reshape(x.ShapeArray());                                                     // like x
    }

    /// <summary>DropPath(gate·dropout(y)) of a residual branch.</summary>
    private Tensor Branch(Tensor y, Tensor? gate, Dropout? dropout)
    {
        if (dropout != null) y = dropout.Forward(y);
        if (gate != null) y = Ops.Mul(y, gate);
        return DropPath?.Forward(y) ?? y;
    }
}
