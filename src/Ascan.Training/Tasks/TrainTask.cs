// What a task gives the shared training loop: its model, the loss of a batch, its epoch metrics and its files.
using System.Globalization;
using Ascan.Core;
using Ascan.Data;
using Ascan.Nn;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tasks;

/// <summary>One step's output: the loss to backpropagate (the batch mean) and what the batch adds to the task's running sums.</summary>
public sealed record TaskStep(Tensor Loss, Metrics Sums);

/// <summary>
/// A training task: classification, segmentation, diffusion… The <see cref="Trainer"/> owns everything tasks share
/// (schedule, accumulation, clipping, optimizer step, EMA, checkpoints, exact resume, the NaN stop, progress, the
/// summary and curves); a task says what a batch means. Only <see cref="Step"/> runs with gradients on; <see
/// cref="EndEpoch"/> runs between epochs and may put the model in eval mode (restoring its mode afterwards).
/// A task's randomness must come from <see cref="Generators"/> (or from the model's Dropout/DropPath), so that a
/// checkpoint holds it and a resumed run draws what an uninterrupted one would.
/// </summary>
public abstract class TrainTask
{
    /// <summary>Class names stored in checkpoints (empty when the task has none).</summary>
    public virtual IReadOnlyList<string> ClassNames => [];

    /// <summary>
    /// The data config the model is trained with (image size, normalisation, crop, classes), stored in every
    /// checkpoint and the plain export so inference needs no flags; null when the task has none (the default).
    /// </summary>
    public virtual Ascan.Models.DataConfig? Data(TrainConfig c) => null;

    /// <summary>Builds the model to train; called again for the EMA copy, so it must build the same model each time.</summary>
    public abstract Module CreateModel();

    /// <summary>
    /// Checks that the model and the data agree (throws <see cref="ArgumentException"/> naming the mismatch) and
    /// describes the data for the start-up line ("256 train images in 4 classes, 64 val images").
    /// </summary>
    public abstract string Prepare(Module model);

    /// <summary>
    /// Forward and loss of one training batch. Runs inside the loop's tensor scope with gradients on; the loop checks
    /// the loss is finite, scales it for accumulation and calls Backward.
    /// </summary>
    public abstract TaskStep Step(Module model, Batch batch);

    /// <summary>The running figures of the progress line, from the epoch's meters (none by default).</summary>
    public virtual Metrics Running(EpochMeters meters) => Metrics.Empty;

    /// <summary>
    /// Epoch end: the summary columns of the epoch, from the training meters and an evaluation of the model (and of
    /// its EMA, when there is one). The same names every epoch, NaN for what was not computed.
    /// </summary>
    public abstract Metrics EndEpoch(EpochMeters train, Module model, Module? ema);

    /// <summary>The 1-based number of the epoch whose <see cref="EndEpoch"/> runs (set by the loop, right on resume too): names per-epoch files.</summary>
    public int Epoch { get; internal set; }

    /// <summary>The score that ranks checkpoints (best.safetensors), higher is better.</summary>
    public abstract double Score(Metrics epoch);

    /// <summary>The panels of curves.svg.</summary>
    public abstract IReadOnlyList<CurvePanel> Curves { get; }

    /// <summary>Task files written once at start beside config.json (none by default).</summary>
    public virtual void WriteRunFiles(string output) { }

    /// <summary>The metrics part of the per-epoch log line; by default every computed metric with four decimals.</summary>
    public virtual string FormatEpoch(Metrics epoch) =>
        string.Join(" | ", epoch.Where(m => !double.IsNaN(m.Value)).Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Name} {m.Value:F4}")));

    /// <summary>Generators the task draws from while training (noise, timesteps), by name: saved in checkpoints, restored on resume.</summary>
    public virtual IEnumerable<(string Name, Rng Rng)> Generators => [];
}
