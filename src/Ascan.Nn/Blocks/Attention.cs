// Multi-head attention shared by every transformer in Ascan: self-attention on one fused qkv projection (AsCAN's
// qkv/proj Linears or torch.nn.MultiheadAttention's in_proj_weight/out_proj), and cross-attention to a context.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>Where the fused (3C, C) input projection of self-attention lives in the state dict.</summary>
public enum QkvLayout
{
    /// <summary>A Linear child: <c>qkv.weight</c>, <c>qkv.bias</c>; output projection <c>proj</c> (timm, AsCAN).</summary>
    Linear,

    /// <summary>torch.nn.MultiheadAttention: <c>in_proj_weight</c>, <c>in_proj_bias</c> on the module; <c>out_proj</c>.</summary>
    InProj,
}

/// <summary>Configuration of an <see cref="Attention"/>.</summary>
public sealed record AttentionConfig(int Dim, int NumHeads)
{
    public QkvLayout Layout { get; init; } = QkvLayout.Linear;
    public bool QkvBias { get; init; } = true;

    /// <summary>Softmax scale; null = head_dim^-½.</summary>
    public double? Scale { get; init; }

    /// <summary>Width of the context tokens for cross-attention (keys and values from them: children <c>q</c>, <c>k</c>,
    /// <c>v</c>, <c>proj</c>); null = self-attention.</summary>
    public int? ContextDim { get; init; }

    public Initializer? QkvWeightInit { get; init; }
    public Initializer? QkvBiasInit { get; init; }
    public Initializer? ProjWeightInit { get; init; }
    public Initializer? ProjBiasInit { get; init; }

    public int HeadDim => Dim / NumHeads;

    public Attention Build(ParamPath p) => new(p, this);
}

/// <summary>
/// softmax(q·kᵀ·scale)·v over NH heads of HD = C/NH consecutive channels, then the output projection with an optional
/// residual added in its output step. Self-attention reads q, k, v in place from one (B, T, 3·C) projection (rows
/// [W_q; W_k; W_v]); cross-attention projects queries from the tokens and keys/values from the context.
/// </summary>
public sealed class Attention : Module
{
    private readonly Linear? _qkv, _q, _k, _v;
    private readonly Parameter? _inProjWeight, _inProjBias;
    private readonly Linear _proj;
    private PackedLinear? _inProjPacked;

    public AttentionConfig Config { get; }
    public int NumHeads => Config.NumHeads;
    public int HeadDim => Config.HeadDim;

    public Attention(ParamPath p, AttentionConfig config) : base(p)
    {
        if (config.NumHeads < 1 || config.Dim % config.NumHeads != 0)
            throw new ArgumentException($"Attention {p}: width {config.Dim} is not a multiple of {config.NumHeads} heads.");
        Config = config;
        int c = config.Dim;
        LinearConfig Lin(int cin, int cout, bool bias, Initializer? w, Initializer? b) => new(cin, cout, bias) { WeightInit = w, BiasInit = b };
        if (config.ContextDim is int cd)
        {
            _q = new Linear(p.Sub("q"), Lin(c, c, config.QkvBias, config.QkvWeightInit, config.QkvBiasInit));
            _k = new Linear(p.Sub("k"), Lin(cd, c, config.QkvBias, config.QkvWeightInit, config.QkvBiasInit));
            _v = new Linear(p.Sub("v"), Lin(cd, c, config.QkvBias, config.QkvWeightInit, config.QkvBiasInit));
            _proj = new Linear(p.Sub("proj"), Lin(c, c, true, config.ProjWeightInit, config.ProjBiasInit));
        }
        else if (config.Layout == QkvLayout.InProj)
        {
            // torch: xavier_uniform_ on the packed (3C, C) matrix, zero biases; out_proj keeps Linear's default weight init.
            _inProjWeight = AddParameter("in_proj_weight", [3 * c, c], config.QkvWeightInit ?? Init.XavierUniform());
            if (config.QkvBias) _inProjBias = AddParameter("in_proj_bias", [3 * c], config.QkvBiasInit ?? Init.Zeros);
            _proj = new Linear(p.Sub("out_proj"), Lin(c, c, true, config.ProjWeightInit, config.ProjBiasInit ?? Init.Zeros));
        }
        else
        {
            _qkv = new Linear(p.Sub("qkv"), Lin(c, 3 * c, config.QkvBias, config.QkvWeightInit, config.QkvBiasInit));
            _proj = new Linear(p.Sub("proj"), Lin(c, c, true, config.ProjWeightInit, config.ProjBiasInit));
        }
    }

    /// <summary>The fused qkv projection of the Linear layout (null otherwise).</summary>
    public Linear? Qkv => _qkv;

    /// <summary>The output projection (<c>proj</c> or <c>out_proj</c>).</summary>
    public Linear Proj => _proj;

    /// <summary>
    /// residual + Proj(attention(x)), the sum in the projection's output step. With a context (cross-attention),
    /// keys and values come from it. Shapes: x (B, T, C), residual (B, T, C) or null, context (B, S, Dc) → (B, T, C).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? residual = null, Tensor? context = null)
    {
        if (x.Rank != 3 || x.Dim(2) != Config.Dim)
            throw new ArgumentException($"Attention {Path}: expected tokens (B, T, {Config.Dim}), got {ShapeUtil.Format(x.Shape)}.");
        bool fused = InferenceFusion.Applies(this, x, other: context, other2: residual);
        Tensor o;
        if (Config.ContextDim is int cd)
        {
            if (context == null || context.Rank != 3 || context.Dim(2) != cd || context.Dim(0) != x.Dim(0))
                throw new ArgumentException($"Attention {Path}: cross-attention needs a context (B, S, {cd}) with B = {x.Dim(0)}, got {(context == null ? "none" : ShapeUtil.Format(context.Shape))}.");
            int b = x.Dim(0), t = x.Dim(1), s = context.Dim(1), nh = NumHeads, hd = HeadDim;
            var q = _q!.Forward(x).Reshape(b, t, nh, hd).Permute(0, 2, 1, 3);        // (B, NH, T, HD)
            var k = _k!.Forward(context).Reshape(b, s, nh, hd).Permute(0, 2, 1, 3);  // (B, NH, S, HD)
            var v = _v!.Forward(context).Reshape(b, s, nh, hd).Permute(0, 2, 1, 3);  // (B, NH, S, HD)
            var a = Ops.ScaledDotProductAttention(q, k, v, scale: Config.Scale);      // (B, NH, T, HD)
            o = a.Permute(0, 2, 1, 3).Reshape(b, t, Config.Dim);                       // (B, T, C), heads concatenated
        }
        else
        {
            if (context != null) throw new ArgumentException($"Attention {Path}: a self-attention module was given a context; build it with ContextDim for cross-attention.");
            var qkv = InProject(x, fused);                                            // (B, T, 3·C) = (B, T, 3, NH, HD)
            o = Ops.AttentionQkv(qkv, NumHeads, Config.Scale ?? 1.0 / Math.Sqrt(HeadDim)); // (B, T, C)
            InferenceFusion.Free(fused, qkv);
        }
        var y = residual == null ? _proj.Forward(o) : _proj.Forward(o, residual); // (B, T, C)
        InferenceFusion.Free(fused, o);
        return y;
    }

    private Tensor InProject(Tensor x, bool fused)
    {
        if (_qkv != null) return _qkv.Forward(x);
        if (fused) return (_inProjPacked ??= new PackedLinear(() => _inProjWeight!.Value, () => _inProjBias?.Value)).Forward(x);
        return Ops.Linear(x, _inProjWeight!.Value, _inProjBias?.Value);
    }
}
