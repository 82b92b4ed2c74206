// `ascan predict`: the top-k classes, with names and probabilities, of a classifier on image files.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ascan.Training;
using Ascan.Cli.Flags;
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Data.Imaging;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

/// <summary>What `ascan predict` runs with; defaults are the command line's.</summary>
internal sealed record PredictOptions
{
    public string? Model { get; init; }
    public string Weights { get; init; } = "";
    public int TopK { get; init; } = 5;
    public bool UseEma { get; init; }
    public bool Verbose { get; init; }
    /// <summary>Null: <see cref="ImageSize.Resolve"/>'s order.</summary>
    public int? ImageSize { get; init; }
    public bool Json { get; init; }
    /// <summary>The IMAGE arguments.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];
}

internal static class PredictCommand
{
    internal static ConfigBinder<PredictOptions> Flags() => new ConfigBinder<PredictOptions>(new PredictOptions())
        .Add(SharedFlags.Model.WithHelp("Registered model name (optional for training checkpoints)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.Weights, o => o.Weights, (o, v) => o with { Weights = v }, required: true)
        .Add(new FlagName("--top-k", "Classes to show per image.", ["-k"]), o => o.TopK, (o, v) => o with { TopK = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.UseEma, o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.Verbose, o => o.Verbose, (o, v) => o with { Verbose = v })
        .Add(SharedFlags.ImageSize, o => o.ImageSize, (o, v) => o with { ImageSize = v }, check: v => v is null or >= 8 ? null : "must be at least 8")
        .Add(SharedFlags.Json.WithHelp("Print one JSON array: [{image, top: [{class, index, prob}]}]."), o => o.Json, (o, v) => o with { Json = v });

    /// <param name="run">What runs with the parsed options (default: the prediction; tests pass their own).</param>
    public static Command Create(Func<PredictOptions, int>? run = null)
    {
        var cmd = new Command("predict", "Classify images (JPEG/PNG files, or folders of them): top-k class names with probabilities. Class names " +
            "come from the checkpoint or the class_map.txt beside the weights. A file that cannot be read is reported and skipped.");
        var flags = Flags();
        flags.AddTo(cmd);
        var images = new Argument<string[]>("IMAGE") { Description = "Image files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        // An unknown flag would otherwise be taken for an image name (IMAGE takes any token); ./-x.png names such a file.
        images.Validators.Add(res =>
        {
            if (res.Tokens.FirstOrDefault(t => t.Value.StartsWith('-')) is { } flag) res.AddError($"Unrecognized option '{flag.Value}' (an image whose name starts with '-': write ./{flag.Value}).");
        });
        cmd.Arguments.Add(images);
        run ??= Run;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults) with { Images = r.GetValue(images)! }));
        return cmd;
    }

    private static int Run(PredictOptions o)
    {
        var m = ModelLoader.Load(o.Weights, new LoadOptions
        {
            Model = o.Model, UseEma = o.UseEma, ImageSize = o.ImageSize, Verbose = o.Verbose, Warnings = Console.Error,
        });
        var files = ExpandImages(o.Images);
        var results = Predict(m, files, o.TopK, Console.Error);
        if (o.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(results.Select(p => p.Error != null ? (object)new { image = p.Image, error = p.Error } : new
            {
                image = p.Image,
                top = p.Top.Select(t => new { @class = m.ClassNames[t.Index], index = t.Index, prob = Math.Round(t.Prob, 6) }),
            })));
        }
        else
        {
            int w = m.ClassNames.Max(n => n.Length);
            foreach (var p in results.Where(p => p.Error == null))
            {
                Console.WriteLine(p.Image);
                foreach (var (i, prob) in p.Top)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {m.ClassNames[i].PadRight(w)}  {EvalPictures.Percent(prob, 2),7}"));
            }
        }
        return FilesDone("predict", results.Count(p => p.Error != null), results.Count);
    }

    /// <summary>
    /// <paramref name="path"/> decoded, or null with <paramref name="error"/> set when it cannot be read (missing, not an
    /// image, a format other than JPEG/PNG), reported on <paramref name="log"/> as "VERB: skipped PATH: why" — the
    /// rule of every verb that takes many image files: one bad file does not stop the rest.
    /// </summary>
    internal static Image? TryLoad(string path, string verb, TextWriter? log, out string? error)
    {
        try
        {
            error = null;
            return ImageIO.Load(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ImageDecodeException or UnauthorizedAccessException)
        {
            log?.WriteLine($"{verb}: skipped {path}: {e.Message}");
            error = e.Message;
            return null;
        }
    }

    /// <summary>Says how many of <paramref name="total"/> files were skipped; the exit code is 1 only when none could be read.</summary>
    internal static int FilesDone(string verb, int failed, int total)
    {
        if (failed > 0) Console.Error.WriteLine($"{verb}: {failed} of {total} files could not be read (listed above)");
        return failed == total ? CliRunner.RuntimeError : 0;
    }

    /// <summary>
    /// The files to classify: each IMAGE as given, a folder replaced by the JPEG/PNG files under it (sorted). A path
    /// that is neither is kept, so its error is reported in order with the rest.
    /// </summary>
    internal static List<string> ExpandImages(IEnumerable<string> args)
    {
        var files = new List<string>();
        foreach (var a in args)
        {
            if (!Directory.Exists(a)) { files.Add(a); continue; }
            var found = Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories).Where(ImageIO.HasImageExtension).Order(StringComparer.Ordinal).ToList();
            if (found.Count == 0) throw new ArgumentException($"IMAGE '{a}' is a folder with no .jpg/.jpeg/.png files in it.");
            files.AddRange(found);
        }
        return files;
    }

    /// <summary>A file's top-k classes, or why it could not be read (Error set, Top empty).</summary>
    internal sealed record Prediction(string Image, IReadOnlyList<(int Index, double Prob)> Top, string? Error = null);

    /// <summary>
    /// Each image through the eval transform (resize, centre crop, normalise) and the model, one at a time. A file
    /// that cannot be read (missing, not an image, a format other than JPEG/PNG) is reported on <paramref name="log"/>
    /// and returned with its error; the others go on.
    /// </summary>
    internal static List<Prediction> Predict(LoadedClassifier m, IEnumerable<string> paths, int k, TextWriter? log = null)
    {
        var transform = new EvalTransform(TrainData.EvalTransform(m.Data, m.ImageSize));
        int s = transform.Size;
        var results = new List<Prediction>();
        using var noGrad = Autograd.NoGrad();
        foreach (var path in paths)
        {
            if (TryLoad(path, "predict", log, out var error) is not { } image)
            {
                results.Add(new Prediction(path, [], error));
                continue;
            }
            var x = new float[3 * s * s];
            transform.Apply(image, new Rng(0), x);
            using var scope = TensorScope.Begin();
            var logits = m.Model.Forward(Tensor.FromArray(x, 1, 3, s, s)).ToArray<float>(); // (1, classes)
            var top = TopK.Indices(logits, k).Select(i => (i, (double)Evaluator.Softmax(logits, i))).ToList();
            results.Add(new Prediction(path, top));
        }
        return results;
    }
}
