// A dataset encoded once by a VAE (DiT's "encode once"): the posterior mean and std of every image, scaled for
// diffusion, with the labels; read back from a safetensors file whose fingerprint says what it was built from.
using System.Globalization;
using System.Text.Json;
using Ascan.Core.IO;

namespace Ascan.Training.Generation;

/// <summary>
/// What the caller says about the images a cache is built from. <paramref name="Fingerprint"/> identifies the source
/// (e.g. data path + image count + VAE weights file + image size): <see cref="LatentCache.Open"/> returns null when it
/// differs, so the caller rebuilds. <paramref name="Vae"/> names the autoencoder for people reading the file.
/// </summary>
public sealed record LatentCacheInfo(string Fingerprint, string Vae = "");

/// <summary>
/// The latents of N images: the posterior mean and std (N, L, h, w) row-major, both already multiplied by the VAE's
/// scaling factor (so mean + std·ε is a latent the diffusion model trains on, and ÷ <see cref="ScalingFactor"/> goes
/// back to what <see cref="Ascan.Models.Generation.AutoencoderKL.Decode"/> takes), and one class id per image (−1 when
/// the source had none). File: tensors <c>mean</c>, <c>std</c> F32 (N, L, h, w) and <c>labels</c> I64 (N); metadata
/// format, count, image_size [H, W], latent_shape [L, h, w], scaling_factor, classes (JSON), fingerprint, vae.
/// </summary>
public sealed partial class LatentCache
{
    public const string Format = "ascan-latent-cache/1";
    public const string MeanKey = "mean", StdKey = "std", LabelsKey = "labels";

    public string Path { get; }
    public string Fingerprint { get; }
    public string Vae { get; }
    public int Count { get; }
    public int ImageHeight { get; }
    public int ImageWidth { get; }
    /// <summary>L, h, w: the latent of one image.</summary>
    public int LatentChannels { get; }
    public int LatentHeight { get; }
    public int LatentWidth { get; }
    public double ScalingFactor { get; }
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Scaled posterior means, (N, L, h, w) row-major.</summary>
    public ReadOnlyMemory<float> Mean { get; }
    /// <summary>Scaled posterior standard deviations, (N, L, h, w) row-major.</summary>
    public ReadOnlyMemory<float> Std { get; }
    /// <summary>Class id per image (N); −1 where the source had no label.</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>L·h·w, the floats of one image's latent.</summary>
    public int LatentSize => LatentChannels * LatentHeight * LatentWidth;

    internal LatentCache(string path, LatentCacheInfo info, int[] imageSize, int[] latentShape, double scalingFactor,
        IReadOnlyList<string> classNames, float[] mean, float[] std, int[] labels)
    {
        (Path, Fingerprint, Vae) = (path, info.Fingerprint, info.Vae);
        (ImageHeight, ImageWidth) = (imageSize[0], imageSize[1]);
        (LatentChannels, LatentHeight, LatentWidth) = (latentShape[0], latentShape[1], latentShape[2]);
        (Count, ScalingFactor, ClassNames, Mean, Std, Labels) = (labels.Length, scalingFactor, classNames, mean, std, labels);
    }

    /// <summary>
    /// The cache at <paramref name="path"/>, or null when there is no file there or its fingerprint is not
    /// <paramref name="expectedFingerprint"/> (the caller rebuilds). A file that is not a well-formed cache (truncated,
    /// another format, inconsistent shapes) is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static LatentCache? Open(string path, string expectedFingerprint)
    {
        if (!File.Exists(path)) return null;
        SafetensorsFile file;
        try { file = SafetensorsFile.Open(path); }
        catch (SafetensorsFormatException e) { throw Malformed(path, e.Problem, e); }
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != Format)
            throw Malformed(path, $"format is '{format ?? "(none)"}', expected '{Format}' (was it written by LatentCache.Build?)");
        if (Meta(path, meta, "fingerprint") != expectedFingerprint) return null;
        try
        {
            int count = int.Parse(Meta(path, meta, "count"), CultureInfo.InvariantCulture);
            var imageSize = Json<int[]>(path, meta, "image_size");
            var latent = Json<int[]>(path, meta, "latent_shape");
            if (imageSize.Length != 2 || latent.Length != 3) throw Malformed(path, "image_size needs [H, W] and latent_shape [L, h, w]");
            int[] want = [count, latent[0], latent[1], latent[2]];
            foreach (var key in new[] { MeanKey, StdKey })
                if (!file.Contains(key) || !file[key].Shape.SequenceEqual(want))
                    throw Malformed(path, $"tensor '{key}' should be ({string.Join(", ", want)})" + (file.Contains(key) ? $", got ({string.Join(", ", file[key].Shape)})" : ", it is missing"));
            if (!file.Contains(LabelsKey) || !file[LabelsKey].Shape.SequenceEqual([count]))
                throw Malformed(path, $"tensor '{LabelsKey}' should be ({count})");
            var labels = file.ReadInt64(LabelsKey).Select(v => checked((int)v)).ToArray();
            var info = new LatentCacheInfo(expectedFingerprint, meta.TryGetValue("vae", out var vae) ? vae : "");
            return new LatentCache(path, info, imageSize, latent, double.Parse(Meta(path, meta, "scaling_factor"), CultureInfo.InvariantCulture),
                Json<List<string>>(path, meta, "classes"), file.ReadFloat(MeanKey), file.ReadFloat(StdKey), labels);
        }
        catch (Exception e) when (e is FormatException or OverflowException or JsonException or InvalidOperationException or IOException)
        {
            throw Malformed(path, e.Message, e);
        }
    }

    private static string Meta(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) ? v : throw Malformed(path, $"metadata '{key}' is missing");

    private static T Json<T>(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        JsonSerializer.Deserialize<T>(Meta(path, meta, key)) ?? throw Malformed(path, $"metadata '{key}' is null");

    private static InvalidDataException Malformed(string path, string problem, Exception? inner = null) =>
        new($"Latent cache '{path}' is malformed: {problem}. Delete it to rebuild.", inner);
}
