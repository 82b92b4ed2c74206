// Interrupt and resume: a run stopped mid-epoch (mid accumulation group) and resumed in a fresh trainer gives the
// same losses, step for step, and the same final weights as an uninterrupted run.
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class ResumeTests
{
    private static TrainConfig Config(string output) => TrainTests.TinyConfig(output) with
    {
        Epochs = 2, AccumSteps = 2, ClipGrad = 1.0, DropPath = 0.1,
    };

    private static Trainer NewTrainer(TrainConfig c) =>
        new(c, () => TinyClassifier.Create(4, dropPath: 0.2, dropout: 0.2), SyntheticData.Make(80, 8, 16, seed: 5), SyntheticData.Make(32, 8, 16, seed: 6, shuffle: false));

    [Theory]
    [InlineData(3)]  // mid epoch 1, mid accumulation group (gradients pending)
    [InlineData(6)]  // mid epoch 2, on a group boundary
    [InlineData(5)]  // right after epoch 1's last batch, before its evaluation
    public void Resume_AfterInterrupt_MatchesUninterruptedRunStepForStep(int stopAfter)
    {
        using var full = new TempDir();
        var reference = NewTrainer(Config(full.Path));
        var expected = new List<double>();
        reference.OnStep = s => expected.Add(s.Loss);
        var refResult = reference.Run();
        Assert.Equal(10, expected.Count); // 2 epochs × 5 batches

        using var dir = new TempDir();
        var first = NewTrainer(Config(dir.Path));
        var losses = new List<double>();
        using var cts = new CancellationTokenSource();
        first.OnStep = s => { losses.Add(s.Loss); if (losses.Count == stopAfter) cts.Cancel(); };
        var stopped = first.Run(cts.Token);
        Assert.False(stopped.Completed);
        Assert.Equal(dir.File(Trainer.RecoveryFile), stopped.RecoveryPath);
        Assert.Equal(stopAfter, losses.Count);

        var second = NewTrainer(Config(dir.Path) with { Resume = stopped.RecoveryPath });
        second.OnStep = s => losses.Add(s.Loss);
        var done = second.Run();
        Assert.True(done.Completed);

        Assert.Equal(expected, losses); // bit-identical, step for step
        Assert.Equal(refResult.History.Select(r => (r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValTop1, r.EmaTop1, r.Lr)),
            done.History.Select(r => (r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValTop1, r.EmaTop1, r.Lr)));
        var a = reference.Model!.StateDict();
        foreach (var (name, t) in second.Model!.StateDict()) Assert.Equal(a[name].ToArray<float>(), t.ToArray<float>());
        var ea = reference.Ema!.Model.StateDict();
        foreach (var (name, t) in second.Ema!.Model.StateDict()) Assert.Equal(ea[name].ToArray<float>(), t.ToArray<float>());
    }

    [Fact]
    public void Resume_FromLastCheckpoint_ContinuesWithTheNextEpoch()
    {
        using var dir = new TempDir();
        var one = NewTrainer(Config(dir.Path) with { Epochs = 1 });
        one.Run();
        var ck = Checkpoint.Load(dir.File(Trainer.LastFile));
        Assert.Equal(new TrainPosition(1, 0, 3), ck.Position); // 5 batches, accumulate 2 → 3 updates

        // A longer run continued from last: the epoch count comes from the new config.
        var two = NewTrainer(Config(dir.Path) with { Epochs = 2, Resume = dir.File(Trainer.LastFile) });
        var steps = new List<int>();
        two.OnStep = s => steps.Add(s.Epoch);
        var r = two.Run();
        Assert.Equal(Enumerable.Repeat(1, 5), steps);
        Assert.Equal(2, r.History.Count);
    }
}
