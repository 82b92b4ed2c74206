// Every registry entry: eval mode through the fused layers (folded BatchNorm, packed GEMMs, epilogues) against the
// same layers run plainly (FusedInference off), on the same weights with every norm's statistics and affine redrawn.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class RegistryFusionSweepTests
{
    private const int Size = 32;

    public static TheoryData<string> Classifiers => new(ModelRegistry.All.Where(e => e.Kind == ModelKind.Classifier).Select(e => e.Name).Order(StringComparer.Ordinal));

    /// <summary>Norm statistics, affine parameters, biases, layer scales and zero-initialised heads redrawn, so that
    /// folding and every epilogue matter.</summary>
    internal static void Randomise(Module m, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var (name, t) in m.StateDict())
        {
            double lo, hi;
            if (name.EndsWith("running_var")) (lo, hi) = (0.5, 1.5);
            else if (name.EndsWith("running_mean") || name.EndsWith("bias")) (lo, hi) = (-0.2, 0.2);
            else if (name.EndsWith("layer_scale") || (t.Rank == 1 && name.EndsWith("weight"))) (lo, hi) = (0.5, 1.5);
            else if (!t.Span<float>().ContainsAnyExcept(0f)) (lo, hi) = (-0.05, 0.05);
            else continue;
            var s = t.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }
    }

    [Theory]
    [MemberData(nameof(Classifiers))]
    public void Registry_EvalFused_EqualsPlainLayers(string name)
    {
        if (!Ops.PackedKernelsSupported) return;
        var m = ModelRegistry.CreateClassifier(name, new ModelOptions { ImageSize = Size, NumClasses = 10, Seed = 5 });
        Randomise(m, 6);
        m.Eval();
        var x = Tensor.Randn(new Rng(7), DType.F32, 2, 3, Size, Size);
        Tensor fused, plain;
        List<Tensor> fusedStages, plainStages;
        using (Autograd.NoGrad())
        {
            using (TensorScope.Begin()) // early frees inside a scope must not touch what is returned
            {
                fused = m.Forward(x).Clone();
                fusedStages = m.ForwardStages(x).Select(t => t.Clone()).ToList();
            }
            m.FusedInference = false;
            plain = m.Forward(x);
            plainStages = m.ForwardStages(x).ToList();
            m.FusedInference = true;
        }
        Assert.Equal([2, 10], fused.ShapeArray());
        TensorAssert.Close(plain, fused, 0, 1e-5 * plain.ToArray<double>().Max(Math.Abs), $"{name} logits");
        for (int i = 0; i < plainStages.Count; i++)
            TensorAssert.Close(plainStages[i], fusedStages[i], 0, 1e-5 * plainStages[i].ToArray<double>().Max(Math.Abs), $"{name} stage {i}");
    }

    /// <summary>A features-only backbone holds exactly the classifier's keys less its head and final norm, and gives the same stage outputs.</summary>
    [Theory]
    [MemberData(nameof(Classifiers))]
    public void Registry_Backbone_IsTheClassifierWithoutHead(string name)
    {
        var classifier = ModelRegistry.CreateClassifier(name, new ModelOptions { ImageSize = Size, NumClasses = 4, Seed = 1 });
        var backbone = ModelRegistry.CreateBackbone(name, new ModelOptions { ImageSize = Size, Seed = 1 });
        Assert.Equal(0, backbone.NumClasses);
        var dropped = classifier.StateDict().Keys.Except(backbone.StateDict().Keys).ToList();
        Assert.Empty(backbone.StateDict().Keys.Except(classifier.StateDict().Keys));
        Assert.Contains(classifier.HeadKey + ".weight", dropped);
        Assert.All(dropped, k => Assert.True(k.StartsWith(classifier.HeadKey + ".") || k.StartsWith("norm.") || k.StartsWith("classifier."), $"{name}: backbone lacks {k}"));
        backbone.LoadStateDict(classifier.StateDict().Where(kv => !dropped.Contains(kv.Key)).ToDictionary(), strict: true);
        classifier.Eval(); backbone.Eval();
        var x = Tensor.Randn(new Rng(2), DType.F32, 1, 3, Size, Size);
        using var _ = Autograd.NoGrad();
        var a = classifier.ForwardStages(x); var b = backbone.ForwardStages(x);
        Assert.Equal(classifier.FeatureInfo, backbone.FeatureInfo);
        for (int i = 0; i < a.Count; i++) TensorAssert.Close(a[i], b[i], 0, 0, $"{name} stage {i}");
    }

    /// <summary>Every family says where its classifier is: the class count of a weights file comes from its own head.</summary>
    [Theory]
    [MemberData(nameof(Classifiers))]
    public void Registry_NumClassesIn_ReadsTheFamilysHead(string name)
    {
        var m = ModelRegistry.CreateClassifier(name, new ModelOptions { ImageSize = Size, NumClasses = 7 });
        Assert.NotNull(m.HeadKey);
        Assert.Equal(7, m.NumClassesIn(m.StateDict()));
        m.ResetClassifier(0);
        Assert.Equal(0, m.NumClassesIn(m.StateDict()));
    }
}
