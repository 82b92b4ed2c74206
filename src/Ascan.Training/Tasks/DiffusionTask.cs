// Class-conditional diffusion as a task of the shared loop: noise a batch at random timesteps, regress ε, v or the
// flow velocity (MSE, optionally min-SNR-γ weighted), drop classes to the null class for guidance; every eval samples
// a grid (one row per class, fixed noise) with the EMA weights and scores it with a judge classifier when given.
using System.Globalization;
using Ascan.Core;
using Ascan.Data;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Nn;
using Ascan.Training.Generation;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tasks;

/// <summary>
/// Trains a <see cref="UNetModel"/> on batches of images (pixel models: [−1, 1]) or cached latents, with class ids from
/// <see cref="Batch.ClassIds"/> (else <see cref="Batch.Labels"/>). Summary columns: train_loss, val_loss (the same
/// loss on up to <see cref="DiffusionOptions.ValImages"/> val images with noise and timesteps fixed by the seed, so
/// epochs compare), class_acc (the judge's accuracy on the grid's samples), ema_val_loss. Checkpoints rank by class_acc
/// when a judge is given, else by the (EMA's) negated val loss, else the negated train loss. Each sampling epoch
/// writes OUT/samples/epoch_NNN.png.
/// </summary>
/// <param name="data">The data config stored in checkpoints (size, mean/std 0.5, classes).</param>
/// <param name="decode">Latent models: scaled latents → images in [−1, 1] (the VAE decoder); null for pixel models.</param>
public sealed class DiffusionTask(Func<UNetModel> createModel, IBatchSource train, IBatchSource? val, DataConfig data,
    DiffusionOptions options, SampleJudge? judge = null, Func<Tensor, Tensor>? decode = null, ulong seed = 0) : TrainTask
{
    public const string TrainLoss = "train_loss", ValLoss = "val_loss", ClassAcc = "class_acc", EmaValLoss = "ema_val_loss";

    private readonly DiffusionOptions _o = options.Validate();
    private readonly Rng _rng = new(seed ^ 0xD1FF_0510UL);
    private readonly float[] _alphasCumprod = AlphasCumprod(options.SchedulerFor);
    private string? _output;

    public static IReadOnlyList<CurvePanel> CurvePanels { get; } =
    [
        new("Loss", [new("train", "#1f77b4", TrainLoss), new("val", "#d62728", ValLoss), new("EMA val", "#2ca02c", EmaValLoss)]),
        new("Class accuracy of samples", [new("judge", "#9467bd", ClassAcc)], (0, 1)),
    ];

    public DiffusionOptions Options => _o;

    /// <summary>The last grid's samples (N, C, H, W) in the model's data range and their classes; null before the first.</summary>
    public (Tensor Samples, int[] Classes)? LastGrid { get; private set; }

    public override IReadOnlyList<string> ClassNames => train.ClassNames;
    public override IReadOnlyList<CurvePanel> Curves => CurvePanels;
    public override Module CreateModel() => createModel();
    public override IEnumerable<(string Name, Rng Rng)> Generators => [("diffusion", _rng)];

    public override DataConfig? Data(TrainConfig c) => data with { InputSize = c.ImageSize ?? data.InputSize, NumClasses = train.ClassNames.Count };

    public override string Prepare(Module model)
    {
        var u = Unet(model);
        var classes = train.ClassNames;
        if (val != null && !val.ClassNames.SequenceEqual(classes))
            throw new ArgumentException($"Train and val class lists differ (train: {classes.Count} classes, val: {val.ClassNames.Count}); both splits need the same classes.");
        if (u.Config.NumClasses != classes.Count)
            throw new ArgumentException($"The UNet has {u.Config.NumClasses} classes but the data has {classes.Count} (pass --num-classes {classes.Count} or use matching data).");
        if (judge != null && judge.Classifier.NumClasses != classes.Count)
            throw new ArgumentException($"The judge classifier has {judge.Classifier.NumClasses} classes but the data has {classes.Count}.");
        string objective = _o.IsFlow ? $"rectified flow ({_o.FlowWeighting} t)" : $"{_o.Objective} on {_o.Scheduler.BetaSchedule} betas";
        if (_o.MinSnrGamma is { } g) objective += FormattableString.Invariant($", min-SNR-γ {g}");
        return FormattableString.Invariant($"{train.SampleCount} train images in {classes.Count} classes, ")
            + (val != null ? FormattableString.Invariant($"{val.SampleCount} val images") : "no val split")
            + FormattableString.Invariant($"; {objective}, class dropout {_o.CfgDropout}");
    }

    public override TaskStep Step(Module model, Batch batch)
    {
        var ids = (int[])(batch.ClassIds ?? batch.Labels).Clone();
        var u = Unet(model);
        for (int i = 0; i < ids.Length; i++)
            if (_rng.NextDouble() < _o.CfgDropout) ids[i] = u.NullClass;
        return new TaskStep(Loss(u, batch.Images, ids, _rng), Metrics.Empty);
    }

    /// <summary>
    /// The objective's loss of one batch: mean over samples of the per-sample MSE (min-SNR weighted when set), noise and
    /// timesteps drawn from <paramref name="rng"/> in this order: timesteps (flow: t), then the noise. Shapes: x0
    /// (B, C, H, W), classes (B) → scalar.
    /// </summary>
    public Tensor Loss(UNetModel model, Tensor x0, int[] classes, Rng rng)
    {
        int b = x0.Dim(0);
        var x = x0.ToArray<float>();
        var shape = x0.ShapeArray();
        float[] xt, target, tIn, weights = [];
        if (_o.IsFlow)
        {
            var t = DiffusionTraining.SampleFlowT(rng, b, _o.FlowWeighting, _o.FlowMean, _o.FlowStd);
            var noise = Normals(rng, x.Length);
            xt = DiffusionTraining.FlowNoisy(x, noise, t);
            target = DiffusionTraining.FlowVelocity(x, noise);
            tIn = t.Select(v => v * _o.Scheduler.NumTrainTimesteps).ToArray();
        }
        else
        {
            var t = DiffusionTraining.SampleTimesteps(rng, b, _o.Scheduler.NumTrainTimesteps);
            var noise = Normals(rng, x.Length);
            xt = DiffusionTraining.AddNoise(_alphasCumprod, x, noise, t);
            target = DiffusionTraining.Target(_o.Objective, _alphasCumprod, x, noise, t);
            tIn = t.Select(v => (float)v).ToArray();
            if (_o.MinSnrGamma is { } g) weights = DiffusionTraining.MinSnrWeights(_alphasCumprod, t, g, _o.Objective);
        }
        var prediction = model.Forward(Tensor.FromArray(xt, shape), Tensor.FromArray(tIn, b), classes);
        var d = prediction - Tensor.FromArray(target, shape);
        var perSample = Ops.Mean(d * d, [1, 2, 3]);                     // (B)
        if (weights.Length > 0) perSample = perSample * Tensor.FromArray(weights, b);
        return Ops.Mean(perSample);
    }

    public override Metrics EndEpoch(EpochMeters trainMeters, Module model, Module? ema)
    {
        double valLoss = ValidationLoss(Unet(model)), emaLoss = ema != null ? ValidationLoss(Unet(ema)) : double.NaN;
        double acc = double.NaN;
        if (SamplesNow())
        {
            var sampler = Unet(ema ?? model);
            var classes = GridClasses();
            var samples = DiffusionSampler.Sample(sampler, classes, data.InputSize, data.InputSize, _o.SamplingFor);
            LastGrid = (samples, classes);
            var images = decode != null ? decode(samples) : samples;
            if (_output != null) SampleGrid.Save(Path.Combine(_output, "samples", $"epoch_{Epoch:000}.png"), images, _o.GridColumns);
            if (judge != null) acc = judge.Accuracy(images, classes).Accuracy;
        }
        return Metrics.Of((TrainLoss, trainMeters.Loss), (ValLoss, valLoss), (ClassAcc, acc), (EmaValLoss, emaLoss));
    }

    /// <summary>Whether this epoch samples a grid: every SampleEvery epochs, and after <see cref="FinalEpoch"/>.</summary>
    private bool SamplesNow() => _o.SampleEvery > 0 ? Epoch % _o.SampleEvery == 0 || Epoch == FinalEpoch : Epoch == FinalEpoch;

    /// <summary>The run's last epoch (set by the caller from the config; 0 = unknown, sample by SampleEvery only).</summary>
    public int FinalEpoch { get; init; }

    /// <summary>Class c's samples fill row c of the grid: GridColumns each, classes in order.</summary>
    public int[] GridClasses() =>
        Enumerable.Range(0, train.ClassNames.Count).SelectMany(c => Enumerable.Repeat(c, _o.GridColumns)).ToArray();

    private double ValidationLoss(UNetModel model)
    {
        if (val == null) return double.NaN;
        bool wasTraining = model.Training;
        model.Eval();
        double sum = 0;
        int n = 0, batchIndex = 0;
        try
        {
            foreach (var batch in val.Epoch(0))
            {
                if (n >= _o.ValImages) break;
                using var scope = TensorScope.Begin();
                using var ng = Autograd.NoGrad();
                var rng = DiffusionSampler.SampleRng(seed ^ 0x7A1UL, batchIndex++);  // the same noise every epoch
                sum += Loss(model, batch.Images, batch.ClassIds ?? batch.Labels, rng).Item() * batch.Count;
                n += batch.Count;
            }
        }
        finally { model.Train(wasTraining); }
        return n > 0 ? sum / n : double.NaN;
    }

    public override double Score(Metrics m) =>
        !double.IsNaN(m[ClassAcc]) ? m[ClassAcc] : !double.IsNaN(m[EmaValLoss]) ? -m[EmaValLoss] : !double.IsNaN(m[ValLoss]) ? -m[ValLoss] : -m[TrainLoss];

    public override void WriteRunFiles(string output)
    {
        _output = output;
        File.WriteAllLines(Path.Combine(output, "classes.txt"), train.ClassNames);
    }

    public override string FormatEpoch(Metrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        string s = string.Create(inv, $"train loss {m[TrainLoss]:F4}");
        if (!double.IsNaN(m[ValLoss])) s += string.Create(inv, $" | val loss {m[ValLoss]:F4}");
        if (!double.IsNaN(m[EmaValLoss])) s += string.Create(inv, $" | ema val loss {m[EmaValLoss]:F4}");
        if (!double.IsNaN(m[ClassAcc])) s += string.Create(inv, $" | class_acc {m[ClassAcc]:F3}");
        return s;
    }

    private static float[] Normals(Rng rng, int n)
    {
        var z = new float[n];
        for (int i = 0; i < n; i++) z[i] = (float)rng.NextNormal();
        return z;
    }

    private static float[] AlphasCumprod(SchedulerOptions s) =>
        BetaSchedules.AlphasCumprod(BetaSchedules.Betas(s.BetaSchedule, s.NumTrainTimesteps, s.BetaStart, s.BetaEnd));

    private static UNetModel Unet(Module model) =>
        model as UNetModel ?? throw new ArgumentException($"Diffusion trains a UNet (unet_*); got a {model.GetType().Name}.");
}
