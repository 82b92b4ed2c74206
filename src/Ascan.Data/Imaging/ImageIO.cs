// Reading and writing image files by content (PNG / JPEG signatures) and by extension.
namespace Ascan.Data.Imaging;

public static class ImageIO
{
    /// <summary>Extensions the data loaders pick up (compared case-insensitively).</summary>
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];

    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads a whole file; IO failures become <see cref="ImageDecodeException"/> naming the path.</summary>
    public static byte[] ReadFile(string path)
    {
        // A folder would read as "access denied" and a missing file as a path error: say what it is.
        if (Directory.Exists(path)) throw new ImageDecodeException(path, "is a folder, not an image file.");
        if (!File.Exists(path)) throw new ImageDecodeException(path, "does not exist.", new FileNotFoundException(null, path));
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot read the file ({e.Message}).", e);
        }
    }

    /// <summary>Decodes PNG or JPEG bytes, chosen by their signature (not the name: mislabelled files are common).</summary>
    public static Image Decode(ReadOnlySpan<byte> data, string source = "<memory>")
    {
        if (Png.IsPng(data)) return Png.Decode(data, source);
        if (Jpeg.IsJpeg(data)) return Jpeg.Decode(data, source);
        if (data.Length == 0) throw new ImageDecodeException(source, "the file is empty.");
        throw new ImageDecodeException(source, "unknown image format (only PNG and JPEG are supported).");
    }

    public static Image Load(string path) => Decode(ReadFile(path), path);

    /// <summary>Loads and converts to RGB (gray replicated, alpha dropped), as the classification pipeline wants.</summary>
    public static Image LoadRgb(string path) => Load(path).ToRgb();

    /// <summary>Writes PNG or JPEG according to the extension of <paramref name="path"/>.</summary>
    public static void Save(Image image, string path, int jpegQuality = 95)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        switch (ext)
        {
            case ".png": Png.Save(image, path); break;
            case ".jpg" or ".jpeg": Jpeg.Save(image, path, jpegQuality); break;
            default: throw new ArgumentException($"Cannot save '{path}': the extension must be .png, .jpg or .jpeg.");
        }
    }
}
