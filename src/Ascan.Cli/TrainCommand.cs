// `ascan train`: train a registered classifier on an ImageFolder (timm train.py's options in one typed config).
using System.CommandLine;
using Ascan.Models;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a classifier on DIR/train, evaluating on DIR/val every epoch. Writes OUT/config.json, summary.csv, " +
            "curves.svg, last/best.safetensors (and recovery.safetensors on Ctrl+C; continue with --resume). " +
            "Settings come from the defaults, then --config FILE.json (or the checkpoint given to --resume), then the flags.");
        var model = new Option<string?>("--model") { Description = "Registered model name (ascan info --list)." };
        var data = new Option<string?>("--data") { Description = "Dataset root: DIR/train and DIR/val, one folder per class." };
        var output = new Option<string?>("--output", "-o") { Description = "Output folder for checkpoints, summary and curves." };
        var config = new Option<string?>("--config") { Description = "JSON file of settings (snake_case keys as in OUT/config.json)." };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint to continue from exactly (recovery, last or best)." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs to train." };
        var batch = new Option<int?>("--batch-size", "-b") { Description = "Images per batch." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (after warmup)." };
        var wd = new Option<double?>("--weight-decay") { Description = "Weight decay (not applied to norms and biases)." };
        var warmup = new Option<double?>("--warmup-epochs") { Description = "Linear warmup length in epochs (fractions allowed)." };
        var minLr = new Option<double?>("--min-lr") { Description = "Floor of the cosine decay." };
        var size = new Option<int?>("--image-size") { Description = "Training crop size (default: the model's input size)." };
        var smoothing = new Option<double?>("--smoothing") { Description = "Label smoothing." };
        var mixup = new Option<double?>("--mixup") { Description = "Mixup alpha (0 = off)." };
        var cutmix = new Option<double?>("--cutmix") { Description = "CutMix alpha (0 = off)." };
        var dropPath = new Option<double?>("--drop-path") { Description = "Stochastic depth rate." };
        var aa = new Option<string?>("--aa") { Description = "RandAugment policy, e.g. rand-m9-mstd0.5 (none: off)." };
        var reprob = new Option<double?>("--reprob") { Description = "Random erasing probability." };
        var jitter = new Option<double?>("--color-jitter") { Description = "Colour jitter strength (when RandAugment is off)." };
        var ema = new Option<bool?>("--ema") { Description = "Keep an EMA of the weights and evaluate it each epoch (--ema false to turn off)." };
        var emaDecay = new Option<double?>("--ema-decay") { Description = "EMA decay per optimizer update." };
        var clip = new Option<double?>("--clip-grad") { Description = "Clip the global gradient norm to this value." };
        var accum = new Option<int?>("--accum-steps") { Description = "Batches per optimizer update (gradient accumulation)." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of weights, shuffling, augmentation and drop-path." };
        var opt = new Option<string?>("--opt") { Description = "Optimizer: adamw or sgd (Nesterov momentum)." };
        var workers = new Option<int?>("--workers", "-j") { Description = "Data-loading threads." };
        Option[] all = [model, data, output, config, resume, epochs, batch, lr, wd, warmup, minLr, size, smoothing, mixup, cutmix, dropPath, aa, reprob, jitter, ema, emaDecay, clip, accum, seed, opt, workers];
        foreach (var o in all) cmd.Options.Add(o);

        cmd.SetAction(r =>
        {
            try
            {
                string? resumePath = r.GetValue(resume), configPath = r.GetValue(config);
                var c = configPath != null ? TrainConfig.Load(configPath)
                    : resumePath != null ? Checkpoint.ReadConfig(resumePath)
                    : new TrainConfig();
                c = c with
                {
                    Model = r.GetValue(model) ?? c.Model,
                    Data = r.GetValue(data) ?? c.Data,
                    Output = r.GetValue(output) ?? c.Output,
                    Resume = resumePath,
                    Epochs = r.GetValue(epochs) ?? c.Epochs,
                    BatchSize = r.GetValue(batch) ?? c.BatchSize,
                    Lr = r.GetValue(lr) ?? c.Lr,
                    WeightDecay = r.GetValue(wd) ?? c.WeightDecay,
                    WarmupEpochs = r.GetValue(warmup) ?? c.WarmupEpochs,
                    MinLr = r.GetValue(minLr) ?? c.MinLr,
                    ImageSize = r.GetValue(size) ?? c.ImageSize,
                    Smoothing = r.GetValue(smoothing) ?? c.Smoothing,
                    Mixup = r.GetValue(mixup) ?? c.Mixup,
                    Cutmix = r.GetValue(cutmix) ?? c.Cutmix,
                    DropPath = r.GetValue(dropPath) ?? c.DropPath,
                    AutoAugment = r.GetValue(aa) is { } a ? (a == "none" ? null : a) : c.AutoAugment,
                    ReProb = r.GetValue(reprob) ?? c.ReProb,
                    ColorJitter = r.GetValue(jitter) ?? c.ColorJitter,
                    Ema = r.GetValue(ema) ?? c.Ema,
                    EmaDecay = r.GetValue(emaDecay) ?? c.EmaDecay,
                    ClipGrad = r.GetValue(clip) ?? c.ClipGrad,
                    AccumSteps = r.GetValue(accum) ?? c.AccumSteps,
                    Seed = r.GetValue(seed) ?? c.Seed,
                    Opt = r.GetValue(opt) ?? c.Opt,
                    Workers = r.GetValue(workers) ?? c.Workers,
                };
                return Run(c.Validate(), Console.Out, out _);
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"train: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    /// <summary>
    /// Trains with <paramref name="c"/>: loaders over c.Data, the registered model, a progress bar on stderr, and
    /// Ctrl+C writing a recovery checkpoint. Returns 0 when done, 130 when interrupted, 3 when training diverged.
    /// </summary>
    internal static int Run(TrainConfig c, TextWriter stdout, out TrainResult? result)
    {
        result = null;
        var entry = ModelRegistry.Get(c.Model);
        var (train, val) = TrainData.FromFolder(c, entry.Config, Console.Error);
        int classes = train.ClassNames.Count;
        var trainer = new Trainer(c, () => ModelRegistry.CreateClassifier(c.Model, new ModelOptions
        {
            NumClasses = classes, DropPath = c.DropPath, ImageSize = c.ImageSize, Seed = c.Seed,
        }), train, val) { Log = stdout };
        var bar = ProgressBar.ForStderr(c.LogInterval);
        trainer.OnStep = bar.Report;

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // a second Ctrl+C ends the process at once
            e.Cancel = true;
            cts.Cancel();
            bar.Break();
            Console.Error.WriteLine("train: interrupted — finishing this step and writing a recovery checkpoint (Ctrl+C again to abort)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            result = trainer.Run(cts.Token);
        }
        catch (TrainingDivergedException e)
        {
            bar.Break();
            Console.Error.WriteLine($"train: {e.Message}");
            return 3;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (!result.Completed) return 130;
        if (train.SkippedFiles > 0 || val?.SkippedFiles > 0)
            stdout.WriteLine($"skipped unreadable images: {train.SkippedFiles} train, {val?.SkippedFiles ?? 0} val (reported above by path)");
        string metric = c.Ema ? "EMA top-1" : val != null ? "val top-1" : "-train loss";
        stdout.WriteLine(FormattableString.Invariant($"done: best {metric} {result.BestMetric:F4} at epoch {result.BestEpoch}; checkpoints in {c.Output} ({Trainer.LastFile}, {Trainer.BestFile})"));
        return 0;
    }
}
