// Segmentation pictures: a class palette, label PNGs in it, and overlay grids (image | prediction | ground truth).
using Ascan.Data.Imaging;
using Ascan.Training.Eval;

namespace Ascan.Training.Reporting;

public static class SegPictures
{
    /// <summary>
    /// RGB of class <paramref name="c"/>: black for 0 (background in the shapes set), then well-separated hues (golden
    /// angle, alternating lightness); 255 (ignore) is white. The same colours for the same class in every picture.
    /// </summary>
    public static (byte R, byte G, byte B) Color(int c)
    {
        if (c == 0) return (0, 0, 0);
        if (c == Ascan.Data.Batch.IgnoreIndex) return (255, 255, 255);
        double hue = (c * 137.508) % 360, s = 0.75, v = c % 2 == 0 ? 0.95 : 0.75;
        double f = hue / 60, x = v * s * (1 - Math.Abs(f % 2 - 1)), m = v - v * s, cc = v * s;
        var (r, g, b) = (int)f switch { 0 => (cc, x, 0.0), 1 => (x, cc, 0.0), 2 => (0.0, cc, x), 3 => (0.0, x, cc), 4 => (x, 0.0, cc), _ => (cc, 0.0, x) };
        return ((byte)Math.Round((r + m) * 255), (byte)Math.Round((g + m) * 255), (byte)Math.Round((b + m) * 255));
    }

    /// <summary>A label map (H × W class indices) as an RGB image in the palette.</summary>
    public static Image Colorize(int[] labels, int height, int width)
    {
        var img = new Image(width, height, 3);
        for (int i = 0; i < labels.Length; i++)
        {
            var (r, g, b) = Color(labels[i]);
            img.Data[3 * i] = r; img.Data[3 * i + 1] = g; img.Data[3 * i + 2] = b;
        }
        return img;
    }

    /// <summary>A normalised (3, H, W) image back to RGB bytes with the data's mean and std (ImageNet's by default).</summary>
    public static Image Denormalize(float[] chw, int height, int width, double[]? mean = null, double[]? std = null)
    {
        mean ??= [0.485, 0.456, 0.406];
        std ??= [0.229, 0.224, 0.225];
        var img = new Image(width, height, 3);
        int hw = height * width;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < hw; p++)
                img.Data[3 * p + c] = (byte)Math.Clamp(Math.Round((chw[c * hw + p] * std[c] + mean[c]) * 255), 0, 255);
        return img;
    }

    /// <summary>The image with the label colours blended over it (alpha 0.5; background and ignore left as the image).</summary>
    public static Image Blend(Image image, int[] labels, double alpha = 0.5)
    {
        var o = image.Clone();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] == 0 || labels[i] == Ascan.Data.Batch.IgnoreIndex) continue;
            var (r, g, b) = Color(labels[i]);
            o.Data[3 * i] = (byte)(o.Data[3 * i] * (1 - alpha) + r * alpha);
            o.Data[3 * i + 1] = (byte)(o.Data[3 * i + 1] * (1 - alpha) + g * alpha);
            o.Data[3 * i + 2] = (byte)(o.Data[3 * i + 2] * (1 - alpha) + b * alpha);
        }
        return o;
    }

    /// <summary>
    /// One row per sample: image | prediction blended | ground truth blended (the label omitted when it is all ignore),
    /// 4 px gaps, each tile scaled up by an integer factor to at least 128 px.
    /// </summary>
    public static Image OverlayGrid(IReadOnlyList<SegSampleView> samples, double[]? mean = null, double[]? std = null)
    {
        if (samples.Count == 0) return new Image(1, 1, 3);
        int tw = samples.Max(s => s.Width), th = samples.Max(s => s.Height);
        int scale = Math.Max(1, (int)Math.Ceiling(128.0 / Math.Max(tw, th)));
        const int gap = 4;
        int cols = 3, cw = tw * scale, ch = th * scale;
        var grid = new Image(cols * cw + (cols + 1) * gap, samples.Count * ch + (samples.Count + 1) * gap, 3);
        Array.Fill(grid.Data, (byte)255);
        for (int r = 0; r < samples.Count; r++)
        {
            var s = samples[r];
            var image = Denormalize(s.Image, s.Height, s.Width, mean, std);
            Image[] tiles = [image, Blend(image, s.Prediction), Blend(image, s.Label)];
            for (int c = 0; c < cols; c++) Paste(grid, tiles[c], gap + c * (cw + gap), gap + r * (ch + gap), scale);
        }
        return grid;
    }

    /// <summary>One image's picture: image | prediction blended | ground truth blended (when given), 4 px gaps.</summary>
    public static Image OverlayRow(Image image, int[] prediction, int[]? truth)
    {
        const int gap = 4;
        Image[] tiles = truth != null ? [image, Blend(image, prediction), Blend(image, truth)] : [image, Blend(image, prediction)];
        var row = new Image(tiles.Length * image.Width + (tiles.Length + 1) * gap, image.Height + 2 * gap, 3);
        Array.Fill(row.Data, (byte)255);
        for (int c = 0; c < tiles.Length; c++) Paste(row, tiles[c], gap + c * (image.Width + gap), gap, 1);
        return row;
    }

    public static void SaveOverlayGrid(string path, IReadOnlyList<SegSampleView> samples, double[]? mean = null, double[]? std = null) =>
        ImageIO.Save(OverlayGrid(samples, mean, std), path);

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> at (x0, y0), each pixel repeated <paramref name="scale"/>× (nearest neighbour).</summary>
    internal static void Paste(Image dst, Image src, int x0, int y0, int scale)
    {
        for (int y = 0; y < src.Height * scale; y++)
            for (int x = 0; x < src.Width * scale; x++)
                for (int c = 0; c < 3; c++)
                    dst.Data[((y0 + y) * dst.Width + x0 + x) * 3 + c] = src.Data[((y / scale) * src.Width + x / scale) * 3 + c];
    }
}
