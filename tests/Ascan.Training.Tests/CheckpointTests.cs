// Checkpoints: everything round-trips; a failed write leaves the previous file intact and no partial file behind.
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

[Collection("Checkpoint hook")] // BeforeCommit is static: keep tests that set it apart from the rest
public class CheckpointTests
{
    private static CheckpointData Sample(int epoch)
    {
        var model = TinyClassifier.Create(4);
        return new CheckpointData
        {
            Model = model.StateDict(),
            Optimizer = new() { ["head.weight.step"] = Tensor.Scalar(12, DType.F64) },
            Ema = model.StateDict(),
            Position = new TrainPosition(epoch, 3, 17),
            Config = new TrainConfig { Epochs = 9, ClipGrad = 2 },
            ClassNames = ["a", "b", "c", "d"],
            RngStates = new() { ["drop_path:drop_path"] = [1UL, ulong.MaxValue, 0x0123456789abcdefUL, 42UL] },
            Meters = new EpochMeters { LossSum = 1.5, Correct = 7, Samples = 12, Seconds = 0.25 },
            History = [new EpochRecord(1, 0.9, 0.5, double.NaN, double.NaN, double.NaN, double.NaN, 1e-3, 100, 2)],
            BestMetric = double.NegativeInfinity,
        };
    }

    [Fact]
    public void Checkpoint_SaveLoad_RoundTripsEverything()
    {
        using var dir = new TempDir();
        var c = Sample(2);
        Checkpoint.Save(dir.File("c.safetensors"), c);
        var r = Checkpoint.Load(dir.File("c.safetensors"));
        Assert.Equal(c.Position, r.Position);
        Assert.Equal(c.Config, r.Config);
        Assert.Equal(c.ClassNames, r.ClassNames);
        Assert.Equal(c.RngStates["drop_path:drop_path"], r.RngStates["drop_path:drop_path"]);
        Assert.Equal(c.Meters, r.Meters);
        Assert.Equal(c.History, r.History); // NaN fields survive
        Assert.Equal(double.NegativeInfinity, r.BestMetric);
        Assert.Equal(c.Model.Keys, r.Model.Keys);
        foreach (var (k, t) in c.Model) Assert.Equal(t.ToArray<float>(), r.Model[k].ToArray<float>());
        Assert.NotNull(r.Ema);
        Assert.Equal(12.0, r.Optimizer["head.weight.step"].Item());
        Assert.Empty(r.PendingGrads);
        Assert.True(Checkpoint.IsCheckpoint(dir.File("c.safetensors")));
    }

    [Fact]
    public void Checkpoint_FailedWrite_KeepsPreviousFileAndLeavesNoPartialFile()
    {
        using var dir = new TempDir();
        string path = dir.File("last.safetensors");
        Checkpoint.Save(path, Sample(1));
        byte[] before = File.ReadAllBytes(path);
        string? tempSeen = null;
        Checkpoint.BeforeCommit = temp => { tempSeen = temp; Assert.True(File.Exists(temp)); throw new IOException("disk full (simulated)"); };
        try
        {
            var e = Assert.Throws<IOException>(() => Checkpoint.Save(path, Sample(2)));
            Assert.Contains("simulated", e.Message);
        }
        finally { Checkpoint.BeforeCommit = null; }
        Assert.NotNull(tempSeen);
        Assert.False(File.Exists(tempSeen));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["last.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal(1, Checkpoint.Load(path).Position.Epoch);
    }

    [Fact]
    public void Checkpoint_LoadWeights_ReadsModelOrEmaOrPlainStateDict()
    {
        using var dir = new TempDir();
        var c = Sample(1);
        c.Ema!["head.bias"].Span<float>()[0] = 123f;
        Checkpoint.Save(dir.File("ck.safetensors"), c);
        var (model, classes) = Checkpoint.LoadWeights(dir.File("ck.safetensors"));
        var (ema, _) = Checkpoint.LoadWeights(dir.File("ck.safetensors"), useEma: true);
        Assert.Equal(c.Model.Keys.Order(), model.Keys.Order());
        Assert.Equal(123f, ema["head.bias"].ToArray<float>()[0]);
        Assert.Equal(["a", "b", "c", "d"], classes);

        var m = TinyClassifier.Create(4);
        Nn.Serialization.SafetensorsState.SaveModule(m, dir.File("plain.safetensors"));
        ClassMap.Write(dir.Path, ["w", "x", "y", "z"]);
        var (plain, plainClasses) = Checkpoint.LoadWeights(dir.File("plain.safetensors"));
        Assert.Equal(m.StateDict().Keys.Order(), plain.Keys.Order());
        Assert.Equal(["w", "x", "y", "z"], plainClasses);
        Assert.False(Checkpoint.IsCheckpoint(dir.File("plain.safetensors")));
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(dir.File("plain.safetensors")));
    }

    // Checkpoints written before metrics became named (flat rows and meters with the classification columns, the
    // meters' derived loss/accuracy included) read back as the same values; new ones keep that layout.
    private const string OldRow = """{"epoch":1,"train_loss":0.9,"train_acc":0.5,"val_loss":"NaN","val_top1":"NaN","val_top5":"NaN","ema_top1":"NaN","lr":0.001,"images_per_sec":100,"seconds":2}""";
    private const string OldMeters = """{"loss_sum":1.5,"correct":7,"samples":12,"seconds":0.25,"loss":0.125,"accuracy":0.5833333333333334}""";

    [Fact]
    public void Checkpoint_History_ReadsAndWritesTheFlatClassificationLayout()
    {
        var row = System.Text.Json.JsonSerializer.Deserialize<EpochRecord>(OldRow)!;
        Assert.Equal(new EpochRecord(1, 0.9, 0.5, double.NaN, double.NaN, double.NaN, double.NaN, 1e-3, 100, 2), row);
        Assert.Equal(OldRow, System.Text.Json.JsonSerializer.Serialize(row));

        var meters = System.Text.Json.JsonSerializer.Deserialize<EpochMeters>(OldMeters)!;
        Assert.Equal(new EpochMeters { LossSum = 1.5, Correct = 7, Samples = 12, Seconds = 0.25 }, meters);
        Assert.Equal(["correct"], meters.Sums.Names);
        Assert.Equal("""{"loss_sum":1.5,"correct":7,"samples":12,"seconds":0.25}""", System.Text.Json.JsonSerializer.Serialize(meters));
    }
}
