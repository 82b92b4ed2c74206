// The per-image pipelines: timm's training transform (random resized crop, flip, RandAugment or colour jitter,
// random erasing) and its evaluation transform (resize to size / crop fraction, centre crop), then normalisation.
using Ascan.Core;
using Ascan.Data.Augment;
using Ascan.Data.Imaging;

namespace Ascan.Data;

/// <summary>Everything the image transforms need; defaults are timm's train.py defaults.</summary>
public sealed record TransformConfig
{
    public int Size { get; init; } = 224;
    public double[] Mean { get; init; } = [0.485, 0.456, 0.406];
    public double[] Std { get; init; } = [0.229, 0.224, 0.225];

    /// <summary>Eval resampling ("bicubic", "bilinear", "nearest").</summary>
    public string Interpolation { get; init; } = "bicubic";

    /// <summary>Train resampling: "random" picks bilinear or bicubic per image (timm's --train-interpolation default).</summary>
    public string TrainInterpolation { get; init; } = "random";

    /// <summary>Eval: the image is resized to floor(Size / CropFraction) on its shorter side, then centre-cropped to Size.</summary>
    public double CropFraction { get; init; } = 0.875;

    public double ScaleMin { get; init; } = 0.08;
    public double ScaleMax { get; init; } = 1.0;
    public double RatioMin { get; init; } = 3.0 / 4.0;
    public double RatioMax { get; init; } = 4.0 / 3.0;
    public double HFlip { get; init; } = 0.5;

    /// <summary>Brightness/contrast/saturation jitter (0 = off); ignored while RandAugment runs unless forced, as in timm.</summary>
    public double ColorJitter { get; init; } = 0.4;
    public double Hue { get; init; }
    public bool ForceColorJitter { get; init; }

    /// <summary>timm's auto-augment string; only RandAugment ("rand-m9-mstd0.5-inc1") is supported. Null = off.</summary>
    public string? AutoAugment { get; init; }

    public double ReProb { get; init; }
    public string ReMode { get; init; } = "pixel";
    public int ReCount { get; init; } = 1;

    internal void Validate()
    {
        if (Size <= 0) throw new ArgumentException($"Transform size must be positive, got {Size}.");
        if (Mean.Length != 3 || Std.Length != 3) throw new ArgumentException("Transform mean and std need 3 values each.");
        if (Std.Any(s => s <= 0)) throw new ArgumentException("Transform std values must be positive.");
        if (CropFraction is <= 0 or > 1) throw new ArgumentException($"Crop fraction must be in (0, 1], got {CropFraction}.");
        if (ScaleMin <= 0 || ScaleMax < ScaleMin || RatioMin <= 0 || RatioMax < RatioMin)
            throw new ArgumentException("Random-resized-crop needs 0 < scale min ≤ max and 0 < ratio min ≤ max.");
    }
}

/// <summary>
/// A per-image pipeline: decoded image → augmented RGB image (bytes, PIL semantics) → normalised (3, Size, Size)
/// floats, with post-normalisation steps (random erasing) last. All randomness comes from the generator passed in.
/// </summary>
public abstract class ImageTransform
{
    public TransformConfig Config { get; }
    public int Size => Config.Size;

    protected ImageTransform(TransformConfig config)
    {
        config.Validate();
        Config = config;
    }

    /// <summary>The byte-domain part: returns an RGB image of Size × Size.</summary>
    public abstract Image Augment(Image image, Rng rng);

    /// <summary>Steps on the normalised planar image (random erasing). Shapes: chw (3, Size, Size).</summary>
    protected virtual void AfterNormalize(Span<float> chw, Rng rng) { }

    /// <summary>Runs the whole pipeline into <paramref name="dst"/>. Shapes: image (H, W, C) → dst (3, Size, Size).</summary>
    public void Apply(Image image, Rng rng, Span<float> dst)
    {
        var img = Augment(image.ToRgb(), rng);
        img.ToNormalizedChw(dst, Config.Mean, Config.Std);
        AfterNormalize(dst[..(3 * Size * Size)], rng);
    }
}

/// <summary>timm's transforms_imagenet_train (primary: random resized crop + flip; secondary: RandAugment or colour jitter; final: normalise + random erasing).</summary>
public sealed class TrainTransform : ImageTransform
{
    private readonly RandAugment? _randAugment;
    private readonly ColorJitter? _jitter;
    private readonly RandomErasing? _erasing;
    private readonly Interpolation? _interp;

    public TrainTransform(TransformConfig config) : base(config)
    {
        _interp = config.TrainInterpolation == "random" ? null : Resample.Parse(config.TrainInterpolation);
        if (!string.IsNullOrEmpty(config.AutoAugment))
        {
            if (!config.AutoAugment.StartsWith("rand", StringComparison.Ordinal))
                throw new ArgumentException($"Auto-augment '{config.AutoAugment}': only RandAugment ('rand-…') is supported.");
            _randAugment = RandAugment.Parse(config.AutoAugment, new AugmentHParams
            {
                FillColor = AugmentHParams.FillFromMean(config.Mean),
                Interpolation = _interp,
            });
        }
        if (config.ColorJitter > 0 && (_randAugment == null || config.ForceColorJitter))
            _jitter = new ColorJitter(config.ColorJitter, config.ColorJitter, config.ColorJitter, config.Hue);
        if (config.ReProb > 0) _erasing = new RandomErasing(config.ReProb, config.ReMode, config.ReCount);
    }

    public RandAugment? RandAugment => _randAugment;

    public override Image Augment(Image image, Rng rng)
    {
        var (top, left, h, w) = RandomResizedCropParams(image.Width, image.Height, rng);
        var interp = _interp ?? (rng.NextInt(2) == 0 ? Interpolation.Bilinear : Interpolation.Bicubic);
        var img = Resample.Resize(image.Crop(left, top, w, h), Size, Size, interp);
        if (rng.NextDouble() < Config.HFlip) img = img.FlipHorizontal();
        if (_randAugment != null) img = _randAugment.Apply(img, rng);
        if (_jitter != null) img = _jitter.Apply(img, rng);
        return img;
    }

    protected override void AfterNormalize(Span<float> chw, Rng rng) => _erasing?.Apply(chw, 3, Size, Size, rng);

    /// <summary>
    /// timm's RandomResizedCropAndInterpolation.get_params: up to 10 tries of an area fraction in [ScaleMin, ScaleMax]
    /// and a log-uniform aspect ratio; otherwise a centre crop at the nearest allowed ratio. Returns (top, left, h, w).
    /// </summary>
    public (int Top, int Left, int Height, int Width) RandomResizedCropParams(int width, int height, Rng rng)
    {
        double area = (double)width * height;
        double logLo = Math.Log(Config.RatioMin), logHi = Math.Log(Config.RatioMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = rng.Uniform(Config.ScaleMin, Config.ScaleMax) * area;
            double aspect = Math.Exp(rng.Uniform(logLo, logHi));
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w >= 1 && h >= 1 && w <= width && h <= height)
                return (rng.IntInclusive(0, height - h), rng.IntInclusive(0, width - w), h, w);
        }
        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < Config.RatioMin) { cw = width; ch = Math.Max(1, (int)Math.Round(cw / Config.RatioMin, MidpointRounding.ToEven)); }
        else if (inRatio > Config.RatioMax) { ch = height; cw = Math.Max(1, (int)Math.Round(ch * Config.RatioMax, MidpointRounding.ToEven)); }
        else { cw = width; ch = height; }
        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }
}

/// <summary>timm's transforms_imagenet_eval: shorter side to floor(Size / CropFraction), centre crop Size × Size.</summary>
public sealed class EvalTransform : ImageTransform
{
    private readonly Interpolation _interp;

    public EvalTransform(TransformConfig config) : base(config)
    {
        _interp = Resample.Parse(config.Interpolation);
    }

    public int ScaleSize => (int)Math.Floor(Size / Config.CropFraction);

    public override Image Augment(Image image, Rng rng)
    {
        var resized = Resample.ResizeShorter(image, ScaleSize, _interp);
        return Resample.CenterCrop(resized, Size, Size);
    }
}
