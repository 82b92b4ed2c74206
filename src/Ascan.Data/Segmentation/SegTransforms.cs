// mmsegmentation's segmentation pipelines: train (random resize, cat-max-ratio crop, flip, photometric, pad) and eval.
using Ascan.Core;
using Ascan.Data.Augment;
using Ascan.Data.Imaging;

namespace Ascan.Data.Segmentation;

/// <summary>All settings of the segmentation pipelines; defaults are mmseg's ADE20K 512×512 recipe.</summary>
public sealed record SegTransformConfig
{
    public int CropWidth { get; init; } = 512;
    public int CropHeight { get; init; } = 512;
    /// <summary>The resize scale (mmseg's (2048, 512)): the long side is held under the larger, the short under the smaller.</summary>
    public int ScaleLong { get; init; } = 2048;
    public int ScaleShort { get; init; } = 512;
    public double RatioMin { get; init; } = 0.5;
    public double RatioMax { get; init; } = 2.0;
    public double CatMaxRatio { get; init; } = 0.75;
    public double FlipProb { get; init; } = 0.5;
    public bool PhotoMetric { get; init; } = true;
    public double[] Mean { get; init; } = [0.485, 0.456, 0.406];
    public double[] Std { get; init; } = [0.229, 0.224, 0.225];

    /// <summary>mmseg's recipe scaled to a square crop of <paramref name="crop"/>: scale (4·crop, crop), as (2048, 512) is to 512.</summary>
    public static SegTransformConfig ForCrop(int crop) => new() { CropWidth = crop, CropHeight = crop, ScaleLong = 4 * crop, ScaleShort = crop };

    internal void Validate()
    {
        if (CropWidth <= 0 || CropHeight <= 0 || ScaleLong <= 0 || ScaleShort <= 0)
            throw new ArgumentException("Segmentation crop and scale sizes must be positive.");
        if (RatioMin <= 0 || RatioMax < RatioMin) throw new ArgumentException($"Resize ratio range needs 0 < min ≤ max, got [{RatioMin}, {RatioMax}].");
        if (CatMaxRatio is <= 0 or > 1) throw new ArgumentException($"cat_max_ratio must be in (0, 1], got {CatMaxRatio}.");
        if (Mean.Length != 3 || Std.Length != 3 || Std.Any(s => s <= 0)) throw new ArgumentException("Mean and std need 3 values each, std positive.");
    }
}

/// <summary>
/// One transformed sample. Shapes: Image (3, ImageHeight, ImageWidth) normalised floats; Label (LabelHeight,
/// LabelWidth) class indices with 255 = ignore.
/// </summary>
public sealed record SegSample(float[] Image, int ImageHeight, int ImageWidth, int[] Label, int LabelHeight, int LabelWidth);

/// <summary>
/// mmseg's train pipeline: RandomResize(scale, ratio range) → RandomCrop(crop, cat_max_ratio) → RandomFlip →
/// PhotoMetricDistortion (image only) → normalise → pad to the crop size on the bottom/right (image 0 after
/// normalisation, as mmseg's data preprocessor pads the normalised batch; labels 255). All randomness from the
/// generator passed in.
/// </summary>
public sealed class SegTrainTransform
{
    private readonly PhotoMetricDistortion? _photo;
    public SegTransformConfig Config { get; }

    public SegTrainTransform(SegTransformConfig config)
    {
        config.Validate();
        Config = config;
        if (config.PhotoMetric) _photo = new PhotoMetricDistortion();
    }

    /// <summary>The byte-domain part: returns a pair of at most CropWidth × CropHeight (not yet padded).</summary>
    public SegPair Augment(SegPair pair, Rng rng)
    {
        var c = Config;
        var p = SegOps.RandomResize(new SegPair(pair.Image.ToRgb(), pair.Label), c.ScaleLong, c.ScaleShort, c.RatioMin, c.RatioMax, rng);
        p = SegOps.RandomCrop(p, c.CropWidth, c.CropHeight, c.CatMaxRatio, rng);
        p = SegOps.RandomFlip(p, c.FlipProb, rng);
        return _photo != null ? new SegPair(_photo.Apply(p.Image, rng), p.Label) : p;
    }

    /// <summary>Shapes: image (H, W, C), label (H, W) → dstImage (3, CropHeight, CropWidth), dstLabel (CropHeight, CropWidth).</summary>
    public void Apply(Image image, LabelMap label, Rng rng, Span<float> dstImage, Span<int> dstLabel)
    {
        var p = Augment(new SegPair(image, label), rng);
        int cw = Config.CropWidth, ch = Config.CropHeight, n = cw * ch;
        if (dstImage.Length < 3 * n || dstLabel.Length < n) throw new ArgumentException($"Destinations too small for (3, {ch}, {cw}) and ({ch}, {cw}).");
        // Normalise at the cropped size, then place it top-left in a zero (= normalised pad) canvas.
        var chw = new float[3 * p.Width * p.Height];
        p.Image.ToNormalizedChw(chw, Config.Mean, Config.Std);
        dstImage[..(3 * n)].Clear();
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < p.Height; y++)
                chw.AsSpan((c * p.Height + y) * p.Width, p.Width).CopyTo(dstImage.Slice(c * n + y * cw, p.Width));
        p.Label.Pad(cw, ch).CopyTo(dstLabel);
    }

    public SegSample Apply(Image image, LabelMap label, Rng rng)
    {
        int cw = Config.CropWidth, ch = Config.CropHeight;
        var img = new float[3 * cw * ch];
        var lab = new int[cw * ch];
        Apply(image, label, rng, img, lab);
        return new SegSample(img, ch, cw, lab, ch, cw);
    }
}

/// <summary>
/// mmseg's test pipeline: Resize(scale, keep_ratio) of the image only, then normalise; the label stays at the
/// original resolution because mmseg loads annotations after the resize and scores predictions resized back to it.
/// </summary>
public sealed class SegEvalTransform
{
    public SegTransformConfig Config { get; }

    public SegEvalTransform(SegTransformConfig config)
    {
        config.Validate();
        Config = config;
    }

    public SegSample Apply(Image image, LabelMap label)
    {
        if (image.Width != label.Width || image.Height != label.Height)
            throw new ArgumentException($"Image is {image.Width}×{image.Height} but its label map is {label.Width}×{label.Height}.");
        var (w, h) = SegOps.RescaleSize(image.Width, image.Height, Config.ScaleLong, Config.ScaleShort);
        var img = Resample.Resize(image.ToRgb(), w, h, Interpolation.Bilinear);
        var chw = new float[3 * w * h];
        img.ToNormalizedChw(chw, Config.Mean, Config.Std);
        var lab = new int[label.Width * label.Height];
        label.CopyTo(lab);
        return new SegSample(chw, h, w, lab, label.Height, label.Width);
    }
}
