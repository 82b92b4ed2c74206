// ImageFolder: one sub-folder per class of JPEG/PNG files, class index = ordinal-sorted folder name.
using Ascan.Data.Imaging;

namespace Ascan.Data;

/// <summary>
/// A folder of class folders (torchvision's ImageFolder layout). Files ending in .jpg/.jpeg/.png (any case) are
/// found recursively inside each class folder and sorted by relative path (ordinal), so indices are stable.
/// Given <c>classNames</c> (e.g. read from a checkpoint's class map), folders are mapped by name instead, so a
/// validation split missing a class still gets the training indices.
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private readonly string[] _classNames;
    private readonly string[] _files;
    private readonly int[] _labels;

    public string Root { get; }
    public IReadOnlyList<string> ClassNames => _classNames;
    public int Count => _files.Length;
    public IReadOnlyList<string> Files => _files;

    public ImageFolderDataset(string root, IReadOnlyList<string>? classNames = null)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        Root = root;
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Select(n => n!)
            .Where(n => !n.StartsWith('.')).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        if (folders.Length == 0)
            throw new InvalidDataException($"Image folder '{root}' has no class sub-folders (expected ROOT/<class>/<image>.jpg|png).");
        Dictionary<string, int> index;
        if (classNames == null)
        {
            _classNames = folders;
            index = folders.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        }
        else
        {
            _classNames = classNames.ToArray();
            index = _classNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
            var unknown = folders.Where(f => !index.ContainsKey(f)).ToArray();
            if (unknown.Length > 0)
                throw new InvalidDataException($"Image folder '{root}' has class folders not in the class map: {string.Join(", ", unknown.Take(5))}{(unknown.Length > 5 ? ", …" : "")}.");
        }
        var files = new List<string>();
        var labels = new List<int>();
        foreach (var f in folders)
        {
            string dir = Path.Combine(root, f);
            var found = Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                .Where(ImageIO.HasImageExtension)
                .Select(p => Path.GetRelativePath(dir, p))
                .OrderBy(p => p, StringComparer.Ordinal);
            foreach (var rel in found) { files.Add(Path.Combine(dir, rel)); labels.Add(index[f]); }
        }
        if (files.Count == 0)
            throw new InvalidDataException($"Image folder '{root}' has class folders but no .jpg/.jpeg/.png files in them.");
        _files = files.ToArray();
        _labels = labels.ToArray();
    }

    /// <summary>ROOT/split when that folder exists ("val" also tries "validation"), else ROOT itself.</summary>
    public static string ResolveSplit(string root, string split)
    {
        foreach (var name in split == "val" ? new[] { "val", "validation" } : [split])
        {
            string p = Path.Combine(root, name);
            if (Directory.Exists(p)) return p;
        }
        return root;
    }

    public int Label(int index) => _labels[index];

    public Image Load(int index) => ImageIO.Load(_files[index]);

    public string Describe(int index) => _files[index];

    /// <summary>Images per class, in class-index order.</summary>
    public int[] ClassCounts()
    {
        var c = new int[_classNames.Length];
        foreach (int l in _labels) c[l]++;
        return c;
    }

    /// <summary>Writes DIR/class_map.txt with this dataset's class names (for the trainer, next to its checkpoints).</summary>
    public string WriteClassMap(string dir) => ClassMap.Write(dir, _classNames);
}
