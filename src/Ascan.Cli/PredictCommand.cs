// `ascan predict`: the top-k classes, with names and probabilities, of a classifier on image files.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Data.Imaging;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static class PredictCommand
{
    public static Command Create()
    {
        var cmd = new Command("predict", "Classify image files (JPEG/PNG): top-k class names with probabilities. Class names come from the " +
            "checkpoint or the class_map.txt beside the weights.");
        var model = new Option<string?>("--model") { Description = "Registered model name (optional for training checkpoints)." };
        var weights = new Option<string>("--weights") { Description = "Training checkpoint or plain model safetensors.", Required = true };
        var topk = new Option<int>("--top-k", "-k") { Description = "Classes to show per image.", DefaultValueFactory = _ => 5 };
        var useEma = new Option<bool>("--use-ema") { Description = "Use the checkpoint's EMA weights." };
        var size = new Option<int?>("--image-size") { Description = "Input size (default: the training size, else the model's)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON array: [{image, top: [{class, index, prob}]}]." };
        var images = new Argument<string[]>("IMAGE") { Description = "Image files.", Arity = ArgumentArity.OneOrMore };
        foreach (var o in new Option[] { model, weights, topk, useEma, size, json }) cmd.Options.Add(o);
        cmd.Arguments.Add(images);
        cmd.SetAction(r =>
        {
            try
            {
                var m = ModelLoader.Load(r.GetValue(model), r.GetValue(weights)!, r.GetValue(useEma), r.GetValue(size));
                var results = Predict(m, r.GetValue(images)!, Math.Max(1, r.GetValue(topk)));
                if (r.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(results.Select(p => new
                    {
                        image = p.Image,
                        top = p.Top.Select(t => new { @class = m.ClassNames[t.Index], index = t.Index, prob = Math.Round(t.Prob, 6) }),
                    })));
                    return 0;
                }
                int w = m.ClassNames.Max(n => n.Length);
                foreach (var p in results)
                {
                    Console.WriteLine(p.Image);
                    foreach (var (i, prob) in p.Top)
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {m.ClassNames[i].PadRight(w)}  {EvalPictures.Percent(prob, 2),7}"));
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or ImageDecodeException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"predict: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    internal sealed record Prediction(string Image, IReadOnlyList<(int Index, double Prob)> Top);

    /// <summary>Each image through the eval transform (resize, centre crop, normalise) and the model, one at a time.</summary>
    internal static List<Prediction> Predict(LoadedClassifier m, IEnumerable<string> paths, int k)
    {
        var transform = new EvalTransform(TrainData.EvalTransform(m.Data, m.ImageSize));
        int s = transform.Size;
        var results = new List<Prediction>();
        using var noGrad = Autograd.NoGrad();
        foreach (var path in paths)
        {
            var image = ImageIO.Load(path);
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
