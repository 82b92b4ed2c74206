// Class maps: the ordered class names a model was trained with, stored next to checkpoints.
using System.Text.Json;

namespace Ascan.Data;

/// <summary>
/// Reads and writes class maps. The written form is timm's class_map.txt (one class name per line, line number =
/// class index); JSON (an array of names, or an object name → index) is accepted when reading.
/// </summary>
public static class ClassMap
{
    public const string FileName = "class_map.txt";

    /// <summary>Writes DIR/class_map.txt and returns its path.</summary>
    public static string Write(string dir, IReadOnlyList<string> classNames)
    {
        foreach (var n in classNames)
            if (n.Contains('\n') || n.Contains('\r')) throw new ArgumentException($"Class name '{n}' contains a line break.");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, FileName);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, string.Join("\n", classNames) + "\n");
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    /// <summary>Reads a class map from a file, or from DIR/class_map.txt (then DIR/class_map.json) given a folder.</summary>
    public static string[] Read(string pathOrDir)
    {
        string path = pathOrDir;
        if (Directory.Exists(pathOrDir))
        {
            path = Path.Combine(pathOrDir, FileName);
            if (!File.Exists(path)) path = Path.Combine(pathOrDir, "class_map.json");
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"Class map not found: '{path}' (expected class_map.txt with one class name per line).", path);
        string text = File.ReadAllText(path);
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return ParseJson(text, path);
        var names = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        while (names.Count > 0 && names[^1].Length == 0) names.RemoveAt(names.Count - 1);
        if (names.Count == 0) throw new InvalidDataException($"Class map '{path}' is empty.");
        if (names.Any(n => n.Length == 0)) throw new InvalidDataException($"Class map '{path}' has an empty line among the class names.");
        return names.ToArray();
    }

    private static string[] ParseJson(string text, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array) return root.EnumerateArray().Select(e => e.GetString()!).ToArray();
            if (root.ValueKind == JsonValueKind.Object)
            {
                var pairs = root.EnumerateObject().Select(p => (p.Name, Index: p.Value.GetInt32())).OrderBy(p => p.Index).ToArray();
                for (int i = 0; i < pairs.Length; i++)
                    if (pairs[i].Index != i) throw new InvalidDataException($"Class map '{path}': indices must be 0..{pairs.Length - 1} without gaps.");
                return pairs.Select(p => p.Name).ToArray();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"Class map '{path}' is not valid JSON ({e.Message}).", e);
        }
        throw new InvalidDataException($"Class map '{path}': expected a JSON array of names or an object name → index.");
    }
}
