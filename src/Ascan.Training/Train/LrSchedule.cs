// The learning-rate schedule: linear warmup, then cosine (timm) or polynomial (mmseg's PolyLR) decay, per optimizer update.
namespace Ascan.Training.Train;

/// <summary>
/// Learning rate as a pure function of the optimizer-update index t (0-based), so a resumed run recomputes
/// exactly the rates an uninterrupted one used — the schedule's only state is t.
/// <list type="bullet">
/// <item>t &lt; W (warmup): lr = warmupLr + (peak − warmupLr) · t / W.</item>
/// <item>t ≥ W, cosine: lr = min + ½ (peak − min) (1 + cos(π (t − W) / (T − W))), reaching min at t = T.</item>
/// <item>t ≥ W, poly (power p): lr = min + (peak − min) (1 − (t − W) / (T − W))^p (mmseg's PolyLR with eta_min = min).</item>
/// <item>t ≥ W, constant: lr = peak (DiT's recipe).</item>
/// </list>
/// ASSUMPTION: the cosine starts after the warmup (timm's warmup_prefix=True), so the peak is actually reached;
/// no restarts (cycle limit 1), no noise.
/// </summary>
public sealed class LrSchedule
{
    public double PeakLr { get; }
    public double MinLr { get; }
    public double WarmupLr { get; }
    public long WarmupUpdates { get; }
    public long TotalUpdates { get; }
    /// <summary>Null: cosine decay; else the power of the polynomial decay.</summary>
    public double? PolyPower { get; }
    /// <summary>No decay after warmup.</summary>
    public bool Constant { get; }

    public LrSchedule(double peakLr, long totalUpdates, long warmupUpdates = 0, double warmupLr = 0, double minLr = 0, double? polyPower = null, bool constant = false)
    {
        PolyPower = polyPower; Constant = constant;
        if (totalUpdates < 1) throw new ArgumentOutOfRangeException(nameof(totalUpdates), $"A schedule needs at least one update, got {totalUpdates}.");
        if (warmupUpdates < 0) throw new ArgumentOutOfRangeException(nameof(warmupUpdates), $"Warmup updates must be ≥ 0, got {warmupUpdates}.");
        PeakLr = peakLr; MinLr = minLr; WarmupLr = warmupLr;
        // A warmup as long as the run would leave no decay: cap it so the last update still decays.
        WarmupUpdates = Math.Min(warmupUpdates, totalUpdates - 1);
        TotalUpdates = totalUpdates;
    }

    /// <summary>The schedule of a config: updates per epoch = ⌈batches / accum_steps⌉ (a partial group still updates).</summary>
    public static LrSchedule FromConfig(TrainConfig c, int batchesPerEpoch)
    {
        long perEpoch = UpdatesPerEpoch(batchesPerEpoch, c.AccumSteps);
        return new LrSchedule(c.Lr, perEpoch * c.Epochs, (long)Math.Round(c.WarmupEpochs * perEpoch), c.WarmupLr, c.MinLr,
            c.Sched == "poly" ? c.PolyPower : null, constant: c.Sched == "constant");
    }

    public static long UpdatesPerEpoch(int batchesPerEpoch, int accumSteps) => (batchesPerEpoch + accumSteps - 1) / accumSteps;

    /// <summary>The learning rate of update <paramref name="t"/> (0-based; t ≥ TotalUpdates stays at the floor).</summary>
    public double At(long t)
    {
        if (t < WarmupUpdates) return WarmupLr + (PeakLr - WarmupLr) * t / WarmupUpdates;
        if (Constant) return PeakLr;
        if (t >= TotalUpdates) return MinLr;
        double progress = (double)(t - WarmupUpdates) / (TotalUpdates - WarmupUpdates);
        if (PolyPower is { } power) return MinLr + (PeakLr - MinLr) * Math.Pow(1 - progress, power);
        return MinLr + 0.5 * (PeakLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }
}
