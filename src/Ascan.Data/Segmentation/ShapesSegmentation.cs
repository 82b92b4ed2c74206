// The shapes generator's scenes as a segmentation set: on disk in ADE20K's layout with a class list, or in memory.
using System.Diagnostics;
using System.Text.Json;
using Ascan.Data.Imaging;
using Ascan.Data.Shapes;

namespace Ascan.Data.Segmentation;

/// <summary>
/// Segmentation classes of the shapes scenes: 0 = background, c + 1 = shape kind c of the generator (its ordinal
/// name order), exactly the generator's mask values. Default scenes: 1–3 objects of the first 4 kinds (circle,
/// square, star, triangle), so at 64–96 px objects stay 13 px or more across and a small model learns them in minutes.
/// </summary>
public static class ShapesSegmentation
{
    public const string Background = "background";

    /// <summary>The settings file that marks a folder as written by <see cref="ShapesSegmentationWriter"/>.</summary>
    public const string SettingsFile = "shapes_seg.json";

    /// <summary>The default scenes of the segmentation set (textured backgrounds, random colours).</summary>
    public static ShapesConfig DefaultConfig(int imageSize = 64, ulong seed = 0) =>
        new() { Size = imageSize, Classes = 4, MinObjects = 1, MaxObjects = 3, Seed = seed, Textures = true };

    /// <summary>"background" then the generator's class names: line n of classes.txt names label value n.</summary>
    public static string[] ClassNames(ShapesGenerator generator) => [Background, .. generator.ClassNames];

    /// <summary>Scene <paramref name="index"/> of <paramref name="split"/> as an (image, label map) pair.</summary>
    public static SegPair Pair(ShapesGenerator generator, long index, int split)
    {
        var scene = generator.Generate(index, split);
        return new SegPair(scene.Image, new LabelMap(scene.Image.Width, scene.Image.Height, scene.Mask));
    }
}

/// <summary>The scenes of one split, generated when loaded (the same pixels and labels the writer saves).</summary>
public sealed class ShapesSegDataset(ShapesGenerator generator, int count, int split = 0) : ISegDataset
{
    private readonly string[] _names = ShapesSegmentation.ClassNames(generator);

    public ShapesGenerator Generator { get; } = generator;
    public int Split { get; } = split;
    public IReadOnlyList<string> ClassNames => _names;
    public int Count { get; } = count > 0 ? count : throw new ArgumentException($"Shapes segmentation set size must be positive, got {count}.");

    public SegPair Load(int index) => ShapesSegmentation.Pair(Generator, index, Split);

    public string Describe(int index) => $"shapes-seg/{(Split == 0 ? "training" : Split == 1 ? "validation" : $"split{Split}")}#{index}";
}

/// <summary>
/// Writes the shapes segmentation set. Layout (ADE20K's, without reduce_zero_label, so <see cref="SegDatasets.Open"/>
/// reads it as <see cref="SegLayout.Annotations"/>): DIR/images/{training,validation}/NNNNNN.png (RGB),
/// DIR/annotations/{training,validation}/NNNNNN.png (8-bit gray, 0 = background, c + 1 = shape class c),
/// DIR/classes.txt (line n names label value n) and DIR/shapes_seg.json (the settings). Training scenes are the
/// generator's split 0, validation split 1, so the same seed gives the same files.
/// </summary>
public static class ShapesSegmentationWriter
{
    public sealed record Summary(int Train, int Val, int Classes, int Size, double Seconds);

    /// <summary>Writes <paramref name="trainCount"/> + <paramref name="valCount"/> scenes of the default settings.</summary>
    public static Summary Write(string folder, int trainCount, int valCount, int imageSize = 64, ulong seed = 0) =>
        Write(folder, ShapesSegmentation.DefaultConfig(imageSize, seed), trainCount, valCount);

    /// <param name="progress">Called with (images written, total) now and then, from one thread at a time.</param>
    public static Summary Write(string folder, ShapesConfig config, int trainCount, int valCount, Action<int, int>? progress = null)
    {
        if (trainCount < 0 || valCount < 0 || trainCount + valCount == 0) throw new ArgumentException("Shapes segmentation: train and val counts must be ≥ 0 and not both 0.");
        var gen = new ShapesGenerator(config);
        var sw = Stopwatch.StartNew();
        PrepareFolder(folder);
        int done = 0, total = trainCount + valCount;
        object progressLock = new();
        foreach (var (split, name, count) in new[] { (0, "training", trainCount), (1, "validation", valCount) })
        {
            if (count == 0) continue;
            string images = Path.Combine(folder, "images", name), labels = Path.Combine(folder, "annotations", name);
            Directory.CreateDirectory(images);
            Directory.CreateDirectory(labels);
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                var scene = gen.Generate(i, split);
                Png.Save(scene.Image, Path.Combine(images, $"{i:D6}.png"));
                Png.Save(scene.MaskImage, Path.Combine(labels, $"{i:D6}.png"));
                int n = Interlocked.Increment(ref done);
                if (progress != null && (n % 250 == 0 || n == total)) lock (progressLock) progress(n, total);
            });
        }
        var names = ShapesSegmentation.ClassNames(gen);
        File.WriteAllText(Path.Combine(folder, SegDatasets.ClassesFile), string.Join("\n", names) + "\n");
        File.WriteAllText(Path.Combine(folder, ShapesSegmentation.SettingsFile), JsonSerializer.Serialize(new
        {
            generator = "ascan shapes segmentation",
            layout = "images/{training,validation}/*.png + annotations/{training,validation}/*.png, classes.txt (no reduce_zero_label)",
            size = config.Size,
            classes = names,
            min_objects = config.MinObjects,
            max_objects = config.MaxObjects,
            seed = config.Seed,
            textures = config.Textures,
            train = trainCount,
            val = valCount,
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new Summary(trainCount, valCount, names.Length, config.Size, sw.Elapsed.TotalSeconds);
    }

    /// <summary>A folder holding an earlier set (it has shapes_seg.json) is cleared of it; any other non-empty folder is refused.</summary>
    private static void PrepareFolder(string dir)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!File.Exists(Path.Combine(dir, ShapesSegmentation.SettingsFile)))
                throw new ArgumentException($"Output folder '{dir}' is not empty and holds no shapes segmentation set (no {ShapesSegmentation.SettingsFile}); choose an empty or new folder.");
            foreach (var sub in new[] { "images", "annotations" })
                if (Directory.Exists(Path.Combine(dir, sub))) Directory.Delete(Path.Combine(dir, sub), recursive: true);
        }
        Directory.CreateDirectory(dir);
    }
}
