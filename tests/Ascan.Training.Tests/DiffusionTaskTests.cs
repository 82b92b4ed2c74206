// The diffusion task and the sampling loop: losses against their formulas, guidance, determinism by seed and index,
// the shared loop's checkpoints and exact resume, the grid picture and the judge's class accuracy.
using Ascan.Core;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Nn;
using Ascan.Training.Generation;
using Ascan.Training.Tasks;
using Ascan.Training.Train;
using Xunit;

namespace Ascan.Training.Tests;

public class DiffusionTaskTests
{
    private static readonly UNetConfig Tiny = new([8, 16], ["C", "T"], "T") { NormGroups = 4, HeadDim = 8, EmbedDim = 16, NumClasses = 4, ImageSize = 8, FrequencyEmbeddingSize = 16 };

    private static UNetModel NewUnet(ulong seed = 3) => new(ParamPath.Root(rng: new Rng(seed)), Tiny);

    private static DataConfig Data => new() { InputSize = 8, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1, NumClasses = 4 };

    private static DiffusionTask NewTask(DiffusionOptions o, InMemorySource? val = null, SampleJudge? judge = null) =>
        new(() => NewUnet(), SyntheticData.Make(32, 8, 8, seed: 5), val, Data, o, judge, seed: 1) { FinalEpoch = 2 };

    private static Tensor Images(int n, ulong seed) => Tensor.Randn(new Rng(seed), DType.F32, n, 3, 8, 8);

    [Theory]
    [InlineData("epsilon", null)]
    [InlineData("v_prediction", null)]
    [InlineData("epsilon", 5.0)]
    [InlineData("v_prediction", 5.0)]
    public void Loss_IsTheMeanOfPerSampleMse_OfTheObjectivesTarget_WeightedByMinSnr(string objective, double? gamma)
    {
        var o = new DiffusionOptions { Objective = objective, MinSnrGamma = gamma, Scheduler = new SchedulerOptions { BetaSchedule = "squaredcos_cap_v2" } };
        var task = NewTask(o);
        var model = NewUnet();
        var x0 = Images(3, 11);
        int[] classes = [0, 2, 4];
        double loss = task.Loss(model, x0, classes, new Rng(9)).Item();

        // The same draws by hand: timesteps, then the noise.
        var rng = new Rng(9);
        var t = DiffusionTraining.SampleTimesteps(rng, 3);
        var noise = new float[x0.Numel];
        for (int i = 0; i < noise.Length; i++) noise[i] = (float)rng.NextNormal();
        var ac = BetaSchedules.AlphasCumprod(BetaSchedules.Betas("squaredcos_cap_v2"));
        var xt = DiffusionTraining.AddNoise(ac, x0.ToArray<float>(), noise, t);
        var target = DiffusionTraining.Target(objective, ac, x0.ToArray<float>(), noise, t);
        var pred = model.Forward(Tensor.FromArray(xt, 3, 3, 8, 8), Tensor.FromArray(t.Select(v => (float)v).ToArray(), 3), classes).ToArray<float>();
        var w = gamma is { } g ? DiffusionTraining.MinSnrWeights(ac, t, g, objective) : [1f, 1f, 1f];
        int per = pred.Length / 3;
        double expected = 0;
        for (int b = 0; b < 3; b++)
        {
            double mse = 0;
            for (int k = b * per; k < (b + 1) * per; k++) mse += (pred[k] - target[k]) * (double)(pred[k] - target[k]);
            expected += w[b] * mse / per;
        }
        expected /= 3;
        Assert.Equal(expected, loss, expected * 1e-5);
    }

    [Fact]
    public void FlowLoss_RegressesNoiseMinusX0_AtTheInterpolant_WithTimeScaledToTrainingSteps()
    {
        var task = NewTask(new DiffusionOptions { Objective = "flow", Sampling = new SampleOptions { Sampler = "euler" } });
        var model = NewUnet();
        var x0 = Images(2, 12);
        int[] classes = [1, 3];
        double loss = task.Loss(model, x0, classes, new Rng(4)).Item();

        var rng = new Rng(4);
        var t = DiffusionTraining.SampleFlowT(rng, 2);
        var noise = new float[x0.Numel];
        for (int i = 0; i < noise.Length; i++) noise[i] = (float)rng.NextNormal();
        var x = x0.ToArray<float>();
        var xt = Tensor.FromArray(x.Select((v, i) => (1 - t[i / (x.Length / 2)]) * v + t[i / (x.Length / 2)] * noise[i]).ToArray(), 2, 3, 8, 8);
        var target = Tensor.FromArray(x.Select((v, i) => noise[i] - v).ToArray(), 2, 3, 8, 8);
        var pred = model.Forward(xt, Tensor.FromArray([t[0] * 1000, t[1] * 1000], 2), classes);
        double expected = Ops.MseLoss(pred, target).Item();
        Assert.Equal(expected, loss, expected * 1e-5);
    }

    [Fact]
    public void Step_DropsClassesToNull_AtTheConfiguredRate()
    {
        // With dropout 1 every class id becomes the null class: the loss equals that of an all-null batch.
        var task = NewTask(new DiffusionOptions { CfgDropout = 1.0 });
        var model = NewUnet();
        var x0 = Images(4, 13);
        var batch = new Ascan.Data.Batch(x0, [0, 1, 2, 3]);
        var rngState = task.Generators.Single().Rng.State;
        double dropped = task.Step(model, batch).Loss.Item();
        var rng = new Rng(0) { State = rngState };
        for (int i = 0; i < 4; i++) rng.NextDouble(); // the four dropout draws
        double allNull = task.Loss(model, x0, [4, 4, 4, 4], rng).Item();
        Assert.Equal(allNull, dropped, 1e-9);
        Assert.Throws<ArgumentException>(() => new DiffusionOptions { CfgDropout = 1.5 }.Validate());
        Assert.Throws<ArgumentException>(() => new DiffusionOptions { Objective = "flow" }.Validate()); // flow needs the euler sampler
    }

    [Fact]
    public void Guide_IsUncondPlusScaleTimesDifference_OnTheGuidedChannelsOnly()
    {
        // n = 1, c = 2, hw = 2: cond = [1, 2 | 3, 4], uncond = [0, 0 | 1, 1].
        float[] output = [1, 2, 3, 4, 0, 0, 1, 1];
        Assert.Equal([4f, 8f, 9f, 13f], DiffusionSampler.Guide(output, 1, 2, 2, 4.0, 2));
        Assert.Equal([4f, 8f, 3f, 4f], DiffusionSampler.Guide(output, 1, 2, 2, 4.0, 1)); // DiT: the rest is the conditional output
    }

    [Theory]
    [InlineData("ddim")]
    [InlineData("ddpm")]
    [InlineData("dpmpp")]
    public void Sample_IsDeterministicBySeedAndIndex_WhateverTheBatching(string sampler)
    {
        var model = NewUnet();
        var o = new SampleOptions { Sampler = sampler, Steps = 4, Guidance = 2.5, Seed = 17 };
        int[] classes = [0, 1, 2, 3, 1];
        var together = DiffusionSampler.Sample(model, classes, 8, 8, o with { BatchSize = 5 }).ToArray<float>();
        var apart = DiffusionSampler.Sample(model, classes, 8, 8, o with { BatchSize = 2 }).ToArray<float>();
        Assert.Equal(together.Length, apart.Length);
        for (int i = 0; i < together.Length; i++) Assert.Equal(together[i], apart[i], 1e-4f);
        Assert.All(together, v => Assert.True(float.IsFinite(v)));
        var other = DiffusionSampler.Sample(model, classes, 8, 8, o with { Seed = 18 }).ToArray<float>();
        Assert.NotEqual(together, other);
        Assert.Throws<ArgumentException>(() => DiffusionSampler.Sample(model, [5], 8, 8, o));
    }

    [Fact]
    public void Sample_OneStepDdimWithoutGuidance_IsTheSchedulersStepOfTheModelOutput()
    {
        var model = NewUnet();
        model.Eval();
        var o = new SampleOptions { Sampler = "ddim", Steps = 1, Guidance = 1.0, Seed = 2 };
        var x = DiffusionSampler.Sample(model, [3], 8, 8, o).ToArray<float>();
        var rng = DiffusionSampler.SampleRng(2, 0);
        var xT = new float[3 * 64];
        for (int i = 0; i < xT.Length; i++) xT[i] = (float)rng.NextNormal();
        var s = Schedulers.Create("ddim");
        s.SetTimesteps(1);
        float[] eps;
        using (Autograd.NoGrad()) eps = model.Forward(Tensor.FromArray(xT, 1, 3, 8, 8), Tensor.FromArray([(float)s.Timesteps[0]], 1), [3]).ToArray<float>();
        Assert.Equal(s.Step(eps, s.Timesteps[0], xT), x);
    }

    [Fact]
    public void Training_WritesGridsAndCheckpoints_AndResumesBitExactly()
    {
        var o = new DiffusionOptions { Sampling = new SampleOptions { Sampler = "ddim", Steps = 2, Guidance = 2.0 }, GridColumns = 2, ValImages = 16 };
        TrainConfig Config(string dir) => new()
        {
            Model = "tiny_unet", Output = dir, Epochs = 2, BatchSize = 8, Lr = 1e-3, WarmupEpochs = 0, Ema = true, EmaDecay = 0.9,
            Smoothing = 0, Seed = 3, Diffusion = o, Workers = 0,
        };
        var val = SyntheticData.Make(16, 8, 8, seed: 6, shuffle: false);
        using var full = new TempDir();
        var reference = new Trainer(Config(full.Path), NewTask(o, val), SyntheticData.Make(32, 8, 8, seed: 5));
        var expected = new List<double>();
        reference.OnStep = s => expected.Add(s.Loss);
        var r = reference.Run();
        Assert.True(r.Completed);
        Assert.Equal(8, expected.Count);
        Assert.True(File.Exists(Path.Combine(full.Path, "samples", "epoch_001.png")));
        Assert.True(File.Exists(Path.Combine(full.Path, "samples", "epoch_002.png")));
        Assert.All(r.History, h => Assert.True(double.IsFinite(h.Metrics[DiffusionTask.ValLoss]) && double.IsFinite(h.Metrics[DiffusionTask.EmaValLoss])));
        Assert.Equal("epsilon", Checkpoint.ReadInfo(Trainer.WeightsPath(full.Path)).Diffusion!.Objective);

        using var dir = new TempDir();
        var first = new Trainer(Config(dir.Path), NewTask(o, val), SyntheticData.Make(32, 8, 8, seed: 5));
        var losses = new List<double>();
        using var cts = new CancellationTokenSource();
        first.OnStep = s => { losses.Add(s.Loss); if (losses.Count == 5) cts.Cancel(); }; // mid epoch 2
        var stopped = first.Run(cts.Token);
        Assert.False(stopped.Completed);
        var second = new Trainer(Config(dir.Path) with { Resume = stopped.RecoveryPath }, NewTask(o, val), SyntheticData.Make(32, 8, 8, seed: 5));
        second.OnStep = s => losses.Add(s.Loss);
        Assert.True(second.Run().Completed);
        Assert.Equal(expected, losses);
        // The resumed run's first evaluation is epoch 2's, and its grid is named so.
        Assert.True(File.Exists(Path.Combine(dir.Path, "samples", "epoch_002.png")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "samples", "epoch_003.png")));
        var a = reference.Ema!.Model.StateDict();
        foreach (var (name, t) in second.Ema!.Model.StateDict()) Assert.Equal(a[name].ToArray<float>(), t.ToArray<float>());
    }

    [Fact]
    public void Judge_ScoresClassAccuracy_AfterMappingImagesToItsNormalisationAndSize()
    {
        var classifier = TinyClassifier.Create(4, dropPath: 0, dropout: 0);
        var data = new DataConfig { InputSize = 16, Mean = [0.485, 0.456, 0.406], Std = [0.229, 0.224, 0.225], NumClasses = 4 };
        var judge = new SampleJudge(classifier, data);
        var images = Tensor.Randn(new Rng(1), DType.F32, 6, 3, 8, 8);
        // By hand: [−1, 1] → [0, 1] → normalised → bilinear to 16.
        var x = images.ToArray<float>();
        for (int i = 0; i < x.Length; i++) { int c = i / 64 % 3; x[i] = (float)(((x[i] + 1) / 2 - data.Mean[c]) / data.Std[c]); }
        classifier.Eval();
        var up = Ops.Upsample(Tensor.FromArray(x, 6, 3, 8, 8).Permute(0, 2, 3, 1).Contiguous(), (16, 16), Ascan.Core.UpsampleMode.Bilinear).Permute(0, 3, 1, 2).Contiguous();
        Tensor logits;
        using (Autograd.NoGrad()) logits = classifier.Forward(up);
        var l = logits.ToArray<float>();
        var predicted = Enumerable.Range(0, 6).Select(i => Ascan.Training.Eval.TopK.ArgMax(l.AsSpan(i * 4, 4))).ToArray();
        var r = judge.Accuracy(images, predicted);
        Assert.Equal(1.0, r.Accuracy);
        Assert.Equal(predicted, r.Predictions);
        var wrong = predicted.Select(p => (p + 1) % 4).ToArray();
        Assert.Equal(0.0, judge.Accuracy(images, wrong).Accuracy);
        var f = judge.Features(images);
        Assert.Equal(classifier.NumFeatures, f.GetLength(1));
        Assert.Equal(0.0, judge.FidTo(Ascan.Training.Eval.Fid.Statistics(f), images), 1e-6);
    }
}
