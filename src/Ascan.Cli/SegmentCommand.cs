// `ascan segment train|eval|predict`: UPerNet segmenters as mmsegmentation trains, scores and draws them.
using System.CommandLine;
using Ascan.Cli.Flags;
using Ascan.Core.IO;
using Ascan.Data;
using Ascan.Data.Segmentation;
using Ascan.Models;
using Ascan.Models.Segmentation;
using Ascan.Nn.Serialization;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static partial class SegmentCommand
{
    /// <summary>
    /// mmseg's transformer-backbone recipe (AdamW lr 6e-5, weight decay 0.01, poly decay power 1 to 0, linear warm-up)
    /// as epochs of the shared loop; crops of --image-size (512 on ADE20K), no label smoothing, no mixup.
    /// </summary>
    public static TrainConfig Defaults => new()
    {
        Model = "upernet_ascan_nano",
        Output = "runs/segment",
        Epochs = 40,
        BatchSize = 8,
        Lr = 6e-5,
        WeightDecay = 0.01,
        Sched = "poly",
        PolyPower = 1.0,
        MinLr = 0,
        WarmupEpochs = 1,
        WarmupLr = 6e-11, // mmseg's LinearLR start_factor 1e-6
        Smoothing = 0,
        ColorJitter = 0,
    };

    public static Command Create()
    {
        var cmd = new Command("segment", "Semantic segmentation (UPerNet on AsCAN and baseline backbones): train, eval, predict.");
        cmd.Subcommands.Add(Train());
        cmd.Subcommands.Add(Eval());
        cmd.Subcommands.Add(Predict());
        return cmd;
    }

    /// <param name="run">What runs with the resolved config (default: training; tests pass their own).</param>
    public static Command Train(Func<TrainConfig, int>? run = null) =>
        TrainCommand.Verb("train", "Train a segmenter on DIR (ADE20K's images/ + annotations/, the shapes layout, or images/ + masks/ " +
            "with classes.txt), evaluating mIoU on the validation split every epoch; writes per_class.csv and overlays/ too. " +
            "--image-size is the training crop.", Defaults, run ?? (c => RunTrain(c, Console.Out, out _)), TaskFlags);

    /// <summary>The flags segment train adds to train's.</summary>
    internal static ConfigBinder<TrainConfig> TaskFlags(ConfigBinder<TrainConfig> b) => b
        .Add(new FlagName("--init-backbone", "Classification weights (e.g. a train run's model.safetensors of the backbone) to start the backbone from; " +
            "its head and final norm are skipped."), c => c.InitBackbone, (c, v) => c with { InitBackbone = v })
        .Add(new FlagName("--ratio-range", "Random rescale of the training pipeline, low and high ratio (mmseg's ratio_range)."), c => new[] { c.RatioMin, c.RatioMax },
            (c, v) => v.Length == 2 ? c with { RatioMin = v[0], RatioMax = v[1] } : throw new ArgumentException($"--ratio-range takes two numbers (low high), got {v.Length}."),
            configure: o => o.AllowMultipleArgumentsPerToken = true);

    /// <summary>Trains <paramref name="c"/>; returns 0 when done, 130 when interrupted, 3 when training diverged.</summary>
    internal static int RunTrain(TrainConfig c, TextWriter stdout, out TrainResult? result)
    {
        result = null;
        var entry = ModelRegistry.Get(c.Model);
        if (entry.Kind != ModelKind.Segmenter)
            throw new ArgumentException($"--model {c.Model} is a {entry.Kind.ToString().ToLowerInvariant()}; segment train trains a segmenter: {string.Join(", ", Segmenters())}.");
        if (c.InitBackbone != null) SafetensorsFile.RequireFile(c.InitBackbone, "--init-backbone weights");
        var (trainSet, valSet) = OpenData(c.Data, Console.Error);
        int crop = c.ImageSize ?? Math.Min(entry.Config.InputSize, DataSide(trainSet));
        if (c.ImageSize == null)
        {
            Console.Error.WriteLine($"segment train: crop {crop} (--image-size to choose)");
            c = c with { ImageSize = crop };
        }
        var transform = SegTransformConfig.ForCrop(crop) with
        {
            Mean = entry.Config.Mean, Std = entry.Config.Std, FlipProb = c.Hflip, RatioMin = c.RatioMin, RatioMax = c.RatioMax,
        };
        var train = DataLoader.ForSegTraining(trainSet, transform, new LoaderOptions
        {
            BatchSize = c.BatchSize, Shuffle = true, DropLast = trainSet.Count >= c.BatchSize, Seed = c.Seed, Workers = c.Workers, Log = Console.Error,
        });
        var val = valSet == null ? null : DataLoader.ForSegEvaluation(valSet, transform, new LoaderOptions
        {
            BatchSize = 1, Shuffle = false, Seed = c.Seed, Workers = c.Workers, Log = Console.Error,
        });
        int classes = trainSet.ClassNames.Count;
        var task = new SegmentationTask(SegmenterFactory(c, classes), train, val, entry.Config);
        var trainer = new Trainer(c, task, train) { Log = stdout };
        int code = TrainCommand.RunTrainer(trainer, "segment train", out result);
        if (code != 0) return code;
        if (trainSet.SkippedCount > 0 || valSet?.SkippedCount > 0)
            stdout.WriteLine($"skipped image/label pairs: {trainSet.SkippedCount} train, {valSet?.SkippedCount ?? 0} val (reported above by file)");
        var best = result!.BestMetric;
        var (metric, value) = val == null ? ("train loss", -best) : c.Ema ? ("EMA mIoU", best) : ("val mIoU", best);
        stdout.WriteLine(FormattableString.Invariant($"done: best {metric} {value:F4} at epoch {result.BestEpoch}; checkpoints in {c.Output} ({Trainer.LastFile}, {Trainer.BestFile})"));
        if (task.LastEval is { } last) stdout.WriteLine(last.Metrics.ToTable());
        return 0;
    }

    /// <summary>
    /// The segmenter of a run: the registered model with the data's classes; with --init-backbone (not on resume, where
    /// the checkpoint holds the weights), its backbone from a classifier's weights, read once for the model and its
    /// EMA copy, the classifier-only keys named once and skipped. Built the same way every call.
    /// </summary>
    private static Func<Segmenter> SegmenterFactory(TrainConfig c, int classes)
    {
        var init = c.InitBackbone != null && c.Resume == null ? SafetensorsState.Load(c.InitBackbone) : null;
        bool reported = false;
        return () =>
        {
            var m = Segmenter.Create(c.Model, new ModelOptions { NumClasses = classes, DropPath = c.DropPath, Seed = c.Seed });
            if (init == null) return m;
            var skipped = m.LoadBackbone(init);
            if (!reported)
                Console.Error.WriteLine($"segment train: backbone initialised from {c.InitBackbone}" +
                    (skipped.Count > 0 ? $" (skipped classifier-only keys: {string.Join(", ", skipped)})" : ""));
            reported = true;
            return m;
        };
    }

    /// <summary>The train split and, when the folder has one, the validation split; problems named by --data.</summary>
    internal static (SegFolderDataset Train, SegFolderDataset? Val) OpenData(string data, TextWriter log)
    {
        if (string.IsNullOrEmpty(data)) throw new ArgumentException("No dataset given: pass --data DIR (images/ + annotations/ as ADE20K, or images/ + masks/ with classes.txt).");
        try
        {
            var train = SegDatasets.Open(data, "train");
            if (train.Count == 0) throw new ArgumentException($"--data {data}: the training split has no image/label pairs.");
            if (train.ClassNames.Count < 2) throw new ArgumentException($"--data {data}: {train.ClassNames.Count} class; a segmenter needs at least 2 (e.g. background and one object).");
            SegFolderDataset? val = null;
            try { val = SegDatasets.Open(data, "val"); }
            catch (InvalidDataException) { log.WriteLine($"segment: no validation split in {data}: no mIoU during training, checkpoints are ranked by training loss"); }
            if (val is { Count: 0 }) val = null;
            return (train, val);
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"--data: {e.Message}", e);
        }
    }

    /// <summary>The short side of the first training image (the crop is never larger than the data).</summary>
    private static int DataSide(ISegDataset set)
    {
        var pair = set.Load(0);
        return Math.Min(pair.Image.Width, pair.Image.Height);
    }

    internal static IEnumerable<string> Segmenters() => ModelRegistry.List().Where(e => e.Kind == ModelKind.Segmenter).Select(e => e.Name);
}
