// The one place an input size is resolved: the flag, else the checkpoint's training size, else the model's default.
using Ascan.Training.Train;

namespace Ascan.Training;

/// <summary>Resolves the input size every verb and loader runs at, in one order.</summary>
public static class ImageSize
{
    /// <summary>The order <see cref="Resolve"/> applies, as --help states it.</summary>
    public const string Order = "the checkpoint's training size, else the model's input size";

    /// <summary>
    /// The input size a verb runs at: <paramref name="flag"/> (--image-size) when given, else the size the checkpoint
    /// was trained at (<paramref name="checkpoint"/>.ImageSize, itself null when training used the model's), else
    /// <paramref name="modelDefault"/>, the registered model's input size.
    /// </summary>
    public static int Resolve(int? flag, TrainConfig? checkpoint, int modelDefault) => flag ?? checkpoint?.ImageSize ?? modelDefault;
}
