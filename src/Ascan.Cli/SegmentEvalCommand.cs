// `ascan segment eval` and `ascan segment predict`: mmseg's test loop (whole or sliding-window inference, optional
// multi-scale + flip) and its pictures (label PNG in the palette, image | prediction | ground truth).
using System.CommandLine;
using System.Text.Json;
using Ascan.Cli.Flags;
using Ascan.Core;
using Ascan.Data;
using Ascan.Data.Imaging;
using Ascan.Data.Segmentation;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;

namespace Ascan.Cli;

/// <summary>What `segment eval` and `segment predict` run with.</summary>
internal sealed record SegEvalOptions
{
    public string? Model { get; init; }
    public string Weights { get; init; } = "";
    public string Data { get; init; } = "";
    public bool UseEma { get; init; }
    /// <summary>Null: the checkpoint's training crop, else the model's input size. Images are resized to this short side (long side ≤ 4×).</summary>
    public int? ImageSize { get; init; }
    public string Mode { get; init; } = "whole";
    /// <summary>Slide window (default: the image size) and stride (default: 2/3 of the window, mmseg's 512/341).</summary>
    public int? Crop { get; init; }
    public int? Stride { get; init; }
    public double[] Scales { get; init; } = [1.0];
    public bool Flip { get; init; }
    public string? Output { get; init; }
    public bool Json { get; init; }
    public bool Verbose { get; init; }
    public int Workers { get; init; } = LoaderOptions.DefaultWorkers;
    /// <summary>predict: the IMAGE arguments; a folder of label PNGs to draw beside them.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];
    public string? Labels { get; init; }
}

internal static partial class SegmentCommand
{
    internal static ConfigBinder<SegEvalOptions> EvalFlags(bool predict) => new ConfigBinder<SegEvalOptions>(new SegEvalOptions())
        .Add(SharedFlags.Model.WithHelp("Registered segmenter (default: the one the checkpoint names)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.Weights, o => o.Weights, (o, v) => o with { Weights = v }, required: true)
        .AddIf(!predict, b => b.Add(new FlagName("--data", "Segmentation dataset: its validation split is scored."), o => o.Data, (o, v) => o with { Data = v }, required: true))
        .AddIf(predict, b => b.Add(new FlagName("--labels", "Folder of label PNGs (same file stems as the images) to draw as ground truth."), o => o.Labels, (o, v) => o with { Labels = v }))
        .Add(SharedFlags.UseEma, o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.ImageSize.WithHelp("Test scale: images resized to this short side, long side at most 4× (default: the training crop)."),
            o => o.ImageSize, (o, v) => o with { ImageSize = v }, check: v => v is null or >= 16 ? null : "must be at least 16")
        .Add(new FlagName("--mode", "Inference: whole (one pass) or slide (windows of --crop every --stride, logits averaged)."), o => o.Mode, (o, v) => o with { Mode = v },
            check: v => v is "whole" or "slide" ? null : "must be 'whole' or 'slide'")
        .Add(new FlagName("--crop", "Slide window side (default: the test scale)."), o => o.Crop, (o, v) => o with { Crop = v }, check: v => v is null or >= 16 ? null : "must be at least 16")
        .Add(new FlagName("--stride", "Slide stride (default: 2/3 of the window)."), o => o.Stride, (o, v) => o with { Stride = v }, check: v => v is null or >= 1 ? null : "must be at least 1")
        .Add(new FlagName("--scales", "Test-time scales, e.g. 0.5 0.75 1 1.25 1.5 1.75 (mmseg's aug test)."), o => o.Scales, (o, v) => o with { Scales = v },
            check: v => v.Length > 0 && v.All(s => s > 0) ? null : "must be positive numbers", configure: opt => opt.AllowMultipleArgumentsPerToken = true)
        .Add(new FlagName("--flip", "Also run on the mirrored image and average (test-time augmentation)."), o => o.Flip, (o, v) => o with { Flip = v })
        .Add(SharedFlags.Output.WithHelp(predict ? "Folder for <image>_label.png and <image>_overlay.png (default: a new runs/segment-predict/<time>-<model>)."
            : "Folder for eval.json, per_class.csv and overlay.png (default: a new runs/segment-eval/<time>-<model>; with --json and no --output nothing is written)."),
            o => o.Output, (o, v) => o with { Output = v })
        .AddIf(!predict, b => b.Add(SharedFlags.Json.WithHelp("Print {aAcc, mIoU, mAcc, classes: […]} as JSON."), o => o.Json, (o, v) => o with { Json = v }))
        .Add(new FlagName("--verbose", "List every key of a weights mismatch."), o => o.Verbose, (o, v) => o with { Verbose = v })
        .Add(SharedFlags.Workers, o => o.Workers, (o, v) => o with { Workers = v }, check: SharedFlags.AtLeast(0));

    /// <param name="run">What runs with the parsed options (default: the evaluation; tests pass their own).</param>
    public static Command Eval(Func<SegEvalOptions, int>? run = null)
    {
        var cmd = new Command("eval", "Score a segmenter on a dataset's validation split as mmseg does: per-class IoU and accuracy table, " +
            "aAcc, mIoU, mAcc over the whole split; ends with 'mIoU: 0.xx'. Writes eval.json, per_class.csv and overlay.png.");
        var flags = EvalFlags(predict: false);
        flags.AddTo(cmd);
        run ??= RunEval;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    /// <param name="run">What runs with the parsed options (default: the prediction; tests pass their own).</param>
    public static Command Predict(Func<SegEvalOptions, int>? run = null)
    {
        var cmd = new Command("predict", "Segment images (files or folders): writes <image>_label.png (class per pixel in the palette) and " +
            "<image>_overlay.png (image | prediction | ground truth with --labels). A file that cannot be read is reported and skipped.");
        var flags = EvalFlags(predict: true);
        flags.AddTo(cmd);
        var images = new Argument<string[]>("IMAGE") { Description = "Image files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        cmd.Arguments.Add(images);
        run ??= RunPredict;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults) with { Images = r.GetValue(images)! }));
        return cmd;
    }

    private static SegInferenceConfig Inference(SegEvalOptions o, int scale)
    {
        int crop = o.Crop ?? scale;
        return new SegInferenceConfig
        {
            Mode = o.Mode == "slide" ? SegInferenceMode.Slide : SegInferenceMode.Whole,
            CropHeight = crop, CropWidth = crop,
            StrideHeight = o.Stride ?? Math.Max(1, crop * 2 / 3), StrideWidth = o.Stride ?? Math.Max(1, crop * 2 / 3),
            Scales = o.Scales, Flip = o.Flip,
        };
    }

    private static int RunEval(SegEvalOptions o)
    {
        var m = ModelLoader.LoadSegmenter(o.Weights, new LoadOptions { Model = o.Model, UseEma = o.UseEma, ImageSize = o.ImageSize, Verbose = o.Verbose, Warnings = Console.Error });
        var val = SegDatasets.Open(o.Data, "val");
        if (!val.ClassNames.SequenceEqual(m.ClassNames))
            throw new ArgumentException($"--data {o.Data} has {val.ClassNames.Count} classes ({Preview(val.ClassNames)}); the segmenter was trained on {m.ClassNames.Count} ({Preview(m.ClassNames)}).");
        var r = EvaluateSplit(m, val, Inference(o, m.ImageSize), o.Workers, keepSamples: 6,
            progress: o.Json ? null : (done, total) => Console.Error.Write($"\rsegment eval: {done}/{total} images"));
        if (!o.Json) Console.Error.WriteLine();
        string? dir = RunFolders.ForResults(o.Output, o.Json, Path.Combine("runs", "segment-eval"), m.ModelName, DateTime.Now);
        if (dir != null) SegEvaluator.WriteFiles(r, dir, m.Data.Mean, m.Data.Std);
        if (val.SkippedCount > 0) Console.Error.WriteLine($"segment eval: skipped {val.SkippedCount} image/label pairs (reported above by file)");
        if (o.Json) { Console.WriteLine(r.Metrics.ToJson()); return 0; }
        Console.WriteLine(r.Metrics.ToTable());
        Console.WriteLine(FormattableString.Invariant($"{r.Images} images in {r.Seconds:F1} s ({r.Images / Math.Max(r.Seconds, 1e-9):F1} img/s); results in {dir}"));
        Console.WriteLine(FormattableString.Invariant($"aAcc: {r.Metrics.AAcc:F4}  mAcc: {r.Metrics.MAcc:F4}"));
        Console.WriteLine(FormattableString.Invariant($"mIoU: {r.Metrics.MIoU:F2}"));
        return 0;
    }

    /// <summary>The test pipeline of a trained segmenter: its training crop as the test scale (long side ≤ 4×), its normalisation.</summary>
    internal static SegTransformConfig EvalTransform(LoadedSegmenter m) => SegTransformConfig.ForCrop(m.ImageSize) with { Mean = m.Data.Mean, Std = m.Data.Std };

    /// <summary>
    /// Scores <paramref name="m"/> on a split through <see cref="EvalTransform"/>, one image per batch (images keep
    /// their own sizes, as mmseg's test loop), every pixel of every label counted.
    /// </summary>
    internal static SegEvalResult EvaluateSplit(LoadedSegmenter m, SegFolderDataset split, SegInferenceConfig? inference, int workers,
        int keepSamples, Action<int, int>? progress = null)
    {
        var loader = DataLoader.ForSegEvaluation(split, EvalTransform(m), new LoaderOptions { BatchSize = 1, Shuffle = false, Workers = workers, Log = Console.Error });
        return SegEvaluator.Evaluate(m.Model, loader, inference, keepSamples, progress);
    }

    private static string Preview(IReadOnlyList<string> names) => string.Join(", ", names.Take(4)) + (names.Count > 4 ? ", …" : "");

    private static int RunPredict(SegEvalOptions o)
    {
        var m = ModelLoader.LoadSegmenter(o.Weights, new LoadOptions { Model = o.Model, UseEma = o.UseEma, ImageSize = o.ImageSize, Verbose = o.Verbose, Warnings = Console.Error });
        var files = PredictCommand.ExpandImages(o.Images);
        string dir = o.Output ?? RunFolders.New(Path.Combine("runs", "segment-predict"), m.ModelName, DateTime.Now);
        Directory.CreateDirectory(dir);
        var config = Inference(o, m.ImageSize);
        int failed = 0;
        foreach (var path in files)
        {
            if (PredictCommand.TryLoad(path, "segment predict", Console.Error, out _) is not { } loaded)
            {
                failed++;
                continue;
            }
            var image = loaded.ToRgb();
            int[] pred = PredictImage(m, image, config);
            int[]? truth = o.Labels != null ? GroundTruth(o.Labels, path, image) : null;
            string stem = Path.Combine(dir, Path.GetFileNameWithoutExtension(path));
            ImageIO.Save(SegPictures.Colorize(pred, image.Height, image.Width), stem + "_label.png");
            ImageIO.Save(SegPictures.OverlayRow(image, pred, truth), stem + "_overlay.png");
            Console.WriteLine($"{path}: {stem}_label.png, {stem}_overlay.png ({Present(pred, m.ClassNames)})");
        }
        return PredictCommand.FilesDone("segment predict", failed, files.Count);
    }

    /// <summary>mmseg's inference on one image: resized to the test scale (ratio kept), normalised, logits back at the image's size, argmax.</summary>
    internal static int[] PredictImage(LoadedSegmenter m, Image image, SegInferenceConfig config)
    {
        var transform = new SegEvalTransform(EvalTransform(m));
        var s = transform.Apply(image, new LabelMap(image.Width, image.Height));
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        var logits = SegInference.Run(m.Model.Forward, Tensor.FromArray(s.Image, 1, 3, s.ImageHeight, s.ImageWidth), config);
        return SegInference.Predict(logits, image.Height, image.Width);
    }

    /// <summary>The label PNG with the image's stem under <paramref name="labels"/>, or null (said) when there is none or it does not fit.</summary>
    private static int[]? GroundTruth(string labels, string imagePath, Image image)
    {
        string file = Path.Combine(labels, Path.GetFileNameWithoutExtension(imagePath) + ".png");
        if (!File.Exists(file)) { Console.Error.WriteLine($"segment predict: no label {file} for {imagePath}; drawn without ground truth"); return null; }
        var map = LabelMap.FromImage(Png.DecodeIndices(File.ReadAllBytes(file), file));
        if (map.Width != image.Width || map.Height != image.Height)
        {
            Console.Error.WriteLine($"segment predict: label {file} is {map.Width}×{map.Height}, the image {image.Width}×{image.Height}; drawn without ground truth");
            return null;
        }
        return map.Data.Select(b => (int)b).ToArray();
    }

    /// <summary>"circle 12.1 %, square 3.0 %": the classes present in a prediction, largest first, background left out.</summary>
    private static string Present(int[] pred, IReadOnlyList<string> names)
    {
        var counts = new long[names.Count];
        foreach (int c in pred) if ((uint)c < (uint)counts.Length) counts[c]++;
        var shown = Enumerable.Range(1, names.Count - 1).Where(c => counts[c] > 0).OrderByDescending(c => counts[c]).Take(5)
            .Select(c => FormattableString.Invariant($"{names[c]} {100.0 * counts[c] / pred.Length:F1} %"));
        return string.Join(", ", shown) is { Length: > 0 } s ? s : "background only";
    }
}
