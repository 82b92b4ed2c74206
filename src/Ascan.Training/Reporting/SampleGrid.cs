// The picture of a generation run: generated images in a grid, one row per class, each tile scaled up.
using Ascan.Core;
using Ascan.Data.Imaging;

namespace Ascan.Training.Reporting;

public static class SampleGrid
{
    /// <summary>
    /// Images in [−1, 1] (N, 3, H, W) NCHW as a grid of <paramref name="columns"/> per row (row r = images
    /// r·columns …), 2 px white gaps, each tile scaled up by an integer factor to at least <paramref name="minTile"/> px.
    /// </summary>
    public static Image Build(Tensor images, int columns, int minTile = 64)
    {
        if (images.Rank != 4 || images.Dim(1) != 3) throw new ArgumentException($"SampleGrid: expected (N, 3, H, W) images, got {ShapeUtil.Format(images.Shape)}.");
        int n = images.Dim(0), h = images.Dim(2), w = images.Dim(3);
        int cols = Math.Min(columns, n), rows = (n + cols - 1) / cols;
        int scale = Math.Max(1, (int)Math.Ceiling((double)minTile / Math.Max(h, w)));
        const int gap = 2;
        var grid = new Image(cols * w * scale + (cols + 1) * gap, rows * h * scale + (rows + 1) * gap, 3);
        Array.Fill(grid.Data, (byte)255);
        var data = images.ToArray<float>();
        for (int i = 0; i < n; i++)
        {
            var tile = ToImage(data.AsSpan(i * 3 * h * w, 3 * h * w), h, w);
            SegPictures.Paste(grid, tile, gap + (i % cols) * (w * scale + gap), gap + (i / cols) * (h * scale + gap), scale);
        }
        return grid;
    }

    /// <summary>One (3, H, W) image in [−1, 1] as RGB bytes (clamped, rounded).</summary>
    public static Image ToImage(ReadOnlySpan<float> chw, int h, int w) =>
        SegPictures.Denormalize(chw.ToArray(), h, w, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]);

    public static void Save(string path, Tensor images, int columns)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        ImageIO.Save(Build(images, columns), path);
    }
}
