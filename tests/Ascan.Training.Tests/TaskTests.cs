// The loop is task-agnostic: a second task (denoising, drawn from its own generator) plugs in, trains, writes its own
// summary columns and curves, and resumes bit-exactly from an interrupt — nothing classification-specific involved.
using System.Xml.Linq;
using Ascan.Core;
using Ascan.Data;
using Ascan.Nn;
using Ascan.Training.Reporting;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

/// <summary>Per pixel: Linear(3 → 16) → GELU → Dropout → Linear(16 → 3). Shapes: (B, 3, H, W) → (B, H, W, 3).</summary>
internal sealed class TinyDenoiser : Module
{
    private readonly Linear _fc1, _fc2;
    private readonly Dropout _dropout;

    public TinyDenoiser(ParamPath p) : base(p)
    {
        _fc1 = new Linear(p.Sub("fc1"), 3, 16);
        _dropout = new Dropout(p.Sub("dropout"), 0.1);
        _fc2 = new Linear(p.Sub("fc2"), 16, 3);
    }

    public static TinyDenoiser Create(ulong seed = 9) => new(ParamPath.Root(rng: new Rng(seed)));

    public Tensor Forward(Tensor images)
    {
        var x = Ops.Permute(images, 0, 2, 3, 1); // (B, H, W, 3)
        return _fc2.Forward(_dropout.Forward(Ops.Gelu(_fc1.Forward(x))));
    }
}

/// <summary>
/// Predict the noise ε ~ N(0, 1) added to an image as x + σ·ε; loss mean((pred − ε)²), the ε-prediction objective of
/// diffusion at one noise level. Training noise comes from the task's generator (checkpointed by the loop); val noise
/// from a fixed seed, so val_loss compares across epochs. Predicting 0 scores 1.
/// </summary>
internal sealed class DenoiseTask(IBatchSource val, double sigma = 0.5, ulong seed = 21) : TrainTask
{
    private readonly Rng _noise = new(seed);

    public override IReadOnlyList<CurvePanel> Curves { get; } =
        [new("Noise MSE", [new("train", "#1f77b4", "train_loss"), new("val", "#d62728", "val_loss")])];

    public override IEnumerable<(string Name, Rng Rng)> Generators => [("noise", _noise)];

    public override Module CreateModel() => TinyDenoiser.Create();

    public override string Prepare(Module model) => $"{val.SampleCount} val images, noise σ {sigma}";

    public override TaskStep Step(Module model, Batch batch) => new(Loss((TinyDenoiser)model, batch, _noise), Metrics.Empty);

    public override Metrics EndEpoch(EpochMeters train, Module model, Module? ema) =>
        Metrics.Of(("train_loss", train.Loss), ("val_loss", Evaluate((TinyDenoiser)model)));

    public override double Score(Metrics epoch) => -epoch["val_loss"];

    /// <summary>Mean val loss in eval mode without autograd, over noise drawn from a fixed seed.</summary>
    public double Evaluate(TinyDenoiser model)
    {
        var rng = new Rng(1234);
        double sum = 0;
        long n = 0;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var batch in val.Epoch(0))
                using (TensorScope.Begin())
                {
                    sum += Loss(model, batch, rng).Item() * batch.Count;
                    n += batch.Count;
                }
        }
        finally { model.Train(); }
        return sum / n;
    }

    private Tensor Loss(TinyDenoiser model, Batch batch, Rng rng)
    {
        var x = batch.Images;                                                    // (B, 3, H, W)
        var eps = Tensor.Randn(rng, DType.F32, x.Shape.ToArray());               // (B, 3, H, W)
        var pred = model.Forward(Ops.Add(x, Ops.Mul(eps, sigma)));               // (B, H, W, 3)
        var diff = Ops.Sub(pred, Ops.Permute(eps, 0, 2, 3, 1));
        return Ops.Mean(Ops.Mul(diff, diff));
    }
}

public class TaskTests
{
    private static TrainConfig Config(string output) => TrainTests.TinyConfig(output) with { Epochs = 3, Lr = 3e-2, Smoothing = 0 };

    private static Trainer NewTrainer(TrainConfig c) =>
        new(c, new DenoiseTask(SyntheticData.Make(32, 8, 16, seed: 6, shuffle: false)), SyntheticData.Make(80, 8, 16, seed: 5));

    [Fact]
    public void Loop_SecondTask_TrainsAndWritesItsOwnColumns()
    {
        using var dir = new TempDir();
        var trainer = NewTrainer(Config(dir.Path));
        double untrained = ((DenoiseTask)trainer.Task).Evaluate(TinyDenoiser.Create());
        var result = trainer.Run();

        Assert.True(result.Completed);
        var val = result.History.Select(r => r.Metrics["val_loss"]).ToList();
        Assert.True(val[^1] < 0.8 * untrained, $"val noise MSE {val[^1]:F4}, untrained {untrained:F4}");
        Assert.Equal(["train_loss", "val_loss"], result.History[^1].Metrics.Names);
        Assert.Equal(-val.Min(), result.BestMetric);
        Assert.Equal(val.IndexOf(val.Min()) + 1, result.BestEpoch);

        var csv = File.ReadAllLines(dir.File("summary.csv"));
        Assert.Equal("epoch,train_loss,val_loss,lr,images_per_sec,seconds", csv[0]);
        Assert.Equal(4, csv.Length);
        var svg = XDocument.Parse(File.ReadAllText(dir.File("curves.svg")));
        Assert.Equal(2, svg.Descendants(XName.Get("polyline", "http://www.w3.org/2000/svg")).Count());
        Assert.Contains(svg.Descendants(XName.Get("text", "http://www.w3.org/2000/svg")), t => t.Value == "Noise MSE");
        Assert.False(File.Exists(dir.File("class_map.txt"))); // classification's file only

        var ck = Checkpoint.Load(dir.File(Trainer.LastFile));
        Assert.Empty(ck.ClassNames);
        Assert.Contains("task:noise", ck.RngStates.Keys);
        Assert.Equal(result.History, ck.History); // the generic rows round-trip, NaN-free or not
    }

    [Theory]
    [InlineData(3)] // mid epoch 1, mid accumulation group
    [InlineData(7)] // mid epoch 2, on a group boundary
    public void Loop_SecondTask_ResumesBitExactly(int stopAfter)
    {
        static TrainConfig Accum(string output) => Config(output) with { Epochs = 2, AccumSteps = 2, ClipGrad = 1.0 };
        using var full = new TempDir();
        var reference = NewTrainer(Accum(full.Path));
        var expected = new List<double>();
        reference.OnStep = s => expected.Add(s.Loss);
        var refResult = reference.Run();
        Assert.Equal(10, expected.Count);

        using var dir = new TempDir();
        var first = NewTrainer(Accum(dir.Path));
        var losses = new List<double>();
        using var cts = new CancellationTokenSource();
        first.OnStep = s => { losses.Add(s.Loss); if (losses.Count == stopAfter) cts.Cancel(); };
        var stopped = first.Run(cts.Token);
        Assert.False(stopped.Completed);

        var second = NewTrainer(Accum(dir.Path) with { Resume = stopped.RecoveryPath });
        second.OnStep = s => losses.Add(s.Loss);
        var done = second.Run();
        Assert.True(done.Completed);

        Assert.Equal(expected, losses); // bit-identical, step for step: the task's noise generator resumed too
        Assert.Equal(refResult.History.Select(r => (r.Epoch, r.Metrics, r.Lr)), done.History.Select(r => (r.Epoch, r.Metrics, r.Lr)));
        var a = reference.Model!.StateDict();
        foreach (var (name, t) in second.Model!.StateDict()) Assert.Equal(a[name].ToArray<float>(), t.ToArray<float>());
        var ea = reference.Ema!.Model.StateDict();
        foreach (var (name, t) in second.Ema!.Model.StateDict()) Assert.Equal(ea[name].ToArray<float>(), t.ToArray<float>());
    }
}
