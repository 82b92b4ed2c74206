// Writes the shapes dataset to disk as an ImageFolder of PNGs (train/ and val/), with captions and optional masks.
using System.Diagnostics;
using System.Text.Json;
using Ascan.Data;
using Ascan.Data.Imaging;

namespace Ascan.Data.Shapes;

/// <summary>
/// Layout: DIR/train/&lt;class&gt;/NNNNNN.png and DIR/val/&lt;class&gt;/NNNNNN.png (the ImageFolder layout),
/// DIR/{train,val}/captions.jsonl (one JSON object per image: file, label, class, caption, objects),
/// DIR/class_map.txt, DIR/shapes.json (the settings), and with masks DIR/{train,val}_masks/&lt;class&gt;/NNNNNN.png
/// (1-channel, 0 = background, c + 1 = class c).
/// </summary>
public static class ShapesWriter
{
    public sealed record Summary(int Train, int Val, int Classes, int Size, double Seconds);

    /// <param name="progress">Called with (images written, total) now and then, from one thread at a time.</param>
    public static Summary Write(string dir, ShapesConfig config, int train, int val, bool masks = false, Action<int, int>? progress = null)
    {
        if (train < 0 || val < 0 || train + val == 0) throw new ArgumentException("Shapes: --train and --val must be ≥ 0 and not both 0.");
        var gen = new ShapesGenerator(config);
        var sw = Stopwatch.StartNew();
        PrepareFolder(dir);
        int done = 0, total = train + val;
        object progressLock = new();
        foreach (var (split, name, count) in new[] { (0, "train", train), (1, "val", val) })
        {
            if (count == 0) continue;
            string root = Path.Combine(dir, name);
            foreach (var c in gen.ClassNames)
            {
                Directory.CreateDirectory(Path.Combine(root, c));
                if (masks) Directory.CreateDirectory(Path.Combine(dir, name + "_masks", c));
            }
            var lines = new string[count];
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                var scene = gen.Generate(i, split);
                string rel = $"{gen.ClassNames[scene.Label]}/{i:D6}.png";
                Png.Save(scene.Image, Path.Combine(root, rel));
                if (masks) Png.Save(scene.MaskImage, Path.Combine(dir, name + "_masks", rel));
                lines[i] = JsonSerializer.Serialize(new
                {
                    file = rel,
                    label = scene.Label,
                    @class = gen.ClassNames[scene.Label],
                    caption = scene.Caption,
                    objects = scene.Objects.Select(o => new
                    {
                        shape = ShapeCatalog.Name(o.Kind),
                        label = o.ClassIndex,
                        color = o.Color.Name,
                        x = Math.Round(o.CenterX, 2),
                        y = Math.Round(o.CenterY, 2),
                        radius = Math.Round(o.Radius, 2),
                        rotation = Math.Round(o.Rotation, 4),
                    }),
                });
                int n = Interlocked.Increment(ref done);
                if (progress != null && (n % 250 == 0 || n == total)) lock (progressLock) progress(n, total);
            });
            File.WriteAllText(Path.Combine(root, "captions.jsonl"), string.Join("\n", lines) + "\n");
        }
        ClassMap.Write(dir, gen.ClassNames);
        File.WriteAllText(Path.Combine(dir, "shapes.json"), JsonSerializer.Serialize(new
        {
            generator = "ascan shapes",
            size = config.Size,
            classes = config.Classes,
            class_names = gen.ClassNames,
            min_objects = config.MinObjects,
            max_objects = config.MaxObjects,
            seed = config.Seed,
            textures = config.Textures,
            train,
            val,
            masks,
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new Summary(train, val, gen.ClassNames.Count, config.Size, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// A folder holding an earlier shapes dataset (it has shapes.json) is cleared of its splits, so no stale images
    /// from other settings survive; any other non-empty folder is refused rather than mixed into.
    /// </summary>
    private static void PrepareFolder(string dir)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!File.Exists(Path.Combine(dir, "shapes.json")))
                throw new ArgumentException($"Output folder '{dir}' is not empty and holds no shapes dataset (no shapes.json); choose an empty or new folder.");
            foreach (var sub in new[] { "train", "val", "train_masks", "val_masks" })
                if (Directory.Exists(Path.Combine(dir, sub))) Directory.Delete(Path.Combine(dir, sub), recursive: true);
        }
        Directory.CreateDirectory(dir);
    }
}
