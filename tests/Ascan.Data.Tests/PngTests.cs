// PNG codec: round trips for every colour type, files from libpng and a hand-written encoder, corrupt files.
using System.IO.Compression;
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

public class PngTests
{
    public static IEnumerable<object[]> PngCases() => DataTestFiles.Cases("png");

    [Theory]
    [MemberData(nameof(PngCases))]
    public void Png_Decode_MatchesReferencePixels(ImageCase c)
    {
        var img = Png.Load(DataTestFiles.ImagePath(c.File));
        Assert.Equal((c.Width, c.Height, c.Channels), (img.Width, img.Height, img.Channels));
        var expected = File.ReadAllBytes(DataTestFiles.ImagePath(c.Expected));
        DataTestFiles.AssertPixelsClose(expected, img.Data, c.Tolerance, c.MeanTolerance, $"{c.File} ({c.Note})");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png_RoundTrip_EveryColorType(int channels)
    {
        foreach (var (w, h) in new[] { (1, 1), (7, 3), (33, 17) })
            foreach (bool smooth in new[] { false, true })
            {
                var img = DataTestFiles.RandomImage(w, h, channels, seed: w * 31 + channels, smooth);
                var back = Png.Decode(Png.Encode(img));
                Assert.Equal((w, h, channels), (back.Width, back.Height, back.Channels));
                Assert.Equal(img.Data, back.Data);
            }
    }

    [Fact]
    public void Png_Encode_PicksPredictiveFiltersForSmoothImages()
    {
        // A horizontal ramp: Sub (or Paeth) rows cost almost nothing, filter 0 rows cost a lot.
        var img = new Image(64, 16, 3);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 64; x++) for (int c = 0; c < 3; c++) img[x, y, c] = (byte)(x * 4 + c);
        var png = Png.Encode(img);
        var filters = FilterBytes(png, rowBytes: 64 * 3, rows: 16);
        Assert.DoesNotContain((byte)0, filters.Skip(1));
        Assert.Equal(img.Data, Png.Decode(png).Data);
        Assert.True(png.Length < img.Data.Length / 4, $"smooth 64×16 RGB encoded to {png.Length} bytes");
    }

    private static byte[] FilterBytes(byte[] png, int rowBytes, int rows)
    {
        // Single IDAT chunk written by our encoder: after signature (8) + IHDR chunk (25).
        int pos = 8 + 25;
        int len = (png[pos] << 24) | (png[pos + 1] << 16) | (png[pos + 2] << 8) | png[pos + 3];
        using var z = new ZLibStream(new MemoryStream(png, pos + 8, len), CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        return Enumerable.Range(0, rows).Select(r => bytes[r * (rowBytes + 1)]).ToArray();
    }

    [Fact]
    public void Png_BadCrc_ThrowsNamingTheFile()
    {
        using var tmp = new DataTestFiles.TempDir();
        var bytes = Png.Encode(DataTestFiles.RandomImage(8, 8, 3, 1));
        bytes[8 + 25 + 10] ^= 0x40;                      // a byte inside the IDAT data
        string path = tmp["bad_crc.png"];
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ImageDecodeException>(() => ImageIO.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("CRC", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void Png_Truncated_Throws()
    {
        var bytes = Png.Encode(DataTestFiles.RandomImage(20, 20, 3, 2));
        foreach (int keep in new[] { 8, 30, bytes.Length / 2, bytes.Length - 13 })
        {
            var e = Assert.Throws<ImageDecodeException>(() => Png.Decode(bytes.AsSpan(0, keep), "cut.png"));
            Assert.StartsWith("cut.png: ", e.Message);
        }
    }

    [Fact]
    public void Png_TrailingIendOnly_AndGarbage_Throw()
    {
        Assert.Throws<ImageDecodeException>(() => Png.Decode(new byte[] { 1, 2, 3 }, "x"));
        Assert.Throws<ImageDecodeException>(() => ImageIO.Decode(ReadOnlySpan<byte>.Empty, "empty.png"));
        var e = Assert.Throws<ImageDecodeException>(() => ImageIO.Decode("GIF89a........"u8, "anim.gif"));
        Assert.Contains("unknown image format", e.Message);
    }
}
