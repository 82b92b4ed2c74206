// Evaluating a segmenter over a whole split, as mmseg's test loop: inference per batch (whole or slide, optional
// TTA), logits resized to each label's original size, IoU sums accumulated over the split, then divided.
using System.Diagnostics;
using Ascan.Core;
using Ascan.Data;
using Ascan.Models.Segmentation;

namespace Ascan.Training.Eval;

/// <summary>One evaluated image kept for pictures: the normalised image at the label's size, prediction and label (H × W).</summary>
public sealed record SegSampleView(float[] Image, int[] Prediction, int[] Label, int Height, int Width);

/// <summary>The metrics of a split, the images kept for pictures, and the time it took.</summary>
public sealed record SegEvalResult(SegMetricResult Metrics, IReadOnlyList<SegSampleView> Samples, int Images, double Seconds);

public static class SegEvaluator
{
    /// <summary>
    /// Runs <paramref name="model"/> in eval mode (restored afterwards) over every batch of <paramref name="source"/>
    /// and scores it against the masks. <paramref name="keepSamples"/> first images are kept for overlays;
    /// <paramref name="progress"/> gets (images done, total).
    /// </summary>
    public static SegEvalResult Evaluate(Segmenter model, IBatchSource source, SegInferenceConfig? inference = null,
        int keepSamples = 0, Action<int, int>? progress = null)
    {
        var config = inference ?? new SegInferenceConfig();
        var acc = new SegMetricAccumulator(model.NumClasses, Batch.IgnoreIndex);
        var samples = new List<SegSampleView>();
        var clock = Stopwatch.StartNew();
        int images = 0;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var batch in source.Epoch(0))
            {
                using var scope = TensorScope.Begin();
                var masks = batch.Masks ?? throw new ArgumentException("Segmentation evaluation needs masks (Batch.Masks).");
                var logits = SegInference.Run(model.Forward, batch.Images, config);              // (B, K, h, w)
                int h = batch.MaskHeight, w = batch.MaskWidth, hw = h * w;
                var pred = SegInference.Predict(logits, h, w);                                   // (B, H, W)
                acc.Add(pred, masks);
                for (int i = 0; i < batch.Count && samples.Count < keepSamples; i++)
                {
                    var img = SegInference.Resize(batch.Images.Slice(0, i, 1), h, w).ToArray<float>(); // (1, 3, H, W)
                    samples.Add(new SegSampleView(img, pred.AsSpan(i * hw, hw).ToArray(), masks.AsSpan(i * hw, hw).ToArray(), h, w));
                }
                images += batch.Count;
                progress?.Invoke(images, source.SampleCount);
            }
        }
        finally
        {
            if (wasTraining) model.Train();
        }
        return new SegEvalResult(acc.Compute(source.ClassNames), samples, images, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The files of an evaluation in <paramref name="dir"/>: per_class.csv, the overlay grid at
    /// <paramref name="overlay"/> (relative to <paramref name="dir"/>; image | prediction | ground truth) and, with
    /// <paramref name="json"/>, eval.json. Returns the overlay's path.
    /// </summary>
    public static string WriteFiles(SegEvalResult r, string dir, double[] mean, double[] std, string overlay = "overlay.png", bool json = true)
    {
        string picture = Path.Combine(dir, overlay);
        Directory.CreateDirectory(Path.GetDirectoryName(picture)!);
        if (json) File.WriteAllText(Path.Combine(dir, "eval.json"), r.Metrics.ToJson(indented: true) + "\n");
        File.WriteAllText(Path.Combine(dir, "per_class.csv"), r.Metrics.ToCsv());
        Ascan.Training.Reporting.SegPictures.SaveOverlayGrid(picture, r.Samples, mean, std);
        return picture;
    }
}
