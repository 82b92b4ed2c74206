// The autoencoder task: LDM's L1 + β·KL on a posterior sample from the task's generator, learning on a fixed batch,
// the epoch's val metrics and picture, and an interrupted run resumed bit-identically.
using Ascan.Core;
using Ascan.Models.Generation;
using Ascan.Nn.Optim;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class AutoencoderTaskTests
{
    private const int Size = 8;

    private static AutoencoderTask Task(InMemorySource train, InMemorySource? val, double klWeight = 1e-6) =>
        new(() => VaeTestKit.Create(), train, val, VaeTestKit.Data(Size), klWeight, seed: 4);

    private static TrainConfig Config(string output) => new()
    {
        Model = "vae_tiny", Output = output, Epochs = 2, BatchSize = 4, Lr = 2e-3, WarmupEpochs = 0.5, WeightDecay = 0,
        Seed = 3, Ema = true, EmaDecay = 0.9, AccumSteps = 2, ClipGrad = 1.0,
    };

    private static Trainer NewTrainer(TrainConfig c)
    {
        var train = VaeTestKit.Images(12, Size, 4, seed: 5, shuffle: true);
        return new Trainer(c, Task(train, VaeTestKit.Images(6, Size, 4, seed: 6)), train);
    }

    [Fact]
    public void Step_IsL1KlLossOfTheTasksPosteriorSample_AndLearnsAFixedBatch()
    {
        var data = VaeTestKit.Images(4, Size, 4, seed: 1);
        var task = Task(data, null, klWeight: 1e-3);
        var vae = (AutoencoderKL)task.CreateModel();
        var batch = data.Epoch(0).Single();
        var rng = task.Generators.Single().Rng;

        // The loss equals AutoencoderKL.L1KlLoss with the noise the task's generator draws.
        var copy = new Rng(0) { State = rng.State };
        double want, got;
        using (TensorScope.Begin())
        {
            var q = vae.Encode(batch.Images);
            want = AutoencoderKL.L1KlLoss(vae.Decode(q.Sample(copy)), batch.Images, q, 1e-3).Item();
        }
        using (TensorScope.Begin()) got = task.Step(vae, batch).Loss.Item();
        Assert.Equal(want, got, 1e-6);
        Assert.Equal(copy.State, rng.State);

        var opt = new AdamW(vae.Parameters(), new AdamWConfig { Lr = 3e-3, WeightDecay = 0 });
        var losses = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            using var scope = TensorScope.Begin();
            var step = task.Step(vae, batch);
            losses.Add(step.Loss.Item());
            step.Loss.Backward();
            opt.Step();
            opt.ZeroGrad();
        }
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < 0.7 * losses[0], $"loss {losses[0]:F4} → {losses[^1]:F4} over 20 steps");
    }

    [Fact]
    public void Train_WithValAndEma_WritesReconPictures_ValMetrics_AndRanksByEmaL1()
    {
        using var dir = new TempDir();
        var trainer = NewTrainer(Config(dir.Path));
        var result = trainer.Run();
        Assert.True(result.Completed);
        Assert.True(File.Exists(dir.File("recon/epoch_001.png")));
        Assert.True(File.Exists(dir.File("recon/epoch_002.png")));
        var m = result.History[^1].Metrics;
        Assert.Equal(["train_loss", "train_l1", "val_l1", "val_psnr", "ema_l1"], m.Names);
        Assert.All(m, x => Assert.True(double.IsFinite(x.Value), $"{x.Name} = {x.Value}"));
        Assert.InRange(m["val_psnr"], 0, 100);
        Assert.Equal(-m["ema_l1"], trainer.Task.Score(m));
        var picture = Ascan.Data.Imaging.ImageIO.Load(dir.File("recon/epoch_002.png"));
        Assert.Equal(2 * 64 + 3 * 4, picture.Height); // two rows of 8 px tiles scaled to 64, 4 px gaps
        Assert.Equal(6 * 64 + 7 * 4, picture.Width);  // the 6 val images
        Assert.True(File.Exists(Trainer.WeightsPath(dir.Path)));
    }

    [Theory]
    [InlineData(2)] // mid epoch 1, on an accumulation-group boundary
    [InlineData(3)] // right after epoch 1's last batch, before its evaluation
    [InlineData(4)] // mid epoch 2, mid group (gradients pending)
    public void Resume_AfterInterrupt_MatchesUninterruptedRunBitForBit(int stopAfter)
    {
        using var full = new TempDir();
        var reference = NewTrainer(Config(full.Path));
        var expected = new List<double>();
        reference.OnStep = s => expected.Add(s.Loss);
        var refResult = reference.Run();
        Assert.Equal(6, expected.Count); // 2 epochs × 3 batches

        using var dir = new TempDir();
        var first = NewTrainer(Config(dir.Path));
        var losses = new List<double>();
        using var cts = new CancellationTokenSource();
        first.OnStep = s => { losses.Add(s.Loss); if (losses.Count == stopAfter) cts.Cancel(); };
        var stopped = first.Run(cts.Token);
        Assert.False(stopped.Completed);

        var second = NewTrainer(Config(dir.Path) with { Resume = stopped.RecoveryPath });
        second.OnStep = s => losses.Add(s.Loss);
        var done = second.Run();
        Assert.True(done.Completed);

        Assert.Equal(expected, losses); // bit-identical, step for step
        Assert.Equal(refResult.History.Select(r => (r.Metrics, r.Lr)), done.History.Select(r => (r.Metrics, r.Lr)));
        var a = reference.Model!.StateDict();
        foreach (var (name, t) in second.Model!.StateDict()) Assert.Equal(a[name].ToArray<float>(), t.ToArray<float>());
        var ea = reference.Ema!.Model.StateDict();
        foreach (var (name, t) in second.Ema!.Model.StateDict()) Assert.Equal(ea[name].ToArray<float>(), t.ToArray<float>());
    }
}
