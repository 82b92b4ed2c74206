// UPerNet against PyTorch (tools/seg_reference.py via tools/fixtures/segmentation.py): train and eval logits, loss, every gradient, keys.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.AsCAN;
using Ascan.Models.Segmentation;
using Ascan.Nn;
using Xunit.Abstractions;

namespace Ascan.Models.Tests;

public class SegmenterFixtureTests(ITestOutputHelper output)
{
    // Every output and gradient within 1e-4 of the expected tensor's largest magnitude (float32 engine vs float64 torch).
    private static readonly FixtureTolerance Tol = new(new Tolerance(Rtol: 0, Atol: 0, OfMax: 1e-4));

    private const string Name = "segmentation/upernet_tiny";

    /// <summary>The tiny segmenter the fixture was written with: a features-only AsCAN under UPerNet heads.</summary>
    internal static Segmenter Tiny(FixtureFile fx, ulong seed = 0)
    {
        var backbone = AscanFixtureTests.TinyConfig(fx) with { FeaturesOnly = true, NumClasses = 0 };
        return new Segmenter(ParamPath.Root(DType.F32, new Rng(seed)), q => new AscanModel(q, backbone), new UperNetConfig
        {
            NumClasses = fx.Int("num_classes"),
            Channels = fx.Int("channels"),
            AuxChannels = fx.Int("aux_channels"),
            DropoutRatio = fx.Double("dropout"),
            AuxLossWeight = fx.Double("aux_weight"),
        });
    }

    /// <summary>CE(resize(decode)) + w·CE(resize(aux)) against labels (B·H·W, row-major), what the fixture's loss is.</summary>
    internal static Tensor Loss(SegmentationLogits logits, int[] labels, int h, int w, double auxWeight, int ignoreIndex)
    {
        Tensor Ce(Tensor l)
        {
            var up = Ops.Upsample(l, (h, w), UpsampleMode.Bilinear, alignCorners: false); // (B, H, W, K)
            return Ops.CrossEntropy(up.Reshape(-1, up.Dim(3)), labels, ignoreIndex: ignoreIndex);
        }
        var loss = Ce(logits.Decode);
        return logits.Aux == null ? loss : loss + Ce(logits.Aux) * auxWeight;
    }

    [Fact]
    public void Segmenter_Tiny_MatchesTorch_TrainEvalLossAndGradients()
    {
        var compared = OpFixture.CheckModule(Name, DType.F32, Tol, (fx, x) =>
        {
            var model = Tiny(fx);
            var report = model.LoadStateDict(fx.StateTensors(DType.F32), strict: true);
            Assert.Equal(model.StateDict().Count, report.Loaded.Count);
            var images = x["x"];
            int h = images.Dim(2), w = images.Dim(3);

            // Train first, then eval with the running statistics the train forward moved (tools/fixtures/ascan.py).
            model.Train();
            var logits = model.ForwardLogits(images);
            Assert.NotNull(logits.Aux);
            var loss = Loss(logits, fx.Input("labels").ToInt32(), h, w, fx.Double("aux_weight"), fx.Int("ignore_index"));
            model.Eval();
            var eval = model.Forward(images);
            Assert.Null(model.ForwardLogits(images).Aux); // the auxiliary head is for training only
            // Outputs in the fixture's key order. Three of them share the train graph, which a backward releases, so
            // L = Σ_k sum(out_k · gout_k) is back-propagated here once, and the outputs are returned detached.
            string[] names = ["eval", "loss", "train_aux", "train_decode"];
            Tensor[] outs = [eval, loss, OpFixture.Nchw(logits.Aux!), OpFixture.Nchw(logits.Decode)];
            var total = outs.Select((o, i) => (o * fx.Get("gout." + names[i]).ToTensor(DType.F32)).Sum()).Aggregate((a, b) => a + b);
            total.Backward();
            return (outs.Select(o => o.Detach()).ToArray(), model.NamedParameters());
        });
        foreach (var group in compared.GroupBy(c => c.Name.StartsWith("grad.") ? "gradients" : c.Name))
        {
            var worst = group.MaxBy(c => c.Relative);
            output.WriteLine($"{group.Key}: max |Δ|/max|expected| = {worst.Relative:E2} ({worst.Name})");
        }
    }

    [Fact]
    public void Segmenter_StateDictKeys_AreMmsegs_InOrder()
    {
        var fx = FixtureFile.Load(Name);
        var expected = fx.State.Keys.Where(k => !k.EndsWith(".num_batches_tracked", StringComparison.Ordinal)).ToList();
        var model = Tiny(fx);
        Assert.Equal(expected, model.StateDict().Keys.ToList());
        Assert.Equal(fx.State.Count, fx.State.Keys.Count(k => k.StartsWith("backbone.") || k.StartsWith("decode_head.") || k.StartsWith("auxiliary_head.")));
    }
}
