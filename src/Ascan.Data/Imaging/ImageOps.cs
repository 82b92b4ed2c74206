// Pixel operations with PIL's uint8 semantics (ImageOps, ImageEnhance, affine transforms) for the augmentations.
namespace Ascan.Data.Imaging;

/// <summary>
/// The image operations timm's RandAugment and torchvision's ColorJitter call on PIL images, reimplemented on
/// <see cref="Image"/>: enhancement blends (brightness, contrast, colour, sharpness), histogram ops (autocontrast,
/// equalize), lookup-table ops (invert, posterize, solarize), hue shift and affine warps with a fill colour.
/// All return new images; inputs are RGB (or gray) without alpha.
/// </summary>
public static class ImageOps
{
    // ------------------------------------------------------------------ blends (ImageEnhance)

    /// <summary>
    /// PIL's Image.blend(a, b, alpha) = a + alpha·(b − a): truncated inside [0, 1], clipped when extrapolating.
    /// </summary>
    public static Image Blend(Image a, Image b, double alpha)
    {
        if (a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels)
            throw new ArgumentException("Blend needs images of the same size and channels.");
        var o = new Image(a.Width, a.Height, a.Channels);
        var da = a.Data; var db = b.Data; var d = o.Data;
        float al = (float)alpha;
        if (alpha >= 0 && alpha <= 1)
            for (int i = 0; i < d.Length; i++) d[i] = (byte)(da[i] + al * (db[i] - da[i]));
        else
            for (int i = 0; i < d.Length; i++)
            {
                float t = da[i] + al * (db[i] - da[i]);
                d[i] = t <= 0 ? (byte)0 : t >= 255 ? (byte)255 : (byte)t;
            }
        return o;
    }

    /// <summary>ImageEnhance.Brightness: blend with black.</summary>
    public static Image Brightness(Image img, double factor) => Blend(new Image(img.Width, img.Height, img.Channels), img, factor);

    /// <summary>ImageEnhance.Contrast: blend with a solid image of the rounded mean luma.</summary>
    public static Image Contrast(Image img, double factor)
    {
        var gray = img.ToGray().Data;
        long sum = 0;
        foreach (byte v in gray) sum += v;
        byte mean = (byte)(int)((double)sum / gray.Length + 0.5);
        Span<byte> fill = stackalloc byte[img.Channels];
        fill.Fill(mean);
        return Blend(Image.Solid(img.Width, img.Height, fill), img, factor);
    }

    /// <summary>ImageEnhance.Color (saturation): blend with the luma image.</summary>
    public static Image Color(Image img, double factor)
    {
        if (img.Channels == 1) return img.Clone();
        var g = img.ToGray();
        var deg = new Image(img.Width, img.Height, img.Channels);
        for (int i = 0; i < g.Data.Length; i++)
            for (int c = 0; c < img.Channels; c++) deg.Data[i * img.Channels + c] = g.Data[i];
        return Blend(deg, img, factor);
    }

    /// <summary>ImageEnhance.Sharpness: blend with the SMOOTH-filtered image (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1, ÷13; borders kept).</summary>
    public static Image Sharpness(Image img, double factor) => Blend(Smooth(img), img, factor);

    private static Image Smooth(Image img)
    {
        var o = img.Clone();
        int w = img.Width, h = img.Height, c = img.Channels, st = img.Stride;
        if (w < 3 || h < 3) return o;
        var s = img.Data;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++)
                for (int ch = 0; ch < c; ch++)
                {
                    int p = y * st + x * c + ch;
                    int sum = s[p - st - c] + s[p - st] + s[p - st + c] + s[p - c] + 5 * s[p] + s[p + c] + s[p + st - c] + s[p + st] + s[p + st + c];
                    o.Data[p] = (byte)Math.Min(255, (int)(sum / 13f + 0.5f));
                }
        return o;
    }

    // ------------------------------------------------------------------ lookup tables (ImageOps)

    private static Image ApplyLut(Image img, ReadOnlySpan<byte> lut256PerChannel, bool perChannel)
    {
        var o = new Image(img.Width, img.Height, img.Channels);
        var s = img.Data; var d = o.Data; int c = img.Channels;
        for (int i = 0; i < s.Length; i++) d[i] = lut256PerChannel[(perChannel ? (i % c) * 256 : 0) + s[i]];
        return o;
    }

    public static Image Invert(Image img)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++) lut[i] = (byte)(255 - i);
        return ApplyLut(img, lut, false);
    }

    /// <summary>Keeps the top <paramref name="bits"/> bits of each value (0 bits → black, ≥ 8 → unchanged).</summary>
    public static Image Posterize(Image img, int bits)
    {
        if (bits >= 8) return img.Clone();
        int mask = ~((1 << (8 - Math.Max(bits, 0))) - 1) & 0xFF;
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++) lut[i] = (byte)(i & mask);
        return ApplyLut(img, lut, false);
    }

    /// <summary>Inverts values at or above the threshold.</summary>
    public static Image Solarize(Image img, int threshold)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++) lut[i] = (byte)(i < threshold ? i : 255 - i);
        return ApplyLut(img, lut, false);
    }

    /// <summary>timm's solarize_add: adds <paramref name="add"/> (clipped) to values below the threshold.</summary>
    public static Image SolarizeAdd(Image img, int add, int threshold = 128)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int i = 0; i < 256; i++) lut[i] = (byte)(i < threshold ? Math.Clamp(i + add, 0, 255) : i);
        return ApplyLut(img, lut, false);
    }

    private static int[] Histograms(Image img)
    {
        var h = new int[256 * img.Channels];
        var s = img.Data; int c = img.Channels;
        for (int i = 0; i < s.Length; i++) h[(i % c) * 256 + s[i]]++;
        return h;
    }

    /// <summary>ImageOps.autocontrast (cutoff 0): per channel, stretches [min, max] to [0, 255].</summary>
    public static Image AutoContrast(Image img)
    {
        var hist = Histograms(img);
        var lut = new byte[256 * img.Channels];
        for (int c = 0; c < img.Channels; c++)
        {
            var h = hist.AsSpan(c * 256, 256);
            int lo = 0, hi = 255;
            while (lo < 256 && h[lo] == 0) lo++;
            while (hi >= 0 && h[hi] == 0) hi--;
            for (int i = 0; i < 256; i++)
            {
                if (hi <= lo) { lut[c * 256 + i] = (byte)i; continue; }
                double scale = 255.0 / (hi - lo), offset = -lo * scale;
                lut[c * 256 + i] = (byte)Math.Clamp((int)(i * scale + offset), 0, 255);
            }
        }
        return ApplyLut(img, lut, true);
    }

    /// <summary>ImageOps.equalize: per channel, maps values through the cumulative histogram (PIL's step rule).</summary>
    public static Image Equalize(Image img)
    {
        var hist = Histograms(img);
        var lut = new byte[256 * img.Channels];
        for (int c = 0; c < img.Channels; c++)
        {
            var h = hist.AsSpan(c * 256, 256);
            int last = 0, nonzero = 0; long total = 0;
            for (int i = 0; i < 256; i++) if (h[i] != 0) { nonzero++; last = h[i]; total += h[i]; }
            long step = nonzero <= 1 ? 0 : (total - last) / 255;
            if (step == 0) { for (int i = 0; i < 256; i++) lut[c * 256 + i] = (byte)i; continue; }
            long n = step / 2;
            for (int i = 0; i < 256; i++)
            {
                lut[c * 256 + i] = (byte)Math.Min(255, n / step);
                n += h[i];
            }
        }
        return ApplyLut(img, lut, true);
    }

    // ------------------------------------------------------------------ hue (torchvision adjust_hue on PIL)

    /// <summary>Shifts hue by <paramref name="factor"/> ∈ [−0.5, 0.5] of a turn through PIL's 8-bit HSV.</summary>
    public static Image AdjustHue(Image img, double factor)
    {
        if (img.Channels != 3) return img.Clone();
        var o = new Image(img.Width, img.Height, 3);
        byte shift = unchecked((byte)(int)(factor * 255));
        var s = img.Data; var d = o.Data;
        for (int i = 0; i < s.Length; i += 3)
        {
            RgbToHsv(s[i], s[i + 1], s[i + 2], out byte h, out byte sat, out byte v);
            HsvToRgb(unchecked((byte)(h + shift)), sat, v, out d[i], out d[i + 1], out d[i + 2]);
        }
        return o;
    }

    internal static void RgbToHsv(byte r, byte g, byte b, out byte h, out byte s, out byte v)
    {
        byte max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b));
        v = max;
        if (max == min) { h = 0; s = 0; return; }
        float cr = max - min;
        float sf = cr / max;
        float rc = (max - r) / cr, gc = (max - g) / cr, bc = (max - b) / cr;
        float hf = r == max ? bc - gc : g == max ? 2f + rc - bc : 4f + gc - rc;
        hf = (hf / 6f + 1f) % 1f;
        h = (byte)Math.Clamp((int)(hf * 255f), 0, 255);
        s = (byte)Math.Clamp((int)(sf * 255f), 0, 255);
    }

    internal static void HsvToRgb(byte h, byte s, byte v, out byte r, out byte g, out byte b)
    {
        if (s == 0) { r = g = b = v; return; }
        int i = (int)Math.Floor(h * 6f / 255f);
        float f = h * 6f / 255f - i, fs = s / 255f;
        byte p = (byte)Math.Clamp((int)MathF.Round(v * (1f - fs)), 0, 255);
        byte q = (byte)Math.Clamp((int)MathF.Round(v * (1f - fs * f)), 0, 255);
        byte t = (byte)Math.Clamp((int)MathF.Round(v * (1f - fs * (1f - f))), 0, 255);
        (r, g, b) = (i % 6) switch
        {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        };
    }

    // ------------------------------------------------------------------ geometry

    /// <summary>
    /// PIL's Image.transform(AFFINE): output pixel centre (x + ½, y + ½) samples the input at
    /// (a·x' + b·y' + c, d·x' + e·y' + f); samples outside the input take <paramref name="fill"/>.
    /// </summary>
    public static Image Affine(Image img, ReadOnlySpan<double> m, Interpolation interp, ReadOnlySpan<byte> fill)
    {
        if (m.Length != 6) throw new ArgumentException("An affine matrix has 6 coefficients (a, b, c, d, e, f).");
        int w = img.Width, h = img.Height, ch = img.Channels;
        var o = new Image(w, h, ch);
        var s = img.Data; var d = o.Data;
        Span<float> acc = stackalloc float[4];
        Span<byte> fillPx = stackalloc byte[ch];
        for (int c = 0; c < ch; c++) fillPx[c] = c < fill.Length ? fill[c] : (byte)0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double xo = x + 0.5, yo = y + 0.5;
                double xi = m[0] * xo + m[1] * yo + m[2], yi = m[3] * xo + m[4] * yo + m[5];
                int dst = (y * w + x) * ch;
                if (xi < 0 || xi >= w || yi < 0 || yi >= h) { fillPx.CopyTo(d.AsSpan(dst, ch)); continue; }
                if (interp == Interpolation.Nearest)
                {
                    s.AsSpan(((int)yi * w + (int)xi) * ch, ch).CopyTo(d.AsSpan(dst, ch));
                    continue;
                }
                xi -= 0.5; yi -= 0.5;
                int x0 = (int)Math.Floor(xi), y0 = (int)Math.Floor(yi);
                float fx = (float)(xi - x0), fy = (float)(yi - y0);
                acc.Clear();
                if (interp == Interpolation.Bilinear)
                {
                    for (int j = 0; j < 2; j++)
                    {
                        int sy = Math.Clamp(y0 + j, 0, h - 1);
                        float wy = j == 0 ? 1 - fy : fy;
                        for (int i = 0; i < 2; i++)
                        {
                            int sx = Math.Clamp(x0 + i, 0, w - 1);
                            float wt = wy * (i == 0 ? 1 - fx : fx);
                            int p = (sy * w + sx) * ch;
                            for (int c = 0; c < ch; c++) acc[c] += wt * s[p + c];
                        }
                    }
                }
                else
                {
                    for (int j = -1; j < 3; j++)
                    {
                        int sy = Math.Clamp(y0 + j, 0, h - 1);
                        float wy = CubicWeight(j - fy);
                        for (int i = -1; i < 3; i++)
                        {
                            int sx = Math.Clamp(x0 + i, 0, w - 1);
                            float wt = wy * CubicWeight(i - fx);
                            int p = (sy * w + sx) * ch;
                            for (int c = 0; c < ch; c++) acc[c] += wt * s[p + c];
                        }
                    }
                }
                for (int c = 0; c < ch; c++) d[dst + c] = (byte)Math.Clamp((int)(acc[c] + 0.5f), 0, 255);
            }
        return o;
    }

    private static float CubicWeight(float t)
    {
        const float a = -0.5f;
        t = MathF.Abs(t);
        if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
        if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
        return 0;
    }

    /// <summary>PIL's Image.rotate(degrees) about the centre, counter-clockwise for positive angles, same size.</summary>
    public static Image Rotate(Image img, double degrees, Interpolation interp, ReadOnlySpan<byte> fill)
    {
        double a = -degrees * Math.PI / 180.0;
        double cos = Math.Round(Math.Cos(a), 15), sin = Math.Round(Math.Sin(a), 15);
        double cx = img.Width / 2.0, cy = img.Height / 2.0;
        // Output → input: in = R·(out − centre) + centre, with R = [[cos, sin], [−sin, cos]].
        Span<double> m = [cos, sin, 0, -sin, cos, 0];
        m[2] = cos * -cx + sin * -cy + cx;
        m[5] = -sin * -cx + cos * -cy + cy;
        return Affine(img, m, interp, fill);
    }
}
