// Image resizing as PIL does it: separable filters widened by the scale on downscale (antialias), 8-bit fixed point.
namespace Ascan.Data.Imaging;

public enum Interpolation { Nearest, Bilinear, Bicubic }

public static class Resample
{
    // PIL's coefficient precision for 8-bit images: 32 bits minus 8 for the pixel minus 2 for headroom.
    private const int PrecisionBits = 32 - 8 - 2;

    public static Interpolation Parse(string name) => name.ToLowerInvariant() switch
    {
        "nearest" => Interpolation.Nearest,
        "bilinear" or "linear" => Interpolation.Bilinear,
        "bicubic" or "cubic" => Interpolation.Bicubic,
        _ => throw new ArgumentException($"Unknown interpolation '{name}' (expected nearest, bilinear or bicubic)."),
    };

    /// <summary>
    /// Resizes to width × height. Bilinear and bicubic (a = −0.5) widen their support by the scale factor when
    /// shrinking, so downscaling averages every source pixel (PIL's Image.resize, torchvision's antialias=True).
    /// </summary>
    public static Image Resize(Image src, int width, int height, Interpolation interp)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"Resize target must be positive, got {width}×{height}.");
        if (width == src.Width && height == src.Height) return src.Clone();
        if (interp == Interpolation.Nearest) return ResizeNearest(src, width, height);
        Func<double, double> filter = interp == Interpolation.Bilinear ? Triangle : Cubic;
        double support = interp == Interpolation.Bilinear ? 1.0 : 2.0;
        var tmp = width != src.Width ? Horizontal(src, width, filter, support) : src;
        return height != src.Height ? Vertical(tmp, height, filter, support) : tmp;
    }

    private static double Triangle(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>
    /// For each output index: first source index, tap count, and fixed-point weights (ksize per output).
    /// Follows PIL's precompute_coeffs: centre = (o + 0.5)·scale, support scaled by max(scale, 1).
    /// </summary>
    private static (int[] Bounds, int[] Weights, int KSize) Coefficients(int inSize, int outSize, Func<double, double> filter, double filterSupport)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterSupport * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * ksize];
        var k = new double[ksize];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++) { k[x] = filter((x + xmin - center + 0.5) * ss); ww += k[x]; }
            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0 ? k[x] / ww : k[x];
                weights[o * ksize + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            bounds[2 * o] = xmin; bounds[2 * o + 1] = xmax;
        }
        return (bounds, weights, ksize);
    }

    private static byte Clip8(int acc)
    {
        int v = acc >> PrecisionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }

    private static Image Horizontal(Image src, int outW, Func<double, double> filter, double support)
    {
        var (bounds, weights, ksize) = Coefficients(src.Width, outW, filter, support);
        int c = src.Channels;
        var dst = new Image(outW, src.Height, c);
        Span<int> acc = stackalloc int[4];
        for (int y = 0; y < src.Height; y++)
        {
            ReadOnlySpan<byte> s = src.Row(y);
            var d = dst.Row(y);
            for (int o = 0; o < outW; o++)
            {
                int xmin = bounds[2 * o], n = bounds[2 * o + 1];
                acc.Fill(1 << (PrecisionBits - 1));
                var w = weights.AsSpan(o * ksize, n);
                for (int t = 0; t < n; t++)
                {
                    int p = (xmin + t) * c, wt = w[t];
                    for (int ch = 0; ch < c; ch++) acc[ch] += s[p + ch] * wt;
                }
                for (int ch = 0; ch < c; ch++) d[o * c + ch] = Clip8(acc[ch]);
            }
        }
        return dst;
    }

    private static Image Vertical(Image src, int outH, Func<double, double> filter, double support)
    {
        var (bounds, weights, ksize) = Coefficients(src.Height, outH, filter, support);
        int stride = src.Stride;
        var dst = new Image(src.Width, outH, src.Channels);
        var acc = new int[stride];
        var s = src.Data;
        for (int o = 0; o < outH; o++)
        {
            int ymin = bounds[2 * o], n = bounds[2 * o + 1];
            Array.Fill(acc, 1 << (PrecisionBits - 1));
            for (int t = 0; t < n; t++)
            {
                int wt = weights[o * ksize + t], row = (ymin + t) * stride;
                for (int i = 0; i < stride; i++) acc[i] += s[row + i] * wt;
            }
            var d = dst.Row(o);
            for (int i = 0; i < stride; i++) d[i] = Clip8(acc[i]);
        }
        return dst;
    }

    /// <summary>PIL's nearest neighbour: source index floor((o + 0.5)·in/out).</summary>
    private static Image ResizeNearest(Image src, int width, int height)
    {
        int c = src.Channels;
        var dst = new Image(width, height, c);
        var xs = new int[width];
        for (int x = 0; x < width; x++) xs[x] = Math.Min(src.Width - 1, (int)((x + 0.5) * src.Width / width));
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(src.Height - 1, (int)((y + 0.5) * src.Height / height));
            ReadOnlySpan<byte> s = src.Row(sy);
            var d = dst.Row(y);
            for (int x = 0; x < width; x++) s.Slice(xs[x] * c, c).CopyTo(d.Slice(x * c, c));
        }
        return dst;
    }

    /// <summary>Resizes so the shorter side becomes <paramref name="size"/> (torchvision's Resize(int): the longer side is truncated).</summary>
    public static Image ResizeShorter(Image src, int size, Interpolation interp)
    {
        int w = src.Width, h = src.Height;
        if ((w <= h && w == size) || (h <= w && h == size)) return src;
        return w < h ? Resize(src, size, (int)((long)size * h / w), interp) : Resize(src, (int)((long)size * w / h), size, interp);
    }

    /// <summary>Centre crop as torchvision: top = round((H − h)/2), left = round((W − w)/2); zero padding when the image is smaller.</summary>
    public static Image CenterCrop(Image src, int width, int height)
    {
        return src.Crop(CropStart(src.Width, width), CropStart(src.Height, height), width, height);
    }

    // A smaller image is first padded by (crop − size) // 2 before, as torchvision's center_crop does.
    private static int CropStart(int size, int crop) =>
        size >= crop ? (int)Math.Round((size - crop) / 2.0, MidpointRounding.ToEven) : -((crop - size) / 2);
}
