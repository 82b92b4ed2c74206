// RandAugment with timm's configuration grammar ("rand-m9-mstd0.5-inc1") and its op set and level→argument rules.
using System.Globalization;
using System.Text.RegularExpressions;
using Ascan.Core;
using Ascan.Data.Imaging;

namespace Ascan.Data.Augment;

/// <summary>What the ops need from the pipeline (timm's hparams): fill colour for warps, resampling, translate range.</summary>
public sealed record AugmentHParams
{
    /// <summary>Fill for pixels warped in from outside the image: the dataset mean as bytes (timm's img_mean).</summary>
    public byte[] FillColor { get; init; } = [128, 128, 128];

    /// <summary>Resampling for rotate/shear/translate; null picks bilinear or bicubic at random per op (timm's default).</summary>
    public Interpolation? Interpolation { get; init; }

    /// <summary>Largest relative translation at magnitude 10 (timm's translate_pct).</summary>
    public double TranslatePct { get; init; } = 0.45;

    /// <summary>The fill colour timm derives from a normalisation mean: round(255·m) per channel.</summary>
    public static byte[] FillFromMean(ReadOnlySpan<double> mean)
    {
        var f = new byte[mean.Length];
        for (int i = 0; i < mean.Length; i++) f[i] = (byte)Math.Min(255, Math.Round(255 * mean[i], MidpointRounding.ToEven));
        return f;
    }
}

/// <summary>
/// timm's RandAugment: each image gets N ops drawn from the list (uniformly with replacement, or by the w0 weights
/// without), each applied with probability p at magnitude M (optionally jittered by a Gaussian of std mstd, clipped
/// to [0, mmax]). Grammar: <c>rand-m{M}-n{N}-mstd{S}-mmax{X}-inc{0|1}-p{P}-w{0}</c>, sections in any order.
/// </summary>
public sealed class RandAugment
{
    private const double LevelDenominator = 10.0;

    public static readonly string[] DefaultOps =
    [
        "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color", "Contrast",
        "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel",
    ];

    public static readonly string[] IncreasingOps =
    [
        "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd",
        "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
        "TranslateXRel", "TranslateYRel",
    ];

    // timm's _RAND_CHOICE_WEIGHTS_0 (selected by "w0"), keyed by op name.
    private static readonly Dictionary<string, double> ChoiceWeights0 = new()
    {
        ["Rotate"] = 0.3, ["ShearX"] = 0.2, ["ShearY"] = 0.2, ["TranslateXRel"] = 0.1, ["TranslateYRel"] = 0.1,
        ["Color"] = .025, ["Sharpness"] = 0.025, ["AutoContrast"] = 0.025, ["Solarize"] = .005, ["SolarizeAdd"] = .005,
        ["Contrast"] = .005, ["Brightness"] = .005, ["Equalize"] = .005, ["Posterize"] = 0, ["Invert"] = 0,
    };

    public string Config { get; }
    public double Magnitude { get; }
    public int NumLayers { get; }
    public double MagnitudeStd { get; }
    public double MagnitudeMax { get; }
    public double Probability { get; }
    public IReadOnlyList<string> Ops { get; }
    public IReadOnlyList<double>? Weights { get; }
    public AugmentHParams HParams { get; }

    private RandAugment(string config, double magnitude, int numLayers, double mstd, double mmax, double prob,
                        string[] ops, double[]? weights, AugmentHParams hparams)
    {
        Config = config; Magnitude = magnitude; NumLayers = numLayers; MagnitudeStd = mstd; MagnitudeMax = mmax;
        Probability = prob; Ops = ops; Weights = weights; HParams = hparams;
    }

    /// <summary>Parses timm's RandAugment string; unknown sections raise an error naming the section.</summary>
    public static RandAugment Parse(string config, AugmentHParams? hparams = null)
    {
        hparams ??= new AugmentHParams();
        var parts = config.Split('-');
        if (parts.Length == 0 || parts[0] != "rand")
            throw new ArgumentException($"RandAugment config '{config}' must start with 'rand' (e.g. rand-m9-mstd0.5-inc1).");
        double magnitude = LevelDenominator, mstd = 0, mmax = LevelDenominator, prob = 0.5;
        int layers = 2;
        string[] ops = DefaultOps;
        int? weightIdx = null;
        foreach (var part in parts.Skip(1))
        {
            // As timm: split at the first digit; a section without one is ignored.
            var m = Regex.Match(part, @"^([a-z]*)(\d.*)$");
            if (!m.Success) continue;
            string key = m.Groups[1].Value, val = m.Groups[2].Value;
            double Num() => double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"RandAugment config '{config}': section '{part}' has a bad number '{val}'.");
            switch (key)
            {
                case "m": magnitude = Num(); break;
                case "n": layers = (int)Num(); break;
                case "mstd":
                    mstd = Num();
                    if (mstd > 100) mstd = double.PositiveInfinity;   // timm: "uniform in [0, M]"
                    break;
                case "mmax": mmax = Num(); break;
                // ASSUMPTION: inc0 means the plain op set. (timm tests bool("0"), which is true, so its inc0 also
                // selects the increasing set; we read the digit as written.)
                case "inc": ops = Num() != 0 ? IncreasingOps : DefaultOps; break;
                case "p": prob = Num(); break;
                case "w": weightIdx = (int)Num(); break;
                default: throw new ArgumentException($"RandAugment config '{config}': unknown section '{part}' (known: m, n, mstd, mmax, inc, p, w).");
            }
        }
        if (layers < 0) throw new ArgumentException($"RandAugment config '{config}': n must be ≥ 0.");
        double[]? weights = null;
        if (weightIdx is int w)
        {
            if (w != 0) throw new ArgumentException($"RandAugment config '{config}': only weight set w0 exists.");
            weights = ops.Select(o => ChoiceWeights0.GetValueOrDefault(o, 0)).ToArray();
            double sum = weights.Sum();
            for (int i = 0; i < weights.Length; i++) weights[i] /= sum;
            // Weighted choice is without replacement (as numpy's), so it cannot pick more ops than have weight.
            if (layers > weights.Count(x => x > 0))
                throw new ArgumentException($"RandAugment config '{config}': n{layers} is more than the {weights.Count(x => x > 0)} ops weight set w0 can choose without replacement.");
        }
        return new RandAugment(config, magnitude, layers, mstd, mmax, prob, ops, weights, hparams);
    }

    /// <summary>Applies NumLayers randomly chosen ops to an RGB image.</summary>
    public Image Apply(Image img, Rng rng)
    {
        foreach (int op in ChooseOps(rng)) img = ApplyOp(Ops[op], img, rng);
        return img;
    }

    private int[] ChooseOps(Rng rng)
    {
        var chosen = new int[NumLayers];
        if (Weights == null)
        {
            for (int i = 0; i < NumLayers; i++) chosen[i] = rng.NextInt(Ops.Count);
            return chosen;
        }
        // Weighted choice without replacement (numpy's choice(replace=False, p=…)): renormalise after each pick.
        var w = Weights.ToArray();
        for (int i = 0; i < NumLayers; i++)
        {
            double total = w.Sum(), u = rng.NextDouble() * total, acc = 0;
            int pick = Array.FindLastIndex(w, x => x > 0);
            for (int k = 0; k < w.Length; k++) { acc += w[k]; if (w[k] > 0 && u < acc) { pick = k; break; } }
            chosen[i] = pick;
            w[pick] = 0;
        }
        return chosen;
    }

    /// <summary>One op as timm's AugmentOp: skip with probability 1 − p, jitter the magnitude, map level to argument.</summary>
    public Image ApplyOp(string name, Image img, Rng rng)
    {
        if (Probability < 1.0 && rng.NextDouble() > Probability) return img;
        double mag = Magnitude;
        if (double.IsPositiveInfinity(MagnitudeStd)) mag = rng.Uniform(0, mag);
        else if (MagnitudeStd > 0) mag = rng.Gauss(mag, MagnitudeStd);
        mag = Math.Clamp(mag, 0, MagnitudeMax);
        double level = mag / LevelDenominator;
        return Run(name, img, level, rng, HParams);
    }

    private static double Negate(double v, Rng rng) => rng.NextDouble() > 0.5 ? -v : v;

    private static Interpolation Resample(AugmentHParams hp, Rng rng) =>
        hp.Interpolation ?? (rng.NextInt(2) == 0 ? Interpolation.Bilinear : Interpolation.Bicubic);

    /// <summary>Runs op <paramref name="name"/> at level ∈ [0, 1] (magnitude / 10).</summary>
    internal static Image Run(string name, Image img, double level, Rng rng, AugmentHParams hp)
    {
        switch (name)
        {
            case "AutoContrast": return ImageOps.AutoContrast(img);
            case "Equalize": return ImageOps.Equalize(img);
            case "Invert": return ImageOps.Invert(img);
            case "Rotate": return ImageOps.Rotate(img, Negate(level * 30, rng), Resample(hp, rng), hp.FillColor);
            case "Posterize": return ImageOps.Posterize(img, (int)(level * 4));
            case "PosterizeIncreasing": return ImageOps.Posterize(img, 4 - (int)(level * 4));
            case "PosterizeOriginal": return ImageOps.Posterize(img, (int)(level * 4) + 4);
            case "Solarize": return ImageOps.Solarize(img, Math.Min(256, (int)(level * 256)));
            case "SolarizeIncreasing": return ImageOps.Solarize(img, 256 - Math.Min(256, (int)(level * 256)));
            case "SolarizeAdd": return ImageOps.SolarizeAdd(img, Math.Min(128, (int)(level * 110)));
            case "Color": return ImageOps.Color(img, Enhance(level));
            case "ColorIncreasing": return ImageOps.Color(img, EnhanceIncreasing(level, rng));
            case "Contrast": return ImageOps.Contrast(img, Enhance(level));
            case "ContrastIncreasing": return ImageOps.Contrast(img, EnhanceIncreasing(level, rng));
            case "Brightness": return ImageOps.Brightness(img, Enhance(level));
            case "BrightnessIncreasing": return ImageOps.Brightness(img, EnhanceIncreasing(level, rng));
            case "Sharpness": return ImageOps.Sharpness(img, Enhance(level));
            case "SharpnessIncreasing": return ImageOps.Sharpness(img, EnhanceIncreasing(level, rng));
            case "ShearX": return ImageOps.Affine(img, [1, Negate(level * 0.3, rng), 0, 0, 1, 0], Resample(hp, rng), hp.FillColor);
            case "ShearY": return ImageOps.Affine(img, [1, 0, 0, Negate(level * 0.3, rng), 1, 0], Resample(hp, rng), hp.FillColor);
            case "TranslateXRel":
            {
                double px = Negate(level * hp.TranslatePct, rng) * img.Width;
                return ImageOps.Affine(img, [1, 0, px, 0, 1, 0], Resample(hp, rng), hp.FillColor);
            }
            case "TranslateYRel":
            {
                double px = Negate(level * hp.TranslatePct, rng) * img.Height;
                return ImageOps.Affine(img, [1, 0, 0, 0, 1, px], Resample(hp, rng), hp.FillColor);
            }
            default: throw new ArgumentException($"Unknown RandAugment op '{name}'.");
        }
    }

    // timm's _enhance_level_to_arg: factor in [0.1, 1.9].
    private static double Enhance(double level) => level * 1.8 + 0.1;

    // timm's _enhance_increasing_level_to_arg: 1 ± 0.9·level, at least 0.1.
    private static double EnhanceIncreasing(double level, Rng rng) => Math.Max(0.1, 1.0 + Negate(level * 0.9, rng));

    public override string ToString() =>
        $"RandAugment({Config}: {NumLayers} of {Ops.Count} ops, m={Magnitude}, mstd={MagnitudeStd}, p={Probability})";
}
