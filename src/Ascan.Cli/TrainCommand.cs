// `ascan train`: train a registered classifier on an ImageFolder (timm train.py's options in one typed config).
using System.CommandLine;
using System.Runtime.InteropServices;
using Ascan.Cli.Flags;
using Ascan.Models;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static class TrainCommand
{
    /// <summary>
    /// Every training flag, one declaration each: name, help, the <see cref="TrainConfig"/> field it sets. The defaults
    /// --help shows are <see cref="TrainConfig"/>'s own. --config and --resume choose the base config instead (see <see cref="Resolve"/>).
    /// </summary>
    internal static ConfigBinder<TrainConfig> Flags(TrainConfig? defaults = null) => new ConfigBinder<TrainConfig>(defaults ?? new TrainConfig())
        .Add(SharedFlags.Model, c => c.Model, (c, v) => c with { Model = v })
        .Add(new FlagName("--data", "Dataset root: DIR/train and DIR/val, one folder per class."), c => c.Data, (c, v) => c with { Data = v })
        .Add(SharedFlags.Output.WithHelp("Output folder for checkpoints, summary and curves; without it each run gets a new runs/train/<time>-<model>. A folder holding a run needs --resume or --overwrite."), c => c.Output, (c, v) => c with { Output = v })
        .Add(new FlagName("--epochs", "Epochs to train."), c => c.Epochs, (c, v) => c with { Epochs = v })
        .Add(SharedFlags.BatchSize, c => c.BatchSize, (c, v) => c with { BatchSize = v })
        .Add(new FlagName("--lr", "Peak learning rate (after warmup)."), c => c.Lr, (c, v) => c with { Lr = v })
        .Add(new FlagName("--weight-decay", "Weight decay (not applied to norms and biases)."), c => c.WeightDecay, (c, v) => c with { WeightDecay = v })
        .Add(new FlagName("--warmup-epochs", "Linear warmup length in epochs (fractions allowed)."), c => c.WarmupEpochs, (c, v) => c with { WarmupEpochs = v })
        .Add(new FlagName("--warmup-lr", "Learning rate at the first warmup update."), c => c.WarmupLr, (c, v) => c with { WarmupLr = v })
        .Add(new FlagName("--min-lr", "Floor of the cosine decay."), c => c.MinLr, (c, v) => c with { MinLr = v })
        .Add(new FlagName("--momentum", "SGD momentum (Nesterov); AdamW uses betas (0.9, 0.999)."), c => c.Momentum, (c, v) => c with { Momentum = v })
        .Add(SharedFlags.ImageSize.WithHelp("Training crop size (default: the data's image size when smaller than the model's input size, else the model's)."),
            c => c.ImageSize, (c, v) => c with { ImageSize = v })
        .Add(new FlagName("--scale-min", "Smallest crop area fraction of RandomResizedCrop (timm --scale's lower bound)."), c => c.ScaleMin, (c, v) => c with { ScaleMin = v })
        .Add(new FlagName("--hflip", "Horizontal flip probability."), c => c.Hflip, (c, v) => c with { Hflip = v })
        .Add(new FlagName("--smoothing", "Label smoothing."), c => c.Smoothing, (c, v) => c with { Smoothing = v })
        .Add(new FlagName("--mixup", "Mixup alpha (0 = off)."), c => c.Mixup, (c, v) => c with { Mixup = v })
        .Add(new FlagName("--cutmix", "CutMix alpha (0 = off)."), c => c.Cutmix, (c, v) => c with { Cutmix = v })
        .Add(new FlagName("--drop-path", "Stochastic depth rate."), c => c.DropPath, (c, v) => c with { DropPath = v })
        .Add(new FlagName("--aa", "RandAugment policy, e.g. rand-m9-mstd0.5 (none: off)."), c => c.AutoAugment ?? "none",
            (c, v) => c with { AutoAugment = v == "none" ? null : v }, key: "auto_augment")
        .Add(new FlagName("--reprob", "Random erasing probability."), c => c.ReProb, (c, v) => c with { ReProb = v }, key: "re_prob")
        .Add(new FlagName("--color-jitter", "Colour jitter strength (when RandAugment is off)."), c => c.ColorJitter, (c, v) => c with { ColorJitter = v })
        .Add(new FlagName("--ema", "Keep an EMA of the weights and evaluate it each epoch (--ema false to turn off)."), c => c.Ema, (c, v) => c with { Ema = v })
        .Add(new FlagName("--ema-decay", "EMA decay per optimizer update."), c => c.EmaDecay, (c, v) => c with { EmaDecay = v })
        .Add(new FlagName("--clip-grad", "Clip the global gradient norm to this value (default: no clipping)."), c => c.ClipGrad, (c, v) => c with { ClipGrad = v })
        .Add(new FlagName("--accum-steps", "Batches per optimizer update (gradient accumulation)."), c => c.AccumSteps, (c, v) => c with { AccumSteps = v })
        .Add(SharedFlags.Seed.WithHelp("Seed of weights, shuffling, augmentation and drop-path."), c => c.Seed, (c, v) => c with { Seed = v })
        .Add(new FlagName("--opt", "Optimizer: adamw, sgd (Nesterov momentum) or momentum (plain momentum SGD)."), c => c.Opt, (c, v) => c with { Opt = v })
        .Add(new FlagName("--sched", "Learning-rate decay after warmup: cosine, poly or constant."), c => c.Sched, (c, v) => c with { Sched = v })
        .Add(new FlagName("--poly-power", "Power of the poly decay."), c => c.PolyPower, (c, v) => c with { PolyPower = v })
        .Add(SharedFlags.Workers, c => c.Workers, (c, v) => c with { Workers = v });

    /// <param name="run">What runs with the resolved config (default: training; tests pass their own).</param>
    public static Command Create(Func<TrainConfig, int>? run = null) =>
        Verb("train", "Train a classifier on DIR/train, evaluating on DIR/val every epoch.", new TrainConfig(), run ?? (c => Run(c, Console.Out, out _)));

    /// <summary>
    /// A train verb of any task (train, segment train): the task's <paramref name="defaults"/> under every flag of
    /// <see cref="TrainConfig"/>, --config, --resume and --overwrite, resolved and placed as <see cref="Resolve"/> and
    /// <see cref="PlaceRun"/> say, then handed to <paramref name="run"/>.
    /// </summary>
    internal static Command Verb(string name, string what, TrainConfig defaults, Func<TrainConfig, int> run,
        Func<ConfigBinder<TrainConfig>, ConfigBinder<TrainConfig>>? taskFlags = null)
    {
        var cmd = new Command(name, what + " Writes OUT/config.json, summary.csv, curves.svg, last/best.safetensors, model.safetensors " +
            "(best's plain weights) and recovery.safetensors on Ctrl+C or SIGTERM (continue with --resume). Settings come from the " +
            "defaults, then --config FILE.json (or the checkpoint given to --resume), then the flags.");
        var config = new Option<string?>("--config") { Description = "JSON file of settings (snake_case keys as in OUT/config.json)." };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint to continue from exactly (recovery, last or best), in the run's own folder with its dataset (--data / --output override them). A finished run says so and exits 0." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Train into an --output folder that already holds a run, replacing its checkpoints, summary and curves. [default: false]" };
        cmd.Options.Add(config);
        cmd.Options.Add(resume);
        cmd.Options.Add(overwrite);
        var flags = taskFlags?.Invoke(Flags(defaults)) ?? Flags(defaults);
        flags.AddTo(cmd);

        // A failure escapes to CliRunner, which reports it in one line with the exit code for its kind.
        cmd.SetAction(r =>
        {
            var c = Resolve(r, flags, r.GetValue(config), r.GetValue(resume));
            if (c.Resume != null && ResumeCheck.Finished(c.Resume, Checkpoint.ReadInfo(c.Resume), c) is { } finished)
            {
                r.InvocationConfiguration.Error.WriteLine($"{CliRunner.Name(r)}: {finished}");
                return 0;
            }
            return run(PlaceRun(c, outputGiven: flags.IsGiven("output", r), r.GetValue(overwrite), defaultOutput: defaults.Output));
        });
        return cmd;
    }

    /// <summary>
    /// The validated config: the defaults, replaced by --config FILE.json or else by the config stored in the --resume
    /// checkpoint, with the given flags over it. An out-of-range value is reported by its flag when a flag set it.
    /// </summary>
    private static TrainConfig Resolve(ParseResult r, ConfigBinder<TrainConfig> flags, string? configPath, string? resumePath)
    {
        TrainConfig? stored = resumePath != null ? ResumeBase(resumePath) : null;
        var c = configPath != null ? TrainConfig.Load(configPath) : stored ?? flags.Defaults;
        c = flags.Bind(r, c) with { Resume = resumePath };
        if (stored != null && c.Model != stored.Model)
            throw new ArgumentException($"--model {c.Model}: the checkpoint {resumePath} is a run of {stored.Model}; a run resumes with its own model (drop --model, or start a new run).");
        if (c.FirstProblem() is { } p) throw new ArgumentException($"{flags.NameOf(p.Setting, r)} {p.Problem}");
        if (stored != null) ResumeNotes(r, flags, stored, c);
        return c;
    }

    /// <summary>
    /// The checkpoint's config as the base of a resumed run. Its dataset and output are absolute paths (so the run
    /// continues in its own folder from any working directory); a checkpoint written before they were stored
    /// absolute gets its own folder as output, where the trainer wrote it.
    /// </summary>
    private static TrainConfig ResumeBase(string resumePath)
    {
        var c = Checkpoint.ReadConfig(resumePath);
        return Path.IsPathRooted(c.Output) ? c : c with { Output = Path.GetDirectoryName(Path.GetFullPath(resumePath))! };
    }

    /// <summary>Says on stderr which flags override the checkpoint's paths and which settings differ from the checkpoint's.</summary>
    private static void ResumeNotes(ParseResult r, ConfigBinder<TrainConfig> flags, TrainConfig stored, TrainConfig c)
    {
        var err = r.InvocationConfiguration.Error;
        static string Full(string p) => p.Length == 0 ? p : Path.GetFullPath(p);
        if (flags.IsGiven("data", r) && Full(c.Data) != Full(stored.Data))
            err.WriteLine($"train: --data overrides the checkpoint's dataset path {stored.Data}");
        if (flags.IsGiven("output", r) && Full(c.Output) != Full(stored.Output))
            err.WriteLine($"train: --output overrides the checkpoint's output folder {stored.Output}");
        var changes = ResumeCheck.Changes(stored, c);
        if (changes.Count > 0)
            err.WriteLine("train: resuming with settings that differ from the checkpoint's (the run will not match an uninterrupted one): " +
                string.Join(", ", changes.Select(ch => $"{flags.NameOf(ch.Key, r)} {ch.Now} (checkpoint: {ch.Stored})")));
    }

    /// <summary>
    /// Where the run's files go, as timm: without --output (and without --resume, which continues its own folder) a new
    /// folder per run, runs/train/&lt;time&gt;-&lt;model&gt;; a folder that already holds a run is refused unless
    /// <paramref name="overwrite"/>, so a finished run (and its best checkpoint) is never replaced by accident.
    /// </summary>
    internal static TrainConfig PlaceRun(TrainConfig c, bool outputGiven, bool overwrite, DateTime? now = null, string? defaultOutput = null)
    {
        if (c.Resume != null) return c;
        if (!outputGiven && c.Output == (defaultOutput ?? new TrainConfig().Output))
        {
            return c with { Output = RunFolders.New(c.Output, c.Model, now ?? DateTime.Now) };
        }
        string[] runFiles = ["config.json", Trainer.LastFile, Trainer.BestFile, Trainer.RecoveryFile, "summary.csv"];
        var held = runFiles.Where(f => File.Exists(Path.Combine(c.Output, f))).ToList();
        if (held.Count == 0 || overwrite) return c;
        string resumeFrom = Path.Combine(c.Output, held.Contains(Trainer.RecoveryFile) ? Trainer.RecoveryFile : Trainer.LastFile);
        throw new ArgumentException($"--output {c.Output} already holds a run ({string.Join(", ", held)}): continue it with --resume {resumeFrom}, " +
            "replace it with --overwrite, or choose another --output.");
    }

    /// <summary>
    /// <paramref name="c"/> with the image size the data suggests when no size was set (<see cref="TrainData.SizeFromData"/>),
    /// said on <paramref name="log"/>; the size is then stored in config.json and every checkpoint.
    /// </summary>
    internal static TrainConfig WithDataSize(TrainConfig c, Ascan.Data.IImageDataset trainSet, int modelSize, TextWriter log)
    {
        if (c.ImageSize != null || TrainData.SizeFromData(trainSet, modelSize) is not { } fromData) return c;
        log.WriteLine($"train: --image-size {fromData} from the data (its images are about {fromData} px; {c.Model}'s input size is {modelSize}; set --image-size to choose)");
        return c with { ImageSize = fromData };
    }

    /// <summary>
    /// Trains with <paramref name="c"/>: loaders over c.Data, the registered model, a progress bar on stderr, and
    /// Ctrl+C (SIGINT) or SIGTERM (what schedulers send) writing a recovery checkpoint. Returns 0 when done, 130 when
    /// interrupted by Ctrl+C, 143 by SIGTERM (128 + the signal, as a shell reports it), 3 when training diverged.
    /// </summary>
    internal static int Run(TrainConfig c, TextWriter stdout, out TrainResult? result)
    {
        result = null;
        var entry = ModelRegistry.Get(c.Model);
        var (trainSet, valSet) = TrainData.OpenFolder(c.Data, Console.Error);
        c = WithDataSize(c, trainSet, entry.Config.InputSize, Console.Error);
        var train = TrainData.Loader(c, entry.Config, trainSet, training: true, Console.Error);
        var val = valSet == null ? null : TrainData.Loader(c, entry.Config, valSet, training: false, Console.Error);
        int classes = train.ClassNames.Count;
        var trainer = new Trainer(c, () => ModelRegistry.CreateClassifier(c.Model, new ModelOptions
        {
            NumClasses = classes, DropPath = c.DropPath, ImageSize = c.ImageSize, Seed = c.Seed,
        }), train, val) { Log = stdout };
        int code = RunTrainer(trainer, "train", out result);
        if (code != 0) return code;
        if (train.SkippedFiles > 0 || val?.SkippedFiles > 0)
            stdout.WriteLine($"skipped unreadable images: {train.SkippedFiles} train, {val?.SkippedFiles ?? 0} val (reported above by path)");
        // Without validation, checkpoints rank by the negated training loss; it is shown as the loss.
        var best = result!.BestMetric;
        var (metric, value) = val == null ? ("train loss", -best) : c.Ema ? ("EMA top-1", best) : ("val top-1", best);
        stdout.WriteLine(FormattableString.Invariant($"done: best {metric} {value:F4} at epoch {result.BestEpoch}; checkpoints in {c.Output} ({Trainer.LastFile}, {Trainer.BestFile})"));
        return 0;
    }

    /// <summary>
    /// Runs <paramref name="trainer"/> with the progress bar on stderr and Ctrl+C (SIGINT) or SIGTERM (what schedulers
    /// send) writing a recovery checkpoint, for every task's train verb. Returns 0 when done, 130 when interrupted by
    /// Ctrl+C, 143 by SIGTERM (128 + the signal, as a shell reports it), 3 when training diverged.
    /// </summary>
    internal static int RunTrainer(Trainer trainer, string verb, out TrainResult? result)
    {
        result = null;
        var bar = ProgressBar.ForStderr(trainer.Config.LogInterval);
        trainer.OnStep = bar.Report;
        using var cts = new CancellationTokenSource();
        int interruptCode = 130;
        // Returns false when already stopping: a second signal then ends the process at once.
        bool Stop(string what, int code)
        {
            lock (cts)
            {
                if (cts.IsCancellationRequested) return false;
                interruptCode = code;
                cts.Cancel();
            }
            bar.Break();
            Console.Error.WriteLine($"{verb}: {what} — finishing this step and writing a recovery checkpoint ({what} again to abort)");
            return true;
        }
        ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = Stop("Ctrl+C", 130);
        Console.CancelKeyPress += onCancel;
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => ctx.Cancel = Stop("SIGTERM", 143));
        try
        {
            result = trainer.Run(cts.Token);
        }
        catch (TrainingDivergedException e)
        {
            bar.Break();
            Console.Error.WriteLine($"{verb}: {e.Message}");
            return 3;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        return result.Completed ? 0 : interruptCode;
    }
}
