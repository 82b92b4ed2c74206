// The segmentation verbs end to end on a tiny shapes scene set (issue 11): segment train writes checkpoints, curves,
// per_class.csv and overlays; eval prints the per-class table and 'mIoU: 0.xx' and writes JSON; predict writes the
// label PNG and the overlay; infer writes logits at the input size; info describes a segmenter.
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Data.Imaging;
using Ascan.Data.Segmentation;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

/// <summary>24 train + 6 val scenes at 32 px and one finished 1-epoch upernet_ascan_nano run on them.</summary>
public sealed class SegmentedRun : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("ascan-seg-").FullName;
    public string Data => Path.Combine(Root, "data");
    public string Run => Path.Combine(Root, "run");
    public string Best => Trainer.BestPath(Run);
    public string TrainOutput { get; }

    public SegmentedRun()
    {
        ShapesSegmentationWriter.Write(Data, 24, 6, imageSize: 32, seed: 4);
        var (code, output, err) = CheckpointVerbTests.Invoke(SegmentCommand.Train(),
            ["--data", Data, "-o", Run, "--epochs", "1", "--batch-size", "8", "--image-size", "32", "--lr", "1e-3",
             "--ema", "true", "--ema-decay", "0.9", "--workers", "0", "--seed", "2"]);
        if (code != 0) throw new InvalidOperationException($"tiny segmentation run failed ({code}): {err}");
        TrainOutput = output;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class SegmentVerbTests(SegmentedRun run) : IClassFixture<SegmentedRun>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-seg-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Train_WritesCheckpointsCurvesPerClassCsvAndOverlays()
    {
        foreach (var f in new[] { "last.safetensors", "best.safetensors", "model.safetensors", "curves.svg", "summary.csv", "per_class.csv", "classes.txt", "config.json" })
            Assert.True(File.Exists(Path.Combine(run.Run, f)), f);
        var overlay = ImageIO.Load(Path.Combine(run.Run, "overlays", "epoch_001.png"));
        Assert.True(overlay.Width > 3 * 32 && overlay.Height > 32);
        Assert.Contains("val_miou", File.ReadAllText(Path.Combine(run.Run, "summary.csv")));
        Assert.Contains("background", File.ReadAllText(Path.Combine(run.Run, "per_class.csv")));
        Assert.Contains("done: best EMA mIoU", run.TrainOutput);
        var info = Checkpoint.ReadInfo(run.Best);
        Assert.Equal("upernet_ascan_nano", info.ModelName ?? info.Config!.Model);
        Assert.Equal(32, info.TrainedImageSize);
    }

    [Fact]
    public void Eval_PrintsTheTableAndMIoU_WritesJson_SlideAndTtaRun()
    {
        string output = Path.Combine(_dir, "eval");
        var (code, stdout, err) = CheckpointVerbTests.Invoke(SegmentCommand.Eval(), "--weights", run.Best, "--use-ema", "--data", run.Data, "-o", output, "--workers", "0");
        Assert.True(code == 0, err);
        Assert.Matches(@"mIoU: \d\.\d\d", stdout);
        Assert.Contains("| background", stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "eval.json")));
        Assert.True(json.RootElement.TryGetProperty("mIoU", out _) || json.RootElement.TryGetProperty("miou", out _), json.RootElement.ToString());
        Assert.True(File.Exists(Path.Combine(output, "overlay.png")));
        // Slide with one window covering the image, and flip TTA, both run.
        (code, stdout, err) = CheckpointVerbTests.Invoke(SegmentCommand.Eval(), "--weights", run.Best, "--data", run.Data, "--json",
            "--mode", "slide", "--crop", "24", "--stride", "16", "--flip", "--scales", "0.75", "1", "--workers", "0");
        Assert.True(code == 0, err);
        Assert.StartsWith("{", stdout.Trim());
    }

    [Fact]
    public void Predict_WritesLabelPngAndOverlay_SkipsAnUnreadableFile()
    {
        string images = Path.Combine(run.Data, "images", "validation");
        string bad = Path.Combine(_dir, "bad.bmp");
        File.WriteAllBytes(bad, [0x42, 0x4D, 1, 2]);
        string output = Path.Combine(_dir, "pred");
        var (code, stdout, err) = CheckpointVerbTests.Invoke(SegmentCommand.Predict(), "--weights", run.Best,
            "--labels", Path.Combine(run.Data, "annotations", "validation"), "-o", output, images, bad);
        Assert.True(code == 0, err);
        Assert.Contains("bad.bmp", err);
        string first = Path.GetFileNameWithoutExtension(Directory.GetFiles(images).Order().First());
        var label = ImageIO.Load(Path.Combine(output, first + "_label.png"));
        Assert.Equal((32, 32), (label.Width, label.Height));
        var overlay = ImageIO.Load(Path.Combine(output, first + "_overlay.png"));
        Assert.True(overlay.Width > 3 * 32, "image | prediction | ground truth");
    }

    [Fact]
    public void Infer_WritesLogitsAtTheInputSize()
    {
        string x = Path.Combine(_dir, "x.safetensors"), y = Path.Combine(_dir, "y.safetensors");
        TensorFile.Save(x, new Dictionary<string, Tensor> { ["input"] = Tensor.Randn(new Rng(1), DType.F32, 2, 3, 40, 36) });
        var (code, _, err) = CheckpointVerbTests.Invoke(ModelCommands.Infer(), "--weights", run.Best, "--input", x, "--output", y);
        Assert.True(code == 0, err);
        var output = TensorFile.Read(SafetensorsFile.Open(y), "output");
        Assert.Equal([2, 5, 40, 36], output.ShapeArray());
    }

    [Fact]
    public void Info_DescribesASegmenter()
    {
        var (code, stdout, err) = CheckpointVerbTests.Invoke(ModelCommands.Info(), "--model", "upernet_ascan_nano", "--image-size", "64", "--json");
        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("segmenter", json.RootElement.GetProperty("kind").GetString());
        Assert.Equal(3_292_284, json.RootElement.GetProperty("params").GetInt64());
        Assert.Equal([1, 150, 64, 64], json.RootElement.GetProperty("output_shape").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Train_BadData_AndAClassifierModel_AreOneLineUsageErrors()
    {
        var (code, _, err) = CheckpointVerbTests.Invoke(SegmentCommand.Train(), "--data", _dir, "-o", Path.Combine(_dir, "o"));
        Assert.Equal(2, code);
        Assert.Contains("--data", err);
        (code, _, err) = CheckpointVerbTests.Invoke(SegmentCommand.Train(), "--data", run.Data, "--model", "ascan_nano", "-o", Path.Combine(_dir, "o2"));
        Assert.Equal(2, code);
        Assert.Contains("segment train trains a segmenter", err);
    }
}
