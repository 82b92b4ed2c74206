// Segmentation metrics as mmseg's IoUMetric: per-class areas summed over the whole dataset, then aAcc, IoU, Acc, mIoU, mAcc.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Reporting;

namespace Ascan.Training.Eval;

/// <summary>
/// Running sums of mmseg's intersect_and_union over every image of a split: per class the intersection, union,
/// label area and prediction area (longs). Pixels whose label is the ignore index are not counted; as torch.histc
/// does, a label or prediction outside 0..K−1 adds to no class's area.
/// </summary>
public sealed class SegMetricAccumulator
{
    private readonly long[] _intersect, _union, _label, _pred;

    public int NumClasses { get; }
    public int IgnoreIndex { get; }

    /// <summary>Pixels counted so far (label not ignored).</summary>
    public long Pixels { get; private set; }

    public SegMetricAccumulator(int numClasses, int ignoreIndex = 255)
    {
        if (numClasses < 1) throw new ArgumentException($"Segmentation metrics need at least one class, got {numClasses}.");
        NumClasses = numClasses; IgnoreIndex = ignoreIndex;
        _intersect = new long[numClasses]; _union = new long[numClasses]; _label = new long[numClasses]; _pred = new long[numClasses];
    }

    public IReadOnlyList<long> Intersect => _intersect;
    public IReadOnlyList<long> Union => _union;
    public IReadOnlyList<long> LabelArea => _label;
    public IReadOnlyList<long> PredArea => _pred;

    /// <summary>Adds predicted and true class maps of the same pixels (any shape, same length).</summary>
    public void Add(ReadOnlySpan<int> prediction, ReadOnlySpan<int> label)
    {
        if (prediction.Length != label.Length) throw new ArgumentException($"Prediction has {prediction.Length} pixels but the label {label.Length}.");
        int k = NumClasses;
        for (int i = 0; i < label.Length; i++)
        {
            int t = label[i];
            if (t == IgnoreIndex) continue;
            int p = prediction[i];
            Pixels++;
            bool tIn = (uint)t < (uint)k, pIn = (uint)p < (uint)k;
            if (tIn) _label[t]++;
            if (pIn) _pred[p]++;
            if (tIn && p == t) _intersect[t]++;
        }
        for (int c = 0; c < k; c++) _union[c] = _pred[c] + _label[c] - _intersect[c];
    }

    /// <summary>
    /// Adds a batch. Shapes: logits (B, K, h, w); masks (B, maskHeight, maskWidth) (0 = the logits' h and w). Logits of
    /// another size are resized bilinear to the masks' first (mmseg scores at the original size), then argmaxed over K.
    /// </summary>
    public void Add(Tensor logits, ReadOnlySpan<int> masks, int maskHeight = 0, int maskWidth = 0)
    {
        if (logits.Rank != 4 || logits.Dim(1) != NumClasses)
            throw new ArgumentException($"Segmentation logits must be (B, {NumClasses}, H, W), got ({string.Join(", ", logits.ShapeArray())}).");
        int h = maskHeight > 0 ? maskHeight : logits.Dim(2), w = maskWidth > 0 ? maskWidth : logits.Dim(3);
        Add(SegInference.Predict(logits, h, w), masks);
    }

    /// <summary>Adds a batch's predictions against its masks (at <see cref="Batch.MaskHeight"/> × <see cref="Batch.MaskWidth"/>).</summary>
    public void Add(Tensor logits, Batch batch)
    {
        if (batch.Masks is not { } masks) throw new ArgumentException("The batch has no masks to score against.");
        Add(logits, masks, batch.MaskHeight, batch.MaskWidth);
    }

    /// <summary>Adds another accumulator's sums (e.g. one per worker).</summary>
    public void Merge(SegMetricAccumulator other)
    {
        if (other.NumClasses != NumClasses) throw new ArgumentException($"Cannot merge metrics of {other.NumClasses} classes into {NumClasses}.");
        for (int c = 0; c < NumClasses; c++)
        {
            _intersect[c] += other._intersect[c]; _union[c] += other._union[c]; _label[c] += other._label[c]; _pred[c] += other._pred[c];
        }
        Pixels += other.Pixels;
    }

    /// <summary>
    /// aAcc = Σ intersect / Σ label area; per class IoU = intersect / union and Acc = intersect / label area (NaN when
    /// the denominator is 0); mIoU and mAcc = the mean over the classes that are not NaN (numpy's nanmean).
    /// </summary>
    public SegMetricResult Compute(IReadOnlyList<string>? classNames = null)
    {
        if (classNames != null && classNames.Count != NumClasses)
            throw new ArgumentException($"{classNames.Count} class names for {NumClasses} classes.");
        var classes = new SegClassResult[NumClasses];
        long inter = 0, label = 0;
        for (int c = 0; c < NumClasses; c++)
        {
            classes[c] = new SegClassResult(classNames?[c] ?? c.ToString(CultureInfo.InvariantCulture),
                Ratio(_intersect[c], _union[c]), Ratio(_intersect[c], _label[c]), _intersect[c], _union[c], _label[c], _pred[c]);
            inter += _intersect[c]; label += _label[c];
        }
        return new SegMetricResult(Ratio(inter, label), NanMean(classes.Select(r => r.IoU)), NanMean(classes.Select(r => r.Acc)), classes, Pixels);
    }

    private static double Ratio(long a, long b) => b == 0 ? double.NaN : (double)a / b;

    private static double NanMean(IEnumerable<double> values)
    {
        double sum = 0; int n = 0;
        foreach (double v in values) if (!double.IsNaN(v)) { sum += v; n++; }
        return n == 0 ? double.NaN : sum / n;
    }
}

/// <summary>One class's row: IoU and Acc as fractions (NaN when undefined) and the areas they come from.</summary>
public sealed record SegClassResult(string Name, double IoU, double Acc, long Intersect, long Union, long LabelArea, long PredArea);

/// <summary>A split's segmentation scores. AAcc, MIoU, MAcc are fractions in [0, 1] (mmseg prints them ×100).</summary>
public sealed record SegMetricResult(double AAcc, double MIoU, double MAcc, IReadOnlyList<SegClassResult> Classes, long Pixels)
{
    /// <summary>{aAcc, mIoU, mAcc} for summaries and logs.</summary>
    public Metrics ToMetrics() => Metrics.Of(("aAcc", AAcc), ("mIoU", MIoU), ("mAcc", MAcc));

    private static string Pct(double v) => double.IsNaN(v) ? "nan" : (100 * v).ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>mmseg's per-class table (IoU and Acc in percent, "nan" where undefined), then the summary line.</summary>
    public string ToTable()
    {
        int w = Math.Max(5, Classes.Count == 0 ? 0 : Classes.Max(c => c.Name.Length));
        var sb = new StringBuilder();
        string rule = "+" + new string('-', w + 2) + "+--------+--------+";
        sb.AppendLine(rule);
        sb.AppendLine($"| {"Class".PadRight(w)} |    IoU |    Acc |");
        sb.AppendLine(rule);
        foreach (var c in Classes) sb.AppendLine($"| {c.Name.PadRight(w)} | {Pct(c.IoU),6} | {Pct(c.Acc),6} |");
        sb.AppendLine(rule);
        sb.Append($"aAcc {Pct(AAcc)}  mIoU {Pct(MIoU)}  mAcc {Pct(MAcc)}  ({Pixels} pixels)");
        return sb.ToString();
    }

    /// <summary>One row per class: class,iou,acc,intersect,union,label_area,pred_area (fractions; empty where NaN).</summary>
    public string ToCsv()
    {
        static string F(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);
        static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder("class,iou,acc,intersect,union,label_area,pred_area\n");
        foreach (var c in Classes)
            sb.Append(CultureInfo.InvariantCulture, $"{Quote(c.Name)},{F(c.IoU)},{F(c.Acc)},{c.Intersect},{c.Union},{c.LabelArea},{c.PredArea}\n");
        return sb.ToString();
    }

    /// <summary>{"aAcc", "mIoU", "mAcc", "pixels", "classes": [{"name", "iou", "acc", "intersect", "union", "label_area", "pred_area"}]}, NaN as null.</summary>
    public string ToJson(bool indented = false)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented }))
        {
            static void Num(Utf8JsonWriter j, string name, double v) { if (double.IsFinite(v)) j.WriteNumber(name, v); else j.WriteNull(name); }
            j.WriteStartObject();
            Num(j, "aAcc", AAcc); Num(j, "mIoU", MIoU); Num(j, "mAcc", MAcc);
            j.WriteNumber("pixels", Pixels);
            j.WriteStartArray("classes");
            foreach (var c in Classes)
            {
                j.WriteStartObject();
                j.WriteString("name", c.Name);
                Num(j, "iou", c.IoU); Num(j, "acc", c.Acc);
                j.WriteNumber("intersect", c.Intersect); j.WriteNumber("union", c.Union);
                j.WriteNumber("label_area", c.LabelArea); j.WriteNumber("pred_area", c.PredArea);
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
