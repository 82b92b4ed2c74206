// Test kit for the trainer: a tiny classifier with every kind of state (BN buffers, dropout and drop-path
// generators), separable synthetic images and an in-memory batch source with deterministic per-epoch shuffles.
using Ascan.Core;
using Ascan.Models;
using Ascan.Nn;
using Ascan.Data;

namespace Ascan.Training.Tests;

/// <summary>
/// conv3×3 → BN → GELU → (x + DropPath(conv3×3(x))) → conv3×3/2 → BN → GELU → conv3×3/2 → BN → GELU → mean pool →
/// Dropout → Linear, widths w, w, 2w, 2w.
/// </summary>
internal sealed class TinyClassifier : ClassifierModel
{
    private readonly Conv2d _conv1, _res, _conv2, _conv3;
    private readonly BatchNorm2d _bn1, _bn2, _bn3;
    private readonly DropPath _dropPath;
    private readonly Dropout _dropout;
    private readonly Linear _head;
    private readonly int _classes, _features;

    public TinyClassifier(ParamPath p, int classes, double dropPath = 0.1, double dropout = 0.1, int width = 8) : base(p)
    {
        _classes = classes;
        _features = 2 * width;
        _conv1 = new Conv2d(p.Sub("conv1"), new Conv2dConfig(3, width, 3) { Padding = 1, Bias = false });
        _bn1 = new BatchNorm2d(p.Sub("bn1"), width);
        _res = new Conv2d(p.Sub("res"), new Conv2dConfig(width, width, 3) { Padding = 1 });
        _dropPath = new DropPath(p.Sub("drop_path"), dropPath);
        _conv2 = new Conv2d(p.Sub("conv2"), new Conv2dConfig(width, 2 * width, 3) { Stride = 2, Padding = 1, Bias = false });
        _bn2 = new BatchNorm2d(p.Sub("bn2"), 2 * width);
        _conv3 = new Conv2d(p.Sub("conv3"), new Conv2dConfig(2 * width, 2 * width, 3) { Stride = 2, Padding = 1, Bias = false });
        _bn3 = new BatchNorm2d(p.Sub("bn3"), 2 * width);
        _dropout = new Dropout(p.Sub("dropout"), dropout);
        _head = new Linear(p.Sub("head"), 2 * width, classes);
    }

    public static TinyClassifier Create(int classes, ulong seed = 7, double dropPath = 0.1, double dropout = 0.1, int width = 8) =>
        new(ParamPath.Root(rng: new Rng(seed)), classes, dropPath, dropout, width);

    public override int NumClasses => _classes;
    public override int NumFeatures => _features;
    public override IReadOnlyList<FeatureInfo> FeatureInfo => [new("conv3", _features, 4)];

    /// <summary>Shapes: images (B, 3, H, W) → (B, H/4, W/4, 2w).</summary>
    public override Tensor ForwardFeatures(Tensor images)
    {
        var x = Ops.Gelu(_bn1.Forward(_conv1.Forward(ImagesToChannelsLast(images, 3)))); // (B, H, W, w)
        x = Ops.Add(x, _dropPath.Forward(_res.Forward(x)));
        x = Ops.Gelu(_bn2.Forward(_conv2.Forward(x)));                                     // (B, H/2, W/2, 2w)
        return Ops.Gelu(_bn3.Forward(_conv3.Forward(x)));                                  // (B, H/4, W/4, 2w)
    }

    /// <summary>Shapes: (B, H', W', 2w) → logits (B, classes).</summary>
    public override Tensor ForwardHead(Tensor features, bool preLogits = false)
    {
        var pooled = Ops.Mean(features, [1, 2]); // (B, 2w)
        return preLogits ? pooled : _head.Forward(_dropout.Forward(pooled));
    }

    public override IReadOnlyList<Tensor> ForwardStages(Tensor images) => [ForwardFeatures(images)];

    public override void ResetClassifier(int numClasses) => throw new NotSupportedException();
}

/// <summary>Labelled NCHW images in memory; epoch e is shuffled by a generator seeded from (seed, e).</summary>
internal sealed class InMemorySource(float[] images, int[] labels, int channels, int size, IReadOnlyList<string> classes, int batchSize,
    ulong seed = 1, bool shuffle = true, bool dropLast = false) : IBatchSource
{
    public IReadOnlyList<string> ClassNames => classes;
    public int SampleCount => labels.Length;
    public int BatchSize => batchSize;
    public int BatchesPerEpoch => dropLast ? labels.Length / batchSize : (labels.Length + batchSize - 1) / batchSize;
    public int SkippedFiles => 0;

    /// <summary>Test hook: edits a batch's images (epoch, batch index, NCHW values) before it is handed out.</summary>
    public Action<int, int, float[]>? Tamper { get; set; }

    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, labels.Length).ToArray();
        if (!shuffle) return order;
        var rng = new Rng(seed * 1_000_003UL + (ulong)epoch);
        for (int i = order.Length - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (order[i], order[j]) = (order[j], order[i]); }
        return order;
    }

    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
    {
        var order = Order(epoch);
        int per = channels * size * size;
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            int n = Math.Min(batchSize, labels.Length - b * batchSize);
            var x = new float[n * per];
            var y = new int[n];
            for (int i = 0; i < n; i++)
            {
                int k = order[b * batchSize + i];
                images.AsSpan(k * per, per).CopyTo(x.AsSpan(i * per));
                y[i] = labels[k];
            }
            Tamper?.Invoke(epoch, b, x);
            yield return new Batch(Tensor.FromArray(x, n, channels, size, size), y);
        }
    }
}

internal static class SyntheticData
{
    /// <summary>
    /// Four separable classes of noisy (3, size, size) images: a bright red, green or blue channel, or a bright top half.
    /// </summary>
    public static InMemorySource Make(int count, int size, int batchSize, ulong seed, bool shuffle = true)
    {
        var rng = new Rng(seed);
        int per = 3 * size * size;
        var images = new float[count * per];
        var labels = new int[count];
        for (int n = 0; n < count; n++)
        {
            int c = n % 4;
            labels[n] = c;
            for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double v = 0.6 * rng.NextNormal();
                if (c < 3 && ch == c) v += 1.0;
                if (c == 3 && y < size / 2) v += 1.0;
                images[n * per + (ch * size + y) * size + x] = (float)v;
            }
        }
        return new InMemorySource(images, labels, 3, size, ["red", "green", "blue", "top"], batchSize, seed, shuffle);
    }
}

/// <summary>A fresh, empty output folder per test, removed afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ascan-train-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
