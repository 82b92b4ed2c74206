// Geometric ops on an (image, label map) pair with one set of parameters: bilinear for the image, nearest for the labels.
using Ascan.Core;
using Ascan.Data.Imaging;

namespace Ascan.Data.Segmentation;

/// <summary>An image and its label map, always the same size.</summary>
public sealed class SegPair
{
    public Image Image { get; }
    public LabelMap Label { get; }
    public int Width => Image.Width;
    public int Height => Image.Height;

    public SegPair(Image image, LabelMap label)
    {
        if (image.Width != label.Width || image.Height != label.Height)
            throw new ArgumentException($"Image is {image.Width}×{image.Height} but its label map is {label.Width}×{label.Height}.");
        Image = image; Label = label;
    }
}

/// <summary>
/// mmcv / mmsegmentation's geometric transforms (Resize, RandomResize, RandomCrop with cat_max_ratio, RandomFlip, Pad)
/// applied to both halves of a <see cref="SegPair"/> with the same parameters.
/// </summary>
public static class SegOps
{
    /// <summary>Resizes both to width × height: the image bilinear (PIL, antialiased), the labels nearest.</summary>
    // ASSUMPTION: mmcv resizes with cv2 bilinear (no antialias on downscale); we use our PIL-semantics bilinear.
    public static SegPair Resize(SegPair p, int width, int height) =>
        new(Resample.Resize(p.Image, width, height, Interpolation.Bilinear), p.Label.Resize(width, height));

    /// <summary>
    /// mmcv's rescale_size for keep_ratio: scale factor min(long / max(w, h), short / min(w, h)) with
    /// long = max(scale), short = min(scale); new size int(w·f + 0.5) × int(h·f + 0.5).
    /// </summary>
    public static (int Width, int Height) RescaleSize(int width, int height, int scaleA, int scaleB)
    {
        double lng = Math.Max(scaleA, scaleB), sht = Math.Min(scaleA, scaleB);
        double f = Math.Min(lng / Math.Max(width, height), sht / Math.Min(width, height));
        return (Math.Max(1, (int)(width * f + 0.5)), Math.Max(1, (int)(height * f + 0.5)));
    }

    /// <summary>mmcv's Resize(scale, keep_ratio=True).</summary>
    public static SegPair ResizeKeepRatio(SegPair p, int scaleA, int scaleB)
    {
        var (w, h) = RescaleSize(p.Width, p.Height, scaleA, scaleB);
        return Resize(p, w, h);
    }

    /// <summary>
    /// mmcv's RandomResize(scale, ratio_range, keep_ratio=True): ratio uniform in [ratioMin, ratioMax), target scale
    /// int(scale·ratio), then the keep-ratio resize.
    /// </summary>
    public static SegPair RandomResize(SegPair p, int scaleA, int scaleB, double ratioMin, double ratioMax, Rng rng)
    {
        double r = rng.Uniform(ratioMin, ratioMax);
        return ResizeKeepRatio(p, (int)(scaleA * r), (int)(scaleB * r));
    }

    /// <summary>Crops both to the rectangle at (x, y) of size w × h (outside: image 0, labels 255).</summary>
    public static SegPair Crop(SegPair p, int x, int y, int w, int h) => new(p.Image.Crop(x, y, w, h), p.Label.Crop(x, y, w, h));

    /// <summary>
    /// mmseg's RandomCrop box: offsets uniform in [0, max(size − crop, 0)], the box clipped to the image (numpy slicing).
    /// With catMaxRatio &lt; 1, up to 10 boxes are checked and the first whose labels (255 ignored) have more than one
    /// class and whose largest class covers less than catMaxRatio of the counted pixels is taken; after 10 failures
    /// the 11th box is taken unchecked, as mmseg does. Returns (x, y, w, h).
    /// </summary>
    public static (int X, int Y, int Width, int Height) RandomCropBox(LabelMap label, int cropWidth, int cropHeight, double catMaxRatio, Rng rng)
    {
        var box = CropBox(label, cropWidth, cropHeight, rng);
        if (catMaxRatio >= 1) return box;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            if (PassesCatMaxRatio(label, box, catMaxRatio)) break;
            box = CropBox(label, cropWidth, cropHeight, rng);
        }
        return box;
    }

    private static (int X, int Y, int Width, int Height) CropBox(LabelMap label, int cw, int ch, Rng rng)
    {
        int y = rng.IntInclusive(0, Math.Max(label.Height - ch, 0));
        int x = rng.IntInclusive(0, Math.Max(label.Width - cw, 0));
        return (x, y, Math.Min(cw, label.Width - x), Math.Min(ch, label.Height - y));
    }

    /// <summary>More than one counted class in the box and the largest under catMaxRatio of the counted pixels (255 not counted).</summary>
    public static bool PassesCatMaxRatio(LabelMap label, (int X, int Y, int Width, int Height) box, double catMaxRatio)
    {
        Span<int> hist = stackalloc int[256];
        hist.Clear();
        for (int r = 0; r < box.Height; r++)
            foreach (byte v in label.Data.AsSpan((box.Y + r) * label.Width + box.X, box.Width)) hist[v]++;
        int classes = 0; long total = 0, max = 0;
        for (int v = 0; v < 255; v++)
            if (hist[v] > 0) { classes++; total += hist[v]; max = Math.Max(max, hist[v]); }
        return classes > 1 && (double)max / total < catMaxRatio;
    }

    /// <summary>mmseg's RandomCrop(crop_size, cat_max_ratio): <see cref="RandomCropBox"/> applied to both.</summary>
    public static SegPair RandomCrop(SegPair p, int cropWidth, int cropHeight, double catMaxRatio, Rng rng)
    {
        var (x, y, w, h) = RandomCropBox(p.Label, cropWidth, cropHeight, catMaxRatio, rng);
        return Crop(p, x, y, w, h);
    }

    public static SegPair FlipHorizontal(SegPair p) => new(p.Image.FlipHorizontal(), p.Label.FlipHorizontal());

    /// <summary>mmcv's RandomFlip(prob, 'horizontal'): one draw, flip when it falls under prob.</summary>
    public static SegPair RandomFlip(SegPair p, double prob, Rng rng) => rng.NextDouble() < prob ? FlipHorizontal(p) : p;

    /// <summary>Pads both on the bottom and right to at least width × height: the image with 0, the labels with 255.</summary>
    public static SegPair Pad(SegPair p, int width, int height)
    {
        int w = Math.Max(width, p.Width), h = Math.Max(height, p.Height);
        return new(p.Image.Crop(0, 0, w, h), p.Label.Pad(w, h));
    }

    /// <summary>The rectangle at (x, y) of size w × h of any image; parts outside are <paramref name="fill"/> in every channel.</summary>
    public static Image CropFilled(Image src, int x, int y, int w, int h, byte fill)
    {
        var o = src.Crop(x, y, w, h);
        if (fill == 0) return o;
        int c = src.Channels;
        for (int r = 0; r < h; r++)
        {
            var row = o.Row(r);
            int sy = y + r;
            if (sy < 0 || sy >= src.Height) { row.Fill(fill); continue; }
            int inside0 = Math.Clamp(-x, 0, w), inside1 = Math.Clamp(src.Width - x, 0, w);
            if (inside1 <= inside0) { row.Fill(fill); continue; }
            row[..(inside0 * c)].Fill(fill);
            row[(inside1 * c)..].Fill(fill);
        }
        return o;
    }
}
