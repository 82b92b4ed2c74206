// JPEG through libjpeg-turbo: decoding matches libjpeg (via torchvision), encode/decode round trip, corrupt files.
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

public class JpegTests
{
    public static IEnumerable<object[]> JpegCases() => DataTestFiles.Cases("jpeg");

    [Theory]
    [MemberData(nameof(JpegCases))]
    public void Jpeg_Decode_MatchesLibjpegReference(ImageCase c)
    {
        Assert.True(Jpeg.IsAvailable, "libturbojpeg.so.0 is missing: apt-get install libturbojpeg0");
        var img = Jpeg.Load(DataTestFiles.ImagePath(c.File));
        Assert.Equal((c.Width, c.Height, 3), (img.Width, img.Height, img.Channels));
        var expected = File.ReadAllBytes(DataTestFiles.ImagePath(c.Expected));
        DataTestFiles.AssertPixelsClose(expected, img.Data, c.Tolerance, c.MeanTolerance, $"{c.File} ({c.Note})");
    }

    [Theory]
    [InlineData(3, Jpeg.Subsampling.S420)]
    [InlineData(3, Jpeg.Subsampling.S444)]
    [InlineData(1, Jpeg.Subsampling.S420)]
    public void Jpeg_EncodeDecode_CloseToOriginal(int channels, Jpeg.Subsampling sub)
    {
        var img = DataTestFiles.RandomImage(37, 21, channels, seed: 5, smooth: true);
        var back = Jpeg.Decode(Jpeg.Encode(img, quality: 95, sub));
        Assert.Equal((37, 21, 3), (back.Width, back.Height, back.Channels));
        var reference = img.ToRgb().Data;
        double mse = 0;
        for (int i = 0; i < reference.Length; i++) mse += (reference[i] - back.Data[i]) * (double)(reference[i] - back.Data[i]);
        double psnr = 10 * Math.Log10(255.0 * 255 / (mse / reference.Length));
        Assert.True(psnr > 32, $"PSNR {psnr:F1} dB");
    }

    [Fact]
    public void Jpeg_Cmyk_DecodesToRgb()
    {
        // Inverted (Adobe) CMYK: C = 255 − cyan ink, K = 255 − black ink. No black ink and C = 200 → R ≈ 200.
        var cmyk = Image.Solid(16, 16, [200, 120, 40, 255]);
        var rgb = Jpeg.Decode(Jpeg.EncodeCmyk(cmyk), "cmyk.jpg");
        Assert.Equal(3, rgb.Channels);
        Assert.InRange(rgb[8, 8, 0], 197, 203);
        Assert.InRange(rgb[8, 8, 1], 117, 123);
        Assert.InRange(rgb[8, 8, 2], 37, 43);
        var half = Jpeg.Decode(Jpeg.EncodeCmyk(Image.Solid(16, 16, [200, 120, 40, 128])));
        Assert.InRange(half[8, 8, 0], 97, 104);                 // 200 · 128 / 255
    }

    [Fact]
    public void Jpeg_Truncated_ThrowsNamingTheFile()
    {
        using var tmp = new DataTestFiles.TempDir();
        var bytes = Jpeg.Encode(DataTestFiles.RandomImage(64, 64, 3, 9));
        string path = tmp["cut.jpg"];
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var e = Assert.Throws<ImageDecodeException>(() => ImageIO.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Jpeg_GarbageAfterHeader_Throws()
    {
        var bytes = new byte[200];
        bytes[0] = 0xFF; bytes[1] = 0xD8; bytes[2] = 0xFF; bytes[3] = 0xE0;
        Assert.Throws<ImageDecodeException>(() => Jpeg.Decode(bytes, "junk.jpg"));
    }
}
