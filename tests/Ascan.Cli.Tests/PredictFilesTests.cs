// predict on real folders of files (issue 10, items 9 and 12): an unreadable file is reported and skipped, folders
// are searched, -k below 1 is refused, a folder or missing path given as an image says what it is.
using Ascan.Data;
using Ascan.Data.Imaging;
using Ascan.Data.Shapes;
using Ascan.Models;
using Ascan.Training.Eval;

namespace Ascan.Cli.Tests;

public class PredictFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-predict-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two PNGs in a folder, a BMP beside them, and an untrained ascan_nano with 3 classes at 32 px.</summary>
    private (string Images, LoadedClassifier Model) Setup()
    {
        string images = Path.Combine(_dir, "images");
        ShapesWriter.Write(Path.Combine(_dir, "shapes"), new ShapesConfig { Classes = 3, Size = 32, Seed = 2 }, 2, 0);
        Directory.CreateDirectory(Path.Combine(images, "sub"));
        var pngs = Directory.EnumerateFiles(Path.Combine(_dir, "shapes", "train"), "*.png", SearchOption.AllDirectories).Take(2).ToList();
        File.Copy(pngs[0], Path.Combine(images, "a.png"));
        File.Copy(pngs[1], Path.Combine(images, "sub", "b.png"));
        File.WriteAllBytes(Path.Combine(images, "c.bmp"), [0x42, 0x4D, 0, 0, 0, 0]);
        var model = ModelRegistry.CreateClassifier("ascan_nano", new ModelOptions { NumClasses = 3 });
        model.Eval();
        return (images, new LoadedClassifier(model, "ascan_nano", ["a", "b", "c"], 32, ModelRegistry.Get("ascan_nano").Config));
    }

    [Fact]
    public void Folder_IsSearched_UnsupportedFileReported_TheRestPredicted()
    {
        var (images, m) = Setup();
        var files = PredictCommand.ExpandImages([images, Path.Combine(images, "c.bmp")]);
        Assert.Equal(3, files.Count(f => f.EndsWith(".png") || f.EndsWith(".bmp")));
        Assert.Equal(2, files.Count(f => f.EndsWith(".png"))); // the folder gives its PNGs (sub-folders too), not the BMP
        var log = new StringWriter();
        var results = PredictCommand.Predict(m, files, 2, log);
        Assert.Equal(2, results.Count(r => r.Error == null && r.Top.Count == 2));
        var bad = Assert.Single(results, r => r.Error != null);
        Assert.EndsWith("c.bmp", bad.Image);
        Assert.Contains("c.bmp", log.ToString());
        Assert.Contains("unknown image format", log.ToString());
    }

    [Fact]
    public void FolderOrMissingPath_AsAnImage_SaysWhatItIs()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageIO.Load(_dir));
        Assert.Contains("is a folder", e.Message);
        e = Assert.Throws<ImageDecodeException>(() => ImageIO.Load(Path.Combine(_dir, "nope.png")));
        Assert.Contains("does not exist", e.Message);
        Assert.Throws<ArgumentException>(() => PredictCommand.ExpandImages([_dir])); // a folder with no images
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    public void TopK_BelowOne_IsRefused(string k)
    {
        var err = new StringWriter();
        int code = CliRunner.Run(PredictCommand.Create(_ => 0), ["--weights", "w", "-k", k, "x.png"], new StringWriter(), err);
        Assert.Equal(2, code);
        Assert.Contains("--top-k must be at least 1", err.ToString());
    }
}
