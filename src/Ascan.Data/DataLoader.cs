// The batch loader: deterministic shuffling and augmentation, decoded and augmented on worker threads ahead of the model.
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Ascan.Core;
using Ascan.Data.Augment;

namespace Ascan.Data;

/// <summary>How a <see cref="DataLoader"/> batches, shuffles and prefetches.</summary>
public sealed record LoaderOptions
{
    public int BatchSize { get; init; } = 32;
    public bool Shuffle { get; init; } = true;

    /// <summary>Drop the last, incomplete batch (timm's training loader does; evaluation keeps it).</summary>
    public bool DropLast { get; init; }

    public ulong Seed { get; init; }

    /// <summary>Worker threads decoding and augmenting; 0 builds batches on the caller's thread.</summary>
    public int Workers { get; init; } = DefaultWorkers;

    /// <summary>Batches that may be ready or in progress ahead of the one being consumed (the queue bound).</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Mixup/CutMix with soft targets; null = labels only.</summary>
    public MixupConfig? Mixup { get; init; }

    /// <summary>Where skipped files are reported (stderr when null).</summary>
    public TextWriter? Log { get; init; }

    /// <summary>One worker per two cores (the model's kernels use the rest), at least 1, at most 4.</summary>
    public static int DefaultWorkers => Math.Clamp(Environment.ProcessorCount / 2, 1, 4);
}

/// <summary>
/// Turns an <see cref="IImageDataset"/> into batches of normalised (B, 3, S, S) float32 images. Epoch e's order is a
/// permutation drawn from (seed, e); sample i's augmentation draws from a generator seeded by (seed, e, i) and
/// batch b's mixup from (seed, e, b), so batches are identical whatever the thread timing and whichever batch an
/// epoch starts at. Unreadable images are reported once by path and left out of their batch.
/// </summary>
public sealed partial class DataLoader : IBatchSource
{
    private readonly IImageDataset _dataset;
    private readonly ImageTransform? _transform;     // null for segmentation (see DataLoader.Segmentation.cs)
    private readonly Mixup? _mixup;
    private readonly ConcurrentDictionary<int, bool> _skipped = new();
    private readonly object _logLock = new();

    public LoaderOptions Options { get; }
    public IImageDataset Dataset => _dataset;
    public ImageTransform Transform => _transform ?? throw new InvalidOperationException("A segmentation loader has no image transform (see SegTrain / SegEval).");

    public DataLoader(IImageDataset dataset, ImageTransform transform, LoaderOptions options)
    {
        if (options.BatchSize <= 0) throw new ArgumentException($"Batch size must be positive, got {options.BatchSize}.");
        if (options.Workers < 0 || options.Prefetch < 1) throw new ArgumentException("Workers must be ≥ 0 and prefetch ≥ 1.");
        if (dataset.Count == 0) throw new ArgumentException("The dataset is empty.");
        _dataset = dataset; _transform = transform; Options = options;
        if (options.Mixup is { } m)
            _mixup = new Mixup(m.NumClasses > 0 ? m : m with { NumClasses = dataset.ClassNames.Count });
    }

    /// <summary>Training: timm's train transform, shuffled, incomplete last batch dropped (unless it is the only one).</summary>
    public static DataLoader ForTraining(IImageDataset dataset, TransformConfig transform, LoaderOptions options) =>
        new(dataset, new TrainTransform(transform), options with { Shuffle = true, DropLast = dataset.Count >= options.BatchSize });

    /// <summary>Evaluation: resize + centre crop, dataset order, every sample, no mixup.</summary>
    public static DataLoader ForEvaluation(IImageDataset dataset, TransformConfig transform, LoaderOptions options) =>
        new(dataset, new EvalTransform(transform), options with { Shuffle = false, DropLast = false, Mixup = null });

    public IReadOnlyList<string> ClassNames => _dataset.ClassNames;
    public int SampleCount => _dataset.Count;
    public int BatchSize => Options.BatchSize;
    /// <summary>The side of every batch's square images; for segmentation the crop height (0 in evaluation, where sizes follow the images).</summary>
    public int ImageSize => _transform?.Size ?? SegImageSize;

    public int BatchesPerEpoch => Options.DropLast ? _dataset.Count / Options.BatchSize : (_dataset.Count + Options.BatchSize - 1) / Options.BatchSize;

    public int SkippedFiles => _skipped.Count;

    /// <summary>The dataset indices of epoch <paramref name="epoch"/> in the order they are served.</summary>
    public int[] Order(int epoch)
    {
        if (!Options.Shuffle) return Enumerable.Range(0, _dataset.Count).ToArray();
        return RandomStreams.Create(Options.Seed, RandomStreams.ShuffleStream, epoch).Permutation(_dataset.Count);
    }

    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "Epoch must be ≥ 0.");
        if (startBatch < 0) throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, "Start batch must be ≥ 0.");
        return Iterate(epoch, startBatch);
    }

    private IEnumerable<Batch> Iterate(int epoch, int startBatch)
    {
        var order = Order(epoch);
        int end = BatchesPerEpoch;
        if (startBatch >= end) yield break;
        if (Options.Workers == 0)
        {
            for (int b = startBatch; b < end; b++)
                if (BuildBatch(epoch, b, order) is { } batch) yield return batch;
            yield break;
        }
        using var pipeline = new Prefetcher(this, epoch, order, startBatch, end);
        for (int b = startBatch; b < end; b++)
            if (pipeline.Take(b) is { } batch) yield return batch;
    }

    /// <summary>
    /// Decodes, augments and stacks batch <paramref name="index"/> of an epoch (null when every image in it was unreadable).
    /// Shapes: images (B', 3, S, S), labels (B'), soft targets (B', K) with B' = the readable samples.
    /// </summary>
    public Batch? BuildBatch(int epoch, int index, int[] order)
    {
        if (_transform == null) return BuildSegBatch(epoch, index, order);
        int start = index * Options.BatchSize, count = Math.Min(Options.BatchSize, order.Length - start);
        int s = _transform.Size, per = 3 * s * s;
        var images = Tensor.Empty([count, 3, s, s], DType.F32, zero: false);
        var buf = images.Span<float>();
        var labels = new List<int>(count);
        for (int k = 0; k < count; k++)
        {
            int i = order[start + k];
            Imaging.Image img;
            try { img = _dataset.Load(i); }
            // A missing libturbojpeg is not a bad file: let its install hint reach the user instead of skipping every JPEG.
            catch (Exception e) when (e is not (OutOfMemoryException or DllNotFoundException))
            {
                ReportSkip(i, e);
                continue;
            }
            var rng = RandomStreams.Create(Options.Seed, RandomStreams.SampleStream, epoch, i);
            _transform.Apply(img, rng, buf.Slice(labels.Count * per, per));
            labels.Add(_dataset.Label(i));
        }
        if (labels.Count == 0) return null;
        if (labels.Count < count) images = Tensor.FromSpan<float>(buf[..(labels.Count * per)], [labels.Count, 3, s, s]);
        var labelArray = labels.ToArray();
        Tensor? soft = null;
        if (_mixup != null)
        {
            var rng = RandomStreams.Create(Options.Seed, RandomStreams.BatchStream, epoch, index);
            var (targets, _) = _mixup.Apply(images.Span<float>(), labelArray, 3, s, s, rng);
            soft = Tensor.FromArray(targets, labelArray.Length, _mixup.Config.NumClasses);
        }
        return new Batch(images, labelArray, soft);
    }

    private void ReportSkip(int index, Exception e)
    {
        if (!_skipped.TryAdd(index, true)) return;
        string what = e is Imaging.ImageDecodeException ? e.Message : $"{_dataset.Describe(index)}: {e.GetType().Name}: {e.Message}";
        lock (_logLock) (Options.Log ?? Console.Error).WriteLine($"warning: skipping unreadable image {what}");
    }

    /// <summary>
    /// Worker threads claim batch indices in increasing order, each after taking one of Prefetch slots; the consumer
    /// frees a slot per batch taken. So at most Prefetch batches are built or waiting ahead of the model.
    /// </summary>
    private sealed class Prefetcher : IDisposable
    {
        private readonly DataLoader _loader;
        private readonly int _epoch, _end;
        private readonly int[] _order;
        private readonly Dictionary<int, Batch?> _ready = new();
        private readonly object _lock = new();
        private readonly SemaphoreSlim _slots;
        private readonly CancellationTokenSource _cancel = new();
        private readonly Thread[] _threads;
        private int _next;
        private ExceptionDispatchInfo? _error;

        public Prefetcher(DataLoader loader, int epoch, int[] order, int start, int end)
        {
            _loader = loader; _epoch = epoch; _order = order; _next = start; _end = end;
            _slots = new SemaphoreSlim(loader.Options.Prefetch);
            int workers = Math.Min(loader.Options.Workers, end - start);
            _threads = new Thread[workers];
            for (int i = 0; i < workers; i++)
            {
                // Dedicated threads: the thread pool is busy with the model's Parallel.For kernels.
                _threads[i] = new Thread(Work) { IsBackground = true, Name = $"ascan-data-{i}" };
                _threads[i].Start();
            }
        }

        private void Work()
        {
            while (true)
            {
                try { _slots.Wait(_cancel.Token); }
                catch (OperationCanceledException) { return; }
                int b = Interlocked.Increment(ref _next) - 1;
                if (b >= _end || _cancel.IsCancellationRequested) { _slots.Release(); return; }
                Batch? batch;
                try { batch = _loader.BuildBatch(_epoch, b, _order); }
                catch (Exception e)
                {
                    lock (_lock) { _error ??= ExceptionDispatchInfo.Capture(e); Monitor.PulseAll(_lock); }
                    return;
                }
                lock (_lock) { _ready[b] = batch; Monitor.PulseAll(_lock); }
            }
        }

        public Batch? Take(int b)
        {
            Batch? batch;
            lock (_lock)
            {
                while (!_ready.TryGetValue(b, out batch))
                {
                    _error?.Throw();
                    Monitor.Wait(_lock);
                }
                _ready.Remove(b);
            }
            _slots.Release();
            return batch;
        }

        public void Dispose()
        {
            _cancel.Cancel();
            foreach (var t in _threads) t.Join();
            _cancel.Dispose();
            _slots.Dispose();
        }
    }
}
