// The blocks of diffusers' AutoencoderKL (SD VAE layout): ResnetBlock2D, mid-block attention, down/up samplers,
// DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D, Encoder and Decoder; channels-last, diffusers' key names.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Generation;

/// <summary>
/// diffusers' ResnetBlock2D without a time embedding: shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))), with a
/// 1×1 <c>conv_shortcut</c> when the width changes; GroupNorm eps 1e-6, output_scale_factor 1, dropout 0.
/// </summary>
public sealed class VaeResnetBlock : Module
{
    private readonly GroupNorm _norm1, _norm2;
    private readonly Conv2d _conv1, _conv2;
    private readonly Conv2d? _shortcut;

    public VaeResnetBlock(ParamPath p, int inChannels, int outChannels, int groups) : base(p)
    {
        _norm1 = new GroupNorm(p.Sub("norm1"), groups, inChannels, AutoencoderKLConfig.NormEps);
        _conv1 = new Conv2d(p.Sub("conv1"), new Conv2dConfig(inChannels, outChannels, 3) { Padding = 1 });
        _norm2 = new GroupNorm(p.Sub("norm2"), groups, outChannels, AutoencoderKLConfig.NormEps);
        _conv2 = new Conv2d(p.Sub("conv2"), new Conv2dConfig(outChannels, outChannels, 3) { Padding = 1 });
        if (inChannels != outChannels) _shortcut = new Conv2d(p.Sub("conv_shortcut"), new Conv2dConfig(inChannels, outChannels, 1));
    }

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H, W, Cout). The residual add runs in conv2's output step.</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var a = Ops.Silu(_norm1.Forward(x));
        var h = _conv1.Forward(a);
        InferenceFusion.Free(fused, a);
        var b = Ops.Silu(_norm2.Forward(h));
        InferenceFusion.Free(fused, h);
        var s = _shortcut?.Forward(x) ?? x;
        var y = _conv2.Forward(b, null, Activation.None, s);
        InferenceFusion.Free(fused, b);
        if (!ReferenceEquals(s, x)) InferenceFusion.Free(fused, s);
        return y;
    }
}

/// <summary>
/// diffusers' Attention as the VAE mid block builds it (attention_head_dim = C, so one head): x + to_out.0(softmax(
/// q·kᵀ/√C)·v) with q, k, v = to_q/to_k/to_v(group_norm(x)) over the H·W positions; rescale_output_factor 1.
/// The shared <see cref="Nn.Attention"/> cannot hold these key names (it fuses qkv), so this one projects q, k, v
/// separately and calls the fused attention op.
/// </summary>
public sealed class VaeAttention : Module
{
    private readonly GroupNorm _norm;
    private readonly Linear _q, _k, _v;
    private readonly Linear _out;
    public int Channels { get; }

    public VaeAttention(ParamPath p, int channels, int groups) : base(p)
    {
        Channels = channels;
        _norm = new GroupNorm(p.Sub("group_norm"), groups, channels, AutoencoderKLConfig.NormEps);
        _q = new Linear(p.Sub("to_q"), channels, channels);
        _k = new Linear(p.Sub("to_k"), channels, channels);
        _v = new Linear(p.Sub("to_v"), channels, channels);
        _out = new Linear(p.Sub("to_out").Sub("0"), channels, channels); // to_out.1 is Dropout(0): no parameters
    }

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C).</summary>
    public Tensor Forward(Tensor x)
    {
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = Channels;
        bool fused = InferenceFusion.Applies(this, x);
        var t = _norm.Forward(x).Reshape(b, h * w, c);                     // (B, T, C), T = H·W
        var q = _q.Forward(t).Reshape(b, 1, h * w, c);                     // (B, 1, T, C): one head
        var k = _k.Forward(t).Reshape(b, 1, h * w, c);
        var v = _v.Forward(t).Reshape(b, 1, h * w, c);
        InferenceFusion.Free(fused, t);
        var o = Ops.ScaledDotProductAttention(q, k, v, scale: 1.0 / Math.Sqrt(c)).Reshape(b, h * w, c); // (B, T, C)
        InferenceFusion.Free(fused, q, k);
        InferenceFusion.Free(fused, v);
        var y = _out.Forward(o, x.Reshape(b, h * w, c));                   // residual in the projection's output step
        InferenceFusion.Free(fused, o);
        return y.Reshape(b, h, w, c);
    }
}

/// <summary>diffusers' Downsample2D with use_conv and padding 0: zero-pad right and bottom by one, then a 3×3 stride-2 conv.</summary>
public sealed class VaeDownsample : Module
{
    private readonly Conv2d _conv;

    public VaeDownsample(ParamPath p, int channels) : base(p) =>
        _conv = new Conv2d(p.Sub("conv"), new Conv2dConfig(channels, channels, 3) { Stride = 2 });

    /// <summary>Shapes: x (B, H, W, C) → (B, ⌊H/2⌋, ⌊W/2⌋, C).</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var padded = Ops.Pad(x, [0, 0, 0, 1, 0, 1]); // (B, H+1, W+1, C): pad (0, 1, 0, 1) on (W, H) as torch's F.pad
        var y = _conv.Forward(padded);
        InferenceFusion.Free(fused, padded);
        return y;
    }
}

/// <summary>diffusers' Upsample2D with use_conv: nearest ×2, then a 3×3 conv (padding 1).</summary>
public sealed class VaeUpsample : Module
{
    private readonly Conv2d _conv;

    public VaeUpsample(ParamPath p, int channels) : base(p) =>
        _conv = new Conv2d(p.Sub("conv"), new Conv2dConfig(channels, channels, 3) { Padding = 1 });

    /// <summary>Shapes: x (B, H, W, C) → (B, 2H, 2W, C).</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var up = Ops.Upsample(x, (2 * x.Dim(1), 2 * x.Dim(2)), UpsampleMode.Nearest);
        var y = _conv.Forward(up);
        InferenceFusion.Free(fused, up);
        return y;
    }
}

/// <summary>
/// DownEncoderBlock2D (<c>resnets.{j}</c>, optional <c>downsamplers.0</c>) and UpDecoderBlock2D (<c>resnets.{j}</c>,
/// optional <c>upsamplers.0</c>): the first resnet maps in → out, the others keep out.
/// </summary>
public sealed class VaeSampleBlock : Module
{
    private readonly ModuleList<VaeResnetBlock> _resnets;
    private readonly VaeDownsample? _down;
    private readonly VaeUpsample? _up;

    public VaeSampleBlock(ParamPath p, int inChannels, int outChannels, int layers, int groups, bool downsample, bool upsample) : base(p)
    {
        _resnets = new ModuleList<VaeResnetBlock>(p.Sub("resnets"));
        for (int j = 0; j < layers; j++) _resnets.Add(q => new VaeResnetBlock(q, j == 0 ? inChannels : outChannels, outChannels, groups));
        if (downsample) _down = new VaeDownsample(p.Sub("downsamplers").Sub("0"), outChannels);
        if (upsample) _up = new VaeUpsample(p.Sub("upsamplers").Sub("0"), outChannels);
    }

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H', W', Cout), H' = ⌊H/2⌋ down, 2H up, H otherwise.</summary>
    public Tensor Forward(Tensor x) => Chain(this, x, _resnets.Items.Select(r => (Func<Tensor, Tensor>?)r.Forward)
        .Append(_down == null ? null : _down.Forward).Append(_up == null ? null : _up.Forward));

    /// <summary>Runs the steps in order, freeing each intermediate on the fused path once the next exists.</summary>
    internal static Tensor Chain(Module owner, Tensor x, IEnumerable<Func<Tensor, Tensor>?> steps)
    {
        bool fused = InferenceFusion.Applies(owner, x);
        var input = x;
        foreach (var f in steps)
        {
            if (f == null) continue;
            var y = f(x);
            if (!ReferenceEquals(x, input)) InferenceFusion.Free(fused, x);
            x = y;
        }
        return x;
    }
}

/// <summary>UNetMidBlock2D as the VAE builds it: resnets.0 → attentions.0 → resnets.1, all at one width.</summary>
public sealed class VaeMidBlock : Module
{
    private readonly ModuleList<VaeAttention> _attentions;
    private readonly ModuleList<VaeResnetBlock> _resnets;

    public VaeMidBlock(ParamPath p, int channels, int groups) : base(p)
    {
        // diffusers registers attentions before resnets: that is the state-dict order.
        _attentions = new ModuleList<VaeAttention>(p.Sub("attentions"));
        _attentions.Add(q => new VaeAttention(q, channels, groups));
        _resnets = new ModuleList<VaeResnetBlock>(p.Sub("resnets"));
        for (int j = 0; j < 2; j++) _resnets.Add(q => new VaeResnetBlock(q, channels, channels, groups));
    }

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C).</summary>
    public Tensor Forward(Tensor x)
    {
        bool fused = InferenceFusion.Applies(this, x);
        var a = _resnets[0].Forward(x);
        var b = _attentions[0].Forward(a);
        InferenceFusion.Free(fused, a);
        var y = _resnets[1].Forward(b);
        InferenceFusion.Free(fused, b);
        return y;
    }
}

/// <summary>
/// diffusers' vae.Encoder: conv_in → down_blocks (downsample all but the last) → mid_block → conv_norm_out → SiLU →
/// conv_out to 2·latent channels (double_z: mean and logvar).
/// </summary>
public sealed class VaeEncoder : Module
{
    private readonly Conv2d _convIn, _convOut;
    private readonly ModuleList<VaeSampleBlock> _down;
    private readonly VaeMidBlock _mid;
    private readonly GroupNorm _normOut;

    public VaeEncoder(ParamPath p, AutoencoderKLConfig c) : base(p)
    {
        var ch = c.BlockOutChannels;
        _convIn = new Conv2d(p.Sub("conv_in"), new Conv2dConfig(c.InChannels, ch[0], 3) { Padding = 1 });
        _down = new ModuleList<VaeSampleBlock>(p.Sub("down_blocks"));
        for (int i = 0; i < ch.Length; i++)
            _down.Add(q => new VaeSampleBlock(q, ch[Math.Max(i - 1, 0)], ch[i], c.LayersPerBlock, c.NormNumGroups, downsample: i < ch.Length - 1, upsample: false));
        _mid = new VaeMidBlock(p.Sub("mid_block"), ch[^1], c.NormNumGroups);
        _normOut = new GroupNorm(p.Sub("conv_norm_out"), c.NormNumGroups, ch[^1], AutoencoderKLConfig.NormEps);
        _convOut = new Conv2d(p.Sub("conv_out"), new Conv2dConfig(ch[^1], 2 * c.LatentChannels, 3) { Padding = 1 });
    }

    /// <summary>Shapes: x (B, H, W, Cin) → (B, H/f, W/f, 2·L), f = 2^(levels−1).</summary>
    public Tensor Forward(Tensor x) => VaeSampleBlock.Chain(this, x,
        new Func<Tensor, Tensor>[] { _convIn.Forward }
            .Concat(_down.Items.Select(d => (Func<Tensor, Tensor>)d.Forward))
            .Append(_mid.Forward).Append(t => Ops.Silu(_normOut.Forward(t))).Append(_convOut.Forward));
}

/// <summary>
/// diffusers' vae.Decoder: conv_in (latent → widest) → mid_block → up_blocks over the reversed widths with
/// layers_per_block + 1 resnets each (upsample all but the last) → conv_norm_out → SiLU → conv_out.
/// </summary>
public sealed class VaeDecoder : Module
{
    private readonly Conv2d _convIn, _convOut;
    private readonly ModuleList<VaeSampleBlock> _up;
    private readonly VaeMidBlock _mid;
    private readonly GroupNorm _normOut;

    public VaeDecoder(ParamPath p, AutoencoderKLConfig c) : base(p)
    {
        var ch = c.BlockOutChannels.Reverse().ToArray();
        _convIn = new Conv2d(p.Sub("conv_in"), new Conv2dConfig(c.LatentChannels, ch[0], 3) { Padding = 1 });
        _mid = new VaeMidBlock(p.Sub("mid_block"), ch[0], c.NormNumGroups);
        _up = new ModuleList<VaeSampleBlock>(p.Sub("up_blocks"));
        for (int i = 0; i < ch.Length; i++)
            _up.Add(q => new VaeSampleBlock(q, ch[Math.Max(i - 1, 0)], ch[i], c.LayersPerBlock + 1, c.NormNumGroups, downsample: false, upsample: i < ch.Length - 1));
        _normOut = new GroupNorm(p.Sub("conv_norm_out"), c.NormNumGroups, ch[^1], AutoencoderKLConfig.NormEps);
        _convOut = new Conv2d(p.Sub("conv_out"), new Conv2dConfig(ch[^1], c.OutChannels, 3) { Padding = 1 });
    }

    /// <summary>Shapes: z (B, h, w, L) → (B, h·f, w·f, Cout).</summary>
    public Tensor Forward(Tensor z) => VaeSampleBlock.Chain(this, z,
        new Func<Tensor, Tensor>[] { _convIn.Forward, _mid.Forward }
            .Concat(_up.Items.Select(u => (Func<Tensor, Tensor>)u.Forward))
            .Append(t => Ops.Silu(_normOut.Forward(t))).Append(_convOut.Forward));
}
