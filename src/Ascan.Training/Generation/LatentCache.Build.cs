// Building a latent cache: every image of an evaluation-order source encoded once (eval mode, no grad) and written atomically.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Data;
using Ascan.Models.Generation;

namespace Ascan.Training.Generation;

public sealed partial class LatentCache
{
    /// <summary>
    /// Encodes every image of <paramref name="images"/> (its epoch 0: pass an evaluation-order loader, no shuffling and
    /// no augmentation, so the cache holds the dataset itself) with <paramref name="vae"/> in eval mode without
    /// gradients, writes the cache to <paramref name="path"/> (temporary file + rename; the folder is created) and
    /// returns it. Progress goes to <paramref name="log"/> about every 10 %. Shapes: batch images (B, Cin, H, W) →
    /// mean, std (N, L, H/f, W/f), each × <see cref="AutoencoderKLConfig.ScalingFactor"/>.
    /// </summary>
    public static LatentCache Build(AutoencoderKL vae, IBatchSource images, string path, LatentCacheInfo info, TextWriter? log = null)
    {
        int total = images.SampleCount;
        if (total == 0) throw new ArgumentException("LatentCache.Build: the image source holds no images.", nameof(images));
        double scale = vae.Config.ScalingFactor;
        float[] mean = [], std = [];
        var labels = new List<int>(total);
        int[]? imageSize = null, latent = null;
        int per = 0, decile = 0;
        var clock = Stopwatch.StartNew();
        bool wasTraining = vae.Training;
        vae.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var batch in images.Epoch(0))
            {
                using var scope = TensorScope.Begin();
                int n = batch.Count, h = batch.Images.Dim(2), w = batch.Images.Dim(3);
                if (imageSize == null) imageSize = [h, w];
                else if (imageSize[0] != h || imageSize[1] != w)
                    throw new ArgumentException($"LatentCache.Build: images must share one size; the first batch was {imageSize[0]}×{imageSize[1]}, a later one {h}×{w}.", nameof(images));
                var posterior = vae.Encode(batch.Images);                            // mean, std: (B, L, h, w)
                if (latent == null)
                {
                    latent = posterior.Mean.ShapeArray()[1..];
                    per = latent[0] * latent[1] * latent[2];
                    mean = new float[(long)total * per > Array.MaxLength ? throw TooLarge(total, per) : total * per];
                    std = new float[total * per];
                }
                if (labels.Count + n > total)
                    throw new ArgumentException($"LatentCache.Build: the source yielded more than its SampleCount ({total}) images.", nameof(images));
                Ops.Mul(posterior.Mean, scale).ToArray<float>().CopyTo(mean.AsSpan(labels.Count * per));
                Ops.Mul(posterior.Std, scale).ToArray<float>().CopyTo(std.AsSpan(labels.Count * per));
                var ids = batch.ClassIds ?? batch.Labels;
                for (int i = 0; i < n; i++) labels.Add(ids.Length == n ? ids[i] : -1);
                if (log != null && (labels.Count * 10L / total > decile || labels.Count == total))
                {
                    decile = (int)(labels.Count * 10L / total);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"latent cache: {labels.Count}/{total} images encoded, {labels.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} images/s"));
                }
            }
        }
        finally
        {
            if (wasTraining) vae.Train();
        }
        if (imageSize == null || latent == null) throw new ArgumentException("LatentCache.Build: the image source yielded no batches.", nameof(images));
        int count = labels.Count;
        if (count < total)
        {
            log?.WriteLine($"latent cache: {total - count} of {total} images were not served (unreadable or dropped); caching {count}");
            Array.Resize(ref mean, count * per);
            Array.Resize(ref std, count * per);
        }
        var cache = new LatentCache(path, info, imageSize, latent, scale, images.ClassNames.ToList(), mean, std, [.. labels]);
        cache.Save();
        return cache;
    }

    private void Save()
    {
        int[] shape = [Count, LatentChannels, LatentHeight, LatentWidth];
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["count"] = Count.ToString(CultureInfo.InvariantCulture),
            ["image_size"] = JsonSerializer.Serialize(new[] { ImageHeight, ImageWidth }),
            ["latent_shape"] = JsonSerializer.Serialize(new[] { LatentChannels, LatentHeight, LatentWidth }),
            ["scaling_factor"] = ScalingFactor.ToString("R", CultureInfo.InvariantCulture),
            ["classes"] = JsonSerializer.Serialize(ClassNames),
            ["fingerprint"] = Fingerprint,
            ["vae"] = Vae,
        };
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (dir != null) Directory.CreateDirectory(dir);
        // SafetensorsFile.Write writes a temporary file beside the target and renames it over, so a crash leaves no partial cache.
        SafetensorsFile.Write(Path,
        [
            SafetensorsTensor.FromSingle(MeanKey, shape, Mean),
            SafetensorsTensor.FromSingle(StdKey, shape, Std),
            SafetensorsTensor.FromInt64(LabelsKey, [Count], Labels.Select(l => (long)l).ToArray()),
        ], meta);
    }

    private static ArgumentException TooLarge(int images, int per) =>
        new($"LatentCache.Build: {images} images × {per} latent values exceed one array ({Array.MaxLength} floats); cache a smaller split.");
}
