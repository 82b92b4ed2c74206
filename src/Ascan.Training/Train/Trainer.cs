// The one training loop: per step LR → forward and loss (the task's) → backward → clip → optimizer step → EMA → log;
// per epoch the task evaluates, the loop writes summary, curves and checkpoints; resume exactly; stop on interrupt or NaN.
using System.Diagnostics;
using System.Globalization;
using Ascan.Core;
using Ascan.Models;
using Ascan.Nn;
using Ascan.Nn.Optim;
using Ascan.Data;
using Ascan.Training.Tasks;
using Ascan.Training.Reporting;

namespace Ascan.Training.Train;

/// <summary>Thrown when the loss (or the weights) stop being finite; names where, and which checkpoint was kept.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>How a run ended.</summary>
public sealed record TrainResult(bool Completed, string? RecoveryPath, IReadOnlyList<EpochRecord> History, double BestMetric, int BestEpoch);

/// <summary>
/// The training loop every task shares: schedule, gradient accumulation, clipping, the optimizer step, EMA,
/// checkpoints, exact resume, the stop on a non-finite loss, progress, summary.csv and curves.svg. The
/// <see cref="TrainTask"/> supplies the model, the loss of a batch, the epoch metrics and its own files. Output files
/// in config.Output: config.json, summary.csv, curves.svg, last.safetensors, best.safetensors, model.safetensors (the
/// plain weights of best, written when the run completes), after an interrupt recovery.safetensors (removed once a
/// newer last.safetensors is written), and the task's (class_map.txt for classification). The task builds the model (again for the
/// EMA copy), so two trainers with the same config, task and data produce bit-identical runs.
/// </summary>
public sealed class Trainer(TrainConfig config, TrainTask task, IBatchSource train)
{
    public const string LastFile = "last.safetensors", BestFile = "best.safetensors", RecoveryFile = "recovery.safetensors";
    /// <summary>The plain weights export of a finished run: best's weights (its EMA's when EMA is on) with the model's metadata.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>Trains a classifier on <paramref name="train"/>, evaluating on <paramref name="val"/> (the config's label smoothing).</summary>
    public Trainer(TrainConfig config, Func<ClassifierModel> createModel, IBatchSource train, IBatchSource? val)
        : this(config, new ClassificationTask(createModel, train, val, config.Smoothing), train) { }

    public TrainConfig Config { get; } = config.Validate();
    public TrainTask Task => task;

    /// <summary>Called after every training step (tests record losses here; the CLI draws the progress bar).</summary>
    public Action<StepLog>? OnStep { get; set; }

    /// <summary>Where start-up and per-epoch lines go (the CLI passes stdout).</summary>
    public TextWriter Log { get; set; } = TextWriter.Null;

    /// <summary>The model being trained (built by <see cref="Run"/>).</summary>
    public Module? Model { get; private set; }
    public ModelEma<Module>? Ema { get; private set; }

    private Optimizer? _optimizer;
    private readonly string _out = config.Output;

    public static string LastPath(string output) => System.IO.Path.Combine(output, LastFile);
    public static string BestPath(string output) => System.IO.Path.Combine(output, BestFile);
    public static string RecoveryPath(string output) => System.IO.Path.Combine(output, RecoveryFile);
    public static string WeightsPath(string output) => System.IO.Path.Combine(output, WeightsFile);

    /// <summary>
    /// The config as checkpoints and config.json store it: dataset and output as absolute paths, so --resume from
    /// another working directory continues the same run in the same folder.
    /// </summary>
    private TrainConfig Stored => Config with
    {
        Data = Config.Data.Length == 0 ? Config.Data : System.IO.Path.GetFullPath(Config.Data),
        Output = System.IO.Path.GetFullPath(Config.Output),
        Resume = Config.Resume == null ? null : System.IO.Path.GetFullPath(Config.Resume),
    };

    /// <summary>
    /// Runs to the configured epoch count, or until <paramref name="cancel"/> is signalled: then a recovery
    /// checkpoint of the exact position is written before the next batch and the result says where.
    /// </summary>
    public TrainResult Run(CancellationToken cancel = default)
    {
        var c = Config;
        if (train.SampleCount == 0 || train.BatchesPerEpoch == 0) throw new ArgumentException("The training split holds no images.");
        Directory.CreateDirectory(_out);

        var model = Model = task.CreateModel();
        string data = task.Prepare(model);
        model.Train();
        var decay = ParamGroups.WeightDecay(model, c.WeightDecay);
        var opt = _optimizer = c.Opt is "sgd" or "momentum"
            ? new Sgd(decay, new SgdConfig(c.Lr) { Momentum = c.Momentum, Nesterov = c.Opt == "sgd" && c.Momentum > 0, WeightDecay = c.WeightDecay })
            : new AdamW(decay, new AdamWConfig { Lr = c.Lr, WeightDecay = c.WeightDecay });
        var ema = Ema = c.Ema ? new ModelEma<Module>(model, task.CreateModel(), c.EmaDecay, c.EmaWarmup) : null;
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

        Stored.Save(System.IO.Path.Combine(_out, "config.json"));
        task.WriteRunFiles(_out);
        Log.WriteLine("config:");
        Log.WriteLine(c.ToJson());
        Log.WriteLine(FormattableString.Invariant(
            $"model {c.Model}: {model.ParameterCount:N0} parameters; {data}; {batches} batches/epoch, {schedule.TotalUpdates} updates"));

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
                    return Interrupt(new TrainPosition(epoch, b, update), meters with { Seconds = secondsBefore + clock.Elapsed.TotalSeconds }, history, bestMetric, bestEpoch);
                int n = batch.Count;

                // 1. Learning rate of the update this batch contributes to.
                double lr = schedule.At(update);
                foreach (var g in opt.Groups) g.Lr = lr;

                double loss; Metrics sums;
                using (TensorScope.Begin())
                {
                    // 2. Forward and loss: the task's.
                    var step = task.Step(model, batch);
                    loss = step.Loss.Item();
                    if (!double.IsFinite(loss)) throw Diverged($"loss is {loss}", epoch, b, update);
                    sums = step.Sums;

                    // 3. Backward (gradients accumulate across the group, each batch weighted 1/accum).
                    var lossT = c.AccumSteps > 1 ? Ops.Mul(step.Loss, 1.0 / c.AccumSteps) : step.Loss;
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
                meters = meters with { LossSum = meters.LossSum + loss * n, Sums = meters.Sums.Add(sums), Samples = meters.Samples + n };
                double seconds = secondsBefore + clock.Elapsed.TotalSeconds;
                double perBatch = clock.Elapsed.TotalSeconds / (b + 1 - startBatch); // measured in this session only
                long remaining = (long)(c.Epochs - epoch) * batches - (b + 1);
                OnStep?.Invoke(new StepLog(epoch, c.Epochs, b, batches, update, loss, meters.Loss, task.Running(meters), lr,
                    meters.Samples / Math.Max(seconds, 1e-9), TimeSpan.FromSeconds(perBatch * remaining)));
                b++;
            }
            if (cancel.IsCancellationRequested)
                return Interrupt(new TrainPosition(epoch, b, update), meters with { Seconds = secondsBefore + clock.Elapsed.TotalSeconds }, history, bestMetric, bestEpoch);
            double trainSeconds = secondsBefore + clock.Elapsed.TotalSeconds;
            double lastLr = schedule.At(Math.Max(0, update - 1)); // the epoch's last batch always ends with an update

            // Epoch end: the task evaluates; record, checkpoint.
            task.Epoch = epoch + 1;
            var metrics = task.EndEpoch(meters, model, ema?.Model);
            var row = new EpochRecord(epoch + 1, metrics, lastLr, meters.Samples / Math.Max(trainSeconds, 1e-9), trainSeconds);
            history.Add(row);
            double metric = task.Score(metrics);
            RequireFiniteWeights(model, epoch, batches, update);
            var ck = Capture(new TrainPosition(epoch + 1, 0, update), new EpochMeters(), history, Math.Max(bestMetric, metric),
                metric > bestMetric ? epoch + 1 : bestEpoch);
            Checkpoint.Save(LastPath(_out), ck);
            RemoveStaleRecovery(update);
            if (metric > bestMetric)
            {
                bestMetric = metric; bestEpoch = epoch + 1;
                Checkpoint.CopyAtomic(LastPath(_out), BestPath(_out));
            }
            SummaryCsv.Write(System.IO.Path.Combine(_out, "summary.csv"), history);
            File.WriteAllText(System.IO.Path.Combine(_out, "curves.svg"), SvgChart.Curves(history, task.Curves));
            Log.WriteLine(FormatEpoch(row, c.Epochs));
        }
        // The plain export: best's weights as a state dict that carries the model's metadata (eval/predict need no flags).
        if (File.Exists(BestPath(_out))) Checkpoint.ExportWeights(BestPath(_out), WeightsPath(_out), useEma: Ema != null);
        return new TrainResult(true, null, history, bestMetric, bestEpoch);
    }

    /// <summary>
    /// Removes recovery.safetensors once last.safetensors holds a later (or the same) point of the run: only then,
    /// because until a newer checkpoint is complete on disk the recovery file is the only copy of the progress since
    /// the last epoch end (a resumed run that crashes before its first epoch end can still resume from it). A recovery
    /// file ahead of last (the run was resumed from an earlier checkpoint) is kept.
    /// </summary>
    private void RemoveStaleRecovery(long update)
    {
        string path = RecoveryPath(_out);
        if (!File.Exists(path)) return;
        try
        {
            if (Checkpoint.ReadInfo(path).Position is { } at && at.Update > update) return;
        }
        catch (IOException) { /* unreadable (a malformed file is an IOException too): nothing to keep */ }
        File.Delete(path);
        Log.WriteLine($"removed {path}: {LastPath(_out)} is newer");
    }

    private TrainResult Interrupt(TrainPosition at, EpochMeters meters, List<EpochRecord> history, double bestMetric, int bestEpoch)
    {
        RequireFiniteWeights(Model!, at.Epoch, at.Batch, at.Update);
        string path = RecoveryPath(_out);
        Checkpoint.Save(path, Capture(at, meters, history, bestMetric, bestEpoch));
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

    private CheckpointData Capture(TrainPosition at, EpochMeters meters, List<EpochRecord> history, double bestMetric, int bestEpoch)
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
            Config = Stored,
            ClassNames = task.ClassNames,
            Data = task.Data(Config),
            RngStates = Generators(model).ToDictionary(m => m.Key, m => m.Rng.State),
            Meters = meters,
            History = history.ToList(),
            BestMetric = bestMetric,
            BestEpoch = bestEpoch,
        };
    }

    private void Restore(CheckpointData ck, Module model, Optimizer opt, ModelEma<Module>? ema)
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
        foreach (var (key, rng) in Generators(model))
        {
            if (!ck.RngStates.TryGetValue(key, out var state)) throw new InvalidDataException($"Checkpoint lacks the generator state of '{key}'.");
            rng.State = state;
        }
    }

    /// <summary>Every generator that training draws from: the model's, keyed by the owning module's path, and the task's.</summary>
    private IEnumerable<(string Key, Rng Rng)> Generators(Module model)
    {
        foreach (var m in model.Modules())
        {
            if (m is Dropout d) yield return ("dropout:" + m.Path.Name, d.Rng);
            else if (m is DropPath p) yield return ("drop_path:" + m.Path.Name, p.Rng);
        }
        foreach (var (name, rng) in task.Generators) yield return ("task:" + name, rng);
    }

    /// <summary>The per-epoch log line: the task's metrics between the loop's epoch count and its lr, speed and time.</summary>
    public string FormatEpoch(EpochRecord r, int epochs)
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"epoch {r.Epoch}/{epochs}  {task.FormatEpoch(r.Metrics)}")
            + string.Create(inv, $" | lr {r.Lr:0.00e+0} | {r.ImagesPerSec:F0} img/s | {r.Seconds:F1} s");
    }
}
