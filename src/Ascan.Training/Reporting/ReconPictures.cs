// Autoencoder pictures: images in the top row, their reconstructions under them.
using Ascan.Data.Imaging;

namespace Ascan.Training.Reporting;

public static class ReconPictures
{
    /// <summary>
    /// Two rows: <paramref name="originals"/> on top, <paramref name="reconstructions"/> below (same count and sizes),
    /// 4 px white gaps, each tile scaled up by an integer factor to at least 64 px (nearest neighbour, pixels stay crisp).
    /// </summary>
    public static Image Grid(IReadOnlyList<Image> originals, IReadOnlyList<Image> reconstructions)
    {
        if (originals.Count != reconstructions.Count)
            throw new ArgumentException($"ReconPictures.Grid: {originals.Count} images but {reconstructions.Count} reconstructions.");
        if (originals.Count == 0) return new Image(1, 1, 3);
        int tw = originals.Max(i => i.Width), th = originals.Max(i => i.Height);
        int scale = Math.Max(1, (int)Math.Ceiling(64.0 / Math.Max(tw, th)));
        const int gap = 4;
        int cw = tw * scale, ch = th * scale, n = originals.Count;
        var grid = new Image(n * cw + (n + 1) * gap, 2 * ch + 3 * gap, 3);
        Array.Fill(grid.Data, (byte)255);
        for (int i = 0; i < n; i++)
        {
            SegPictures.Paste(grid, originals[i], gap + i * (cw + gap), gap, scale);
            SegPictures.Paste(grid, reconstructions[i], gap + i * (cw + gap), 2 * gap + ch, scale);
        }
        return grid;
    }

    /// <summary>Writes <see cref="Grid"/> as a PNG at <paramref name="path"/>, creating its folder.</summary>
    public static void Save(string path, IReadOnlyList<Image> originals, IReadOnlyList<Image> reconstructions)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        ImageIO.Save(Grid(originals, reconstructions), path);
    }
}
