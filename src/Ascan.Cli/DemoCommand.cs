// `ascan demo`: the whole pipeline in one command — generate shapes, train ascan_nano, evaluate, draw, print top-1.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ascan.Cli.Flags;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Data.Shapes;
using Ascan.Training.Train;

namespace Ascan.Cli;

/// <summary>What `ascan demo` runs with; defaults are the command line's.</summary>
internal sealed record DemoOptions
{
    public string Dir { get; init; } = Path.Combine("runs", "demo");
    public int Epochs { get; init; } = 10;
    public int TrainImages { get; init; } = 5000;
    public int ValImages { get; init; } = 1000;
    public ulong Seed { get; init; }
    public int Workers { get; init; } = 1;
}

internal static class DemoCommand
{
    /// <summary>
    /// The demo's training recipe, tuned on 2 cores for ≥ 0.95 val top-1 on the 10-class 64×64 shapes well inside
    /// 15 minutes (measured: EMA top-1 0.95 after 6 epochs, 0.99 after 9). Small batches (more updates) and a
    /// moderate peak LR matter most: at LR ≥ 2e-3 this model trains far slower or collapses to chance. Shapes must
    /// stay in the crop, so RandomResizedCrop keeps at least half of the image; colour carries no label, so no jitter.
    /// </summary>
    internal static TrainConfig Recipe(string dir, string dataDir, int epochs, ulong seed, int workers) => new()
    {
        Model = "ascan_nano",
        Data = dataDir,
        Output = dir,
        ImageSize = 64,
        Epochs = epochs,
        BatchSize = 32,
        Lr = 1e-3,
        WarmupEpochs = 1,
        WarmupLr = 1e-6,
        MinLr = 1e-6,
        WeightDecay = 0.05,
        Smoothing = 0.1,
        ScaleMin = 0.5,
        ColorJitter = 0,
        Hflip = 0.5,
        Ema = true,
        EmaDecay = 0.995,
        ClipGrad = 5.0,
        Seed = seed,
        Workers = workers,
        LogInterval = 40,
    };

    internal static ConfigBinder<DemoOptions> Flags() => new ConfigBinder<DemoOptions>(new DemoOptions())
        .Add(SharedFlags.Output.WithHelp("Work folder: the generated data (OUT/data) and the run's output (checkpoints, pictures).") with { Deprecated = ["--dir"] }, o => o.Dir, (o, v) => o with { Dir = v })
        .Add(new FlagName("--epochs", "Training epochs."), o => o.Epochs, (o, v) => o with { Epochs = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.TrainImages with { Deprecated = null }, o => o.TrainImages, (o, v) => o with { TrainImages = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.ValImages with { Deprecated = null }, o => o.ValImages, (o, v) => o with { ValImages = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.Seed.WithHelp("Seed of the data and of training."), o => o.Seed, (o, v) => o with { Seed = v })
        .Add(SharedFlags.Workers, o => o.Workers, (o, v) => o with { Workers = v }, check: SharedFlags.AtLeast(0));

    /// <param name="run">What runs with the parsed options (default: the demo; tests pass their own).</param>
    public static Command Create(Func<DemoOptions, int>? run = null)
    {
        var cmd = new Command("demo", "Generate the shapes dataset (10 classes, 64×64), train ascan_nano on it, evaluate, and write curves, " +
            "a confusion matrix and a picture of predictions. Ends by printing 'top1: 0.xx'.");
        var flags = Flags();
        flags.AddTo(cmd);
        run ??= o => Run(o.Dir, o.Epochs, o.TrainImages, o.ValImages, o.Seed, o.Workers);
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        cmd.Subcommands.Add(DemoSegmentCommand.Create());
        cmd.Subcommands.Add(DemoGenerateCommand.Create());
        return cmd;
    }

    private static int Run(string dir, int epochs, int trainImages, int valImages, ulong seed, int workers)
    {
        var clock = Stopwatch.StartNew();
        var inv = CultureInfo.InvariantCulture;
        Directory.CreateDirectory(dir);
        string dataDir = Path.Combine(dir, "data");

        // 1. Data: generated once per setting (a stamp records what is on disk).
        var shapes = new ShapesConfig { Classes = 10, Size = 64, Seed = seed };
        string stamp = Path.Combine(dataDir, ".demo-stamp.json");
        string wanted = JsonSerializer.Serialize(new { shapes.Classes, shapes.Size, shapes.Seed, train = trainImages, val = valImages });
        if (!File.Exists(stamp) || File.ReadAllText(stamp) != wanted)
        {
            if (Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
            Console.WriteLine($"[1/4] generating shapes: {trainImages} train + {valImages} val images, 10 classes, 64×64 → {dataDir}");
            var s = ShapesWriter.Write(dataDir, shapes, trainImages, valImages);
            File.WriteAllText(stamp, wanted);
            Console.WriteLine(string.Create(inv, $"      done in {s.Seconds:F1} s"));
        }
        else Console.WriteLine($"[1/4] shapes dataset already in {dataDir}");

        // 2. Train.
        var config = Recipe(dir, dataDir, epochs, seed, workers);
        Console.WriteLine($"[2/4] training {config.Model} for {epochs} epochs (progress on stderr; Ctrl+C stops with a recovery checkpoint)");
        int code = TrainCommand.Run(config, Console.Out, out var result);
        if (code != 0) return code;

        // 3. Evaluate the best checkpoint (ranked by its EMA weights, which the evaluation then uses).
        string best = Trainer.BestPath(dir);
        Console.WriteLine($"[3/4] evaluating {best} ({(config.Ema ? "EMA weights" : "model weights")}) on the val split");
        var loaded = ModelLoader.Load(null, best, useEma: config.Ema);
        var eval = EvalCommand.Run(loaded, dataDir, 100, workers, showProgress: true, keepPredictions: true);
        EvalCommand.Print(eval, Console.Out);

        // 4. Pictures: confusion matrix and a grid of val predictions (mistakes first).
        string confusion = Path.Combine(dir, "confusion_matrix.svg");
        File.WriteAllText(confusion, EvalPictures.ConfusionMatrixSvg(eval));
        string grid = Path.Combine(dir, "predictions.svg");
        File.WriteAllText(grid, PredictionGrid(eval, new ImageFolderDataset(ImageFolderDataset.ResolveSplit(dataDir, "val"), loaded.ClassNames)));
        Console.WriteLine($"[4/4] pictures: {Path.Combine(dir, "curves.svg")}, {confusion}, {grid}");
        Console.WriteLine($"demo finished in {ProgressBar.FormatDuration(clock.Elapsed)} ({ProgressBar.FormatDuration(TimeSpan.FromSeconds(result!.History.Sum(h => h.Seconds)))} training)");
        Console.WriteLine(string.Create(inv, $"top1: {eval.Top1:F2}"));
        return 0;
    }

    /// <summary>Up to 48 val images: every mistake first (at most 24), then correct ones spread over the split.</summary>
    private static string PredictionGrid(EvalResult eval, ImageFolderDataset val)
    {
        var preds = eval.Predictions!;
        if (preds.Count != val.Count) return EvalPictures.PredictionGridSvg([], title: "predictions unavailable (some images were unreadable)");
        var wrong = Enumerable.Range(0, preds.Count).Where(i => preds[i].Predicted != val.Label(i)).Take(24).ToList();
        int want = 48 - wrong.Count;
        var right = Enumerable.Range(0, preds.Count).Where(i => preds[i].Predicted == val.Label(i)).ToList();
        var picked = wrong.Concat(Enumerable.Range(0, Math.Min(want, right.Count)).Select(j => right[(int)((long)j * right.Count / Math.Max(1, Math.Min(want, right.Count)))]));
        var tiles = picked.Select(i => new PredictionTile(File.ReadAllBytes(val.Files[i]), eval.ClassNames[preds[i].Predicted],
            eval.ClassNames[val.Label(i)], preds[i].Probability)).ToList();
        string title = string.Create(CultureInfo.InvariantCulture,
            $"val predictions: top-1 {EvalPictures.Percent(eval.Top1, 1)} on {eval.Images} images; {eval.Images - eval.Top1Correct} mistakes (shown first, red)");
        return EvalPictures.PredictionGridSvg(tiles, columns: 8, tile: 96, title);
    }
}
