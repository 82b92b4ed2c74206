// Colour jitter as torchvision's ColorJitter on PIL images: brightness, contrast, saturation, hue in random order.
using Ascan.Core;
using Ascan.Data.Imaging;

namespace Ascan.Data.Augment;

/// <summary>
/// Each factor is drawn uniformly from [max(0, 1 − j), 1 + j] (hue from [−h, h]) and the four adjustments run in a
/// random order, as torchvision's ColorJitter. A jitter of 0 disables that adjustment.
/// </summary>
public sealed class ColorJitter
{
    public double Brightness { get; }
    public double Contrast { get; }
    public double Saturation { get; }
    public double Hue { get; }

    public ColorJitter(double brightness, double contrast, double saturation, double hue = 0)
    {
        if (brightness < 0 || contrast < 0 || saturation < 0) throw new ArgumentException("Colour jitter amounts must be ≥ 0.");
        if (hue is < 0 or > 0.5) throw new ArgumentException($"Hue jitter must be in [0, 0.5], got {hue}.");
        Brightness = brightness; Contrast = contrast; Saturation = saturation; Hue = hue;
    }

    public Image Apply(Image img, Rng rng)
    {
        var order = rng.Permutation(4);
        double b = rng.Uniform(Math.Max(0, 1 - Brightness), 1 + Brightness);
        double c = rng.Uniform(Math.Max(0, 1 - Contrast), 1 + Contrast);
        double s = rng.Uniform(Math.Max(0, 1 - Saturation), 1 + Saturation);
        double h = rng.Uniform(-Hue, Hue);
        foreach (int op in order)
            img = op switch
            {
                0 when Brightness > 0 => ImageOps.Brightness(img, b),
                1 when Contrast > 0 => ImageOps.Contrast(img, c),
                2 when Saturation > 0 => ImageOps.Color(img, s),
                3 when Hue > 0 => ImageOps.AdjustHue(img, h),
                _ => img,
            };
        return img;
    }
}
