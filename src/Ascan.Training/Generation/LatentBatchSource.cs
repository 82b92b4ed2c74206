// Training batches from a latent cache: a fresh posterior sample of every latent each epoch, in a per-epoch permutation.
using Ascan.Core;
using Ascan.Data;

namespace Ascan.Training.Generation;

/// <summary>
/// Batches of cached latents for latent diffusion. Epoch e serves the images in a permutation drawn from (seed, e)
/// (dataset order without <paramref name="shuffle"/>), and draws each latent as mean + std·ε with ε from a generator
/// seeded by (seed, e, image index): epochs see different samples, a resumed run the same ones. Drops the last partial
/// batch when the cache holds at least one batch, as training loaders do (unless <paramref name="dropLast"/> says).
/// Batch: Images (B, L, h, w) float32 latents (already × the VAE's scaling factor), Labels and ClassIds the class ids
/// (both empty/null when the cache has no classes).
/// </summary>
public sealed class LatentBatchSource : IBatchSource
{
    private readonly LatentCache _cache;
    private readonly ulong _seed;
    private readonly bool _shuffle, _dropLast;

    public LatentBatchSource(LatentCache cache, int batchSize, ulong seed = 0, bool shuffle = true, bool? dropLast = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be positive.");
        (_cache, BatchSize, _seed, _shuffle) = (cache, batchSize, seed, shuffle);
        _dropLast = dropLast ?? cache.Count >= batchSize;
    }

    public LatentCache Cache => _cache;
    public IReadOnlyList<string> ClassNames => _cache.ClassNames;
    public int SampleCount => _cache.Count;
    public int BatchSize { get; }
    public int BatchesPerEpoch => _dropLast ? _cache.Count / BatchSize : (_cache.Count + BatchSize - 1) / BatchSize;
    public int SkippedFiles => 0;

    /// <summary>The cache indices of epoch <paramref name="epoch"/> in the order they are served.</summary>
    public int[] Order(int epoch) => _shuffle
        ? RandomStreams.Create(_seed, RandomStreams.ShuffleStream, epoch).Permutation(_cache.Count)
        : Enumerable.Range(0, _cache.Count).ToArray();

    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "Epoch must be ≥ 0.");
        if (startBatch < 0) throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, "Start batch must be ≥ 0.");
        return Iterate(epoch, startBatch);
    }

    private IEnumerable<Batch> Iterate(int epoch, int startBatch)
    {
        var order = Order(epoch);
        for (int b = startBatch; b < BatchesPerEpoch; b++) yield return BuildBatch(epoch, b, order);
    }

    /// <summary>Batch <paramref name="index"/> of an epoch. Shapes: (B, L, h, w) with B = the batch size or the remainder.</summary>
    public Batch BuildBatch(int epoch, int index, int[] order)
    {
        int start = index * BatchSize, n = Math.Min(BatchSize, order.Length - start), per = _cache.LatentSize;
        var z = new float[n * per];
        var ids = new int[n];
        var mean = _cache.Mean.Span;
        var std = _cache.Std.Span;
        for (int k = 0; k < n; k++)
        {
            int i = order[start + k];
            var rng = RandomStreams.Create(_seed, RandomStreams.SampleStream, epoch, i);
            var m = mean.Slice(i * per, per);
            var s = std.Slice(i * per, per);
            var dst = z.AsSpan(k * per, per);
            for (int j = 0; j < per; j++) dst[j] = m[j] + s[j] * (float)rng.NextNormal(); // mean + std·ε
            ids[k] = _cache.Labels[i];
        }
        var latents = Tensor.FromArray(z, n, _cache.LatentChannels, _cache.LatentHeight, _cache.LatentWidth); // (B, L, h, w)
        return _cache.ClassNames.Count > 0 ? new Batch(latents, ids) { ClassIds = ids } : new Batch(latents);
    }
}
