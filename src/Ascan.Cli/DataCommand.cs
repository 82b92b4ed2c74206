// `ascan data …`: dataset tools — write the procedural shapes dataset, summarise an image folder.
using System.CommandLine;
using Ascan.Cli.Flags;
using Ascan.Data;
using Ascan.Data.Segmentation;
using Ascan.Data.Shapes;

namespace Ascan.Cli;

/// <summary>What `ascan data shapes` writes; defaults are the command line's.</summary>
internal sealed record ShapesOptions
{
    public string Output { get; init; } = "";
    public int Classes { get; init; } = 10;
    public int Train { get; init; } = 5000;
    public int Val { get; init; } = 1000;
    /// <summary>Image side in pixels (the generator's, not a model's: no checkpoint or model to resolve from).</summary>
    public int ImageSize { get; init; } = 64;
    public ulong Seed { get; init; }
    public int MaxObjects { get; init; } = 1;
    public bool Masks { get; init; }
    public bool PlainBackground { get; init; }
    /// <summary>Write the segmentation layout (images/ + annotations/ + classes.txt) instead of class folders.</summary>
    public bool Segmentation { get; init; }
}

internal static class DataCommand
{
    public static Command Create()
    {
        var data = new Command("data", "Dataset tools: generate the shapes dataset, inspect an image folder.");
        data.Subcommands.Add(Shapes());
        data.Subcommands.Add(Info());
        return data;
    }

    internal static ConfigBinder<ShapesOptions> ShapesFlags() => new ConfigBinder<ShapesOptions>(new ShapesOptions())
        .Add(SharedFlags.Output, o => o.Output, (o, v) => o with { Output = v }, required: true)
        .Add(new FlagName("--classes", $"Number of classes (shape kinds), 1–{ShapesGenerator.MaxClasses}."), o => o.Classes, (o, v) => o with { Classes = v },
            check: v => v >= 1 && v <= ShapesGenerator.MaxClasses ? null : $"must be in 1–{ShapesGenerator.MaxClasses}")
        .Add(SharedFlags.TrainImages, o => o.Train, (o, v) => o with { Train = v }, check: SharedFlags.AtLeast(0))
        .Add(SharedFlags.ValImages, o => o.Val, (o, v) => o with { Val = v }, check: SharedFlags.AtLeast(0))
        .Add(SharedFlags.ImageSize.WithHelp("Image side in pixels.") with { Deprecated = ["--size"] }, o => o.ImageSize, (o, v) => o with { ImageSize = v },
            check: SharedFlags.AtLeast(16))
        .Add(SharedFlags.Seed.WithHelp("Generator seed (same seed → same files)."), o => o.Seed, (o, v) => o with { Seed = v })
        .Add(new FlagName("--max-objects", "Objects per scene, 1 to this (the first, largest sets the label)."), o => o.MaxObjects, (o, v) => o with { MaxObjects = v },
            check: v => v is >= 1 and <= 8 ? null : "must be in 1–8")
        .Add(new FlagName("--masks", "Also write segmentation masks to OUT/{train,val}_masks/<class>/*.png."), o => o.Masks, (o, v) => o with { Masks = v })
        .Add(new FlagName("--plain-background", "Flat gray backgrounds instead of textures."), o => o.PlainBackground, (o, v) => o with { PlainBackground = v })
        .Add(new FlagName("--segmentation", "Write scenes with label maps for segment train instead: OUT/images/{training,validation}/*.png, " +
            "OUT/annotations/…/*.png (0 = background, 1–4 = circle, square, star, triangle), classes.txt; 1–3 objects per scene " +
            "(--classes and --max-objects apply to the classification layout)."), o => o.Segmentation, (o, v) => o with { Segmentation = v });

    /// <param name="run">What runs with the parsed options (default: writing the dataset; tests pass their own).</param>
    internal static Command Shapes(Func<ShapesOptions, int>? run = null)
    {
        var cmd = new Command("shapes", "Write the procedural shapes dataset as an ImageFolder of PNGs: OUT/train/<class>/*.png, OUT/val/<class>/*.png, captions.jsonl, class_map.txt.");
        var flags = ShapesFlags();
        flags.AddTo(cmd);
        run ??= WriteShapes;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    private static int WriteShapes(ShapesOptions o)
    {
        if (File.Exists(o.Output)) throw new ArgumentException($"--output {o.Output} is a file; data shapes writes a dataset folder there.");
        var config = new ShapesConfig
        {
            Classes = o.Classes,
            Size = o.ImageSize,
            Seed = o.Seed,
            MinObjects = 1,
            MaxObjects = o.MaxObjects,
            Textures = !o.PlainBackground,
        };
        bool tty = !Console.IsErrorRedirected;
        void Progress(int n, int total)
        {
            if (tty) Console.Error.Write($"\rshapes: {n}/{total} images ({100.0 * n / total:F0}%)");
            else if (n == total || n % 1000 == 0) Console.Error.WriteLine($"shapes: {n}/{total} images");
        }
        if (o.Segmentation)
        {
            var seg = ShapesSegmentationWriter.Write(o.Output, ShapesSegmentation.DefaultConfig(o.ImageSize, o.Seed) with { Textures = !o.PlainBackground },
                o.Train, o.Val, Progress);
            if (tty) Console.Error.WriteLine();
            Console.WriteLine($"wrote {seg.Train} train + {seg.Val} val scenes with label maps ({seg.Classes} classes incl. background, {seg.Size}×{seg.Size}) to {o.Output} in {seg.Seconds:F1} s");
            return 0;
        }
        var summary = ShapesWriter.Write(o.Output, config, o.Train, o.Val, o.Masks, Progress);
        if (tty) Console.Error.WriteLine();
        Console.WriteLine($"wrote {summary.Train} train + {summary.Val} val images ({summary.Classes} classes, {summary.Size}×{summary.Size}) to {o.Output} in {summary.Seconds:F1} s");
        return 0;
    }

    private static Command Info()
    {
        var cmd = new Command("info", "Summarise an ImageFolder dataset (classes and image counts per split).");
        var dir = new Argument<string>("DIR") { Description = "Dataset root (with train/ and val/) or one split folder." };
        cmd.Arguments.Add(dir);
        cmd.SetAction(r =>
        {
            string root = r.GetValue(dir)!;
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
        });
        return cmd;
    }
}
