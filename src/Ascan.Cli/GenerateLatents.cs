// Latent diffusion for generate train and sample: the VAE that defines the latent space, its latents of a dataset
// encoded once and cached beside the run (DiT's extract_features), and decoding sampled latents back to images.
using Ascan.Core;
using Ascan.Data;
using Ascan.Models.Generation;
using Ascan.Training.Eval;
using Ascan.Training.Generation;

namespace Ascan.Cli;

internal static class GenerateLatents
{
    /// <summary>The VAE of <paramref name="path"/> (a vae-training checkpoint, its EMA weights when it has them, or a plain state dict such as an SD VAE).</summary>
    public static AutoencoderKL LoadVae(string path, string model, TextWriter? warnings = null)
    {
        var info = Ascan.Training.Train.Checkpoint.ReadInfo(path, "VAE weights");
        var l = ModelLoader.LoadImageModel(path, new LoadOptions { Model = info.ModelName ?? model, UseEma = info.IsCheckpoint && info.HasEma, Warnings = warnings });
        var vae = l.Model as AutoencoderKL ?? throw new ArgumentException($"--vae {path}: holds {l.ModelName}, not a KL autoencoder (vae_*).");
        vae.Eval();
        return vae;
    }

    /// <summary>
    /// The cached latents of <paramref name="set"/> at OUT/latents_SPLIT.safetensors: reused when the fingerprint (data
    /// folder, image count, size, VAE file and its time stamp) matches, else encoded anew (no flips: one latent per image).
    /// </summary>
    public static LatentCache Cache(AutoencoderKL vae, string vaePath, IImageDataset set, string dataDir, string split, int size,
        Ascan.Training.Train.TrainConfig c, TextWriter log)
    {
        Directory.CreateDirectory(c.Output);
        string path = Path.Combine(c.Output, $"latents_{split}.safetensors");
        string full = Path.GetFullPath(vaePath);
        string fingerprint = FormattableString.Invariant($"{Path.GetFullPath(dataDir)}|{split}|{set.Count}|{size}|{full}|{File.GetLastWriteTimeUtc(full).Ticks}");
        if (LatentCache.Open(path, fingerprint) is { } cached)
        {
            log.WriteLine($"generate train: {cached.Count} {split} latents from {path}");
            return cached;
        }
        var images = DataLoader.ForEvaluation(set, WholeImage(size), new LoaderOptions { BatchSize = 32, Seed = c.Seed, Workers = c.Workers, Log = Console.Error });
        log.WriteLine($"generate train: encoding {set.Count} {split} images with the VAE → {path}");
        return LatentCache.Build(vae, images, path, new LatentCacheInfo(fingerprint, full), log);
    }

    /// <summary>Evaluation transform of generation: the whole image resized bilinearly to <paramref name="size"/>, mapped to [−1, 1].</summary>
    public static TransformConfig WholeImage(int size) =>
        new() { Size = size, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1, Interpolation = "bilinear" };

    /// <summary>Scaled latents → images in [−1, 1]: z / scaling_factor through the decoder (eval, no gradients).</summary>
    public static Func<Tensor, Tensor> Decoder(AutoencoderKL vae) => z =>
    {
        using var ng = Autograd.NoGrad();
        return vae.Decode(Ops.Mul(z, 1.0 / vae.Config.ScalingFactor));
    };
}
