// `ascan eval`: top-1, top-5, loss, per-class accuracy and a confusion-matrix picture of a model on an ImageFolder.
using System.CommandLine;
using System.Globalization;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Evaluate a classifier on an ImageFolder (DIR/val, or DIR itself): top-1, top-5, loss, per-class accuracy, " +
            "and a confusion-matrix picture (confusion_matrix.svg beside the weights, or in --out).");
        var model = new Option<string?>("--model") { Description = "Registered model name (optional for training checkpoints, which store it)." };
        var weights = new Option<string>("--weights") { Description = "Training checkpoint or plain model safetensors.", Required = true };
        var data = new Option<string>("--data") { Description = "ImageFolder root (its val/ split is used when present).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print only {\"top1\", \"top5\", \"loss\", \"images\"} on stdout." };
        var useEma = new Option<bool>("--use-ema") { Description = "Evaluate the checkpoint's EMA weights." };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Images per batch.", DefaultValueFactory = _ => 64 };
        var size = new Option<int?>("--image-size") { Description = "Input size (default: the training size, else the model's)." };
        var workers = new Option<int>("--workers", "-j") { Description = "Data-loading threads.", DefaultValueFactory = _ => LoaderOptions.DefaultWorkers };
        var outDir = new Option<string?>("--out") { Description = "Folder for confusion_matrix.svg (default: the weights' folder)." };
        foreach (var o in new Option[] { model, weights, data, json, useEma, batch, size, workers, outDir }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            try
            {
                var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(weights)!, r.GetValue(useEma), r.GetValue(size));
                var result = Run(loaded, r.GetValue(data)!, r.GetValue(batch), r.GetValue(workers), !r.GetValue(json));
                string dir = r.GetValue(outDir) ?? Path.GetDirectoryName(Path.GetFullPath(r.GetValue(weights)!))!;
                Directory.CreateDirectory(dir);
                string picture = Path.Combine(dir, "confusion_matrix.svg");
                File.WriteAllText(picture, EvalPictures.ConfusionMatrixSvg(result));
                if (r.GetValue(json)) { Console.WriteLine(result.ToJson()); return 0; }
                Print(result, Console.Out);
                Console.WriteLine($"confusion matrix: {picture}");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"eval: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    /// <summary>Evaluates <paramref name="m"/> on DIR/val (or DIR) with the model's eval transform at its training size.</summary>
    internal static EvalResult Run(LoadedClassifier m, string dataDir, int batchSize, int workers, bool showProgress, bool keepPredictions = false)
    {
        var set = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(dataDir, "val"), m.ClassNames);
        var loader = DataLoader.ForEvaluation(set, TrainData.EvalTransform(m.Data, m.ImageSize),
            new LoaderOptions { BatchSize = batchSize, Shuffle = false, Workers = workers, Log = Console.Error });
        bool tty = !Console.IsErrorRedirected;
        var result = Evaluator.Evaluate(m.Model, loader, showProgress && tty
            ? (done, total) => Console.Error.Write(done == total ? $"\reval: {done}/{total} batches\n" : $"\reval: {done}/{total} batches")
            : null, keepPredictions);
        if (loader.SkippedFiles > 0) Console.Error.WriteLine($"eval: skipped {loader.SkippedFiles} unreadable images (reported above by path)");
        return result;
    }

    internal static void Print(EvalResult r, TextWriter w)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(inv, $"images: {r.Images}"));
        w.WriteLine(string.Create(inv, $"top-1:  {r.Top1:F4}"));
        w.WriteLine(string.Create(inv, $"top-{Math.Min(5, r.NumClasses)}:  {r.Top5:F4}"));
        w.WriteLine(string.Create(inv, $"loss:   {r.Loss:F4}"));
        w.WriteLine();
        w.Write(EvalPictures.PerClassTable(r));
    }
}
