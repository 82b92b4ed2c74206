// The dataset contract the loader reads from: labelled images by index.
using Ascan.Data.Imaging;

namespace Ascan.Data;

/// <summary>
/// A finite, indexable set of labelled images. <see cref="Load"/> must be safe to call from several threads at once;
/// an unreadable item throws <see cref="ImageDecodeException"/> naming it (the loader reports and skips it).
/// </summary>
public interface IImageDataset
{
    IReadOnlyList<string> ClassNames { get; }
    int Count { get; }

    /// <summary>The class of item <paramref name="index"/>, known without decoding it.</summary>
    int Label(int index);

    /// <summary>Decodes item <paramref name="index"/>.</summary>
    Image Load(int index);

    /// <summary>Where item <paramref name="index"/> comes from (a path, or "cifar10/train#12"), for messages.</summary>
    string Describe(int index);
}
