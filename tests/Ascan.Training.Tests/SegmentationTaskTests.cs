// The segmentation task's loss is mmseg's (issue 11): logits resized to the label, cross-entropy with ignore 255
// averaged over every label pixel (avg_non_ignore false), plus 0.4 × the auxiliary head's; poly schedule as PolyLR.
using Ascan.Core;
using Ascan.Data;
using Ascan.Models;
using Ascan.Models.Segmentation;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class SegmentationTaskTests
{
    private static Segmenter Tiny() => Segmenter.Create("upernet_ascan_nano", new ModelOptions { NumClasses = 3, Seed = 1 });

    private static SegmentationTask Task(Segmenter m) =>
        new(() => m, new EmptySource(), null, ModelRegistry.Get("upernet_ascan_nano").Config);

    private sealed class EmptySource : IBatchSource
    {
        public IReadOnlyList<string> ClassNames => ["background", "a", "b"];
        public int SampleCount => 0;
        public int BatchSize => 1;
        public int BatchesPerEpoch => 0;
        public int SkippedFiles => 0;
        public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0) => [];
    }

    /// <summary>mmseg's loss by hand: per head, upsample, per-pixel NLL summed over labelled pixels, divided by all pixels.</summary>
    private static double Reference(Segmenter m, Tensor images, int[] masks, int h, int w)
    {
        var logits = m.ForwardLogits(images, withAux: true);
        double Head(Tensor l)
        {
            var up = Ops.Upsample(l, (h, w), UpsampleMode.Bilinear, alignCorners: false).ToArray<float>();
            int k = l.Dim(-1);
            double sum = 0;
            for (int i = 0; i < masks.Length; i++)
            {
                if (masks[i] == Batch.IgnoreIndex) continue;
                var row = up.AsSpan(i * k, k);
                double max = double.NegativeInfinity;
                foreach (float v in row) max = Math.Max(max, v);
                double z = 0;
                foreach (float v in row) z += Math.Exp(v - max);
                sum += max + Math.Log(z) - row[masks[i]];
            }
            return sum / masks.Length;
        }
        return Head(logits.Decode) + 0.4 * Head(logits.Aux!);
    }

    [Fact]
    public void Loss_IsDecodePlusPointFourAux_MeanOverAllLabelPixels_IgnoreCountsInTheMean()
    {
        var m = Tiny();
        m.Train();
        var images = Tensor.Randn(new Rng(3), DType.F32, 2, 3, 32, 32);
        var rng = new Rng(4);
        var masks = Enumerable.Range(0, 2 * 32 * 32).Select(i => i % 7 == 0 ? Batch.IgnoreIndex : (int)(rng.NextUInt64() % 3)).ToArray();
        var batch = new Batch(images, []) { Masks = masks };
        // Both forwards draw the same channel-dropout masks: each starts from the same generator state.
        void Reseed() { foreach (var d in m.Modules().OfType<Ascan.Nn.Dropout2d>()) d.Rng = new Rng(7); }
        double want, got;
        Reseed();
        using (Autograd.NoGrad()) want = Reference(m, images, masks, 32, 32);
        Reseed();
        using (Autograd.NoGrad()) got = Task(m).Step(m, batch).Loss.Item();
        Assert.Equal(want, got, 1e-4 * Math.Abs(want));
    }

    [Fact]
    public void Loss_AllIgnored_IsZero_AndLabelsAtAnotherSizeAreScoredThere()
    {
        var m = Tiny();
        m.Train();
        var images = Tensor.Randn(new Rng(5), DType.F32, 2, 3, 32, 32); // batch 2: the 1×1 pooling branch needs it in training, as in PyTorch
        var batch = new Batch(images, []) { Masks = Enumerable.Repeat(Batch.IgnoreIndex, 2 * 20 * 24).ToArray(), MaskHeight = 20, MaskWidth = 24 };
        using (Autograd.NoGrad()) Assert.Equal(0.0, Task(m).Step(m, batch).Loss.Item());
    }

    [Fact]
    public void PolySchedule_MatchesPolyLR_AfterLinearWarmup()
    {
        var s = new LrSchedule(1.0, totalUpdates: 110, warmupUpdates: 10, warmupLr: 0, minLr: 0.1, polyPower: 0.9);
        Assert.Equal(0.5, s.At(5), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.1 + 0.9 * Math.Pow(0.5, 0.9), s.At(60), 12);
        Assert.Equal(0.1, s.At(110), 12);
        var c = new TrainConfig { Sched = "poly", PolyPower = 1.0, Lr = 6e-5, MinLr = 0, Epochs = 2, WarmupEpochs = 0 };
        var fromConfig = LrSchedule.FromConfig(c, batchesPerEpoch: 10);
        Assert.Equal(6e-5 * 0.5, fromConfig.At(10), 15);
    }
}
