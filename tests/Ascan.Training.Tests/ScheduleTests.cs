// Learning-rate schedule: warmup and cosine values against hand-computed numbers.
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class ScheduleTests
{
    [Fact]
    public void Schedule_WarmupThenCosine_MatchesHandComputedValues()
    {
        // peak 1, 10 updates, 2 warmup updates from 0, floor 0.
        var s = new LrSchedule(1.0, totalUpdates: 10, warmupUpdates: 2, warmupLr: 0, minLr: 0);
        Assert.Equal(0.0, s.At(0), 12);
        Assert.Equal(0.5, s.At(1), 12);                                    // 0 + 1·1/2
        Assert.Equal(1.0, s.At(2), 12);                                    // cosine starts at the peak
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI / 8)), s.At(3), 12);      // 0.9619397662556434
        Assert.Equal(0.9619397662556434, s.At(3), 12);
        Assert.Equal(0.5, s.At(6), 12);                                    // half-way: cos(π/2) = 0
        Assert.Equal(0.03806023374435663, s.At(9), 12);                    // ½(1 + cos(7π/8))
        Assert.Equal(0.0, s.At(10), 12);
        Assert.Equal(0.0, s.At(25), 12);                                   // past the end: stays at the floor
    }

    [Fact]
    public void Schedule_WarmupLrAndFloor_AreRespected()
    {
        var s = new LrSchedule(1e-3, totalUpdates: 100, warmupUpdates: 10, warmupLr: 1e-5, minLr: 1e-5);
        Assert.Equal(1e-5, s.At(0), 15);
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 4 / 10, s.At(4), 15);          // 4.06e-4
        Assert.Equal(1e-3, s.At(10), 15);
        Assert.Equal(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.Cos(Math.PI * 45 / 90)), s.At(55), 15);
        Assert.Equal(1e-5, s.At(100), 15);
    }

    [Fact]
    public void Schedule_FromConfig_CountsUpdatesWithAccumulation()
    {
        // 10 batches, accumulate 3 → 4 updates per epoch (the partial group still updates); 5 epochs; 0.5 warmup epoch → 2.
        var c = new TrainConfig { Epochs = 5, AccumSteps = 3, WarmupEpochs = 0.5, Lr = 2e-3, WarmupLr = 0, MinLr = 0 };
        var s = LrSchedule.FromConfig(c, batchesPerEpoch: 10);
        Assert.Equal(20, s.TotalUpdates);
        Assert.Equal(2, s.WarmupUpdates);
        Assert.Equal(1e-3, s.At(1), 15);
        Assert.Equal(2e-3, s.At(2), 15);
    }

    [Fact]
    public void Schedule_NoWarmup_StartsAtPeak()
    {
        var s = new LrSchedule(0.1, totalUpdates: 4);
        Assert.Equal(new[] { 0.1, 0.5 * 0.1 * (1 + Math.Cos(Math.PI / 4)), 0.05, 0.5 * 0.1 * (1 + Math.Cos(3 * Math.PI / 4)) },
            Enumerable.Range(0, 4).Select(t => s.At(t)).ToArray());
    }
}
