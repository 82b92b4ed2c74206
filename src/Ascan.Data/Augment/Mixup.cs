// Mixup and CutMix on a batch with soft targets, as timm's Mixup in 'batch' mode.
using Ascan.Core;

namespace Ascan.Data.Augment;

/// <summary>timm's Mixup arguments (mixup_alpha, cutmix_alpha, cutmix_minmax, prob, switch_prob, correct_lam, label_smoothing).</summary>
public sealed record MixupConfig
{
    public double MixupAlpha { get; init; } = 0.8;
    public double CutmixAlpha { get; init; } = 1.0;
    /// <summary>When set, the cut box side ratios are drawn uniformly from [min, max] instead of from λ.</summary>
    public (double Min, double Max)? CutmixMinMax { get; init; }
    public double Prob { get; init; } = 1.0;
    public double SwitchProb { get; init; } = 0.5;
    public bool CorrectLambda { get; init; } = true;
    public double LabelSmoothing { get; init; } = 0.1;
    public int NumClasses { get; init; }

    public bool Active => MixupAlpha > 0 || CutmixAlpha > 0 || CutmixMinMax != null;
}

/// <summary>
/// Mixes each image with the batch flipped (image b with image B−1−b): mixup blends them with weight λ ~ Beta(α, α);
/// cutmix pastes a box of the flipped image (λ corrected to the pasted area). Targets become
/// λ·onehot(y) + (1 − λ)·onehot(flip(y)) with label smoothing (off = ε/K, on = 1 − ε + ε/K), so each row sums to 1.
/// </summary>
public sealed class Mixup
{
    public MixupConfig Config { get; }

    public Mixup(MixupConfig config)
    {
        if (config.NumClasses <= 0) throw new ArgumentException("Mixup needs NumClasses > 0.");
        if (config.MixupAlpha < 0 || config.CutmixAlpha < 0) throw new ArgumentException("Mixup/CutMix alphas must be ≥ 0.");
        Config = config;
    }

    /// <summary>(λ, use cutmix) for one batch, as timm's _params_per_batch.</summary>
    public (double Lambda, bool Cutmix) SampleParams(Rng rng)
    {
        var c = Config;
        if (!c.Active || rng.NextDouble() >= c.Prob) return (1.0, false);
        if (c.MixupAlpha > 0 && c.CutmixAlpha > 0)
        {
            bool cut = rng.NextDouble() < c.SwitchProb;
            double a = cut ? c.CutmixAlpha : c.MixupAlpha;
            return (rng.Beta(a, a), cut);
        }
        if (c.MixupAlpha > 0) return (rng.Beta(c.MixupAlpha, c.MixupAlpha), false);
        // CutMix only (with cutmix_minmax the box ignores λ and λ is recomputed from it).
        double ca = c.CutmixAlpha > 0 ? c.CutmixAlpha : 1.0;
        return (rng.Beta(ca, ca), true);
    }

    /// <summary>
    /// Mixes the batch in place and returns the soft targets and the λ used.
    /// Shapes: images (B, C, H, W) planar floats, labels (B) → targets (B, NumClasses).
    /// </summary>
    public (float[] Targets, double Lambda) Apply(Span<float> images, int[] labels, int channels, int height, int width, Rng rng)
    {
        int b = labels.Length, plane = height * width, per = channels * plane;
        if (images.Length != b * per) throw new ArgumentException($"Mixup: images hold {images.Length} floats, ({b}, {channels}, {height}, {width}) needs {b * per}.");
        var (lam, cut) = SampleParams(rng);
        if (lam < 1.0)
        {
            var src = images.ToArray();     // the unmixed batch: the flipped partner must be read before it is mixed
            if (cut)
            {
                var (yl, yh, xl, xh) = CutBox(height, width, lam, rng);
                if (Config.CorrectLambda || Config.CutmixMinMax != null)
                    lam = 1.0 - (double)(yh - yl) * (xh - xl) / (height * width);
                for (int i = 0; i < b; i++)
                {
                    int j = b - 1 - i;
                    for (int c = 0; c < channels; c++)
                        for (int y = yl; y < yh; y++)
                            src.AsSpan(j * per + c * plane + y * width + xl, xh - xl)
                               .CopyTo(images.Slice(i * per + c * plane + y * width + xl, xh - xl));
                }
            }
            else
            {
                float l = (float)lam, m = (float)(1 - lam);
                for (int i = 0; i < b; i++)
                {
                    int j = b - 1 - i;
                    var dst = images.Slice(i * per, per);
                    var other = src.AsSpan(j * per, per);
                    for (int k = 0; k < per; k++) dst[k] = dst[k] * l + other[k] * m;
                }
            }
        }
        return (Targets(labels, Config.NumClasses, lam, Config.LabelSmoothing), lam);
    }

    /// <summary>timm's mixup_target: λ·smooth_onehot(y) + (1 − λ)·smooth_onehot(flip(y)). Shapes: (B) → (B, K).</summary>
    public static float[] Targets(int[] labels, int numClasses, double lambda, double smoothing)
    {
        int b = labels.Length;
        double off = smoothing / numClasses, on = 1.0 - smoothing + off;
        var t = new float[b * numClasses];
        for (int i = 0; i < b; i++)
        {
            int y1 = labels[i], y2 = labels[b - 1 - i];
            if ((uint)y1 >= (uint)numClasses || (uint)y2 >= (uint)numClasses)
                throw new ArgumentException($"Label {Math.Max(y1, y2)} is outside [0, {numClasses}).");
            for (int k = 0; k < numClasses; k++)
                t[i * numClasses + k] = (float)(lambda * (k == y1 ? on : off) + (1 - lambda) * (k == y2 ? on : off));
        }
        return t;
    }

    /// <summary>The cut box (y_lo, y_hi, x_lo, x_hi): side ratio √(1 − λ) around a uniform centre, clipped (timm's rand_bbox).</summary>
    private (int, int, int, int) CutBox(int h, int w, double lam, Rng rng)
    {
        int cutH, cutW;
        if (Config.CutmixMinMax is (double lo, double hi))
        {
            cutH = rng.IntInclusive((int)(h * lo), Math.Max((int)(h * lo), (int)(h * hi) - 1));
            cutW = rng.IntInclusive((int)(w * lo), Math.Max((int)(w * lo), (int)(w * hi) - 1));
            int yl0 = rng.IntInclusive(0, h - cutH), xl0 = rng.IntInclusive(0, w - cutW);
            return (yl0, yl0 + cutH, xl0, xl0 + cutW);
        }
        double ratio = Math.Sqrt(1 - lam);
        cutH = (int)(h * ratio); cutW = (int)(w * ratio);
        int cy = rng.NextInt(h), cx = rng.NextInt(w);
        return (Math.Clamp(cy - cutH / 2, 0, h), Math.Clamp(cy + cutH / 2, 0, h),
                Math.Clamp(cx - cutW / 2, 0, w), Math.Clamp(cx + cutW / 2, 0, w));
    }
}
