// CIFAR-10 / CIFAR-100 binary batches (the "binary version" archives), held in memory.
using Ascan.Data.Imaging;

namespace Ascan.Data;

/// <summary>
/// CIFAR binary records: CIFAR-10 = 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B planes of 32×32) in
/// data_batch_1..5.bin (train) and test_batch.bin; CIFAR-100 = coarse + fine label bytes + 3072 in train.bin /
/// test.bin. Class names come from batches.meta.txt / fine_label_names.txt / coarse_label_names.txt when present.
/// </summary>
public sealed class CifarDataset : IImageDataset
{
    private const int Side = 32, Pixels = Side * Side * 3;
    private static readonly string[] Cifar10Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    private readonly byte[] _pixels;    // N × 3072, planar per record
    private readonly int[] _labels;
    private readonly string _name;

    public bool IsCifar100 { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int Count => _labels.Length;

    /// <param name="dir">The folder holding the .bin files (e.g. cifar-10-batches-bin).</param>
    /// <param name="train">Training batches (else the test batch).</param>
    /// <param name="coarse">CIFAR-100 only: the 20 coarse labels instead of the 100 fine ones.</param>
    public CifarDataset(string dir, bool train, bool coarse = false)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"CIFAR folder '{dir}' does not exist.");
        string[] files;
        if (File.Exists(Path.Combine(dir, "train.bin")) || File.Exists(Path.Combine(dir, "test.bin")))
        {
            IsCifar100 = true;
            files = [Path.Combine(dir, train ? "train.bin" : "test.bin")];
        }
        else if (train)
        {
            files = Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"data_batch_{i}.bin")).Where(File.Exists).ToArray();
            if (files.Length == 0) throw new FileNotFoundException($"CIFAR folder '{dir}' has no data_batch_*.bin (CIFAR-10) or train.bin (CIFAR-100).");
        }
        else files = [Path.Combine(dir, "test_batch.bin")];
        if (coarse && !IsCifar100) throw new ArgumentException("Coarse labels exist only in CIFAR-100.");

        int labelBytes = IsCifar100 ? 2 : 1, record = labelBytes + Pixels;
        var pixels = new List<byte[]>();
        var labels = new List<int>();
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"CIFAR batch '{f}' is missing.", f);
            var bytes = File.ReadAllBytes(f);
            if (bytes.Length == 0 || bytes.Length % record != 0)
                throw new InvalidDataException($"CIFAR batch '{f}' has {bytes.Length} bytes, not a multiple of the {record}-byte record ({(IsCifar100 ? "CIFAR-100" : "CIFAR-10")}).");
            int n = bytes.Length / record;
            var px = new byte[n * Pixels];
            for (int i = 0; i < n; i++)
            {
                int rec = i * record;
                labels.Add(IsCifar100 ? bytes[rec + (coarse ? 0 : 1)] : bytes[rec]);
                Buffer.BlockCopy(bytes, rec + labelBytes, px, i * Pixels, Pixels);
            }
            pixels.Add(px);
        }
        _pixels = pixels.SelectMany(p => p).ToArray();
        _labels = labels.ToArray();
        _name = $"{(IsCifar100 ? "cifar100" : "cifar10")}/{(train ? "train" : "test")}";

        int classes = IsCifar100 ? (coarse ? 20 : 100) : 10;
        string metaFile = IsCifar100 ? (coarse ? "coarse_label_names.txt" : "fine_label_names.txt") : "batches.meta.txt";
        string metaPath = Path.Combine(dir, metaFile);
        string[]? names = null;
        if (File.Exists(metaPath))
        {
            names = File.ReadAllLines(metaPath).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            if (names.Length != classes) names = null;
        }
        ClassNames = names ?? (IsCifar100 ? Enumerable.Range(0, classes).Select(i => $"class_{i:D2}").ToArray() : Cifar10Names);
        int bad = Array.FindIndex(_labels, l => l >= classes);
        if (bad >= 0) throw new InvalidDataException($"{_name}: record {bad} has label {_labels[bad]}, expected < {classes}.");
    }

    public int Label(int index) => _labels[index];

    /// <summary>Shapes: record (3, 32, 32) planar → image (32, 32, 3).</summary>
    public Image Load(int index)
    {
        var img = new Image(Side, Side, 3);
        int plane = Side * Side, src = index * Pixels;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++) img.Data[3 * i + c] = _pixels[src + c * plane + i];
        return img;
    }

    public string Describe(int index) => $"{_name}#{index}";
}
