// The training loop: per step LR → forward → loss → backward → clip → optimizer step → EMA → log; per epoch
// evaluate, write summary, curves and checkpoints; resume exactly; stop on interrupt or a non-finite loss.
using System.Diagnostics;
using System.Globalization;
using Ascan.Core;
using Ascan.Models;
using Ascan.Nn;
using Ascan.Nn.Optim;
using Ascan.Data;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;

namespace Ascan.Training.Train;

/// <summary>Thrown when the loss (or the weights) stop being finite; names where, and which checkpoint was kept.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>How a run ended.</summary>
public sealed record TrainResult(bool Completed, string? RecoveryPath, IReadOnlyList<EpochRecord> History, double BestMetric, int BestEpoch);

/// <summary>
/// Trains a classifier on an <see cref="IBatchSource"/>, evaluating on another. Output files in config.Output:
/// config.json, class_map.txt, summary.csv, curves.svg, last.safetensors, best.safetensors and, after an interrupt,
/// recovery.safetensors. The model is built by <paramref name="createModel"/> (called again for the EMA copy), so
/// two trainers with the same config and data produce bit-identical runs.
/// </summary>
public sealed class Trainer(TrainConfig config, Func<ClassifierModel> createModel, IBatchSource train, IBatchSource? val)
{
    public const string LastFile = "last.safetensors", BestFile = "best.safetensors", RecoveryFile = "recovery.safetensors";

    public TrainConfig Config { get; } = config.Validate();

    /// <summary>Called after every training step (tests record losses here; the CLI draws the progress bar).</summary>
    public Action<StepLog>? OnStep { get; set; }

    /// <summary>Where start-up and per-epoch lines go (the CLI passes stdout).</summary>
    public TextWriter Log { get; set; } = TextWriter.Null;

    /// <summary>The model being trained (built by <see cref="Run"/>).</summary>
    public ClassifierModel? Model { get; private set; }
    public ModelEma<ClassifierModel>? Ema { get; private set; }

    private Optimizer? _optimizer;
    private readonly string _out = config.Output;

    public static string LastPath(string output) => System.IO.Path.Combine(output, LastFile);
    public static string BestPath(string output) => System.IO.Path.Combine(output, BestFile);
    public static string RecoveryPath(string output) => System.IO.Path.Combine(output, RecoveryFile);

    /// <summary>
    /// Runs to the configured epoch count, or until <paramref name="cancel"/> is signalled: then a recovery
    /// checkpoint of the exact position is written before the next batch and the result says where.
    /// </summary>
    public TrainResult Run(CancellationToken cancel = default)
    {
        var c = Config;
        if (train.SampleCount == 0 || train.BatchesPerEpoch == 0) throw new ArgumentException("The training split holds no images.");
        var classes = train.ClassNames;
        if (val != null && !val.ClassNames.SequenceEqual(classes))
            throw new ArgumentException($"Train and val class maps differ (train: {string.Join(", ", classes)}; val: {string.Join(", ", val.ClassNames)}); both splits need the same class folders.");
        Directory.CreateDirectory(_out);

        var model = Model = createModel();
        if (model.NumClasses != classes.Count)
            throw new ArgumentException($"The model has {model.NumClasses} outputs but the data has {classes.Count} classes.");
        model.Train();
        var decay = ParamGroups.WeightDecay(model, c.WeightDecay);
        var opt = _optimizer = c.Opt == "sgd"
            ? new Sgd(decay, new SgdConfig(c.Lr) { Momentum = c.Momentum, Nesterov = c.Momentum > 0, WeightDecay = c.WeightDecay })
            : new AdamW(decay, new AdamWConfig { Lr = c.Lr, WeightDecay = c.WeightDecay });
        var ema = Ema = c.Ema ? new ModelEma<ClassifierModel>(model, createModel(), c.EmaDecay, c.EmaWarmup) : null;
        int batches = train.BatchesPerEpoch;
        var schedule = LrSchedule.FromConfig(c, batches);

        var position = new TrainPosition(0, 0, 0);
        var meters = new EpochMeters();
        var history = new List<EpochRecord>();
        double bestMetric = double.NegativeInfinity;
        int bestEpoch = -1;
        if (c.Resume != null)
        {
            var ck = Checkpoint.Load(c.Resume);
            Restore(ck, model, opt, ema);
            (position, meters, history, bestMetric, bestEpoch) = (ck.Position, ck.Meters, ck.History.ToList(), ck.BestMetric, ck.BestEpoch);
            Log.WriteLine($"resumed from {c.Resume}: epoch {position.Epoch + 1}, batch {position.Batch}/{batches}, update {position.Update}");
        }

        c.Save(System.IO.Path.Combine(_out, "config.json"));
        ClassMap.Write(_out, classes);
        Log.WriteLine("config:");
        Log.WriteLine(c.ToJson());
        Log.WriteLine(FormattableString.Invariant(
            $"model {c.Model}: {model.ParameterCount:N0} parameters; {train.SampleCount} train images in {classes.Count} classes, {batches} batches/epoch, {schedule.TotalUpdates} updates")
            + (val != null ? FormattableString.Invariant($"; {val.SampleCount} val images") : "; no val split"));

        long update = position.Update;
        for (int epoch = position.Epoch; epoch < c.Epochs; epoch++)
        {
            int startBatch = epoch == position.Epoch ? position.Batch : 0;
            if (epoch != position.Epoch) meters = new EpochMeters();
            var clock = Stopwatch.StartNew();
            double secondsBefore = meters.Seconds;
            int b = startBatch;
            foreach (var batch in startBatch < batches ? train.Epoch(epoch, startBatch) : Enumerable.Empty<Batch>())
            {
                if (cancel.IsCancellationRequested)
                    return Interrupt(new TrainPosition(epoch, b, update), meters with { Seconds = secondsBefore + clock.Elapsed.TotalSeconds }, history, bestMetric, bestEpoch, classes);
                int n = batch.Labels.Length;

                // 1. Learning rate of the update this batch contributes to.
                double lr = schedule.At(update);
                foreach (var g in opt.Groups) g.Lr = lr;

                double loss; int correct;
                using (TensorScope.Begin())
                {
                    // 2. Forward and loss: smoothed hard labels, or the soft targets of mixup/cutmix, which carry the
                    //    smoothing already (timm's Mixup smooths its targets; SoftTargetCrossEntropy adds none).
                    var logits = model.Forward(batch.Images); // (B, classes)
                    var lossT = batch.SoftTargets is { } soft
                        ? Ops.CrossEntropy(logits, soft)
                        : Ops.CrossEntropy(logits, batch.Labels, labelSmoothing: c.Smoothing);
                    loss = lossT.Item();
                    if (!double.IsFinite(loss)) throw Diverged($"loss is {loss}", epoch, b, update);
                    correct = CountCorrect(logits, batch.Labels);

                    // 3. Backward (gradients accumulate across the group, each batch weighted 1/accum).
                    if (c.AccumSteps > 1) lossT = Ops.Mul(lossT, 1.0 / c.AccumSteps);
                    lossT.Backward();
                }

                // 4. Clip and step once per accumulation group (a partial group at the epoch's end still steps).
                if ((b + 1) % c.AccumSteps == 0 || b + 1 == batches)
                {
                    if (c.ClipGrad is { } maxNorm) ClipGrad.ClipGradNorm(model.Parameters(), maxNorm);
                    opt.Step();
                    opt.ZeroGrad();
                    update++;
                    // 5. EMA follows the weights after every update.
                    ema?.Update(update);
                }

                // 6. Log.
                meters = meters with { LossSum = meters.LossSum + loss * n, Correct = meters.Correct + correct, Samples = meters.Samples + n };
                double seconds = secondsBefore + clock.Elapsed.TotalSeconds;
                double perBatch = clock.Elapsed.TotalSeconds / (b + 1 - startBatch); // measured in this session only
                long remaining = (long)(c.Epochs - epoch) * batches - (b + 1);
                OnStep?.Invoke(new StepLog(epoch, c.Epochs, b, batches, update, loss, meters.Loss, meters.Accuracy, lr,
                    meters.Samples / Math.Max(seconds, 1e-9), TimeSpan.FromSeconds(perBatch * remaining)));
                b++;
            }
            if (cancel.IsCancellationRequested)
                return Interrupt(new TrainPosition(epoch, b, update), meters with { Seconds = secondsBefore + clock.Elapsed.TotalSeconds }, history, bestMetric, bestEpoch, classes);
            double trainSeconds = secondsBefore + clock.Elapsed.TotalSeconds;
            double lastLr = schedule.At(Math.Max(0, update - 1)); // the epoch's last batch always ends with an update

            // Epoch end: evaluate the model (and its EMA), record, checkpoint.
            var evalModel = val != null ? Evaluator.Evaluate(model, val) : null;
            var evalEma = val != null && ema != null ? Evaluator.Evaluate(ema.Model, val) : null;
            var row = new EpochRecord(epoch + 1, meters.Loss, meters.Accuracy, evalModel?.Loss ?? double.NaN, evalModel?.Top1 ?? double.NaN,
                evalModel?.Top5 ?? double.NaN, evalEma?.Top1 ?? double.NaN, lastLr, meters.Samples / Math.Max(trainSeconds, 1e-9), trainSeconds);
            history.Add(row);
            // timm ranks checkpoints by the EMA's metric when there is one.
            double metric = evalEma?.Top1 ?? evalModel?.Top1 ?? -meters.Loss;
            RequireFiniteWeights(model, epoch, batches, update);
            var ck = Capture(new TrainPosition(epoch + 1, 0, update), new EpochMeters(), history, Math.Max(bestMetric, metric),
                metric > bestMetric ? epoch + 1 : bestEpoch, classes);
            Checkpoint.Save(LastPath(_out), ck);
            if (metric > bestMetric)
            {
                bestMetric = metric; bestEpoch = epoch + 1;
                Checkpoint.CopyAtomic(LastPath(_out), BestPath(_out));
            }
            SummaryCsv.Write(System.IO.Path.Combine(_out, "summary.csv"), history);
            File.WriteAllText(System.IO.Path.Combine(_out, "curves.svg"), SvgChart.Curves(history));
            Log.WriteLine(FormatEpoch(row, c.Epochs));
        }
        return new TrainResult(true, null, history, bestMetric, bestEpoch);
    }

    private TrainResult Interrupt(TrainPosition at, EpochMeters meters, List<EpochRecord> history, double bestMetric, int bestEpoch, IReadOnlyList<string> classes)
    {
        RequireFiniteWeights(Model!, at.Epoch, at.Batch, at.Update);
        string path = RecoveryPath(_out);
        Checkpoint.Save(path, Capture(at, meters, history, bestMetric, bestEpoch, classes));
        Log.WriteLine($"interrupted at epoch {at.Epoch + 1}, batch {at.Batch}: recovery checkpoint {path} (continue with --resume {path})");
        return new TrainResult(false, path, history, bestMetric, bestEpoch);
    }

    private TrainingDivergedException Diverged(string what, int epoch, int batch, long update)
    {
        string last = LastPath(_out);
        string kept = File.Exists(last) ? $"the last good checkpoint {last} is kept unchanged" : "no checkpoint had been written yet";
        return new TrainingDivergedException(
            $"Training stopped: {what} at epoch {epoch + 1}, batch {batch + 1} (optimizer update {update}); {kept}. " +
            "Try a lower --lr, gradient clipping (--clip-grad 1.0) or a longer --warmup-epochs.");
    }

    private void RequireFiniteWeights(Module model, int epoch, int batch, long update)
    {
        foreach (var (name, p) in model.NamedParameters())
            if (!AllFinite(p)) throw Diverged($"parameter '{name}' is not finite", epoch, Math.Max(0, batch - 1), update);
    }

    private static bool AllFinite(Tensor t)
    {
        if (t.DType == DType.F32) { foreach (float v in t.Span<float>()) if (!float.IsFinite(v)) return false; }
        else { foreach (double v in t.Span<double>()) if (!double.IsFinite(v)) return false; }
        return true;
    }

    private static int CountCorrect(Tensor logits, int[] labels)
    {
        var l = logits.ToArray<float>();
        int classes = logits.Dim(1), correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (TopK.ArgMax(l.AsSpan(i * classes, classes)) == labels[i]) correct++;
        return correct;
    }

    private CheckpointData Capture(TrainPosition at, EpochMeters meters, List<EpochRecord> history, double bestMetric, int bestEpoch, IReadOnlyList<string> classes)
    {
        var model = Model!;
        var pending = new Dictionary<string, Tensor>();
        // Mid-group (interrupt between two updates): the summed gradients are part of the state.
        if (at.Batch % Config.AccumSteps != 0)
            foreach (var (name, p) in model.NamedParameters())
                if (p.Grad != null) pending[name] = p.Grad;
        return new CheckpointData
        {
            Model = model.StateDict(),
            Optimizer = _optimizer!.StateDict(),
            Ema = Ema?.Model.StateDict(),
            PendingGrads = pending,
            Position = at,
            Config = Config,
            ClassNames = classes,
            RngStates = StochasticModules(model).ToDictionary(m => m.Key, m => m.Rng.State),
            Meters = meters,
            History = history.ToList(),
            BestMetric = bestMetric,
            BestEpoch = bestEpoch,
        };
    }

    private static void Restore(CheckpointData ck, ClassifierModel model, Optimizer opt, ModelEma<ClassifierModel>? ema)
    {
        model.LoadStateDict(ck.Model);
        opt.LoadStateDict(ck.Optimizer);
        if (ema != null)
        {
            if (ck.Ema == null) throw new InvalidDataException("The checkpoint has no EMA weights but the config enables EMA; resume without --ema or from a run trained with it.");
            ema.Model.LoadStateDict(ck.Ema);
        }
        var named = model.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, g) in ck.PendingGrads)
        {
            if (!named.TryGetValue(name, out var p)) throw new InvalidDataException($"Checkpoint holds a gradient for unknown parameter '{name}'.");
            p.Grad = g.To(p.DType);
        }
        foreach (var (key, rng) in StochasticModules(model))
        {
            if (!ck.RngStates.TryGetValue(key, out var state)) throw new InvalidDataException($"Checkpoint lacks the generator state of '{key}'.");
            rng.State = state;
        }
    }

    /// <summary>Every generator that training draws from, keyed by the owning module's path.</summary>
    private static IEnumerable<(string Key, Rng Rng)> StochasticModules(Module model)
    {
        foreach (var m in model.Modules())
        {
            if (m is Dropout d) yield return ("dropout:" + m.Path.Name, d.Rng);
            else if (m is DropPath p) yield return ("drop_path:" + m.Path.Name, p.Rng);
        }
    }

    public static string FormatEpoch(EpochRecord r, int epochs)
    {
        var inv = CultureInfo.InvariantCulture;
        string s = string.Create(inv, $"epoch {r.Epoch}/{epochs}  train loss {r.TrainLoss:F4} acc {r.TrainAcc:F3}");
        if (!double.IsNaN(r.ValTop1)) s += string.Create(inv, $" | val loss {r.ValLoss:F4} top1 {r.ValTop1:F4} top5 {r.ValTop5:F4}");
        if (!double.IsNaN(r.EmaTop1)) s += string.Create(inv, $" | ema top1 {r.EmaTop1:F4}");
        return s + string.Create(inv, $" | lr {r.Lr:0.00e+0} | {r.ImagesPerSec:F0} img/s | {r.Seconds:F1} s");
    }
}
