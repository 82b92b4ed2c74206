// `ascan generate sample`: images of chosen classes from a trained diffusion UNet, one PNG each plus a grid.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ascan.Cli.Flags;
using Ascan.Core;
using Ascan.Data.Imaging;
using Ascan.Models.Generation;
using Ascan.Training.Eval;
using Ascan.Training.Generation;
using Ascan.Training.Reporting;

namespace Ascan.Cli;

/// <summary>What `generate sample` runs with; null sampler settings take the training run's grid settings.</summary>
internal sealed record SampleCommandOptions
{
    public string? Weights { get; init; }
    public string? Model { get; init; }
    /// <summary>Class ids or names; empty = every class.</summary>
    public string[] Classes { get; init; } = [];
    public int N { get; init; } = 8;
    public string? Sampler { get; init; }
    public int? Steps { get; init; }
    public double? Cfg { get; init; }
    public int? GuidanceChannels { get; init; }
    public ulong Seed { get; init; }
    public int BatchSize { get; init; } = 32;
    public bool? UseEma { get; init; }
    public string Output { get; init; } = "";
    public string? Judge { get; init; }
    public bool Json { get; init; }
}

internal static class GenerateSampleCommand
{
    internal static ConfigBinder<SampleCommandOptions> Flags() => new ConfigBinder<SampleCommandOptions>(new SampleCommandOptions())
        .Add(SharedFlags.Weights.WithHelp("A generate-train checkpoint (its EMA weights when it has them) or model.safetensors."), o => o.Weights,
            (o, v) => o with { Weights = v }, required: true)
        .Add(SharedFlags.Model.WithHelp("UNet preset (default: the one the weights name)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(new FlagName("--class", "Class ids or names to sample (repeatable; default: every class)."), o => o.Classes, (o, v) => o with { Classes = v },
            configure: opt => opt.AllowMultipleArgumentsPerToken = true)
        .Add(new FlagName("--n", "Images per class."), o => o.N, (o, v) => o with { N = v }, check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--sampler", $"{string.Join(", ", Schedulers.Names)} (default: the training run's; euler for flow models)."), o => o.Sampler, (o, v) => o with { Sampler = v },
            check: v => v == null || Schedulers.Names.Contains(v) ? null : $"must be one of {string.Join(", ", Schedulers.Names)}")
        .Add(new FlagName("--steps", "Sampler steps (default: the training run's grid steps)."), o => o.Steps, (o, v) => o with { Steps = v }, check: v => v is null or >= 1 ? null : "must be at least 1")
        .Add(new FlagName("--cfg", "Classifier-free guidance scale (1 = none; default: the training run's)."), o => o.Cfg, (o, v) => o with { Cfg = v })
        .Add(new FlagName("--guidance-channels", "Guide only the first K output channels (DiT guides 3 of 4 latent channels; default: all)."), o => o.GuidanceChannels,
            (o, v) => o with { GuidanceChannels = v })
        .Add(SharedFlags.Seed.WithHelp("Noise seed: image i of a run is the same for the same seed whatever the batch."), o => o.Seed, (o, v) => o with { Seed = v })
        .Add(SharedFlags.BatchSize.WithHelp("Images per denoiser batch (doubled when guiding)."), o => o.BatchSize, (o, v) => o with { BatchSize = v }, check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--ema", "Use a checkpoint's EMA weights (default: when it has them)."), o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.Output.WithHelp("Folder for the PNGs (CLASS/NNNN.png), grid.png and samples.json."), o => o.Output, (o, v) => o with { Output = v }, required: true)
        .Add(new FlagName("--judge", "A classifier's weights on the same classes: also report class_acc, the fraction it assigns to the requested class."), o => o.Judge, (o, v) => o with { Judge = v })
        .Add(SharedFlags.Json.WithHelp("Print the summary as JSON."), o => o.Json, (o, v) => o with { Json = v });

    public static Command Create(Func<SampleCommandOptions, int>? run = null)
    {
        var cmd = new Command("sample", "Sample images of the given classes from a trained diffusion UNet with a sampler of diffusers' formulas and " +
            "classifier-free guidance; writes OUT/<class>/NNNN.png, OUT/grid.png (one row per class) and OUT/samples.json.");
        var flags = Flags();
        flags.AddTo(cmd);
        run ??= o => Run(o, Console.Out, Console.Error);
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    internal static int Run(SampleCommandOptions o, TextWriter stdout, TextWriter stderr)
    {
        var g = GeneratorLoader.Load(o.Weights!, o.Model, o.UseEma, warnings: stderr);
        var ids = ResolveClasses(o.Classes, g.ClassNames);
        var grid = g.Diffusion.SamplingFor;
        var options = grid with
        {
            Sampler = o.Sampler ?? (g.Diffusion.IsFlow ? "euler" : grid.Sampler), Steps = o.Steps ?? grid.Steps, Guidance = o.Cfg ?? grid.Guidance,
            GuidanceChannels = o.GuidanceChannels, Seed = o.Seed, BatchSize = o.BatchSize,
        };
        if (Schedulers.IsFlow(options.Sampler) != g.Diffusion.IsFlow)
            throw new ArgumentException($"--sampler {options.Sampler}: the model was trained with the {g.Diffusion.Objective} objective" +
                (g.Diffusion.IsFlow ? "; flow models sample with euler." : "; use ddim, dpmpp or ddpm."));
        var classes = ids.SelectMany(c => Enumerable.Repeat(c, o.N)).ToArray();
        stderr.WriteLine($"generate sample: {classes.Length} images of {ids.Length} class(es) with {options.Sampler}, {options.Steps} steps, guidance {options.Guidance.ToString(CultureInfo.InvariantCulture)}" +
            $" ({g.ModelName}, {(g.UsedEma ? "EMA" : "model")} weights, {g.ImageSize}×{g.ImageSize})");
        var bar = ProgressBar.ForStderr(10);
        var clock = Stopwatch.StartNew();
        var images = DiffusionSampler.Sample(g.Model, classes, g.ImageSize, g.ImageSize, options, (done, total) =>
            bar.Status(ProgressBar.StepsLine("sampling", done, total, clock.Elapsed.TotalSeconds), done, total));
        bar.Break();
        if (g.Diffusion.Vae != null) images = GenerateLatents.Decoder(GenerateLatents.LoadVae(g.Diffusion.Vae, g.Diffusion.VaeModel, stderr))(images);
        double seconds = clock.Elapsed.TotalSeconds;

        Directory.CreateDirectory(o.Output);
        int side = images.Dim(2), per = 3 * side * side;
        var data = images.ToArray<float>();
        var counters = new Dictionary<int, int>();
        var files = new List<string>();
        for (int i = 0; i < classes.Length; i++)
        {
            string name = SafeName(g.ClassNames[classes[i]]);
            int k = counters[classes[i]] = counters.GetValueOrDefault(classes[i]) + 1;
            string path = Path.Combine(o.Output, name, $"{k - 1:0000}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            ImageIO.Save(SampleGrid.ToImage(data.AsSpan(i * per, per), side, side), path);
            files.Add(Path.GetRelativePath(o.Output, path));
        }
        string gridPath = Path.Combine(o.Output, "grid.png");
        SampleGrid.Save(gridPath, images, o.N);

        double? acc = null;
        if (o.Judge != null)
        {
            acc = SampleJudge.Load(o.Judge, stderr).Accuracy(images, classes).Accuracy;
        }
        var summary = new Dictionary<string, object?>
        {
            ["weights"] = Path.GetFullPath(o.Weights!), ["model"] = g.ModelName, ["ema"] = g.UsedEma, ["sampler"] = options.Sampler, ["steps"] = options.Steps,
            ["cfg"] = options.Guidance, ["seed"] = o.Seed, ["classes"] = ids.Select(c => g.ClassNames[c]).ToArray(), ["per_class"] = o.N,
            ["images"] = classes.Length, ["seconds"] = Math.Round(seconds, 2), ["images_per_sec"] = Math.Round(classes.Length / seconds, 3),
            ["grid"] = gridPath, ["class_acc"] = acc, ["files"] = files,
        };
        File.WriteAllText(Path.Combine(o.Output, "samples.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (o.Json) stdout.WriteLine(JsonSerializer.Serialize(summary));
        else
        {
            stdout.WriteLine(FormattableString.Invariant($"wrote {classes.Length} images to {o.Output} in {seconds:F1} s ({classes.Length / seconds:F2} images/s); grid: {gridPath}"));
            if (acc is { } a) stdout.WriteLine(FormattableString.Invariant($"class_acc: {a:F3}"));
        }
        return 0;
    }

    /// <summary>Class ids from ids or names; none = every class. Unknown entries are one error listing the classes.</summary>
    internal static int[] ResolveClasses(string[] given, IReadOnlyList<string> names)
    {
        if (given.Length == 0) return Enumerable.Range(0, names.Count).ToArray();
        return given.Select(s =>
        {
            if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
                return id >= 0 && id < names.Count ? id : throw new ArgumentException($"--class {s}: the model has classes 0..{names.Count - 1} ({string.Join(", ", names)}).");
            int k = names.ToList().FindIndex(n => string.Equals(n, s, StringComparison.OrdinalIgnoreCase));
            return k >= 0 ? k : throw new ArgumentException($"--class {s}: no such class; the model's classes are {string.Join(", ", names)}.");
        }).ToArray();
    }

    /// <summary>A class name as a folder name: path separators and other unsafe characters replaced (names come from files).</summary>
    internal static string SafeName(string name)
    {
        var bad = Path.GetInvalidFileNameChars().Concat(['/', '\\', ':']).ToHashSet();
        string s = new(name.Select(ch => bad.Contains(ch) || char.IsControl(ch) ? '_' : ch).ToArray());
        return s is "" or "." or ".." ? "_" + s : s;
    }
}
