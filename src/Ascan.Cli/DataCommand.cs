// `ascan data …`: dataset tools — write the procedural shapes dataset, summarise an image folder.
using System.CommandLine;
using Ascan.Data;
using Ascan.Data.Shapes;

namespace Ascan.Cli;

internal static class DataCommand
{
    public static Command Create()
    {
        var data = new Command("data", "Dataset tools: generate the shapes dataset, inspect an image folder.");
        data.Subcommands.Add(Shapes());
        data.Subcommands.Add(Info());
        return data;
    }

    private static Command Shapes()
    {
        var cmd = new Command("shapes", "Write the procedural shapes dataset as an ImageFolder of PNGs: OUT/train/<class>/*.png, OUT/val/<class>/*.png, captions.jsonl, class_map.txt.");
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var classes = new Option<int>("--classes") { Description = $"Number of classes (shape kinds), 1–{ShapesGenerator.MaxClasses}.", DefaultValueFactory = _ => 10 };
        var train = new Option<int>("--train") { Description = "Training images.", DefaultValueFactory = _ => 5000 };
        var val = new Option<int>("--val") { Description = "Validation images.", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = "Image side in pixels.", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Generator seed (same seed → same files).", DefaultValueFactory = _ => 0 };
        var objects = new Option<int>("--max-objects") { Description = "Objects per scene, 1 to this (the first, largest sets the label).", DefaultValueFactory = _ => 1 };
        var masks = new Option<bool>("--masks") { Description = "Also write segmentation masks to OUT/{train,val}_masks/<class>/*.png." };
        var flat = new Option<bool>("--plain-background") { Description = "Flat gray backgrounds instead of textures." };
        foreach (var o in new Option[] { output, classes, train, val, size, seed, objects, masks, flat }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            string dir = r.GetValue(output)!;
            var config = new ShapesConfig
            {
                Classes = r.GetValue(classes),
                Size = r.GetValue(size),
                Seed = r.GetValue(seed),
                MinObjects = 1,
                MaxObjects = r.GetValue(objects),
                Textures = !r.GetValue(flat),
            };
            try
            {
                bool tty = !Console.IsErrorRedirected;
                var summary = ShapesWriter.Write(dir, config, r.GetValue(train), r.GetValue(val), r.GetValue(masks), (n, total) =>
                {
                    if (tty) Console.Error.Write($"\rshapes: {n}/{total} images ({100.0 * n / total:F0}%)");
                    else if (n == total || n % 1000 == 0) Console.Error.WriteLine($"shapes: {n}/{total} images");
                });
                if (tty) Console.Error.WriteLine();
                Console.WriteLine($"wrote {summary.Train} train + {summary.Val} val images ({summary.Classes} classes, {summary.Size}×{summary.Size}) to {dir} in {summary.Seconds:F1} s");
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static Command Info()
    {
        var cmd = new Command("info", "Summarise an ImageFolder dataset (classes and image counts per split).");
        var dir = new Argument<string>("DIR") { Description = "Dataset root (with train/ and val/) or one split folder." };
        cmd.Arguments.Add(dir);
        cmd.SetAction(r =>
        {
            string root = r.GetValue(dir)!;
            try
            {
                var splits = new[] { "train", "val" }.Select(s => (s, ImageFolderDataset.ResolveSplit(root, s))).Where(p => p.Item2 != root).ToList();
                if (splits.Count == 0) splits.Add((".", root));
                foreach (var (name, path) in splits)
                {
                    var ds = new ImageFolderDataset(path);
                    var counts = ds.ClassCounts();
                    Console.WriteLine($"{name}: {ds.Count} images in {ds.ClassNames.Count} classes ({path})");
                    for (int c = 0; c < counts.Length; c++) Console.WriteLine($"  {c,4}  {ds.ClassNames[c],-24} {counts[c],8}");
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }
}
