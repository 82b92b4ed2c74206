// Classification evaluation over a batch source: top-1, top-5, mean loss, per-class accuracy and the confusion matrix.
using Ascan.Core;
using Ascan.Nn;
using Ascan.Data;

namespace Ascan.Training.Eval;

/// <summary>Results over a whole split. Confusion[t, p] counts images of true class t predicted as p.</summary>
public sealed class EvalResult
{
    public required IReadOnlyList<string> ClassNames { get; init; }
    public required long[,] Confusion { get; init; }
    public required long Images { get; init; }
    public required long Top1Correct { get; init; }
    public required long Top5Correct { get; init; }
    public required double LossSum { get; init; }
    /// <summary>Per image in source order (when asked for): the predicted class and its softmax probability.</summary>
    public IReadOnlyList<(int Predicted, float Probability)>? Predictions { get; init; }

    public double Top1 => Images == 0 ? double.NaN : (double)Top1Correct / Images;
    /// <summary>Top-k accuracy with k = min(5, classes).</summary>
    public double Top5 => Images == 0 ? double.NaN : (double)Top5Correct / Images;
    /// <summary>Mean cross-entropy (no label smoothing).</summary>
    public double Loss => Images == 0 ? double.NaN : LossSum / Images;
    public int NumClasses => ClassNames.Count;

    public long ClassCount(int c) { long n = 0; for (int p = 0; p < NumClasses; p++) n += Confusion[c, p]; return n; }

    /// <summary>Recall of class <paramref name="c"/> (NaN when the split holds none of it).</summary>
    public double ClassAccuracy(int c) { long n = ClassCount(c); return n == 0 ? double.NaN : (double)Confusion[c, c] / n; }

    /// <summary>{top1, top5, loss, images}: the shape `ascan eval --json` prints.</summary>
    public string ToJson()
    {
        static string F(double v) => double.IsFinite(v) ? v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "null";
        return $"{{\"top1\": {F(Top1)}, \"top5\": {F(Top5)}, \"loss\": {F(Loss)}, \"images\": {Images}}}";
    }
}

public static class Evaluator
{
    /// <summary>
    /// Runs <paramref name="model"/> in eval mode without autograd over every batch of epoch 0 of <paramref name="source"/>
    /// (restoring its mode afterwards). <paramref name="progress"/> gets (batches done, batches total).
    /// </summary>
    public static EvalResult Evaluate<TModel>(TModel model, IBatchSource source, Action<int, int>? progress = null, bool keepPredictions = false)
        where TModel : Module, ILayer
    {
        int classes = source.ClassNames.Count;
        if (classes == 0) throw new ArgumentException("Evaluation source has no classes.");
        int k = Math.Min(5, classes);
        var confusion = new long[classes, classes];
        long images = 0, top1 = 0, topk = 0;
        double lossSum = 0;
        var predictions = keepPredictions ? new List<(int, float)>() : null;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            int done = 0;
            foreach (var batch in source.Epoch(0))
            {
                using (TensorScope.Begin())
                {
                    var logits = model.Forward(batch.Images); // (B, classes)
                    if (logits.Rank != 2 || logits.Dim(1) != classes)
                        throw new InvalidOperationException($"Model returned logits {ShapeUtil.Format(logits.Shape)}; the data has {classes} classes.");
                    lossSum += Ops.CrossEntropy(logits, batch.Labels, reduction: Reduction.Sum).Item();
                    var l = logits.ToArray<float>();
                    for (int i = 0; i < batch.Labels.Length; i++)
                    {
                        var row = l.AsSpan(i * classes, classes);
                        int t = batch.Labels[i];
                        if ((uint)t >= (uint)classes) throw new InvalidOperationException($"Label {t} is outside the {classes} classes.");
                        int pred = TopK.ArgMax(row);
                        confusion[t, pred]++;
                        if (pred == t) top1++;
                        if (TopK.Rank(row, t) < k) topk++;
                        predictions?.Add((pred, Softmax(row, pred)));
                    }
                    images += batch.Labels.Length;
                }
                progress?.Invoke(++done, source.BatchesPerEpoch);
            }
        }
        finally
        {
            model.Train(wasTraining);
        }
        return new EvalResult { ClassNames = source.ClassNames, Confusion = confusion, Images = images, Top1Correct = top1, Top5Correct = topk, LossSum = lossSum, Predictions = predictions };
    }

    /// <summary>softmax(row)[c], computed stably in double.</summary>
    public static float Softmax(ReadOnlySpan<float> row, int c)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        return (float)(Math.Exp(row[c] - max) / sum);
    }
}

/// <summary>Ranking helpers over one row of logits (ties go to the lower index, as torch.topk on CPU in practice).</summary>
public static class TopK
{
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    /// <summary>How many classes score strictly higher than class <paramref name="c"/>, or tie with it at a lower index.</summary>
    public static int Rank(ReadOnlySpan<float> row, int c)
    {
        int r = 0;
        for (int i = 0; i < row.Length; i++) if (row[i] > row[c] || (row[i] == row[c] && i < c)) r++;
        return r;
    }

    /// <summary>The <paramref name="k"/> best classes, best first.</summary>
    public static int[] Indices(ReadOnlySpan<float> row, int k)
    {
        var idx = Enumerable.Range(0, row.Length).ToArray();
        var values = row.ToArray();
        Array.Sort(idx, (a, b) => values[a] != values[b] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        return idx[..Math.Min(k, idx.Length)];
    }
}
