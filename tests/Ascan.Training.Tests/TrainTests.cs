// Trainer: a tiny model learns separable data; a non-finite loss stops the run and keeps the last good checkpoint.
using Ascan.Models;
using Ascan.Data.Shapes;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class TrainTests
{
    internal static TrainConfig TinyConfig(string output) => new()
    {
        Model = "tiny", Output = output, Epochs = 3, BatchSize = 16, Lr = 1e-2, WarmupEpochs = 0.5, WeightDecay = 0.01,
        Smoothing = 0.1, Seed = 3, Ema = true, EmaDecay = 0.99,
    };

    [Fact]
    public void Train_TinyModel_LearnsSeparableData()
    {
        using var dir = new TempDir();
        var trainer = new Trainer(TinyConfig(dir.Path), () => TinyClassifier.Create(4), SyntheticData.Make(256, 8, 16, seed: 11), SyntheticData.Make(64, 8, 32, seed: 12, shuffle: false));
        var losses = new List<double>();
        trainer.OnStep = s => losses.Add(s.Loss);
        var result = trainer.Run();

        Assert.True(result.Completed);
        Assert.Equal(3 * 16, losses.Count);
        var last = result.History[^1];
        Assert.True(last.ValTop1 >= 0.9, $"val top-1 {last.ValTop1:F3} (chance 0.25)");
        Assert.True(last.EmaTop1 >= 0.5, $"EMA top-1 {last.EmaTop1:F3} (chance 0.25)");
        Assert.True(losses.Skip(40).Average() < 0.6 * losses.Take(8).Average(), $"loss fell from {losses.Take(8).Average():F3} to {losses.Skip(40).Average():F3} only");
        foreach (var f in new[] { "config.json", "class_map.txt", "summary.csv", "curves.svg", Trainer.LastFile, Trainer.BestFile })
            Assert.True(File.Exists(dir.File(f)), $"{f} was not written");
        Assert.Equal(4, File.ReadAllLines(dir.File("summary.csv")).Length); // header + 3 epochs
        Assert.Equal(TinyConfig(dir.Path), TrainConfig.Load(dir.File("config.json")));
    }

    [Fact]
    public void Train_TinyModel_LearnsShapes()
    {
        // 768 16×16 shapes (circle, square, star, triangle on flat backgrounds) through the real loader and transforms.
        using var dir = new TempDir();
        var gen = new ShapesGenerator(new ShapesConfig { Classes = 4, Size = 16, Seed = 1, Textures = false });
        var c = TinyConfig(dir.Path) with { Epochs = 12, BatchSize = 16, Lr = 3e-3, ImageSize = 16, ScaleMin = 1.0, ColorJitter = 0, Workers = 0, Ema = false };
        var data = new DataConfig { InputSize = 16, CropFraction = 1.0, Mean = [0.5, 0.5, 0.5], Std = [0.25, 0.25, 0.25] };
        var trainer = new Trainer(c, () => TinyClassifier.Create(4, dropPath: 0, dropout: 0, width: 16),
            TrainData.Loader(c, data, new ShapesDataset(gen, 768, split: 0), training: true),
            TrainData.Loader(c, data, new ShapesDataset(gen, 128, split: 1), training: false));
        var result = trainer.Run();
        Assert.True(result.History[^1].ValTop1 >= 0.65, $"val top-1 {result.History[^1].ValTop1:F3} after {c.Epochs} epochs (chance 0.25); history: " +
            string.Join(" ", result.History.Select(h => h.ValTop1.ToString("F2"))));
    }

    [Fact]
    public void Train_NaNLoss_StopsWithMessageAndKeepsLastGoodCheckpoint()
    {
        using var dir = new TempDir();
        var data = SyntheticData.Make(64, 8, 16, seed: 11);
        // Epoch 2 (index 1), batch 3 (index 2) carries a NaN pixel.
        data.Tamper = (epoch, batch, x) => { if (epoch == 1 && batch == 2) x[5] = float.NaN; };
        var trainer = new Trainer(TinyConfig(dir.Path), () => TinyClassifier.Create(4), data, null);
        byte[]? afterEpoch1 = null;
        trainer.OnStep = s => { if (s.Epoch == 1 && s.Batch == 0) afterEpoch1 = File.ReadAllBytes(dir.File(Trainer.LastFile)); };

        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("loss is NaN at epoch 2, batch 3", e.Message);
        Assert.Contains("last good checkpoint", e.Message);
        Assert.Equal(afterEpoch1, File.ReadAllBytes(dir.File(Trainer.LastFile))); // not overwritten
        var ck = Checkpoint.Load(dir.File(Trainer.LastFile));
        Assert.Equal(new TrainPosition(1, 0, 4), ck.Position);
        Assert.All(ck.Model.Values, t => Assert.All(t.ToArray<float>(), v => Assert.True(float.IsFinite(v))));
        Assert.False(File.Exists(dir.File(Trainer.RecoveryFile)));
    }

    [Fact]
    public void Train_ClassCountMismatch_IsReportedClearly()
    {
        using var dir = new TempDir();
        var trainer = new Trainer(TinyConfig(dir.Path), () => TinyClassifier.Create(3), SyntheticData.Make(32, 8, 16, seed: 1), null);
        var e = Assert.Throws<ArgumentException>(() => trainer.Run());
        Assert.Contains("3 outputs but the data has 4 classes", e.Message);
    }

    [Fact]
    public void TrainConfig_Json_RoundTripsAndRejectsUnknownKeys()
    {
        var c = new TrainConfig { Epochs = 7, ClipGrad = 1.5, AutoAugment = "rand-m9-mstd0.5", Ema = true };
        Assert.Equal(c, TrainConfig.FromJson(c.ToJson()));
        Assert.Contains("\"batch_size\": 64", c.ToJson());
        var e = Assert.Throws<ArgumentException>(() => TrainConfig.FromJson("{\"batchsize\": 3}", "my.json"));
        Assert.Contains("my.json", e.Message);
        Assert.Throws<ArgumentException>(() => new TrainConfig { Opt = "lamb" }.Validate());
    }
}
