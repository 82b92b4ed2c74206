// The shapes generator as an in-memory dataset (images drawn on demand, nothing on disk).
using Ascan.Data;
using Ascan.Data.Imaging;

namespace Ascan.Data.Shapes;

/// <summary>
/// <paramref name="count"/> scenes of one split, generated when loaded. Same labels and pixels as the PNGs
/// <see cref="ShapesWriter"/> writes for that split (PNG is lossless).
/// </summary>
public sealed class ShapesDataset(ShapesGenerator generator, int count, int split = 0) : IImageDataset
{
    public ShapesGenerator Generator { get; } = generator;
    public int Split { get; } = split;
    public IReadOnlyList<string> ClassNames => Generator.ClassNames;
    public int Count { get; } = count > 0 ? count : throw new ArgumentException($"Shapes dataset size must be positive, got {count}.");

    public int Label(int index) => Generator.LabelOf(index);

    public Image Load(int index) => Generator.Generate(index, Split).Image;

    public string Describe(int index) => $"shapes/{(Split == 0 ? "train" : Split == 1 ? "val" : $"split{Split}")}#{index}";
}
