// The one place an input size is resolved: the flag, else the size the weights were trained at, else the model's default.
namespace Ascan.Training;

/// <summary>Resolves the input size every verb and loader runs at, in one order.</summary>
public static class ImageSize
{
    /// <summary>The order <see cref="Resolve"/> applies, as --help states it.</summary>
    public const string Order = "the training size stored in the weights, else the model's input size";

    /// <summary>
    /// The input size a verb runs at: <paramref name="flag"/> (--image-size) when given, else <paramref name="stored"/>,
    /// the size the weights were trained at (<see cref="Train.WeightsInfo.TrainedImageSize"/>), else
    /// <paramref name="modelDefault"/>, the registered model's input size. With <paramref name="warnings"/>, a guess
    /// (neither the flag nor the file gives the size) is said there, naming <paramref name="source"/> and the size used:
    /// weights trained at another size give poor results without any other sign.
    /// </summary>
    public static int Resolve(int? flag, int? stored, int modelDefault, TextWriter? warnings = null, string? source = null)
    {
        if (flag == null && stored == null)
            warnings?.WriteLine($"warning: {(source != null ? $"'{source}'" : "the weights")} does not say what image size it was trained at " +
                $"and --image-size is not given: using the model's input size, {modelDefault} px. Pass --image-size N if it was trained at another size.");
        return flag ?? stored ?? modelDefault;
    }
}
