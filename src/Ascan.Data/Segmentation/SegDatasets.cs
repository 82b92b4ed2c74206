// Segmentation datasets: the contract the loader reads (image + label map by index) and the folder layouts it opens.
using System.Collections.Concurrent;
using Ascan.Data.Imaging;

namespace Ascan.Data.Segmentation;

/// <summary>
/// A finite, indexable set of (image, label map) pairs. <see cref="Load"/> must be safe to call from several threads;
/// a bad pair throws <see cref="ImageDecodeException"/> naming the file (the loader reports, skips and counts it).
/// Labels are class indices 0..ClassNames.Count − 1, 255 = ignore.
/// </summary>
public interface ISegDataset
{
    IReadOnlyList<string> ClassNames { get; }
    int Count { get; }

    SegPair Load(int index);

    /// <summary>Where item <paramref name="index"/> comes from (its image path), for messages.</summary>
    string Describe(int index);
}

/// <summary>The folder layouts <see cref="SegDatasets.Open"/> recognises.</summary>
public enum SegLayout
{
    /// <summary>ADE20K's release: images/{training,validation}/*.jpg, annotations/…/*.png, no class list; reduce_zero_label, 150 classes.</summary>
    Ade20k,

    /// <summary>ADE20K's layout with a class list (classes.txt): labels as they are (what the shapes writer makes).</summary>
    Annotations,

    /// <summary>images/ + masks/ (split sub-folders optional) with classes.txt: labels as they are.</summary>
    Masks,
}

/// <summary>A pair left out, by file name, with why.</summary>
public sealed record SkippedPair(string File, string Reason)
{
    public override string ToString() => $"{File}: {Reason}";
}

/// <summary>How <see cref="SegDatasets.Open"/> reads a folder.</summary>
public sealed record SegDatasetOptions
{
    /// <summary>Overrides the layout's rule (ADE20K: true, others: false).</summary>
    public bool? ReduceZeroLabel { get; init; }

    /// <summary>Decode every pair when opening and leave the bad ones out (slow on big sets; otherwise they are found when loaded).</summary>
    public bool Verify { get; init; }
}

/// <summary>
/// One split of a segmentation folder. Images are paired with label PNGs of the same relative path and stem;
/// an image without a label is left out when opening, and a pair whose sizes differ or whose labels hold values
/// ≥ the class count (other than 255) when loaded (or when opening, with Verify). Both kinds are listed in
/// <see cref="Skipped"/>.
/// </summary>
public sealed class SegFolderDataset : ISegDataset
{
    private readonly string[] _images, _labels;
    private readonly string[] _classNames;
    private readonly List<SkippedPair> _skippedAtOpen = new();
    private readonly ConcurrentDictionary<int, SkippedPair> _skippedAtLoad = new();

    public string Root { get; }
    public SegLayout Layout { get; }
    public string ImageFolder { get; }
    public string LabelFolder { get; }
    public bool ReduceZeroLabel { get; }
    public IReadOnlyList<string> ClassNames => _classNames;
    public int Count => _images.Length;
    public IReadOnlyList<string> ImageFiles => _images;
    public IReadOnlyList<string> LabelFiles => _labels;

    /// <summary>Pairs left out so far (at opening, and those found bad when loaded), in file-name order.</summary>
    public IReadOnlyList<SkippedPair> Skipped =>
        _skippedAtOpen.Concat(_skippedAtLoad.Values).OrderBy(s => s.File, StringComparer.Ordinal).ToArray();

    public int SkippedCount => _skippedAtOpen.Count + _skippedAtLoad.Count;

    internal SegFolderDataset(string root, SegLayout layout, string imageFolder, string labelFolder, string[] classNames,
        bool reduceZeroLabel, bool verify)
    {
        Root = root; Layout = layout; ImageFolder = imageFolder; LabelFolder = labelFolder;
        _classNames = classNames; ReduceZeroLabel = reduceZeroLabel;
        var images = new List<string>();
        var labels = new List<string>();
        var found = Directory.EnumerateFiles(imageFolder, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(ImageIO.HasImageExtension)
            .Select(p => Path.GetRelativePath(imageFolder, p))
            .OrderBy(p => p, StringComparer.Ordinal);
        foreach (var rel in found)
        {
            string label = Path.Combine(labelFolder, Path.ChangeExtension(rel, ".png"));
            string image = Path.Combine(imageFolder, rel);
            if (!File.Exists(label)) { _skippedAtOpen.Add(new SkippedPair(image, $"no label map (expected {label})")); continue; }
            images.Add(image); labels.Add(label);
        }
        if (images.Count == 0)
            throw new InvalidDataException(_skippedAtOpen.Count > 0
                ? $"Segmentation folder '{imageFolder}': none of its {_skippedAtOpen.Count} images has a label map in '{labelFolder}' (same name, .png)."
                : $"Segmentation folder '{imageFolder}' holds no .jpg/.jpeg/.png images.");
        if (verify)
        {
            var bad = new string?[images.Count];
            Parallel.For(0, images.Count, i =>
            {
                try { Read(images[i], labels[i]); }
                catch (Exception e) when (e is ImageDecodeException or IOException or InvalidDataException) { bad[i] = e.Message; }
            });
            for (int i = images.Count - 1; i >= 0; i--)
                if (bad[i] is { } why) { _skippedAtOpen.Add(new SkippedPair(images[i], Reason(why, images[i], labels[i]))); images.RemoveAt(i); labels.RemoveAt(i); }
            if (images.Count == 0) throw new InvalidDataException($"Segmentation folder '{imageFolder}': every pair is bad (first: {Skipped[0]}).");
        }
        _images = images.ToArray();
        _labels = labels.ToArray();
    }

    public SegPair Load(int index)
    {
        try { return Read(_images[index], _labels[index]); }
        catch (ImageDecodeException e)
        {
            _skippedAtLoad.TryAdd(index, new SkippedPair(_images[index], Reason(e.Message, _images[index], _labels[index])));
            throw;
        }
    }

    public string Describe(int index) => _images[index];

    /// <summary>The label map's file for item <paramref name="index"/>.</summary>
    public string LabelFile(int index) => _labels[index];

    private SegPair Read(string imagePath, string labelPath)
    {
        var image = ImageIO.Load(imagePath);
        var label = LabelMap.LoadFor(labelPath, image, ReduceZeroLabel);
        int k = _classNames.Length;
        var d = label.Data;
        for (int i = 0; i < d.Length; i++)
            if (d[i] >= k && d[i] != LabelMap.Ignore)
                throw new ImageDecodeException(labelPath,
                    $"label value {d[i]} at ({i % label.Width}, {i / label.Width}) is not a class (0–{k - 1}) nor 255 (ignore){(ReduceZeroLabel ? " after reduce_zero_label" : "")}.");
        return new SegPair(image, label);
    }

    // A message already names its file ("path: why"); keep the why, and name the label when it was the label's fault.
    private static string Reason(string message, string image, string label) =>
        message.StartsWith(label + ": ", StringComparison.Ordinal) ? $"label {Path.GetFileName(label)}: {message[(label.Length + 2)..]}"
        : message.StartsWith(image + ": ", StringComparison.Ordinal) ? message[(image.Length + 2)..]
        : message;
}

/// <summary>Opening a segmentation folder by what it holds.</summary>
public static class SegDatasets
{
    /// <summary>The class list file: one name per line, line n (from 0) names label value n.</summary>
    public const string ClassesFile = "classes.txt";

    /// <summary>ADE20K's release folder name, looked for inside the folder given.</summary>
    public const string AdeReleaseFolder = "ADEChallengeData2016";

    /// <summary>
    /// Finds the layout of <paramref name="root"/> (or of root/ADEChallengeData2016): images/ + annotations/ is ADE20K
    /// unless a class list (classes.txt or class_map.txt) sits beside them, images/ + masks/ needs the class list.
    /// Returns the folder that holds images/. Errors are one line naming the folder and what was expected.
    /// </summary>
    public static (SegLayout Layout, string Root) DetectLayout(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Segmentation dataset folder '{root}' does not exist.");
        if (!Directory.Exists(Path.Combine(root, "images")) && Directory.Exists(Path.Combine(root, AdeReleaseFolder, "images")))
            root = Path.Combine(root, AdeReleaseFolder);
        if (!Directory.Exists(Path.Combine(root, "images")))
            throw new InvalidDataException($"Segmentation dataset folder '{root}' has no images/ folder (expected images/{{training,validation}}/ beside annotations/ (ADE20K) or masks/).");
        bool annotations = Directory.Exists(Path.Combine(root, "annotations")), masks = Directory.Exists(Path.Combine(root, "masks"));
        if (!annotations && !masks)
            throw new InvalidDataException($"Segmentation dataset folder '{root}' has images/ but neither annotations/ (ADE20K layout) nor masks/ beside it.");
        bool classes = FindClassList(root) != null;
        if (annotations) return (classes ? SegLayout.Annotations : SegLayout.Ade20k, root);
        if (!classes)
            throw new InvalidDataException($"Segmentation dataset folder '{root}' has images/ and masks/ but no {ClassesFile} (one class name per line, line n names label value n).");
        return (SegLayout.Masks, root);
    }

    /// <summary>True when <paramref name="root"/> looks like a segmentation folder (images/ with annotations/ or masks/).</summary>
    public static bool IsSegmentationFolder(string root)
    {
        if (!Directory.Exists(root)) return false;
        foreach (var r in new[] { root, Path.Combine(root, AdeReleaseFolder) })
            if (Directory.Exists(Path.Combine(r, "images")) && (Directory.Exists(Path.Combine(r, "annotations")) || Directory.Exists(Path.Combine(r, "masks"))))
                return true;
        return false;
    }

    /// <summary>
    /// Opens split "train" or "val" of the segmentation folder at <paramref name="root"/> (layout from
    /// <see cref="DetectLayout"/>): images/training (or train) with annotations/training (or masks/…); "val" reads
    /// validation (or val). A masks layout without split folders serves images/ itself for either split.
    /// </summary>
    public static SegFolderDataset Open(string root, string split, SegDatasetOptions? options = null)
    {
        if (split is not ("train" or "val")) throw new ArgumentException($"Split must be 'train' or 'val', got '{split}'.");
        options ??= new SegDatasetOptions();
        var (layout, dir) = DetectLayout(root);
        string images = Path.Combine(dir, "images"), labels = Path.Combine(dir, layout == SegLayout.Masks ? "masks" : "annotations");
        string[] names = split == "train" ? ["training", "train"] : ["validation", "val"];
        string? sub = names.FirstOrDefault(n => Directory.Exists(Path.Combine(images, n)));
        string imageFolder, labelFolder;
        if (sub != null)
        {
            imageFolder = Path.Combine(images, sub);
            labelFolder = Path.Combine(labels, sub);
            if (!Directory.Exists(labelFolder))
                throw new InvalidDataException($"Segmentation dataset folder '{dir}' has images/{sub}/ but no {Path.GetFileName(labels)}/{sub}/ beside it.");
        }
        else if (layout == SegLayout.Masks && !Directory.EnumerateDirectories(images).Any())
        {
            imageFolder = images; labelFolder = labels;
        }
        else
        {
            var found = Directory.EnumerateDirectories(images).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            throw new InvalidDataException($"Segmentation dataset folder '{images}' has no {names[0]}/ or {names[1]}/ folder for split '{split}'"
                + (found.Length > 0 ? $" (found: {string.Join(", ", found.Take(5))})." : "."));
        }
        string[] classNames;
        if (layout == SegLayout.Ade20k) classNames = Ade20k.ClassNames.ToArray();
        else
        {
            classNames = ClassMap.Read(FindClassList(dir)!);
            if (classNames.Length > 255) throw new InvalidDataException($"Class list '{FindClassList(dir)}' names {classNames.Length} classes; label PNGs hold at most 255 (255 = ignore).");
        }
        bool reduce = options.ReduceZeroLabel ?? layout == SegLayout.Ade20k;
        return new SegFolderDataset(dir, layout, imageFolder, labelFolder, classNames, reduce, options.Verify);
    }

    private static string? FindClassList(string root)
    {
        foreach (var name in new[] { ClassesFile, ClassMap.FileName })
        {
            string p = Path.Combine(root, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }
}
