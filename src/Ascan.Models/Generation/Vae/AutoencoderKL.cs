// diffusers' AutoencoderKL: config with the SD and shapes presets, the model (encode → posterior, decode, forward),
// the diagonal Gaussian posterior and the L1 + β·KL training loss.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Generation;

/// <summary>AutoencoderKL's configuration, diffusers' field names in PascalCase; the presets are static.</summary>
public sealed record AutoencoderKLConfig
{
    /// <summary>GroupNorm eps everywhere in the VAE (diffusers' resnet_eps and the Encoder/Decoder norms).</summary>
    public const double NormEps = 1e-6;

    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;

    /// <summary>Latents fed to a diffusion model are posterior samples × this; <see cref="AutoencoderKL.Decode"/> takes them divided back.</summary>
    public double ScalingFactor { get; init; } = 0.18215;

    /// <summary>Stable Diffusion v1's VAE (83,653,863 parameters): 128/256/512/512, two layers per block, latent 4.</summary>
    public static AutoencoderKLConfig Sd => new() { BlockOutChannels = [128, 256, 512, 512], LayersPerBlock = 2, LatentChannels = 4, NormNumGroups = 32, ScalingFactor = 0.18215 };

    // ASSUMPTION: the shapes preset is ours: 32/64 with one layer per block (stride 2, so 32 px → 16×16×4 latents),
    // 16 groups (the widths are too narrow for 32), scaling factor 1 until a trained model's latent std is measured.
    /// <summary>A small VAE trainable on shapes at 32–64 px on a CPU (658,375 parameters).</summary>
    public static AutoencoderKLConfig Shapes => new() { BlockOutChannels = [32, 64], LayersPerBlock = 1, LatentChannels = 4, NormNumGroups = 16, ScalingFactor = 1.0 };

    /// <summary>Spatial reduction from image to latent: 2^(levels − 1).</summary>
    public int DownsampleFactor => 1 << (BlockOutChannels.Length - 1);

    public AutoencoderKL Build(ParamPath p) => new(p, this);
}

/// <summary>
/// diffusers' DiagonalGaussianDistribution over NCHW latents: moments split along channels into mean and logvar,
/// logvar clamped to [−30, 20]; std = exp(½·logvar), var = exp(logvar).
/// </summary>
public sealed class DiagonalGaussianDistribution
{
    /// <summary>Shapes: mean, logvar (B, L, h, w).</summary>
    public DiagonalGaussianDistribution(Tensor mean, Tensor logVar)
    {
        Mean = mean;
        LogVar = Ops.Clamp(logVar, -30.0, 20.0);
        Std = Ops.Exp(LogVar * 0.5);
        Var = Ops.Exp(LogVar);
    }

    public Tensor Mean { get; }
    public Tensor LogVar { get; }
    public Tensor Std { get; }
    public Tensor Var { get; }

    /// <summary>mean + std · ε with ε ~ N(0, 1) drawn from <paramref name="rng"/> (deterministic per seed).</summary>
    public Tensor Sample(Rng rng) => Sample(Tensor.Randn(rng, Mean.DType, Mean.ShapeArray()));

    /// <summary>mean + std · <paramref name="noise"/> for a given standard-normal noise of the latent's shape.</summary>
    public Tensor Sample(Tensor noise) => Mean + Std * noise;

    public Tensor Mode() => Mean;

    /// <summary>KL(q ‖ N(0, I)) per sample: ½·Σ_{C,H,W}(mean² + var − 1 − logvar). Shapes: → (B).</summary>
    public Tensor Kl() => Ops.Sum(Mean * Mean + Var - 1.0 - LogVar, [1, 2, 3]) * 0.5;
}

/// <summary>
/// diffusers' AutoencoderKL with its key names (encoder.*, decoder.*, quant_conv, post_quant_conv), so an SD VAE
/// saved as safetensors loads strictly. Public tensors are NCHW as in diffusers; the inside is channels-last.
/// </summary>
public sealed class AutoencoderKL : Module
{
    private readonly VaeEncoder _encoder;
    private readonly VaeDecoder _decoder;
    private readonly Conv2d _quantConv, _postQuantConv;

    public AutoencoderKLConfig Config { get; }

    public AutoencoderKL(ParamPath p, AutoencoderKLConfig config) : base(p)
    {
        if (config.BlockOutChannels.Length == 0) throw new ArgumentException("AutoencoderKL: block_out_channels is empty.");
        foreach (int c in config.BlockOutChannels)
            if (c % config.NormNumGroups != 0) throw new ArgumentException($"AutoencoderKL: norm_num_groups {config.NormNumGroups} must divide every width ({string.Join("/", config.BlockOutChannels)}).");
        Config = config;
        int l = config.LatentChannels;
        _encoder = new VaeEncoder(p.Sub("encoder"), config);
        _decoder = new VaeDecoder(p.Sub("decoder"), config);
        _quantConv = new Conv2d(p.Sub("quant_conv"), new Conv2dConfig(2 * l, 2 * l, 1));
        _postQuantConv = new Conv2d(p.Sub("post_quant_conv"), new Conv2dConfig(l, l, 1));
    }

    /// <summary>The posterior q(z | x). Shapes: x (B, Cin, H, W) → mean, logvar (B, L, H/f, W/f).</summary>
    public DiagonalGaussianDistribution Encode(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != Config.InChannels)
            throw new ArgumentException($"AutoencoderKL.Encode: expected images (B, {Config.InChannels}, H, W), got {ShapeUtil.Format(x.Shape)}.");
        var h = _encoder.Forward(x.Permute(0, 2, 3, 1).Contiguous());   // (B, h, w, 2L)
        var moments = _quantConv.Forward(h).Permute(0, 3, 1, 2);         // (B, 2L, h, w)
        var parts = Ops.Chunk(moments, 2, 1);                             // mean, logvar: (B, L, h, w) each
        return new DiagonalGaussianDistribution(parts[0].Contiguous(), parts[1].Contiguous());
    }

    /// <summary>
    /// Latents to images; as diffusers, <paramref name="z"/> is a posterior sample (latents scaled for diffusion must be
    /// divided by <see cref="AutoencoderKLConfig.ScalingFactor"/> first). Shapes: z (B, L, h, w) → (B, Cout, h·f, w·f).
    /// </summary>
    public Tensor Decode(Tensor z)
    {
        if (z.Rank != 4 || z.Dim(1) != Config.LatentChannels)
            throw new ArgumentException($"AutoencoderKL.Decode: expected latents (B, {Config.LatentChannels}, h, w), got {ShapeUtil.Format(z.Shape)}.");
        var h = _postQuantConv.Forward(z.Permute(0, 2, 3, 1).Contiguous()); // (B, h, w, L)
        return _decoder.Forward(h).Permute(0, 3, 1, 2).Contiguous();        // (B, Cout, H, W)
    }

    /// <summary>
    /// diffusers' AutoencoderKL.forward: decode(posterior.sample()) with <paramref name="samplePosterior"/> (noise from
    /// <paramref name="rng"/>), else decode(posterior.mode()). Shapes: x (B, Cin, H, W) → (B, Cout, H, W).
    /// </summary>
    public Tensor Forward(Tensor x, bool samplePosterior = false, Rng? rng = null)
    {
        var posterior = Encode(x);
        if (samplePosterior && rng == null) throw new ArgumentException("AutoencoderKL.Forward: sampling the posterior needs an Rng.");
        return Decode(samplePosterior ? posterior.Sample(rng!) : posterior.Mode());
    }

    /// <summary>
    /// The training loss: mean |recon − target| + β · batch-mean KL(posterior ‖ N(0, I)) (β ≈ 1e-6 as LDM's KL-f8).
    /// Shapes: recon, target (B, C, H, W) → scalar.
    /// </summary>
    public static Tensor L1KlLoss(Tensor recon, Tensor target, DiagonalGaussianDistribution posterior, double beta = 1e-6) =>
        Ops.L1Loss(recon, target) + Ops.Mean(posterior.Kl()) * beta;
}
