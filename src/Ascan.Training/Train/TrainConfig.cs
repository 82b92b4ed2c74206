// Every training setting in one typed record (timm train.py's arguments), with its defaults, JSON load/save and checks.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ascan.Training.Train;

/// <summary>
/// The resolved training configuration. Defaults here are the only defaults: the CLI starts from them (or from a
/// <c>--config</c> JSON file) and overrides what flags name. Saved to OUT/config.json and inside every checkpoint.
/// JSON names are snake_case, as timm's args.yaml.
/// </summary>
public sealed record TrainConfig
{
    // What to train, on what, where.
    public string Model { get; init; } = "ascan_nano";
    public string Data { get; init; } = "";
    public string Output { get; init; } = "runs/train";
    /// <summary>Checkpoint to continue from (recovery, last or any checkpoint written by the trainer).</summary>
    public string? Resume { get; init; }
    /// <summary>Segmentation: the random rescale ratio range of the training pipeline (mmseg's ratio_range), low end.</summary>
    public double RatioMin { get; init; } = 0.5;
    /// <summary>Segmentation: the high end of the random rescale ratio range.</summary>
    public double RatioMax { get; init; } = 2.0;
    /// <summary>Classification weights that initialise a segmenter's backbone (the keys it lacks are named and skipped).</summary>
    public string? InitBackbone { get; init; }

    /// <summary>Diffusion (generate train): objective, noise schedule, guidance dropout, eval sampling; null for the other tasks.</summary>
    public Generation.DiffusionOptions? Diffusion { get; init; }

    // Schedule.
    public int Epochs { get; init; } = 30;
    public int BatchSize { get; init; } = 64;
    /// <summary>Peak learning rate, reached after warmup.</summary>
    public double Lr { get; init; } = 1e-3;
    /// <summary>Linear warmup length in epochs (fractions allowed), stepped per optimizer update.</summary>
    public double WarmupEpochs { get; init; } = 1;
    /// <summary>Learning rate at the first warmup update (timm's --warmup-lr).</summary>
    public double WarmupLr { get; init; } = 1e-6;
    /// <summary>Floor of the decay (timm's --min-lr, mmseg's eta_min).</summary>
    public double MinLr { get; init; } = 1e-6;
    /// <summary>"cosine" (timm), "poly" (mmseg's PolyLR) or "constant" (DiT: the peak after warmup).</summary>
    public string Sched { get; init; } = "cosine";
    /// <summary>Power of the poly decay (mmseg: 1.0 for the AdamW recipes, 0.9 for SGD).</summary>
    public double PolyPower { get; init; } = 1.0;

    // Optimizer.
    /// <summary>"adamw", "sgd" (Nesterov momentum, timm's) or "momentum" (plain momentum, torch.optim.SGD as mmseg uses it).</summary>
    public string Opt { get; init; } = "adamw";
    public double WeightDecay { get; init; } = 0.05;
    /// <summary>SGD momentum (Nesterov when &gt; 0); AdamW uses β = (0.9, 0.999).</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Global gradient-norm clip; null disables clipping.</summary>
    public double? ClipGrad { get; init; }
    /// <summary>Batches whose gradients are summed before one optimizer update.</summary>
    public int AccumSteps { get; init; } = 1;

    // Regularisation and augmentation (the data pipeline applies the image ones).
    public double Smoothing { get; init; } = 0.1;
    /// <summary>Mixup alpha (0 = off).</summary>
    public double Mixup { get; init; }
    /// <summary>CutMix alpha (0 = off).</summary>
    public double Cutmix { get; init; }
    public double DropPath { get; init; }
    /// <summary>Training crop size; null takes the model's default input size.</summary>
    public int? ImageSize { get; init; }
    /// <summary>Horizontal flip probability.</summary>
    public double Hflip { get; init; } = 0.5;
    /// <summary>RandomResizedCrop's lower bound on the crop's area fraction.</summary>
    public double ScaleMin { get; init; } = 0.08;
    public double ColorJitter { get; init; } = 0.4;
    /// <summary>timm auto-augment string such as "rand-m9-mstd0.5"; null or "" = none.</summary>
    public string? AutoAugment { get; init; }
    /// <summary>Random-erasing probability.</summary>
    public double ReProb { get; init; }

    // Weight averaging.
    /// <summary>Keep an exponential moving average of the weights and evaluate it every epoch.</summary>
    public bool Ema { get; init; }
    /// <summary>Per-update EMA decay (timm's --model-ema-decay).</summary>
    public double EmaDecay { get; init; } = 0.9998;
    /// <summary>Ramp the decay up over the first updates (timm ModelEmaV3 warmup), so short runs get a useful average.</summary>
    public bool EmaWarmup { get; init; } = true;

    // Run.
    public ulong Seed { get; init; } = 42;
    /// <summary>Data-loading worker threads (default: one per two cores, as the loader's own default).</summary>
    public int Workers { get; init; } = Ascan.Data.LoaderOptions.DefaultWorkers;
    /// <summary>Batches between plain progress lines when stderr is not a terminal.</summary>
    public int LogInterval { get; init; } = 50;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainConfig FromJson(string json, string source = "config")
    {
        try
        {
            return JsonSerializer.Deserialize<TrainConfig>(json, Json) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{source}: not a valid training config ({e.Message}). Keys are snake_case, e.g. \"batch_size\"; see OUT/config.json of any run.", e);
        }
    }

    public static TrainConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Training config '{path}' does not exist.", path);
        return FromJson(File.ReadAllText(path), path);
    }

    public void Save(string path) => File.WriteAllText(path, ToJson() + "\n");

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range (see <see cref="FirstProblem"/>).</summary>
    public TrainConfig Validate() =>
        FirstProblem() is { } p ? throw new ArgumentException($"{p.Setting} {p.Problem}") : this;

    /// <summary>
    /// The first setting out of range, as its snake_case key and what is wrong with it ("must be positive, got -1."),
    /// or null when all are in range. Split so a caller that took the value from elsewhere (a command-line flag) can
    /// name the setting its own way.
    /// </summary>
    public (string Setting, string Problem)? FirstProblem()
    {
        (bool Ok, string Setting, string Problem)[] checks =
        [
            (Epochs >= 1, "epochs", $"must be at least 1, got {Epochs}."),
            (BatchSize >= 1, "batch_size", $"must be at least 1, got {BatchSize}."),
            (AccumSteps >= 1, "accum_steps", $"must be at least 1, got {AccumSteps}."),
            (Lr > 0 && double.IsFinite(Lr), "lr", $"must be positive, got {Lr}."),
            (WarmupEpochs >= 0, "warmup_epochs", $"must be ≥ 0, got {WarmupEpochs}."),
            (MinLr >= 0, "min_lr", $"must be ≥ 0, got {MinLr}."),
            (WarmupLr >= 0, "warmup_lr", $"must be ≥ 0, got {WarmupLr}."),
            (WeightDecay >= 0, "weight_decay", $"must be ≥ 0, got {WeightDecay}."),
            (Momentum is >= 0 and < 1, "momentum", $"must be in [0, 1), got {Momentum}."),
            (ScaleMin is > 0 and <= 1, "scale_min", $"must be in (0, 1], got {ScaleMin}."),
            (Hflip is >= 0 and <= 1, "hflip", $"must be in [0, 1], got {Hflip}."),
            (RatioMin > 0 && RatioMin <= RatioMax, "ratio_range", $"must be two positive numbers, low then high, got {RatioMin} {RatioMax}."),
            (ColorJitter >= 0, "color_jitter", $"must be ≥ 0, got {ColorJitter}."),
            (ReProb is >= 0 and <= 1, "re_prob", $"must be in [0, 1], got {ReProb}."),
            (Opt is "adamw" or "sgd" or "momentum", "opt", $"must be 'adamw', 'sgd' or 'momentum', got '{Opt}'."),
            (Sched is "cosine" or "poly" or "constant", "sched", $"must be 'cosine', 'poly' or 'constant', got '{Sched}'."),
            (PolyPower > 0, "poly_power", $"must be positive, got {PolyPower}."),
            (Smoothing is >= 0 and < 1, "smoothing", $"must be in [0, 1), got {Smoothing}."),
            (Mixup >= 0, "mixup", $"alpha must be ≥ 0, got {Mixup}."),
            (Cutmix >= 0, "cutmix", $"alpha must be ≥ 0, got {Cutmix}."),
            (DropPath is >= 0 and < 1, "drop_path", $"must be in [0, 1), got {DropPath}."),
            (ClipGrad is null or > 0, "clip_grad", $"must be positive when set, got {ClipGrad}."),
            (EmaDecay is > 0 and < 1, "ema_decay", $"must be in (0, 1), got {EmaDecay}."),
            (ImageSize is null or >= 8, "image_size", $"must be at least 8, got {ImageSize}."),
            (Workers >= 0, "workers", $"must be ≥ 0, got {Workers}."),
            (LogInterval >= 1, "log_interval", $"must be at least 1, got {LogInterval}."),
        ];
        foreach (var (ok, setting, problem) in checks)
            if (!ok) return (setting, problem);
        return null;
    }
}
