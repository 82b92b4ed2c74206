// The batch loader's segmentation side: (image, label map) pairs through mmseg's train or eval pipeline into Batch.Masks.
using Ascan.Core;
using Ascan.Data.Imaging;
using Ascan.Data.Segmentation;

namespace Ascan.Data;

public sealed partial class DataLoader
{
    private readonly ISegDataset? _seg;
    private readonly SegTrainTransform? _segTrain;
    private readonly SegEvalTransform? _segEval;

    /// <summary>The segmentation dataset (null for classification).</summary>
    public ISegDataset? SegDataset => _seg;
    public SegTrainTransform? SegTrain => _segTrain;
    public SegEvalTransform? SegEval => _segEval;

    private int SegImageSize => _segTrain?.Config.CropHeight ?? 0;

    /// <summary>
    /// Segmentation batches: with <paramref name="train"/> mmseg's train pipeline (every image cropped and padded to
    /// the crop size), else <paramref name="eval"/>'s (image resized keeping its ratio, labels at the original size).
    /// Exactly one of the two. No mixup.
    /// </summary>
    private DataLoader(ISegDataset dataset, SegTrainTransform? train, SegEvalTransform? eval, LoaderOptions options)
    {
        if (options.BatchSize <= 0) throw new ArgumentException($"Batch size must be positive, got {options.BatchSize}.");
        if (options.Workers < 0 || options.Prefetch < 1) throw new ArgumentException("Workers must be ≥ 0 and prefetch ≥ 1.");
        if (dataset.Count == 0) throw new ArgumentException("The dataset is empty.");
        if ((train == null) == (eval == null)) throw new ArgumentException("A segmentation loader needs exactly one of a train and an eval transform.");
        _seg = dataset; _segTrain = train; _segEval = eval;
        _dataset = new SegImageView(dataset);
        Options = options with { Mixup = null };
    }

    public DataLoader(ISegDataset dataset, SegTrainTransform transform, LoaderOptions options) : this(dataset, transform, null, options) { }

    public DataLoader(ISegDataset dataset, SegEvalTransform transform, LoaderOptions options) : this(dataset, null, transform, options) { }

    /// <summary>Segmentation training: shuffled, incomplete last batch dropped (unless it is the only one).</summary>
    public static DataLoader ForSegTraining(ISegDataset dataset, SegTransformConfig transform, LoaderOptions options) =>
        new(dataset, new SegTrainTransform(transform), options with { Shuffle = true, DropLast = dataset.Count >= options.BatchSize });

    /// <summary>
    /// Segmentation evaluation: dataset order, every sample. Masks stay at each image's original size, so the images
    /// of one batch must share a size (ADE20K's do not: use batch size 1, as mmseg does).
    /// </summary>
    public static DataLoader ForSegEvaluation(ISegDataset dataset, SegTransformConfig transform, LoaderOptions options) =>
        new(dataset, new SegEvalTransform(transform), options with { Shuffle = false, DropLast = false });

    /// <summary>
    /// Shapes: train: images (B', 3, crop H, crop W), masks (B', crop H, crop W); eval: images (B', 3, h, w) at the
    /// resized size, masks (B', H, W) at the original size. B' = the readable samples.
    /// </summary>
    private Batch? BuildSegBatch(int epoch, int index, int[] order)
    {
        var seg = _seg!;
        int start = index * Options.BatchSize, count = Math.Min(Options.BatchSize, order.Length - start);
        var pairs = new List<(int Index, SegPair Pair)>(count);
        for (int k = 0; k < count; k++)
        {
            int i = order[start + k];
            try { pairs.Add((i, seg.Load(i))); }
            catch (Exception e) when (e is not (OutOfMemoryException or DllNotFoundException))
            {
                ReportSkip(i, e);
            }
        }
        if (pairs.Count == 0) return null;
        int n = pairs.Count;
        if (_segTrain is { } train)
        {
            int ch = train.Config.CropHeight, cw = train.Config.CropWidth, per = 3 * ch * cw;
            var images = Tensor.Empty([n, 3, ch, cw], DType.F32, zero: false);
            var buf = images.Span<float>();
            var masks = new int[n * ch * cw];
            for (int k = 0; k < n; k++)
            {
                var rng = RandomStreams.Create(Options.Seed, RandomStreams.SampleStream, epoch, pairs[k].Index);
                train.Apply(pairs[k].Pair.Image, pairs[k].Pair.Label, rng, buf.Slice(k * per, per), masks.AsSpan(k * ch * cw, ch * cw));
            }
            return new Batch(images) { Masks = masks };
        }
        var samples = pairs.Select(p => _segEval!.Apply(p.Pair.Image, p.Pair.Label)).ToArray();
        var s0 = samples[0];
        for (int k = 1; k < n; k++)
        {
            var s = samples[k];
            if (s.ImageHeight != s0.ImageHeight || s.ImageWidth != s0.ImageWidth || s.LabelHeight != s0.LabelHeight || s.LabelWidth != s0.LabelWidth)
                throw new InvalidDataException(
                    $"Segmentation evaluation batch {index}: {seg.Describe(pairs[0].Index)} is {s0.LabelWidth}×{s0.LabelHeight} but " +
                    $"{seg.Describe(pairs[k].Index)} is {s.LabelWidth}×{s.LabelHeight}; images of different sizes need batch size 1.");
        }
        int ih = s0.ImageHeight, iw = s0.ImageWidth, lh = s0.LabelHeight, lw = s0.LabelWidth;
        var evalImages = Tensor.Empty([n, 3, ih, iw], DType.F32, zero: false);
        var eb = evalImages.Span<float>();
        var evalMasks = new int[n * lh * lw];
        for (int k = 0; k < n; k++)
        {
            samples[k].Image.CopyTo(eb.Slice(k * 3 * ih * iw, 3 * ih * iw));
            samples[k].Label.CopyTo(evalMasks.AsSpan(k * lh * lw, lh * lw));
        }
        return new Batch(evalImages) { Masks = evalMasks, MaskHeight = lh, MaskWidth = lw };
    }

    /// <summary>The images of a segmentation set seen as an image dataset (for <see cref="Dataset"/> and skip messages).</summary>
    private sealed class SegImageView(ISegDataset seg) : IImageDataset
    {
        public IReadOnlyList<string> ClassNames => seg.ClassNames;
        public int Count => seg.Count;
        public int Label(int index) => -1;
        public Image Load(int index) => seg.Load(index).Image;
        public string Describe(int index) => seg.Describe(index);
    }
}
