// The latent cache: built once from an evaluation-order source (scaled posterior mean/std, labels, fingerprint),
// reopened or refused, and served as fresh posterior samples per epoch that a resumed run sees identically.
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Generation;

namespace Ascan.Training.Tests;

public class LatentCacheTests
{
    private const int Size = 8, Count = 10;

    private static (LatentCache Cache, Ascan.Models.Generation.AutoencoderKL Vae, InMemorySource Source) Build(TempDir dir, StringWriter? log = null)
    {
        var vae = VaeTestKit.Create();
        var source = VaeTestKit.Images(Count, Size, batchSize: 4, seed: 5);
        var cache = LatentCache.Build(vae, source, dir.File("cache/latents.safetensors"), new LatentCacheInfo("data|10|vae.safetensors|8", "tiny"), log);
        return (cache, vae, source);
    }

    [Fact]
    public void Build_MeanAndStdAreTheScaledPosterior_ShapesLabelsAndMetadataRoundTrip()
    {
        using var dir = new TempDir();
        var log = new StringWriter();
        var (cache, vae, source) = Build(dir, log);
        Assert.Equal((Count, Size, Size, 4, 4, 4, 0.5), (cache.Count, cache.ImageHeight, cache.ImageWidth, cache.LatentChannels, cache.LatentHeight, cache.LatentWidth, cache.ScalingFactor));
        Assert.Equal(["a", "b", "c"], cache.ClassNames);
        Assert.Equal(Enumerable.Range(0, Count).Select(n => n % 3), cache.Labels);
        Assert.Contains($"{Count}/{Count} images encoded", log.ToString());
        Assert.True(vae.Training); // the mode is restored

        // Image 6 (in the second batch) encoded alone: mean · 0.5 and std · 0.5.
        var x = source.Epoch(0).ElementAt(1).Images.Slice(0, 2, 1).Contiguous(); // (1, 3, 8, 8)
        float[] mean, std;
        vae.Eval();
        using (Autograd.NoGrad())
        {
            var q = vae.Encode(x);
            (mean, std) = (Ops.Mul(q.Mean, 0.5).ToArray<float>(), Ops.Mul(q.Std, 0.5).ToArray<float>());
        }
        int per = cache.LatentSize;
        for (int i = 0; i < per; i++)
        {
            Assert.Equal(mean[i], cache.Mean.Span[6 * per + i], 1e-5f);
            Assert.Equal(std[i], cache.Std.Span[6 * per + i], 1e-5f);
        }
        Assert.True(std.All(s => s > 0));

        var opened = LatentCache.Open(cache.Path, cache.Fingerprint)!;
        Assert.NotNull(opened);
        Assert.Equal((cache.Count, cache.LatentSize, cache.ScalingFactor, "tiny"), (opened.Count, opened.LatentSize, opened.ScalingFactor, opened.Vae));
        Assert.Equal(cache.ClassNames, opened.ClassNames);
        Assert.Equal(cache.Labels, opened.Labels);
        Assert.Equal(cache.Mean.ToArray(), opened.Mean.ToArray());
        Assert.Equal(cache.Std.ToArray(), opened.Std.ToArray());
    }

    [Fact]
    public void Open_MissingFileOrOtherFingerprint_IsNull()
    {
        using var dir = new TempDir();
        var (cache, _, _) = Build(dir);
        Assert.Null(LatentCache.Open(dir.File("nothing.safetensors"), cache.Fingerprint));
        Assert.Null(LatentCache.Open(cache.Path, "data|11|vae.safetensors|8"));
    }

    [Fact]
    public void Open_TruncatedFile_IsInvalidDataNamingThePath()
    {
        using var dir = new TempDir();
        var (cache, _, _) = Build(dir);
        var bytes = File.ReadAllBytes(cache.Path);
        File.WriteAllBytes(cache.Path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => LatentCache.Open(cache.Path, cache.Fingerprint));
        Assert.Contains(cache.Path, e.Message);
    }

    [Fact]
    public void Source_BatchesAreMeanPlusStdTimesNoiseOfSeedEpochIndex_DropLast_ClassIds()
    {
        using var dir = new TempDir();
        var (cache, _, _) = Build(dir);
        var src = new LatentBatchSource(cache, batchSize: 4, seed: 9);
        Assert.Equal(2, src.BatchesPerEpoch); // 10 images, batch 4, the partial batch dropped
        var batches = src.Epoch(3).ToList();
        Assert.Equal(2, batches.Count);
        Assert.Equal([4, 4, 4, 4], batches[0].Images.ShapeArray());
        var order = src.Order(3);
        Assert.NotEqual(Enumerable.Range(0, Count), order);
        int per = cache.LatentSize;
        var z = batches[1].Images.ToArray<float>();
        for (int k = 0; k < 4; k++)
        {
            int i = order[4 + k];
            Assert.Equal(cache.Labels[i], batches[1].Labels[k]);
            Assert.Equal(cache.Labels[i], batches[1].ClassIds![k]);
            var rng = RandomStreams.Create(9, RandomStreams.SampleStream, 3, i);
            for (int j = 0; j < per; j++)
                Assert.Equal(cache.Mean.Span[i * per + j] + cache.Std.Span[i * per + j] * (float)rng.NextNormal(), z[k * per + j]);
        }
    }

    [Fact]
    public void Source_EpochFromStartBatch_IsTheTailOfTheEpoch_AndEpochsDiffer()
    {
        using var dir = new TempDir();
        var (cache, _, _) = Build(dir);
        var src = new LatentBatchSource(cache, batchSize: 3, seed: 2);
        Assert.Equal(3, src.BatchesPerEpoch);
        var full = src.Epoch(1).Select(b => (b.Images.ToArray<float>(), b.Labels)).ToList();
        var tail = new LatentBatchSource(cache, batchSize: 3, seed: 2).Epoch(1, startBatch: 1).Select(b => (b.Images.ToArray<float>(), b.Labels)).ToList();
        Assert.Equal(full.Skip(1).Select(b => b.Item1), tail.Select(b => b.Item1));
        Assert.Equal(full.Skip(1).Select(b => b.Labels), tail.Select(b => b.Labels));
        var other = src.Epoch(2).First().Images.ToArray<float>();
        Assert.NotEqual(full[0].Item1, other);
        // Without shuffling the same image comes first, with another sample each epoch.
        var plain = new LatentBatchSource(cache, batchSize: 3, seed: 2, shuffle: false);
        Assert.NotEqual(plain.Epoch(0).First().Images.ToArray<float>(), plain.Epoch(1).First().Images.ToArray<float>());
    }
}
