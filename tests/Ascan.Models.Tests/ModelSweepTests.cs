// Sweep over every registered classifier (segmenters: Segmentation/SegmenterSweepTests.cs) and the AsCAN ablation layouts: shapes, non-zero finite gradients, parameter counts.
using Ascan.Core;
using Ascan.Models.AsCAN;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class ModelSweepTests
{
    // Small enough for CI, large enough for every family: a multiple of 16 (ViT-B/16 patches) and of 32 (five
    // stride-2 steps), and batch 2 so train-mode BatchNorm sees more than one value per channel at 1×1.
    private const int Size = 32, Batch = 2;

    public static TheoryData<string> RegisteredNames => new(ModelRegistry.All.Where(e => e.Kind == ModelKind.Classifier).Select(e => e.Name).Order(StringComparer.Ordinal));

    /// <summary>
    /// Builds the entry at the sweep size with its default classes. Factories must honour
    /// <see cref="ModelOptions.ImageSize"/> (a model with position embeddings sizes them from it); when that changes
    /// the parameter count, the documented count is checked on a second build at the default size.
    /// </summary>
    [Theory]
    [MemberData(nameof(RegisteredNames))]
    public void Registry_Model_ForwardBackwardAndParameterCount(string name)
    {
        var entry = ModelRegistry.Get(name);
        var model = ModelRegistry.CreateClassifier(name, new ModelOptions { ImageSize = Size, Seed = 1 });
        if (model.ParameterCount != entry.Parameters)
        {
            long atDefault = ModelRegistry.CreateClassifier(name).ParameterCount;
            Assert.True(entry.Parameters == atDefault,
                $"{name}: {atDefault:N0} parameters at the default size, documented {entry.Parameters:N0}.");
        }
        Assert.Equal(entry.Config.NumClasses, model.NumClasses);

        long macs = RunAndCheck(name, model, entry.Config.NumClasses);
        if (model is AscanModel ascan)
            Assert.Equal(Batch * ascan.Config.Macs(Size, Size), macs);
    }

    /// <summary>The paper's ablations (symmetric, all-C, all-T, T-before-C) at the nano widths, and a stage without blocks.</summary>
    [Theory]
    [InlineData("symmetric", "CT", "CCTT", "CCCCTTTT", "CT")]
    [InlineData("all_c", "CC", "CCC", "CCCCC", "CC")]
    [InlineData("all_t", "TT", "TTT", "TTTTT", "TT")]
    [InlineData("t_before_c", "TC", "TCC", "TTCCC", "TC")]
    [InlineData("empty_stage", "C", "", "CTT", "T")]
    public void Ablation_Layout_BuildsAndTrains(string what, string s0, string s1, string s2, string s3)
    {
        var config = new AscanConfig([32, 64, 128, 256], [s0, s1, s2, s3]) { NumClasses = 5 };
        var model = config.Build(ParamPath.Root(DType.F32, new Rng(2)));
        Assert.Equal(config.Stages, model.Stages.Items.Select(s => s.Layout));
        Assert.Equal(config.ParameterCount(), model.ParameterCount);
        long macs = RunAndCheck(what, model, 5);
        Assert.Equal(Batch * config.Macs(Size, Size), macs);
    }

    /// <summary>
    /// Train-mode forward at the sweep size and a backward of L = Σ logits·R (fixed random R: a plain sum would
    /// hide a wrong softmax backward). Returns the MACs of the forward.
    /// </summary>
    /// <summary>
    /// A parameter initialised to all zeros (torchvision's ViT head) blocks every gradient upstream of it at
    /// step 0; give such tensors small random values so the check sees the gradient flow a trained model has.
    /// </summary>
    private static void RedrawZeroParameters(ClassifierModel model)
    {
        var rng = new Rng(3);
        foreach (var (_, p) in model.NamedParameters())
        {
            var v = p.Span<float>();
            if (v.Length == 0 || v.ContainsAnyExcept(0f)) continue;
            for (int i = 0; i < v.Length; i++) v[i] = (float)(0.02 * rng.NextNormal());
        }
    }

    private static long RunAndCheck(string name, ClassifierModel model, int classes)
    {
        model.Train();
        RedrawZeroParameters(model);
        var x = Tensor.Randn(new Rng(7), DType.F32, Batch, 3, Size, Size);
        Tensor logits;
        long macs;
        using (var counter = MacCounter.Begin())
        {
            logits = model.Forward(x);
            macs = counter.Total;
        }
        Assert.Equal([Batch, classes], logits.ShapeArray());
        Assert.True(logits.ToArray<float>().All(float.IsFinite), $"{name}: non-finite logits");
        var r = Tensor.Randn(new Rng(8), DType.F32, Batch, classes);
        (logits * r).Sum().Backward();

        var silent = new List<string>();
        foreach (var (key, p) in model.NamedParameters())
        {
            Assert.True(p.Grad != null, $"{name}: parameter {key} received no gradient");
            var g = p.Grad!.ToArray<float>();
            Assert.True(g.All(float.IsFinite), $"{name}: non-finite gradient in {key}");
            if (!g.Any(v => v != 0)) silent.Add(key);
        }
        Assert.True(silent.Count == 0, $"{name}: all-zero gradient in {string.Join(", ", silent)}");
        return macs;
    }
}
