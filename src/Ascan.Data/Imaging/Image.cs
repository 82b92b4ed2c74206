// An 8-bit image in memory (rows of pixels, channels interleaved) and its conversions to and from float tensors.
using Ascan.Core;

namespace Ascan.Data.Imaging;

/// <summary>
/// Height × width × channels bytes, row-major, channels interleaved (HWC): 1 = gray, 2 = gray + alpha, 3 = RGB,
/// 4 = RGBA. This is what decoders produce and what the augmentations (which follow PIL's uint8 semantics) work on.
/// </summary>
public sealed class Image
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }

    /// <summary>The pixels, HWC; length Width·Height·Channels.</summary>
    public byte[] Data { get; }

    public Image(int width, int height, int channels, byte[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"Image size must be positive, got {width}×{height}.");
        if (channels is < 1 or > 4) throw new ArgumentException($"Image channels must be 1–4, got {channels}.");
        long n = (long)width * height * channels;
        if (n > Array.MaxLength) throw new ArgumentException($"Image {width}×{height}×{channels} is too large.");
        data ??= new byte[n];
        if (data.Length != n) throw new ArgumentException($"Image data has {data.Length} bytes, {width}×{height}×{channels} needs {n}.");
        Width = width; Height = height; Channels = channels; Data = data;
    }

    public int Stride => Width * Channels;

    public byte this[int x, int y, int c]
    {
        get => Data[(y * Width + x) * Channels + c];
        set => Data[(y * Width + x) * Channels + c] = value;
    }

    public Span<byte> Row(int y) => Data.AsSpan(y * Stride, Stride);

    public Image Clone() => new(Width, Height, Channels, (byte[])Data.Clone());

    /// <summary>A solid image of one colour (one byte per channel).</summary>
    public static Image Solid(int width, int height, ReadOnlySpan<byte> color)
    {
        var img = new Image(width, height, color.Length);
        var d = img.Data;
        for (int i = 0; i < d.Length; i += color.Length) color.CopyTo(d.AsSpan(i));
        return img;
    }

    /// <summary>Three-channel RGB: gray is replicated, alpha dropped (as PIL's convert("RGB")). Returns this when already RGB.</summary>
    public Image ToRgb()
    {
        if (Channels == 3) return this;
        var o = new Image(Width, Height, 3);
        var s = Data; var d = o.Data;
        int n = Width * Height, c = Channels;
        for (int i = 0; i < n; i++)
        {
            if (c <= 2) { byte g = s[i * c]; d[3 * i] = g; d[3 * i + 1] = g; d[3 * i + 2] = g; }
            else { d[3 * i] = s[i * c]; d[3 * i + 1] = s[i * c + 1]; d[3 * i + 2] = s[i * c + 2]; }
        }
        return o;
    }

    /// <summary>One-channel luma with PIL's convert("L") weights (ITU-R 601-2, fixed point, rounded).</summary>
    public Image ToGray()
    {
        if (Channels == 1) return this;
        var o = new Image(Width, Height, 1);
        var s = Data; var d = o.Data;
        int n = Width * Height, c = Channels;
        for (int i = 0; i < n; i++)
            d[i] = c <= 2 ? s[i * c] : Luma(s[i * c], s[i * c + 1], s[i * c + 2]);
        return o;
    }

    /// <summary>PIL's L = R·299/1000 + G·587/1000 + B·114/1000 in 16-bit fixed point with rounding.</summary>
    public static byte Luma(int r, int g, int b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    /// <summary>The rectangle at (x, y) of size w × h; parts outside the image are zero (as PIL's crop).</summary>
    public Image Crop(int x, int y, int w, int h)
    {
        var o = new Image(w, h, Channels);
        int x0 = Math.Max(0, x), x1 = Math.Min(Width, x + w);
        if (x1 <= x0) return o;
        for (int r = 0; r < h; r++)
        {
            int sy = y + r;
            if (sy < 0 || sy >= Height) continue;
            Data.AsSpan((sy * Width + x0) * Channels, (x1 - x0) * Channels)
                .CopyTo(o.Data.AsSpan((r * w + (x0 - x)) * Channels));
        }
        return o;
    }

    public Image FlipHorizontal()
    {
        var o = new Image(Width, Height, Channels);
        int c = Channels;
        for (int y = 0; y < Height; y++)
        {
            var s = Row(y); var d = o.Row(y);
            for (int x = 0; x < Width; x++) s.Slice(x * c, c).CopyTo(d.Slice((Width - 1 - x) * c, c));
        }
        return o;
    }

    /// <summary>
    /// Writes this RGB image as normalised planar floats: dst[c·H·W + y·W + x] = (v/255 − mean[c]) / std[c].
    /// Shapes: this (H, W, 3) bytes → dst (3, H, W).
    /// </summary>
    public void ToNormalizedChw(Span<float> dst, ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        if (Channels != 3) throw new InvalidOperationException($"ToNormalizedChw needs an RGB image, this one has {Channels} channels.");
        if (mean.Length != 3 || std.Length != 3) throw new ArgumentException("Normalisation needs 3 mean and 3 std values.");
        int n = Width * Height;
        if (dst.Length < 3 * n) throw new ArgumentException($"Destination holds {dst.Length} floats, (3, {Height}, {Width}) needs {3 * n}.");
        Span<float> scale = stackalloc float[3], shift = stackalloc float[3];
        for (int c = 0; c < 3; c++) { scale[c] = (float)(1.0 / (255.0 * std[c])); shift[c] = (float)(-mean[c] / std[c]); }
        var s = Data;
        for (int c = 0; c < 3; c++)
        {
            var plane = dst.Slice(c * n, n);
            float a = scale[c], b = shift[c];
            for (int i = 0; i < n; i++) plane[i] = s[3 * i + c] * a + b;
        }
    }

    /// <summary>
    /// This image (made RGB) as a normalised float32 tensor, for prediction on single images.
    /// Shapes: (H, W, C) bytes → (1, 3, H, W).
    /// </summary>
    public Tensor ToTensor(ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        var rgb = ToRgb();
        var buf = new float[3 * Width * Height];
        rgb.ToNormalizedChw(buf, mean, std);
        return Tensor.FromArray(buf, 1, 3, Height, Width);
    }

    /// <summary>
    /// The inverse of <see cref="ToTensor"/> for one image of a batch (for pictures of predictions or samples):
    /// un-normalises, rounds and clamps to bytes. Shapes: images (B, 3, H, W), index b → (H, W, 3).
    /// </summary>
    public static Image FromTensor(Tensor images, int b, ReadOnlySpan<double> mean, ReadOnlySpan<double> std)
    {
        if (images.Rank != 4 || images.Dim(1) != 3)
            throw new ArgumentException($"FromTensor expects (B, 3, H, W), got ({string.Join(", ", images.ShapeArray())}).");
        int h = images.Dim(2), w = images.Dim(3), n = h * w;
        var data = images.Contiguous().To(DType.F32).ToArray<float>();
        var img = new Image(w, h, 3);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < n; i++)
            {
                double v = (data[(b * 3 + c) * n + i] * std[c] + mean[c]) * 255.0;
                img.Data[3 * i + c] = (byte)Math.Clamp(Math.Round(v), 0, 255);
            }
        return img;
    }
}
