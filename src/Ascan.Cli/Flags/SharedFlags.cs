// The flags several verbs share, declared once: one name per concept (the output is always --output / -o).
namespace Ascan.Cli.Flags;

internal static class SharedFlags
{
    public static readonly FlagName Model = new("--model", "Registered model name (ascan info --list).");
    public static readonly FlagName Weights = new("--weights", "Training checkpoint or plain model safetensors.");
    public static readonly FlagName ImageSize = new("--image-size", "Input height and width (default: " + Ascan.Training.ImageSize.Order + ").");
    public static readonly FlagName BatchSize = new("--batch-size", "Images per batch.", ["-b"], Deprecated: ["--batch"]);
    public static readonly FlagName Workers = new("--workers", "Data-loading threads.", ["-j"]);
    /// <summary>Where a verb writes: a folder (train, eval, data shapes) or a file (infer). `--out` was eval's and data shapes' name.</summary>
    public static readonly FlagName Output = new("--output", "Output folder.", ["-o"], Deprecated: ["--out"]);
    /// <summary>Generated images of each split (data shapes, demo); `--train`/`--val` were data shapes' names.</summary>
    public static readonly FlagName TrainImages = new("--train-images", "Generated training images.", Deprecated: ["--train"]);
    public static readonly FlagName ValImages = new("--val-images", "Generated validation images.", Deprecated: ["--val"]);
    public static readonly FlagName Seed = new("--seed", "Random seed.");
    public static readonly FlagName UseEma = new("--use-ema", "Use the training checkpoint's EMA weights instead of its model weights.");
    public static readonly FlagName Verbose = new("--verbose", "On a weights/model key mismatch, list every key (default: counts and the first few).");
    public static readonly FlagName NumClasses = new("--num-classes", "Classifier classes (default: the model's).");
    public static readonly FlagName Json = new("--json", "Print JSON on stdout instead of text.");
    public static readonly FlagName Threads = new("--threads", "Kernel threads (default: all processors).");

    /// <summary>The problem with a count that must be at least <paramref name="min"/>, or null (a <c>check</c> for <see cref="ConfigBinder{T}.Add"/>).</summary>
    public static Func<int, string?> AtLeast(int min) => v => v >= min ? null : $"must be at least {min}";
}
