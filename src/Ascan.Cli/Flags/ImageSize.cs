// The one place an input size is resolved: the flag, else the checkpoint's training size, else the model's default.
using Ascan.Models;
using Ascan.Training.Train;

namespace Ascan.Cli.Flags;

internal static class ImageSize
{
    /// <summary>The order <see cref="Resolve"/> applies, as --help states it.</summary>
    public const string Order = "the checkpoint's training size, else the model's input size";

    /// <summary>
    /// The input size a verb runs at: <paramref name="flag"/> (--image-size) when given, else the size the checkpoint
    /// was trained at (<paramref name="checkpoint"/>.ImageSize, itself null when training used the model's), else
    /// <paramref name="modelDefault"/>, the registered model's input size.
    /// </summary>
    public static int Resolve(int? flag, TrainConfig? checkpoint, int modelDefault) => flag ?? checkpoint?.ImageSize ?? modelDefault;

    /// <summary>
    /// <see cref="Resolve"/> for a weights file: the checkpoint's config when it is a training checkpoint, the model
    /// named by <paramref name="model"/> or by the checkpoint. Null when neither names a model (the loader then
    /// says to pass --model).
    /// </summary>
    public static int? ForWeights(int? flag, string? model, string weightsPath)
    {
        TrainConfig? trained = File.Exists(weightsPath) && Checkpoint.IsCheckpoint(weightsPath) ? Checkpoint.ReadConfig(weightsPath) : null;
        string? name = model ?? trained?.Model;
        return name == null ? flag : Resolve(flag, trained, ModelRegistry.Get(name).Config.InputSize);
    }
}
