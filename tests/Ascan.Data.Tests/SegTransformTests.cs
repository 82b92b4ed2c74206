// Segmentation transforms: image and mask stay aligned under every geometric op, label PNGs, cat_max_ratio, pipelines.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Ascan.Core;
using Ascan.Data.Augment;
using Ascan.Data.Imaging;
using Ascan.Data.Segmentation;

namespace Ascan.Data.Tests;

public class SegTransformTests
{
    // Eight well-separated colours; a pixel's label is the index of its colour.
    private static readonly byte[][] Palette =
    [
        [10, 20, 200], [200, 30, 40], [40, 220, 60], [250, 250, 10],
        [120, 10, 130], [10, 180, 180], [90, 90, 90], [240, 140, 200],
    ];

    /// <summary>Blocks of random palette colours (block × block pixels each) and the mask painted from them.</summary>
    private static SegPair BlockPair(int w, int h, int block, int seed)
    {
        var rnd = new Random(seed);
        int bw = (w + block - 1) / block, bh = (h + block - 1) / block;
        var cls = new int[bw * bh];
        for (int i = 0; i < cls.Length; i++) cls[i] = rnd.Next(Palette.Length);
        var img = new Image(w, h, 3);
        var lab = new LabelMap(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int k = cls[(y / block) * bw + x / block];
                for (int c = 0; c < 3; c++) img[x, y, c] = Palette[k][c];
                lab[x, y] = (byte)k;
            }
        return new SegPair(img, lab);
    }

    private static int ColourIndex(Image img, int x, int y)
    {
        for (int k = 0; k < Palette.Length; k++)
            if (img[x, y, 0] == Palette[k][0] && img[x, y, 1] == Palette[k][1] && img[x, y, 2] == Palette[k][2]) return k;
        return -1;
    }

    /// <summary>Every pixel must carry the label of its colour (exact ops: crop, flip, pad; pad pixels are black / 255).</summary>
    private static void AssertExactlyAligned(SegPair p)
    {
        for (int y = 0; y < p.Height; y++)
            for (int x = 0; x < p.Width; x++)
            {
                int k = ColourIndex(p.Image, x, y);
                if (k < 0)
                {
                    Assert.True(p.Image[x, y, 0] == 0 && p.Image[x, y, 1] == 0 && p.Image[x, y, 2] == 0, $"pixel ({x}, {y}) is neither a palette colour nor padding");
                    Assert.Equal(LabelMap.Ignore, p.Label[x, y]);
                }
                else Assert.True(k == p.Label[x, y], $"pixel ({x}, {y}) has colour {k} but label {p.Label[x, y]}");
            }
    }

    /// <summary>After a resize, every pixel inside a uniform 3×3 patch of a palette colour must carry that colour's label.</summary>
    private static void AssertInteriorAligned(SegPair p)
    {
        int checkedPixels = 0;
        for (int y = 1; y < p.Height - 1; y++)
            for (int x = 1; x < p.Width - 1; x++)
            {
                int k = ColourIndex(p.Image, x, y);
                if (k < 0) continue;
                bool uniform = true;
                for (int dy = -1; dy <= 1 && uniform; dy++)
                    for (int dx = -1; dx <= 1 && uniform; dx++) uniform = ColourIndex(p.Image, x + dx, y + dy) == k;
                if (!uniform) continue;
                Assert.True(k == p.Label[x, y], $"pixel ({x}, {y}) has colour {k} but label {p.Label[x, y]}");
                checkedPixels++;
            }
        Assert.True(checkedPixels > p.Width * p.Height / 10, $"only {checkedPixels} interior pixels checked of {p.Width * p.Height}");
    }

    private static HashSet<byte> Values(LabelMap m) => [.. m.Data];

    [Fact]
    public void SegOps_Resize_ImageAndMaskAligned_UpAndDown()
    {
        var p = BlockPair(61, 47, 8, 1);
        foreach (var (w, h) in new[] { (97, 71), (40, 30), (61, 90) })
        {
            var r = SegOps.Resize(p, w, h);
            Assert.Equal((w, h), (r.Image.Width, r.Image.Height));
            Assert.Equal((w, h), (r.Label.Width, r.Label.Height));
            AssertInteriorAligned(r);
            Assert.Subset(Values(p.Label), Values(r.Label));
        }
    }

    [Fact]
    public void LabelMap_Resize_Nearest_KeepsOnlySourceValues()
    {
        var rnd = new Random(3);
        var m = new LabelMap(33, 17);
        byte[] allowed = [0, 7, 42, 255];
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = allowed[rnd.Next(allowed.Length)];
        foreach (var (w, h) in new[] { (100, 51), (5, 3), (34, 16) })
            Assert.Subset(allowed.ToHashSet(), Values(m.Resize(w, h)));
        // Integer upscale by 2 replicates each label into a 2×2 block.
        var up = m.Resize(66, 34);
        for (int y = 0; y < 34; y++)
            for (int x = 0; x < 66; x++) Assert.Equal(m[x / 2, y / 2], up[x, y]);
    }

    [Fact]
    public void SegOps_CropFlipPad_ExactlyAligned()
    {
        var p = BlockPair(50, 40, 5, 2);
        AssertExactlyAligned(SegOps.Crop(p, 7, 3, 20, 30));
        AssertExactlyAligned(SegOps.Crop(p, 40, 30, 20, 20));   // runs off the bottom-right: image 0, labels 255
        AssertExactlyAligned(SegOps.FlipHorizontal(p));
        AssertExactlyAligned(SegOps.Pad(p, 64, 48));
        var rng = new Rng(5);
        for (int i = 0; i < 5; i++) AssertExactlyAligned(SegOps.RandomCrop(p, 17, 13, 0.75, rng));
    }

    [Fact]
    public void SegOps_Pad_Image0Mask255_BottomRight()
    {
        var p = BlockPair(10, 6, 2, 4);
        var q = SegOps.Pad(p, 16, 9);
        Assert.Equal((16, 9, 16, 9), (q.Image.Width, q.Image.Height, q.Label.Width, q.Label.Height));
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 16; x++)
            {
                bool inside = x < 10 && y < 6;
                Assert.Equal(inside ? p.Label[x, y] : (byte)255, q.Label[x, y]);
                for (int c = 0; c < 3; c++) Assert.Equal(inside ? p.Image[x, y, c] : (byte)0, q.Image[x, y, c]);
            }
        // Padding never shrinks.
        var same = SegOps.Pad(p, 4, 4);
        Assert.Equal((10, 6), (same.Width, same.Height));
        Assert.Equal(p.Label.Data, same.Label.Data);
    }

    [Fact]
    public void SegOps_FlipTwice_IsIdentity()
    {
        var p = BlockPair(23, 11, 3, 6);
        var f = SegOps.FlipHorizontal(p);
        Assert.NotEqual(p.Label.Data, f.Label.Data);
        Assert.Equal(p.Label[0, 5], f.Label[22, 5]);
        var ff = SegOps.FlipHorizontal(f);
        Assert.Equal(p.Image.Data, ff.Image.Data);
        Assert.Equal(p.Label.Data, ff.Label.Data);
    }

    [Fact]
    public void SegOps_RescaleSize_MatchesMmcvKeepRatio()
    {
        // ADE20K-like 683×512 under (2048, 512): short side limits, f = 1.
        Assert.Equal((683, 512), SegOps.RescaleSize(683, 512, 2048, 512));
        // A very wide image: the long side limits (2048 / 4000).
        Assert.Equal((2048, 256), SegOps.RescaleSize(4000, 500, 2048, 512));
        Assert.Equal((1024, 512), SegOps.RescaleSize(100, 50, 512, 2048));
        var p = BlockPair(40, 30, 10, 7);
        var rng = new Rng(11);
        for (int i = 0; i < 6; i++)
        {
            var r = SegOps.RandomResize(p, 160, 40, 0.5, 2.0, rng);
            // The short side is int(40·ratio) for a ratio in [0.5, 2), the aspect kept to within rounding.
            Assert.InRange(r.Height, 20, 80);
            Assert.InRange(r.Width / (double)r.Height, 40 / 30.0 - 0.1, 40 / 30.0 + 0.1);
            AssertInteriorAligned(r);
        }
    }

    [Fact]
    public void RandomCrop_CatMaxRatio_Respected()
    {
        // Half class 0, half class 1, crop 20 wide of 40: only offsets 6..14 of 0..20 keep the largest class under 75 %.
        var m = new LabelMap(40, 10);
        for (int y = 0; y < 10; y++) for (int x = 20; x < 40; x++) m[x, y] = 1;
        int passWith = 0, passWithout = 0;
        for (int s = 0; s < 200; s++)
        {
            var box = SegOps.RandomCropBox(m, 20, 10, 0.75, new Rng((ulong)s));
            Assert.Equal((20, 10, 0), (box.Width, box.Height, box.Y));
            if (SegOps.PassesCatMaxRatio(m, box, 0.75)) passWith++;
            if (SegOps.PassesCatMaxRatio(m, SegOps.RandomCropBox(m, 20, 10, 1.0, new Rng((ulong)s)), 0.75)) passWithout++;
        }
        // Without the check ≈ 9/21 pass; with ten retries all but ≈ (12/21)^11 ≈ 0.2 % do.
        Assert.InRange(passWithout, 60, 120);
        Assert.True(passWith >= 195, $"{passWith} of 200 crops respect cat_max_ratio");

        // Stripes of 4 classes, 3 wide: every 12-wide crop has ≤ 50 %, so every crop passes.
        var stripes = new LabelMap(30, 30);
        for (int y = 0; y < 30; y++) for (int x = 0; x < 30; x++) stripes[x, y] = (byte)(x / 3 % 4);
        for (int s = 0; s < 50; s++)
            Assert.True(SegOps.PassesCatMaxRatio(stripes, SegOps.RandomCropBox(stripes, 12, 12, 0.75, new Rng((ulong)s)), 0.75));
    }

    [Fact]
    public void RandomCrop_CatMaxRatio_IgnoresIndex255()
    {
        // 255 covers most of the map: the ratio counts only the labelled pixels.
        var m = new LabelMap(4, 1, [0, 1, 255, 255]);
        Assert.True(SegOps.PassesCatMaxRatio(m, (0, 0, 4, 1), 0.75));        // 0 and 1 half each
        var one = new LabelMap(4, 1, [0, 0, 255, 255]);
        Assert.False(SegOps.PassesCatMaxRatio(one, (0, 0, 4, 1), 0.75));     // one class only
        var lop = new LabelMap(5, 1, [0, 0, 0, 1, 255]);
        Assert.False(SegOps.PassesCatMaxRatio(lop, (0, 0, 5, 1), 0.75));     // 3/4 is not < 0.75
        Assert.True(SegOps.PassesCatMaxRatio(lop, (0, 0, 5, 1), 0.8));
        // A single-class map can never pass: the box after ten failures is still in bounds.
        var flat = new LabelMap(30, 20);
        var box = SegOps.RandomCropBox(flat, 10, 10, 0.75, new Rng(1));
        Assert.InRange(box.X, 0, 20); Assert.InRange(box.Y, 0, 10);
        Assert.Equal((10, 10), (box.Width, box.Height));
        // A crop larger than the map is clipped to it (numpy slicing).
        Assert.Equal((0, 0, 30, 20), SegOps.RandomCropBox(flat, 64, 64, 0.75, new Rng(2)));
    }

    [Fact]
    public void LabelMap_ReduceZeroLabel_Mapping()
    {
        var m = new LabelMap(5, 1, [0, 1, 2, 150, 255]);
        Assert.Equal([255, 0, 1, 149, 255], m.ReduceZeroLabel().Data);
        Assert.Equal([0, 1, 2, 150, 255], m.Data);   // the source is untouched
    }

    [Fact]
    public void PhotoMetricDistortion_ImageOnly_Deterministic()
    {
        var img = DataTestFiles.RandomImage(31, 17, 3, 9, smooth: true);
        var pmd = new PhotoMetricDistortion();
        var a = pmd.Apply(img, new Rng(4));
        Assert.Equal(a.Data, pmd.Apply(img, new Rng(4)).Data);
        bool anyChanged = false;
        for (ulong s = 0; s < 8; s++) anyChanged |= !pmd.Apply(img, new Rng(s)).Data.SequenceEqual(img.Data);
        Assert.True(anyChanged);
        // No-op settings leave the image as it is, up to the HSV round trip.
        var id = new PhotoMetricDistortion(0, 1, 1, 1, 1, 0).Apply(img, new Rng(1));
        DataTestFiles.AssertPixelsClose(img.Data, id.Data, 2, 0.5, "identity photometric distortion");
    }

    [Fact]
    public void PhotoMetricDistortion_OpenCvHsv_KnownValues()
    {
        // Pure colours and a gray, as cv2.cvtColor(COLOR_RGB2HSV) gives them.
        PhotoMetricDistortion.CvRgbToHsv(255, 0, 0, out int h, out int s, out int v);
        Assert.Equal((0, 255, 255), (h, s, v));
        PhotoMetricDistortion.CvRgbToHsv(0, 255, 0, out h, out s, out v);
        Assert.Equal((60, 255, 255), (h, s, v));
        PhotoMetricDistortion.CvRgbToHsv(0, 0, 255, out h, out s, out v);
        Assert.Equal((120, 255, 255), (h, s, v));
        PhotoMetricDistortion.CvRgbToHsv(128, 128, 128, out h, out s, out v);
        Assert.Equal((0, 0, 128), (h, s, v));
        PhotoMetricDistortion.CvHsvToRgb(60, 255, 255, out byte r, out byte g, out byte b);
        Assert.Equal(((byte)0, (byte)255, (byte)0), (r, g, b));
    }

    private static SegTransformConfig SmallConfig => new()
    {
        CropWidth = 32, CropHeight = 24, ScaleLong = 96, ScaleShort = 24,
    };

    [Fact]
    public void SegTrainTransform_Shapes_PadValues_Deterministic()
    {
        var p = BlockPair(40, 30, 4, 12);
        var t = new SegTrainTransform(SmallConfig);
        var a = t.Apply(p.Image, p.Label, RandomStreams.Create(7, 0, 3));
        var b = t.Apply(p.Image, p.Label, RandomStreams.Create(7, 0, 3));
        Assert.Equal((24, 32, 24, 32), (a.ImageHeight, a.ImageWidth, a.LabelHeight, a.LabelWidth));
        Assert.Equal(3 * 24 * 32, a.Image.Length);
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Label, b.Label);
        var other = t.Apply(p.Image, p.Label, RandomStreams.Create(7, 0, 4));
        Assert.False(a.Image.SequenceEqual(other.Image) && a.Label.SequenceEqual(other.Label));
        Assert.All(a.Label, v => Assert.True(v is >= 0 and < 8 or 255, $"label {v}"));

        // Where the label is padding (255 from the pad, no source pixel is 255) the image is exactly 0 in every channel.
        bool sawPad = false;
        for (ulong s = 0; s < 20; s++)
        {
            var smp = t.Apply(p.Image, p.Label, new Rng(s));
            for (int i = 0; i < 24 * 32; i++)
            {
                if (smp.Label[i] != 255) continue;
                sawPad = true;
                for (int c = 0; c < 3; c++) Assert.Equal(0f, smp.Image[c * 24 * 32 + i]);
            }
        }
        Assert.True(sawPad, "ratio 0.5 on a 40×30 image under (96, 24) must leave crops that need padding");
    }

    [Fact]
    public void SegTrainTransform_Augment_KeepsAlignment()
    {
        var p = BlockPair(48, 36, 12, 13);
        var t = new SegTrainTransform(SmallConfig with { ScaleLong = 192, ScaleShort = 48, PhotoMetric = false });
        for (ulong s = 0; s < 6; s++)
        {
            var q = t.Augment(p, new Rng(s));
            Assert.True(q.Width <= 32 && q.Height <= 24);
            AssertInteriorAligned(q);
            Assert.Subset(Values(p.Label), Values(q.Label));
        }
    }

    [Fact]
    public void SegEvalTransform_ResizesImageKeepsLabel()
    {
        var p = BlockPair(40, 30, 5, 14);
        var e = new SegEvalTransform(SmallConfig);
        var smp = e.Apply(p.Image, p.Label);
        Assert.Equal((24, 32), (smp.ImageHeight, smp.ImageWidth));   // short side 30 → 24
        Assert.Equal((30, 40), (smp.LabelHeight, smp.LabelWidth));
        Assert.Equal(p.Label.Data.Select(v => (int)v), smp.Label);
        var expected = new float[3 * 24 * 32];
        Resample.Resize(p.Image, 32, 24, Interpolation.Bilinear).ToNormalizedChw(expected, SmallConfig.Mean, SmallConfig.Std);
        Assert.Equal(expected, smp.Image);
    }

    // ------------------------------------------------------------------ label PNGs

    /// <summary>A palette PNG (colour type 3, 8-bit) written by hand: our encoder writes no palettes.</summary>
    private static byte[] PalettePng(int w, int h, byte[] indices, int bitDepth = 8)
    {
        var ms = new MemoryStream();
        ms.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)w);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)h);
        ihdr[8] = (byte)bitDepth; ihdr[9] = 3;
        Chunk(ms, "IHDR", ihdr);
        var plte = new byte[256 * 3];
        for (int i = 0; i < plte.Length; i++) plte[i] = (byte)(i * 37);
        Chunk(ms, "PLTE", plte);
        int rowBytes = (w * bitDepth + 7) / 8;
        var raw = new byte[h * (1 + rowBytes)];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int bit = x * bitDepth;
                raw[y * (1 + rowBytes) + 1 + bit / 8] |= (byte)(indices[y * w + x] << (8 - bitDepth - bit % 8));
            }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw);
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] body)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)body.Length);
        s.Write(len);
        var t = Encoding.ASCII.GetBytes(type);
        s.Write(t); s.Write(body);
        uint crc = Crc32.Update(Crc32.Update(Crc32.Initial, t), body) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }

    [Fact]
    public void LabelMap_Decode_PaletteGivesIndices_GrayGivesValues()
    {
        byte[] idx = [0, 1, 2, 150, 255, 3];
        var pal = LabelMap.Decode(PalettePng(3, 2, idx), "pal.png");
        Assert.Equal((3, 2), (pal.Width, pal.Height));
        Assert.Equal(idx, pal.Data);
        Assert.Equal([255, 0, 1, 149, 255, 2], LabelMap.Decode(PalettePng(3, 2, idx), "pal.png", reduceZeroLabel: true).Data);
        // Sub-byte palettes unpack to indices too.
        byte[] small = [0, 3, 1, 2, 3];
        Assert.Equal(small, LabelMap.Decode(PalettePng(5, 1, small, bitDepth: 2), "p2.png").Data);
        // 8-bit gray (ADE20K's annotations) as saved by our encoder.
        var gray = new Image(3, 2, 1, [0, 5, 9, 150, 255, 1]);
        Assert.Equal(gray.Data, LabelMap.Decode(Png.Encode(gray), "gray.png").Data);
        // The image decoder still expands the palette to colours.
        Assert.Equal(3, Png.Decode(PalettePng(3, 2, idx)).Channels);
    }

    [Fact]
    public void LabelMap_Load_BadPng_ErrorNamesFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ascan-seg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string rgb = Path.Combine(dir, "rgb_label.png");
            Png.Save(DataTestFiles.RandomImage(4, 3, 3, 1), rgb);
            var e = Assert.Throws<ImageDecodeException>(() => LabelMap.Load(rgb));
            Assert.Contains("rgb_label.png", e.Message);
            Assert.Contains("single-channel or palette", e.Message);
            Assert.Equal(rgb, e.FilePath);

            string gray = Path.Combine(dir, "small_label.png");
            Png.Save(new Image(4, 3, 1), gray);
            var img = new Image(5, 3, 3);
            var s = Assert.Throws<ImageDecodeException>(() => LabelMap.LoadFor(gray, img));
            Assert.Contains("small_label.png", s.Message);
            Assert.Contains("4×3", s.Message);
            Assert.Contains("5×3", s.Message);
            Assert.Equal((4, 3), (LabelMap.LoadFor(gray, new Image(4, 3, 3)).Width, 3));

            string jpg = Path.Combine(dir, "label.jpg");
            Jpeg.Save(new Image(8, 8, 1), jpg, 90);
            Assert.Contains("label.jpg", Assert.Throws<ImageDecodeException>(() => LabelMap.Load(jpg)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
