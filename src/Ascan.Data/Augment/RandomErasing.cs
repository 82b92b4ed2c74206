// Random erasing (Zhong et al.) as timm's RandomErasing, on one normalised CHW image.
using Ascan.Core;

namespace Ascan.Data.Augment;

/// <summary>
/// With probability <see cref="Probability"/>, replaces Count rectangles (area fraction in [MinArea, MaxArea]
/// split over the count, log-uniform aspect in [MinAspect, 1/MinAspect]) by values chosen by mode:
/// 'pixel' = a standard normal per pixel and channel, 'rand' = one normal colour per rectangle, 'const' = zeros.
/// Runs after normalisation, so normal noise matches the data's scale.
/// </summary>
public sealed class RandomErasing
{
    public double Probability { get; }
    public string Mode { get; }
    public int MinCount { get; }
    public int MaxCount { get; }
    public double MinArea { get; init; } = 0.02;
    public double MaxArea { get; init; } = 1.0 / 3.0;
    public double MinAspect { get; init; } = 0.3;

    public RandomErasing(double probability, string mode = "pixel", int minCount = 1, int? maxCount = null)
    {
        if (probability is < 0 or > 1) throw new ArgumentException($"Random erasing probability must be in [0, 1], got {probability}.");
        if (mode is not ("pixel" or "rand" or "const")) throw new ArgumentException($"Random erasing mode '{mode}' (expected pixel, rand or const).");
        Probability = probability; Mode = mode; MinCount = minCount; MaxCount = maxCount ?? minCount;
        if (MinCount < 1 || MaxCount < MinCount) throw new ArgumentException("Random erasing counts must satisfy 1 ≤ min ≤ max.");
    }

    /// <summary>Erases in place. Shapes: img (C, H, W) planar floats.</summary>
    public void Apply(Span<float> img, int channels, int height, int width, Rng rng)
    {
        if (rng.NextDouble() > Probability) return;
        int area = height * width;
        int count = MinCount == MaxCount ? MinCount : rng.IntInclusive(MinCount, MaxCount);
        double logLo = Math.Log(MinAspect), logHi = Math.Log(1 / MinAspect);
        Span<float> color = stackalloc float[channels];
        for (int k = 0; k < count; k++)
            for (int attempt = 0; attempt < 10; attempt++)
            {
                double target = rng.Uniform(MinArea, MaxArea) * area / count;
                double aspect = Math.Exp(rng.Uniform(logLo, logHi));
                int h = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
                int w = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
                if (w >= width || h >= height) continue;
                int top = rng.IntInclusive(0, height - h), left = rng.IntInclusive(0, width - w);
                if (Mode == "rand") for (int c = 0; c < channels; c++) color[c] = (float)rng.NextNormal();
                for (int c = 0; c < channels; c++)
                    for (int y = top; y < top + h; y++)
                    {
                        var row = img.Slice((c * height + y) * width + left, w);
                        for (int x = 0; x < w; x++)
                            row[x] = Mode switch { "pixel" => (float)rng.NextNormal(), "rand" => color[c], _ => 0f };
                    }
                break;
            }
    }
}
