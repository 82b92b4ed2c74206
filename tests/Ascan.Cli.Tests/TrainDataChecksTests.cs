// train's defaults and data checks (issue 10, items 7 and 8): every default in --help, the image size from the data,
// the dataset and arguments validated before any work, in one line.
using System.CommandLine;
using Ascan.Data;
using Ascan.Data.Shapes;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

public class TrainDataChecksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-traindata-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Shapes(string name, int classes = 3, int size = 32, int train = 6, int val = 3)
    {
        string root = Path.Combine(_dir, name);
        ShapesWriter.Write(root, new ShapesConfig { Classes = classes, Size = size, Seed = 1 }, train, val);
        return root;
    }

    /// <summary>The real train verb, with its output in the temp folder.</summary>
    private (int Code, string Err) Train(params string[] args)
    {
        var err = new StringWriter();
        int code = CliRunner.Run(TrainCommand.Create(), [.. args, "--output", Path.Combine(_dir, "out")], new StringWriter(), err);
        return (code, err.ToString());
    }

    [Fact]
    public void Help_ShowsEveryDefault()
    {
        var output = new StringWriter();
        CliRunner.Run(new RootCommand { TrainCommand.Create(_ => 0) }, ["train", "--help"], output, new StringWriter());
        var lines = output.ToString().Split('\n').Where(l => l.TrimStart().StartsWith("--") || l.TrimStart().StartsWith("-b") || l.TrimStart().StartsWith("-o") || l.TrimStart().StartsWith("-j")).ToList();
        Assert.NotEmpty(lines);
        // Flags without a value to default (--data, --config, --resume) say what happens without them instead.
        string[] noDefault = ["--config", "--resume", "--data"];
        foreach (var l in lines.Where(l => !noDefault.Any(n => l.Contains(n + " <"))))
            Assert.True(l.Contains("[default:") || l.Contains("(default:"), $"no default shown: {l}");
        foreach (var flag in new[] { "--scale-min", "--hflip", "--warmup-lr", "--momentum", "--color-jitter" })
            Assert.Contains(flag, output.ToString());
    }

    [Fact]
    public void ImageSize_ComesFromTheData_WhenSmallerThanTheModels()
    {
        var set = new ImageFolderDataset(Path.Combine(Shapes("s64", size: 64), "train"));
        var log = new StringWriter();
        var c = TrainCommand.WithDataSize(new TrainConfig { Model = "ascan_nano" }, set, 224, log);
        Assert.Equal(64, c.ImageSize);
        Assert.Contains("--image-size 64 from the data", log.ToString());
        // A size the user set wins, and data as large as the model's input size keeps the model's.
        Assert.Equal(96, TrainCommand.WithDataSize(new TrainConfig { ImageSize = 96 }, set, 224, log).ImageSize);
        Assert.Null(TrainCommand.WithDataSize(new TrainConfig(), set, 64, log).ImageSize);
    }

    [Fact]
    public void TrainWithoutVal_TrainsWithoutValidation_SayingSo()
    {
        string root = Shapes("noval");
        Directory.Delete(Path.Combine(root, "val"), recursive: true);
        var log = new StringWriter();
        var (train, val) = TrainData.OpenFolder(root, log);
        Assert.Null(val);
        Assert.Equal(3, train.ClassNames.Count); // not "class folders not in the class map: train"
        Assert.Contains("no val/ split", log.ToString());
    }

    [Fact]
    public void OneClass_ValWithoutTrain_MissingFolder_AreOneLineBeforeAnyWork()
    {
        var (code, err) = Train("--data", Shapes("one", classes: 1));
        Assert.Equal(2, code);
        Assert.Contains("a classifier needs at least 2", err);

        string valOnly = Shapes("valonly");
        Directory.Delete(Path.Combine(valOnly, "train"), recursive: true);
        (code, err) = Train("--data", valOnly);
        Assert.Equal(2, code);
        Assert.Contains("has val/ but no train/", err);

        (code, err) = Train("--data", Path.Combine(_dir, "nope"));
        Assert.Equal(2, code);
        Assert.Contains("does not exist", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")), "nothing is written before the data is checked");
    }

    [Fact]
    public void ZeroCounts_AreRefusedBeforeGeneratingData()
    {
        foreach (var args in new[] { new[] { "--val-images", "0" }, ["--train-images", "0"], ["--epochs", "0"] })
        {
            var err = new StringWriter();
            int code = CliRunner.Run(DemoCommand.Create(), [.. args, "--output", Path.Combine(_dir, "demo")], new StringWriter(), err);
            Assert.Equal(2, code);
            Assert.Contains(args[0] + " must be at least 1", err.ToString());
            Assert.False(Directory.Exists(Path.Combine(_dir, "demo")));
        }
        var (c, e) = Train("--epochs", "0", "--data", _dir);
        Assert.Equal(2, c);
        Assert.Contains("--epochs must be at least 1", e);
    }

    [Fact]
    public void NewFlags_AreCheckedByName()
    {
        var (code, err) = Train("--data", _dir, "--scale-min", "0");
        Assert.Equal(2, code);
        Assert.Contains("--scale-min must be in (0, 1]", err);
        (code, err) = Train("--data", _dir, "--hflip", "2");
        Assert.Equal(2, code);
        Assert.Contains("--hflip must be in [0, 1]", err);
    }
}
