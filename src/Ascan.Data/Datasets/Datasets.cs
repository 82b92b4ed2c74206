// Opening a dataset folder by what it holds: CIFAR binary batches or an ImageFolder (with train/ and val/ splits).
namespace Ascan.Data;

public static class Datasets
{
    /// <summary>
    /// Opens split "train" or "val" of the dataset at <paramref name="root"/>: a CIFAR-10/100 binary folder
    /// (data_batch_*.bin / test_batch.bin, or train.bin / test.bin; "val" reads the test batch), else an ImageFolder
    /// at ROOT/split (ROOT/validation for "val"), or ROOT itself when it has no such sub-folder.
    /// <paramref name="classNames"/> (e.g. a checkpoint's class map) fixes the ImageFolder class indices.
    /// </summary>
    public static IImageDataset Open(string root, string split, IReadOnlyList<string>? classNames = null)
    {
        if (split is not ("train" or "val")) throw new ArgumentException($"Split must be 'train' or 'val', got '{split}'.");
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Dataset folder '{root}' does not exist.");
        bool cifar = File.Exists(Path.Combine(root, "data_batch_1.bin")) || File.Exists(Path.Combine(root, "test_batch.bin"))
                     || File.Exists(Path.Combine(root, "train.bin")) || File.Exists(Path.Combine(root, "test.bin"));
        if (cifar) return new CifarDataset(root, train: split == "train");
        return new ImageFolderDataset(ImageFolderDataset.ResolveSplit(root, split), classNames);
    }
}
