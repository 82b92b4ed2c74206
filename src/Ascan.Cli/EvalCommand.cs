// `ascan eval`: top-1, top-5, loss, per-class accuracy and a confusion-matrix picture of a model on an ImageFolder.
using System.CommandLine;
using System.Globalization;
using Ascan.Training;
using Ascan.Cli.Flags;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

/// <summary>What `ascan eval` runs with; defaults are the command line's.</summary>
internal sealed record EvalOptions
{
    public string? Model { get; init; }
    public string Weights { get; init; } = "";
    public string Data { get; init; } = "";
    public bool Json { get; init; }
    public bool UseEma { get; init; }
    public bool Verbose { get; init; }
    public int BatchSize { get; init; } = 64;
    /// <summary>Null: <see cref="ImageSize.Resolve"/>'s order.</summary>
    public int? ImageSize { get; init; }
    public int Workers { get; init; } = LoaderOptions.DefaultWorkers;
    /// <summary>Folder for confusion_matrix.svg; null = the weights' folder.</summary>
    public string? Output { get; init; }
}

internal static class EvalCommand
{
    internal static ConfigBinder<EvalOptions> Flags() => new ConfigBinder<EvalOptions>(new EvalOptions())
        .Add(SharedFlags.Model.WithHelp("Registered model name (optional for training checkpoints, which store it)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.Weights, o => o.Weights, (o, v) => o with { Weights = v }, required: true)
        .Add(new FlagName("--data", "ImageFolder root (its val/ split is used when present)."), o => o.Data, (o, v) => o with { Data = v }, required: true)
        .Add(SharedFlags.Json.WithHelp("Print only {\"top1\", \"top5\", \"loss\", \"images\"} on stdout."), o => o.Json, (o, v) => o with { Json = v })
        .Add(SharedFlags.UseEma.WithHelp("Evaluate the checkpoint's EMA weights."), o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.Verbose, o => o.Verbose, (o, v) => o with { Verbose = v })
        .Add(SharedFlags.BatchSize, o => o.BatchSize, (o, v) => o with { BatchSize = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.ImageSize, o => o.ImageSize, (o, v) => o with { ImageSize = v }, check: v => v is null or >= 8 ? null : "must be at least 8")
        .Add(SharedFlags.Workers, o => o.Workers, (o, v) => o with { Workers = v }, check: SharedFlags.AtLeast(0))
        .Add(SharedFlags.Output.WithHelp("Folder for confusion_matrix.svg and eval.json (default: a new runs/eval/<time>-<model>; with --json and no --output nothing is written)."), o => o.Output, (o, v) => o with { Output = v });

    /// <param name="run">What runs with the parsed options (default: the evaluation; tests pass their own).</param>
    public static Command Create(Func<EvalOptions, int>? run = null)
    {
        var cmd = new Command("eval", "Evaluate a classifier on an ImageFolder (DIR/val, or DIR itself): top-1, top-5, loss, per-class accuracy, " +
            "and a confusion-matrix picture with the numbers (confusion_matrix.svg and eval.json in --output, else in a new runs/eval/<time>-<model>).");
        var flags = Flags();
        flags.AddTo(cmd);
        run ??= Run;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    private static int Run(EvalOptions o)
    {
        var loaded = ModelLoader.Load(o.Weights, new LoadOptions
        {
            Model = o.Model, UseEma = o.UseEma, ImageSize = o.ImageSize, Verbose = o.Verbose, Warnings = Console.Error,
        });
        var result = Run(loaded, o.Data, o.BatchSize, o.Workers, !o.Json);
        string? dir = ResultFolder(o, loaded.ModelName, DateTime.Now);
        string? picture = null;
        if (dir != null)
        {
            Directory.CreateDirectory(dir);
            picture = Path.Combine(dir, "confusion_matrix.svg");
            File.WriteAllText(picture, EvalPictures.ConfusionMatrixSvg(result));
            File.WriteAllText(Path.Combine(dir, "eval.json"), result.ToJson() + "\n");
        }
        if (o.Json) { Console.WriteLine(result.ToJson()); return 0; }
        Print(result, Console.Out);
        Console.WriteLine($"confusion matrix: {picture} (numbers in {Path.Combine(dir!, "eval.json")})");
        return 0;
    }

    /// <summary>
    /// Where an evaluation writes confusion_matrix.svg and eval.json: --output when given; else a new folder per
    /// evaluation, runs/eval/&lt;time&gt;-&lt;model&gt; (never beside the weights, where it replaced the last picture);
    /// with --json and no --output nothing is written (stdout is the result).
    /// </summary>
    internal static string? ResultFolder(EvalOptions o, string model, DateTime now) =>
        RunFolders.ForResults(o.Output, o.Json, Path.Combine("runs", "eval"), model, now);

    /// <summary>Evaluates <paramref name="m"/> on DIR/val (or DIR) with the eval transform of its data config (stored, else the model's) at its training size.</summary>
    internal static EvalResult Run(LoadedClassifier m, string dataDir, int batchSize, int workers, bool showProgress, bool keepPredictions = false)
    {
        var set = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(dataDir, "val"), m.ClassNames);
        var loader = DataLoader.ForEvaluation(set, TrainData.EvalTransform(m.Data, m.ImageSize),
            new LoaderOptions { BatchSize = batchSize, Shuffle = false, Workers = workers, Log = Console.Error });
        bool tty = !Console.IsErrorRedirected;
        var result = Evaluator.Evaluate(m.Model, loader, showProgress && tty
            ? (done, total) => Console.Error.Write(done == total ? $"\reval: {done}/{total} batches\n" : $"\reval: {done}/{total} batches")
            : null, keepPredictions);
        if (loader.SkippedFiles > 0) Console.Error.WriteLine($"eval: skipped {loader.SkippedFiles} unreadable images (reported above by path)");
        return result;
    }

    internal static void Print(EvalResult r, TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(inv, $"images: {r.Images}"));
        w.WriteLine(string.Create(inv, $"top-1:  {r.Top1:F4}"));
        w.WriteLine(string.Create(inv, $"top-{Math.Min(5, r.NumClasses)}:  {r.Top5:F4}"));
        w.WriteLine(string.Create(inv, $"loss:   {r.Loss:F4}"));
        w.WriteLine();
        w.Write(EvalPictures.PerClassTable(r));
    }
}
