// Image classification as a training task: cross-entropy (label smoothing or mixup's soft targets), top-1 while
// training, top-1/top-5/loss of the model and its EMA on the val split, class_map.txt, and its summary columns.
using System.Globalization;
using Ascan.Core;
using Ascan.Data;
using Ascan.Models;
using Ascan.Nn;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tasks;

/// <summary>
/// Trains a <see cref="ClassifierModel"/> on labelled images; evaluates on <paramref name="val"/> (when given) every
/// epoch. Summary columns: train_loss, train_acc, val_loss, val_top1, val_top5, ema_top1. Checkpoints rank by the
/// EMA's top-1 when there is one (as timm), else the model's val top-1, else the negated train loss.
/// </summary>
public sealed class ClassificationTask(Func<ClassifierModel> createModel, IBatchSource train, IBatchSource? val, double labelSmoothing)
    : TrainTask
{
    public const string TrainLoss = "train_loss", TrainAcc = "train_acc", ValLoss = "val_loss", ValTop1 = "val_top1",
        ValTop5 = "val_top5", EmaTop1 = "ema_top1";

    /// <summary>The running sum of top-1 hits while training.</summary>
    private const string Correct = "correct";

    /// <summary>Loss (train, val) and accuracy (train, val top-1, EMA top-1) panels.</summary>
    public static IReadOnlyList<CurvePanel> CurvePanels { get; } =
    [
        new("Loss", [new("train", "#1f77b4", TrainLoss), new("val", "#d62728", ValLoss)]),
        new("Accuracy", [new("train", "#1f77b4", TrainAcc), new("val top-1", "#d62728", ValTop1), new("EMA top-1", "#2ca02c", EmaTop1)], (0, 1)),
    ];

    public override IReadOnlyList<string> ClassNames => train.ClassNames;
    public override IReadOnlyList<CurvePanel> Curves => CurvePanels;

    public override Module CreateModel() => createModel();

    /// <summary>The registered model's data config at the run's image size, with the data's class count; null for an unregistered model.</summary>
    public override DataConfig? Data(TrainConfig c) =>
        ModelRegistry.All.FirstOrDefault(e => e.Name == c.Model) is { } e ? TrainData.DataConfigOf(c, e.Config, train.ClassNames.Count) : null;

    public override string Prepare(Module model)
    {
        var classes = train.ClassNames;
        if (val != null && !val.ClassNames.SequenceEqual(classes))
            throw new ArgumentException($"Train and val class maps differ (train: {string.Join(", ", classes)}; val: {string.Join(", ", val.ClassNames)}); both splits need the same class folders.");
        if (Classifier(model).NumClasses != classes.Count)
            throw new ArgumentException($"The model has {Classifier(model).NumClasses} outputs but the data has {classes.Count} classes.");
        return FormattableString.Invariant($"{train.SampleCount} train images in {classes.Count} classes, ")
            + (val != null ? FormattableString.Invariant($"{val.SampleCount} val images") : "no val split");
    }

    public override TaskStep Step(Module model, Batch batch)
    {
        // Smoothed hard labels, or the soft targets of mixup/cutmix, which carry the smoothing already (timm's Mixup
        // smooths its targets; SoftTargetCrossEntropy adds none).
        var logits = Classifier(model).Forward(batch.Images); // (B, classes)
        var loss = batch.SoftTargets is { } soft
            ? Ops.CrossEntropy(logits, soft)
            : Ops.CrossEntropy(logits, batch.Labels, labelSmoothing: labelSmoothing);
        return new TaskStep(loss, Metrics.Of((Correct, CountCorrect(logits, batch.Labels))));
    }

    public override Metrics Running(EpochMeters meters) => Metrics.Of(("acc", meters.PerSample(Correct)));

    public override Metrics EndEpoch(EpochMeters trainMeters, Module model, Module? ema)
    {
        var evalModel = val != null ? Evaluator.Evaluate(Classifier(model), val) : null;
        var evalEma = val != null && ema != null ? Evaluator.Evaluate(Classifier(ema), val) : null;
        return Metrics.Of((TrainLoss, trainMeters.Loss), (TrainAcc, trainMeters.PerSample(Correct)), (ValLoss, evalModel?.Loss ?? double.NaN),
            (ValTop1, evalModel?.Top1 ?? double.NaN), (ValTop5, evalModel?.Top5 ?? double.NaN), (EmaTop1, evalEma?.Top1 ?? double.NaN));
    }

    public override double Score(Metrics epoch) =>
        !double.IsNaN(epoch[EmaTop1]) ? epoch[EmaTop1] : !double.IsNaN(epoch[ValTop1]) ? epoch[ValTop1] : -epoch[TrainLoss];

    public override void WriteRunFiles(string output) => ClassMap.Write(output, train.ClassNames);

    public override string FormatEpoch(Metrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        string s = string.Create(inv, $"train loss {m[TrainLoss]:F4} acc {m[TrainAcc]:F3}");
        if (!double.IsNaN(m[ValTop1])) s += string.Create(inv, $" | val loss {m[ValLoss]:F4} top1 {m[ValTop1]:F4} top5 {m[ValTop5]:F4}");
        if (!double.IsNaN(m[EmaTop1])) s += string.Create(inv, $" | ema top1 {m[EmaTop1]:F4}");
        return s;
    }

    private static ClassifierModel Classifier(Module model) =>
        model as ClassifierModel ?? throw new ArgumentException($"Classification trains a classifier; got a {model.GetType().Name}.");

    private static int CountCorrect(Tensor logits, int[] labels)
    {
        var l = logits.ToArray<float>();
        int classes = logits.Dim(1), correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (TopK.ArgMax(l.AsSpan(i * classes, classes)) == labels[i]) correct++;
        return correct;
    }
}

/// <summary>Classification's columns of an epoch record, by name (NaN in a record of another task).</summary>
public static class ClassificationColumns
{
    extension(EpochRecord r)
    {
        public double TrainAcc => r.Metrics[ClassificationTask.TrainAcc];
        public double ValLoss => r.Metrics[ClassificationTask.ValLoss];
        public double ValTop1 => r.Metrics[ClassificationTask.ValTop1];
        public double ValTop5 => r.Metrics[ClassificationTask.ValTop5];
        public double EmaTop1 => r.Metrics[ClassificationTask.EmaTop1];
    }
}
