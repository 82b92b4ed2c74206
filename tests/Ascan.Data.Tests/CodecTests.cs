// Format sniffing, saving by extension, and PIL-style resampling checked against torchvision's antialiased resize.
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

public class CodecTests
{
    [Fact]
    public void ImageIO_Load_SniffsContentNotExtension()
    {
        using var tmp = new DataTestFiles.TempDir();
        var img = DataTestFiles.RandomImage(9, 5, 3, 3);
        File.WriteAllBytes(tmp["really_png.jpg"], Png.Encode(img));
        Assert.Equal(img.Data, ImageIO.Load(tmp["really_png.jpg"]).Data);
        ImageIO.Save(img, tmp["a.JPG"]);
        Assert.True(Jpeg.IsJpeg(File.ReadAllBytes(tmp["a.JPG"])));
        Assert.Throws<ArgumentException>(() => ImageIO.Save(img, tmp["a.bmp"]));
        var missing = Assert.Throws<ImageDecodeException>(() => ImageIO.Load(tmp["nope.png"]));
        Assert.Contains("nope.png", missing.Message);
    }

    public static IEnumerable<object[]> ResizeCases() => DataTestFiles.Cases("resize");

    [Theory]
    [MemberData(nameof(ResizeCases))]
    public void Resize_Antialiased_MatchesTorchvision(ImageCase c)
    {
        var src = new Image(c.Width, c.Height, c.Channels, File.ReadAllBytes(DataTestFiles.ImagePath(c.File)));
        var interp = c.Kind.EndsWith("bicubic") ? Interpolation.Bicubic : Interpolation.Bilinear;
        var outImg = Resample.Resize(src, c.OutWidth, c.OutHeight, interp);
        Assert.Equal((c.OutWidth, c.OutHeight, 3), (outImg.Width, outImg.Height, outImg.Channels));
        DataTestFiles.AssertPixelsClose(File.ReadAllBytes(DataTestFiles.ImagePath(c.Expected)), outImg.Data, c.Tolerance, c.MeanTolerance, c.ToString());
    }

    [Fact]
    public void Resize_ConstantImage_StaysConstant_AndShorterSideRule()
    {
        var solid = Image.Solid(31, 17, [10, 200, 77]);
        foreach (var interp in new[] { Interpolation.Nearest, Interpolation.Bilinear, Interpolation.Bicubic })
        {
            var r = Resample.Resize(solid, 12, 40, interp);
            for (int i = 0; i < r.Data.Length; i += 3) Assert.Equal(new byte[] { 10, 200, 77 }, r.Data[i..(i + 3)]);
        }
        var s = Resample.ResizeShorter(solid, 8, Interpolation.Bicubic);
        Assert.Equal((14, 8), (s.Width, s.Height));          // int(8 · 31 / 17) = 14
        var crop = Resample.CenterCrop(DataTestFiles.RandomImage(10, 7, 3, 1), 4, 4);
        Assert.Equal((4, 4), (crop.Width, crop.Height));
        var padded = Resample.CenterCrop(Image.Solid(2, 2, [255]), 5, 5);
        Assert.Equal(255, padded[1, 1, 0]);                    // pad (5 − 2) // 2 = 1 before, as torchvision
        Assert.Equal(0, padded[0, 0, 0]);
    }

    [Fact]
    public void Image_Normalize_And_FromTensor_RoundTrip()
    {
        var img = DataTestFiles.RandomImage(6, 4, 3, 8);
        double[] mean = [0.5, 0.4, 0.3], std = [0.2, 0.25, 0.3];
        var t = img.ToTensor(mean, std);
        Assert.Equal(new[] { 1, 3, 4, 6 }, t.ShapeArray());
        var v = t.ToArray<float>();
        Assert.Equal((img[2, 1, 1] / 255.0 - 0.4) / 0.25, v[1 * 24 + 1 * 6 + 2], 5);
        Assert.Equal(img.Data, Image.FromTensor(t, 0, mean, std).Data);
    }
}
