// Helpers for the data tests: the codec fixture folder (tests/fixtures/images), its manifest, temporary folders, images.
using System.Text.Json;
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

/// <summary>One decoded-pixels expectation from tests/fixtures/images/manifest.json (written by make_images.py).</summary>
public sealed record ImageCase(string File, string Kind, int Width, int Height, int Channels, string Expected,
                               int Tolerance, double MeanTolerance, string Note, int OutWidth, int OutHeight, double Arg)
{
    public override string ToString() =>
        Kind.StartsWith("resize") ? $"{Kind} {OutWidth}x{OutHeight}" : Kind.StartsWith("op-") ? $"{Kind}({Arg})" : File;
}

public static class DataTestFiles
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        // The fixture images are read in place (the test project copies only *.safetensors): walk up to the repo.
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "tests", "fixtures", "images");
            if (File.Exists(Path.Combine(p, "manifest.json"))) return p;
        }
        throw new DirectoryNotFoundException("tests/fixtures/images/manifest.json not found above " + AppContext.BaseDirectory +
            " (regenerate with /usr/bin/python3 tests/fixtures/images/make_images.py).");
    });

    public static string ImagesDir => Dir.Value;

    public static string ImagePath(string name) => Path.Combine(ImagesDir, name);

    public static IReadOnlyList<ImageCase> Manifest()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(ImagePath("manifest.json")));
        return doc.RootElement.EnumerateArray().Select(e => new ImageCase(
            e.GetProperty("file").GetString()!, e.GetProperty("kind").GetString()!, e.GetProperty("width").GetInt32(),
            e.GetProperty("height").GetInt32(), e.GetProperty("channels").GetInt32(), e.GetProperty("expected").GetString()!,
            e.GetProperty("tolerance").GetInt32(), e.GetProperty("mean_tolerance").GetDouble(), e.GetProperty("note").GetString()!,
            e.TryGetProperty("out_width", out var ow) ? ow.GetInt32() : 0,
            e.TryGetProperty("out_height", out var oh) ? oh.GetInt32() : 0,
            e.TryGetProperty("arg", out var arg) ? arg.GetDouble() : 0)).ToList();
    }

    public static IEnumerable<object[]> Cases(string kindPrefix) =>
        Manifest().Where(c => c.Kind.StartsWith(kindPrefix, StringComparison.Ordinal)).Select(c => new object[] { c });

    /// <summary>A fresh, empty temporary folder, deleted when disposed.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ascan-test-" + Guid.NewGuid().ToString("N")[..12]);
        public TempDir() { Directory.CreateDirectory(Path); }
        public string this[string rel] => System.IO.Path.Combine(Path, rel);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }

    /// <summary>Pseudo-random pixels (smooth = gradients plus a little noise, else uniform noise).</summary>
    public static Image RandomImage(int w, int h, int c, int seed, bool smooth = false)
    {
        var rnd = new Random(seed);
        var img = new Image(w, h, c);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++)
                    img[x, y, ch] = smooth
                        ? (byte)Math.Clamp(40 + 150 * (x + ch * 3) / Math.Max(1, w) + 50 * y / Math.Max(1, h) + rnd.Next(-3, 4), 0, 255)
                        : (byte)rnd.Next(256);
        return img;
    }

    /// <summary>Asserts max and mean absolute byte differences, printing where the worst one is.</summary>
    public static void AssertPixelsClose(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, int tolerance, double meanTolerance, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} bytes, expected {expected.Length}");
        int worst = 0, at = -1; long sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            sum += d;
            if (d > worst) { worst = d; at = i; }
        }
        double mean = expected.Length == 0 ? 0 : (double)sum / expected.Length;
        Assert.True(worst <= tolerance && mean <= meanTolerance + 1e-12,
            $"{what}: max |diff| {worst} at byte {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)}), " +
            $"mean {mean:F3}; allowed {tolerance} / {meanTolerance}. Regenerate fixtures with /usr/bin/python3 tests/fixtures/images/make_images.py");
    }
}
