// The C block: FusedMBConv, x + norm(conv1×1(act(norm(conv3×3(x))))), with BatchNorm+GELU for classification or
// GroupNorm+SiLU and a time/class scale-shift for a diffusion UNet.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>The normalisation of a <see cref="ConvBlock"/>.</summary>
public enum BlockNorm { BatchNorm, GroupNorm }

/// <summary>Configuration of a <see cref="ConvBlock"/>; defaults are AsCAN's classification C block (SPEC §2).</summary>
public sealed record ConvBlockConfig(int Dim)
{
    public int Expansion { get; init; } = 4;
    public BlockNorm Norm { get; init; } = BlockNorm.BatchNorm;

    /// <summary>Groups of the GroupNorm variant (32, as the UNets of DDPM/ADM/Stable Diffusion).</summary>
    public int NormGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    public Activation Act { get; init; } = Activation.Gelu;
    public double DropPath { get; init; }

    /// <summary>
    /// Width of the condition embedding (time, + class) that scales and shifts the expanded map after its norm:
    /// h = act(norm(h)·(1 + s) + b), (s, b) = emb_proj(SiLU(cond)) (ADM's use_scale_shift_norm). Null: unconditioned.
    /// </summary>
    public int? CondDim { get; init; }

    public Initializer? ConvInit { get; init; }

    public int Hidden => Dim * Expansion;

    public ConvBlock Build(ParamPath p) => new(p, this);
}

/// <summary>
/// FusedMBConv: conv3×3 (C → e·C, no bias) → norm → [scale-shift] → act → conv1×1 (e·C → C, no bias) → norm, plus the
/// input (drop-path on the branch). Keys: conv_exp, bn1 | norm1, conv_proj, bn2 | norm2, emb_proj. With BatchNorm
/// and no condition the training step recomputes the (B, H, W, e·C) activation in the backward instead of storing
/// it, and eval runs both convs with their BatchNorm folded, the activation and the skip in their output steps.
/// </summary>
public sealed class ConvBlock : HybridBlock
{
    public readonly Conv2d ConvExp, ConvProj;
    public readonly BatchNorm2d? Bn1, Bn2;
    public readonly GroupNorm? Norm1, Norm2;
    public readonly Linear? EmbProj;
    public readonly DropPath DropPath;
    public ConvBlockConfig Config { get; }

    public ConvBlock(ParamPath p, ConvBlockConfig config) : base(p)
    {
        Config = config;
        int c = config.Dim, hidden = config.Hidden;
        ConvExp = new Conv2d(p.Sub("conv_exp"), new Conv2dConfig(c, hidden, 3) { Padding = 1, Bias = false, WeightInit = config.ConvInit });
        if (config.Norm == BlockNorm.BatchNorm) Bn1 = new BatchNorm2d(p.Sub("bn1"), new BatchNorm2dConfig(hidden) { Eps = config.NormEps });
        else Norm1 = new GroupNorm(p.Sub("norm1"), new GroupNormConfig(config.NormGroups, hidden) { Eps = config.NormEps });
        ConvProj = new Conv2d(p.Sub("conv_proj"), new Conv2dConfig(hidden, c, 1) { Bias = false, WeightInit = config.ConvInit });
        if (config.Norm == BlockNorm.BatchNorm) Bn2 = new BatchNorm2d(p.Sub("bn2"), new BatchNorm2dConfig(c) { Eps = config.NormEps });
        else Norm2 = new GroupNorm(p.Sub("norm2"), new GroupNormConfig(config.NormGroups, c) { Eps = config.NormEps });
        if (config.CondDim is int d) EmbProj = new Linear(p.Sub("emb_proj"), d, 2 * hidden);
        DropPath = new DropPath(p.Sub("drop_path"), config.DropPath);
    }

    public override char Kind => 'C';
    public override double DropPathRate => DropPath.P;

    /// <summary>Shapes: x (B, H, W, C), cond (B, CondDim) when conditioned → (B, H, W, C).</summary>
    public override Tensor Forward(Tensor x, Tensor? cond, Tensor? context)
    {
        bool drop = Training && DropPath.P > 0;
        if (Bn1 != null && EmbProj == null)
        {
            // BN → act → conv1×1 → BN (+ skip) as the layers' fused chain; without an active drop-path the skip is
            // added inside it (no separate sum).
            var y = ConvExp.ForwardBnActConv1x1Bn(x, Bn1, Config.Act, ConvProj, Bn2!, drop ? null : x);
            return drop ? x + DropPath.Forward(y) : y;
        }
        bool fused = InferenceFusion.Applies(this, x, other: cond);
        var h = Bn1 != null ? ConvExp.Forward(x, Bn1) : Norm1!.Forward(ConvExp.Forward(x));   // (B, H, W, e·C); BN folded in eval
        if (EmbProj != null)
        {
            var e = EmbProj.Forward(Ops.Silu(RequireCond(cond, Config.CondDim!.Value, x)));   // (B, 2·e·C)
            h = Modulate(h, Chunk(e, 2, 0, 4), Chunk(e, 2, 1, 4));
        }
        h = InferenceFusion.Activate(h, Config.Act);
        var n = Bn2 != null ? ConvProj.Forward(h, Bn2) : Norm2!.Forward(ConvProj.Forward(h));  // (B, H, W, C)
        InferenceFusion.Free(fused, h);
        return x + DropPath.Forward(n);
    }
}
