// Semantic segmentation as a task of the shared loop: mmseg's EncoderDecoder losses (decode + 0.4 · auxiliary
// cross-entropy at the label size, ignore 255) and its IoU metric over the whole val split every epoch.
using System.Globalization;
using Ascan.Core;
using Ascan.Data;
using Ascan.Models;
using Ascan.Models.Segmentation;
using Ascan.Nn;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tasks;

/// <summary>
/// Trains a <see cref="Segmenter"/> on image/label batches (<see cref="Batch.Masks"/>) and evaluates it on
/// <paramref name="val"/> every epoch with <see cref="SegEvaluator"/>. Summary columns: train_loss, train_acc (pixel
/// accuracy of the decode head), val_miou, val_aacc, val_macc, ema_miou. Checkpoints rank by the EMA's mIoU when there
/// is one, else the model's, else the negated train loss. Each evaluation writes OUT/per_class.csv and
/// OUT/overlays/epoch_NNN.png (image | prediction | ground truth).
/// </summary>
/// <param name="data">The model's data config (normalisation); stored in checkpoints with the run's crop and classes.</param>
public sealed class SegmentationTask(Func<Segmenter> createModel, IBatchSource train, IBatchSource? val, DataConfig data,
    SegInferenceConfig? inference = null) : TrainTask
{
    public const string TrainLoss = "train_loss", TrainAcc = "train_acc", ValMIoU = "val_miou", ValAAcc = "val_aacc",
        ValMAcc = "val_macc", EmaMIoU = "ema_miou";

    private const string Correct = "correct_px", Labelled = "labelled_px";

    /// <summary>Validation images drawn in each epoch's overlay picture.</summary>
    public int OverlayImages { get; init; } = 6;

    /// <summary>The last evaluation (per-class table), null before the first.</summary>
    public SegEvalResult? LastEval { get; private set; }

    private string? _output;

    public static IReadOnlyList<CurvePanel> CurvePanels { get; } =
    [
        new("Loss", [new("train", "#1f77b4", TrainLoss)]),
        new("mIoU / pixel accuracy", [new("train pixel acc", "#1f77b4", TrainAcc), new("val mIoU", "#d62728", ValMIoU),
            new("EMA mIoU", "#2ca02c", EmaMIoU), new("val aAcc", "#ff7f0e", ValAAcc)], (0, 1)),
    ];

    public override IReadOnlyList<string> ClassNames => train.ClassNames;
    public override IReadOnlyList<CurvePanel> Curves => CurvePanels;
    public override Module CreateModel() => createModel();

    /// <summary>What eval, predict and infer read back: the normalisation, the training crop as the size, the classes.</summary>
    public override DataConfig? Data(TrainConfig c) => data with { InputSize = c.ImageSize ?? data.InputSize, NumClasses = train.ClassNames.Count };

    public override string Prepare(Module model)
    {
        var classes = train.ClassNames;
        if (val != null && !val.ClassNames.SequenceEqual(classes))
            throw new ArgumentException($"Train and val class lists differ (train: {classes.Count} classes, val: {val.ClassNames.Count}); both splits need the same classes.");
        if (Seg(model).NumClasses != classes.Count)
            throw new ArgumentException($"The segmenter has {Seg(model).NumClasses} classes but the data has {classes.Count} (pass --num-classes {classes.Count} or use matching data).");
        return FormattableString.Invariant($"{train.SampleCount} train images in {classes.Count} classes, ")
            + (val != null ? FormattableString.Invariant($"{val.SampleCount} val images") : "no val split");
    }

    /// <summary>
    /// mmseg's loss: each head's channels-last logits resized bilinear (align_corners false) to the label size, then
    /// cross-entropy with ignore index 255, averaged over all label pixels (mmseg's CrossEntropyLoss with
    /// avg_non_ignore false: ignored pixels add 0 to the sum but count in the mean); the auxiliary loss weighs
    /// <see cref="UperNetConfig.AuxLossWeight"/>.
    /// </summary>
    public override TaskStep Step(Module model, Batch batch)
    {
        var masks = batch.Masks ?? throw new ArgumentException("Segmentation batches need masks (Batch.Masks).");
        var seg = Seg(model);
        var (loss, decode) = Loss(seg, seg.ForwardLogits(batch.Images, withAux: true), masks, batch.MaskHeight, batch.MaskWidth);
        var (correct, labelled) = CountCorrect(decode, masks);
        return new TaskStep(loss, Metrics.Of((Correct, correct), (Labelled, labelled)));
    }

    /// <summary>
    /// The training loss of one batch's logits (see <see cref="Step"/>) and the decode logits at the label size,
    /// (B, h, w, K); also what `bench --train` times for a segmenter. Shapes: masks (B, h, w) flat.
    /// </summary>
    public static (Tensor Loss, Tensor Decode) Loss(Segmenter seg, SegmentationLogits logits, int[] masks, int h, int w)
    {
        var decode = Upsampled(logits.Decode, h, w);                                     // (B, h, w, K)
        var loss = PixelLoss(decode, masks);
        if (logits.Aux is { } aux) loss = Ops.Add(loss, Ops.Mul(PixelLoss(Upsampled(aux, h, w), masks), seg.Config.AuxLossWeight));
        return (loss, decode);
    }

    private static Tensor Upsampled(Tensor logits, int h, int w) =>
        logits.Dim(1) == h && logits.Dim(2) == w ? logits : Ops.Upsample(logits, (h, w), UpsampleMode.Bilinear, alignCorners: false);

    private static Tensor PixelLoss(Tensor logits, int[] masks) =>
        Ops.Div(Ops.CrossEntropy(logits, masks, ignoreIndex: Batch.IgnoreIndex, reduction: Reduction.Sum), masks.Length);

    private static (long Correct, long Labelled) CountCorrect(Tensor logits, int[] masks)
    {
        var l = logits.ToArray<float>();
        int k = logits.Dim(-1);
        long correct = 0, labelled = 0;
        for (int i = 0; i < masks.Length; i++)
        {
            if (masks[i] == Batch.IgnoreIndex) continue;
            labelled++;
            if (TopK.ArgMax(l.AsSpan(i * k, k)) == masks[i]) correct++;
        }
        return (correct, labelled);
    }

    public override Metrics Running(EpochMeters meters) => Metrics.Of(("px-acc", PixelAccuracy(meters)));

    private static double PixelAccuracy(EpochMeters meters)
    {
        double labelled = meters.Sum(Labelled);
        return labelled > 0 ? meters.Sum(Correct) / labelled : double.NaN;
    }

    public override Metrics EndEpoch(EpochMeters trainMeters, Module model, Module? ema)
    {
        SegEvalResult? evalModel = null, evalEma = null;
        if (val != null)
        {
            evalModel = SegEvaluator.Evaluate(Seg(model), val, inference, keepSamples: OverlayImages);
            if (ema != null) evalEma = SegEvaluator.Evaluate(Seg(ema), val, inference, keepSamples: OverlayImages);
            LastEval = evalEma ?? evalModel;
            // OUT/per_class.csv (the latest evaluation) and OUT/overlays/epoch_NNN.png.
            if (_output != null) SegEvaluator.WriteFiles(LastEval, _output, data.Mean, data.Std, Path.Combine("overlays", $"epoch_{Epoch:000}.png"), json: false);
        }
        return Metrics.Of((TrainLoss, trainMeters.Loss), (TrainAcc, PixelAccuracy(trainMeters)),
            (ValMIoU, evalModel?.Metrics.MIoU ?? double.NaN), (ValAAcc, evalModel?.Metrics.AAcc ?? double.NaN),
            (ValMAcc, evalModel?.Metrics.MAcc ?? double.NaN), (EmaMIoU, evalEma?.Metrics.MIoU ?? double.NaN));
    }

    public override double Score(Metrics epoch) =>
        !double.IsNaN(epoch[EmaMIoU]) ? epoch[EmaMIoU] : !double.IsNaN(epoch[ValMIoU]) ? epoch[ValMIoU] : -epoch[TrainLoss];

    public override void WriteRunFiles(string output)
    {
        _output = output;
        File.WriteAllLines(Path.Combine(output, "classes.txt"), train.ClassNames);
    }

    public override string FormatEpoch(Metrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        string s = string.Create(inv, $"train loss {m[TrainLoss]:F4} px-acc {m[TrainAcc]:F3}");
        if (!double.IsNaN(m[ValMIoU])) s += string.Create(inv, $" | val mIoU {m[ValMIoU]:F4} aAcc {m[ValAAcc]:F4} mAcc {m[ValMAcc]:F4}");
        if (!double.IsNaN(m[EmaMIoU])) s += string.Create(inv, $" | ema mIoU {m[EmaMIoU]:F4}");
        return s;
    }

    private static Segmenter Seg(Module model) =>
        model as Segmenter ?? throw new ArgumentException($"Segmentation trains a segmenter (upernet_*); got a {model.GetType().Name}.");
}
