// mmsegmentation's PhotoMetricDistortion on 8-bit RGB: brightness, contrast, saturation and hue in OpenCV's HSV.
using Ascan.Core;
using Ascan.Data.Imaging;

namespace Ascan.Data.Augment;

/// <summary>
/// Each step runs with probability 1/2: brightness (add uniform [−delta, delta]), contrast (multiply by uniform
/// [lo, hi]) either second or last (chosen by one draw), saturation (multiply S) and hue (add an integer in
/// [−hueDelta, hueDelta) to H, mod 180) in OpenCV's 8-bit HSV. Values are clipped to [0, 255] and truncated, as
/// mmseg's convert (float32 → np.clip → astype(uint8)). Draw order follows mmseg's transform.
/// </summary>
public sealed class PhotoMetricDistortion
{
    public int BrightnessDelta { get; }
    public (double Lo, double Hi) ContrastRange { get; }
    public (double Lo, double Hi) SaturationRange { get; }
    public int HueDelta { get; }

    public PhotoMetricDistortion(int brightnessDelta = 32, double contrastLo = 0.5, double contrastHi = 1.5,
                                 double saturationLo = 0.5, double saturationHi = 1.5, int hueDelta = 18)
    {
        if (brightnessDelta < 0 || hueDelta < 0) throw new ArgumentException("Brightness and hue deltas must be ≥ 0.");
        if (contrastLo < 0 || contrastHi < contrastLo || saturationLo < 0 || saturationHi < saturationLo)
            throw new ArgumentException("Contrast and saturation ranges need 0 ≤ lo ≤ hi.");
        BrightnessDelta = brightnessDelta; ContrastRange = (contrastLo, contrastHi);
        SaturationRange = (saturationLo, saturationHi); HueDelta = hueDelta;
    }

    public Image Apply(Image img, Rng rng)
    {
        if (img.Channels != 3) throw new ArgumentException($"PhotoMetricDistortion needs an RGB image, got {img.Channels} channels.");
        img = img.Clone();
        var d = img.Data;
        if (rng.NextInt(2) == 1) Convert(d, 1, rng.Uniform(-BrightnessDelta, BrightnessDelta));
        bool contrastFirst = rng.NextInt(2) == 1;
        if (contrastFirst) Contrast(d, rng);
        if (rng.NextInt(2) == 1)
        {
            float alpha = (float)rng.Uniform(SaturationRange.Lo, SaturationRange.Hi);
            MapHsv(d, (ref int _, ref int s) => s = Clip(s * alpha));
        }
        if (rng.NextInt(2) == 1)
        {
            int delta = HueDelta == 0 ? 0 : rng.NextInt(2 * HueDelta) - HueDelta;
            MapHsv(d, (ref int h, ref int _) => h = ((h + delta) % 180 + 180) % 180);
        }
        if (!contrastFirst) Contrast(d, rng);
        return img;
    }

    private void Contrast(byte[] d, Rng rng)
    {
        if (rng.NextInt(2) == 1) Convert(d, rng.Uniform(ContrastRange.Lo, ContrastRange.Hi), 0);
    }

    private static void Convert(byte[] d, double alpha, double beta)
    {
        float a = (float)alpha, b = (float)beta;
        for (int i = 0; i < d.Length; i++) d[i] = Clip(d[i] * a + b);
    }

    private static byte Clip(float v) => v <= 0 ? (byte)0 : v >= 255 ? (byte)255 : (byte)v;

    private delegate void HsvEdit(ref int h, ref int s);

    private static void MapHsv(byte[] d, HsvEdit edit)
    {
        for (int i = 0; i < d.Length; i += 3)
        {
            CvRgbToHsv(d[i], d[i + 1], d[i + 2], out int h, out int s, out int v);
            edit(ref h, ref s);
            CvHsvToRgb(h, s, v, out d[i], out d[i + 1], out d[i + 2]);
        }
    }

    /// <summary>OpenCV's 8-bit RGB → HSV (H in 0..179, S and V in 0..255), in its 12-bit fixed point with division tables.</summary>
    internal static void CvRgbToHsv(int r, int g, int b, out int h, out int s, out int v)
    {
        const int shift = 12;
        v = Math.Max(r, Math.Max(g, b));
        int vmin = Math.Min(r, Math.Min(g, b)), diff = v - vmin;
        int sdiv = v == 0 ? 0 : (int)Math.Round((255 << shift) / (double)v, MidpointRounding.ToEven);
        int hdiv = diff == 0 ? 0 : (int)Math.Round((180 << shift) / (6.0 * diff), MidpointRounding.ToEven);
        s = (diff * sdiv + (1 << (shift - 1))) >> shift;
        int hh = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
        hh = (hh * hdiv + (1 << (shift - 1))) >> shift;
        h = hh < 0 ? hh + 180 : hh;
    }

    /// <summary>OpenCV's 8-bit HSV → RGB: through floats (H·6/180 sectors), each channel rounded from ·255.</summary>
    internal static void CvHsvToRgb(int hIn, int sIn, int vIn, out byte r, out byte g, out byte b)
    {
        float h = hIn * (6f / 180f), s = sIn * (1f / 255f), v = vIn * (1f / 255f);
        float rf, gf, bf;
        if (s == 0) rf = gf = bf = v;
        else
        {
            while (h < 0) h += 6;
            while (h >= 6) h -= 6;
            int sector = (int)MathF.Floor(h);
            h -= sector;
            float p = v * (1 - s), q = v * (1 - s * h), t = v * (1 - s * (1 - h));
            (rf, gf, bf) = sector switch
            {
                0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t),
                3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q),
            };
        }
        r = Round8(rf); g = Round8(gf); b = Round8(bf);
    }

    private static byte Round8(float x) => (byte)Math.Clamp((int)MathF.Round(x * 255f, MidpointRounding.ToEven), 0, 255);
}
