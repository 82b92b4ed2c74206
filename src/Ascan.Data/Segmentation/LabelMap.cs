// A segmentation label map (H × W class indices as bytes, 255 = ignore), read from 8-bit gray or palette PNGs.
using Ascan.Data.Imaging;

namespace Ascan.Data.Segmentation;

/// <summary>
/// Height × width class indices, row-major, one byte each; <see cref="Ignore"/> (255) marks pixels no loss or
/// metric counts. Geometric ops go through a one-channel <see cref="Image"/> view of the same bytes, so resizing
/// and cropping share the image code (nearest neighbour only: labels must never be blended).
/// </summary>
public sealed class LabelMap
{
    public const byte Ignore = 255;

    public int Width { get; }
    public int Height { get; }

    /// <summary>The labels, row-major; length Width·Height.</summary>
    public byte[] Data { get; }

    public LabelMap(int width, int height, byte[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"Label map size must be positive, got {width}×{height}.");
        data ??= new byte[(long)width * height];
        if (data.Length != (long)width * height) throw new ArgumentException($"Label map data has {data.Length} bytes, {width}×{height} needs {(long)width * height}.");
        Width = width; Height = height; Data = data;
    }

    public byte this[int x, int y]
    {
        get => Data[y * Width + x];
        set => Data[y * Width + x] = value;
    }

    /// <summary>A one-channel image sharing this map's bytes (no copy).</summary>
    public Image AsImage() => new(Width, Height, 1, Data);

    /// <summary>The labels of a one-channel image (shares its bytes).</summary>
    public static LabelMap FromImage(Image image)
    {
        if (image.Channels != 1) throw new ArgumentException($"A label map needs a one-channel image, got {image.Channels} channels.");
        return new LabelMap(image.Width, image.Height, image.Data);
    }

    public LabelMap Clone() => new(Width, Height, (byte[])Data.Clone());

    /// <summary>mmsegmentation's reduce_zero_label: 0 (ADE20K's "other") → 255, every other class − 1, 255 stays 255.</summary>
    public LabelMap ReduceZeroLabel()
    {
        var o = new byte[Data.Length];
        for (int i = 0; i < o.Length; i++) { byte v = Data[i]; o[i] = v == 0 || v == Ignore ? Ignore : (byte)(v - 1); }
        return new LabelMap(Width, Height, o);
    }

    /// <summary>Nearest-neighbour resize (PIL's rule), so only labels present in the source appear.</summary>
    public LabelMap Resize(int width, int height) => FromImage(Resample.Resize(AsImage(), width, height, Interpolation.Nearest));

    /// <summary>The rectangle at (x, y) of size w × h; parts outside the map are <see cref="Ignore"/>.</summary>
    public LabelMap Crop(int x, int y, int w, int h) => FromImage(SegOps.CropFilled(AsImage(), x, y, w, h, Ignore));

    public LabelMap FlipHorizontal() => FromImage(AsImage().FlipHorizontal());

    /// <summary>Pads on the bottom and right to at least width × height with <paramref name="fill"/> (mmseg's seg_pad_val).</summary>
    public LabelMap Pad(int width, int height, byte fill = Ignore) =>
        FromImage(SegOps.CropFilled(AsImage(), 0, 0, Math.Max(width, Width), Math.Max(height, Height), fill));

    /// <summary>Pixels per label value (256 bins).</summary>
    public int[] Histogram()
    {
        var h = new int[256];
        foreach (byte v in Data) h[v]++;
        return h;
    }

    /// <summary>The labels as ints. Shapes: (H, W) bytes → dst (H, W).</summary>
    public void CopyTo(Span<int> dst)
    {
        if (dst.Length < Data.Length) throw new ArgumentException($"Destination holds {dst.Length} ints, ({Height}, {Width}) needs {Data.Length}.");
        for (int i = 0; i < Data.Length; i++) dst[i] = Data[i];
    }

    /// <summary>Decodes a label PNG (8-bit or less gray, or palette: its indices); errors name <paramref name="source"/>.</summary>
    public static LabelMap Decode(ReadOnlySpan<byte> data, string source = "<memory>", bool reduceZeroLabel = false)
    {
        if (!Png.IsPng(data)) throw new ImageDecodeException(source, "a label map must be a PNG file.");
        var map = FromImage(Png.DecodeIndices(data, source));
        return reduceZeroLabel ? map.ReduceZeroLabel() : map;
    }

    public static LabelMap Load(string path, bool reduceZeroLabel = false) => Decode(ImageIO.ReadFile(path), path, reduceZeroLabel);

    /// <summary>Loads the label map of <paramref name="image"/>; a size that differs from the image's is an error naming the file.</summary>
    public static LabelMap LoadFor(string path, Image image, bool reduceZeroLabel = false)
    {
        var map = Load(path, reduceZeroLabel);
        if (map.Width != image.Width || map.Height != image.Height)
            throw new ImageDecodeException(path, $"label map is {map.Width}×{map.Height} but its image is {image.Width}×{image.Height}.");
        return map;
    }
}
