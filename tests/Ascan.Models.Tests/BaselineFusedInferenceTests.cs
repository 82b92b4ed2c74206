// The baselines' fused inference paths (ResNet, ConvNeXt, ViT) against their plain eval forward.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Baselines;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class BaselineFusedInferenceTests
{
    /// <summary>Every norm's affine parameters and running statistics, biases and layer scales redrawn, so all of them matter.</summary>
    private static T Randomised<T>(T m, ulong seed) where T : ClassifierModel
    {
        var rng = new Rng(seed);
        foreach (var (name, t) in m.StateDict())
        {
            var s = t.Span<float>();
            double lo, hi;
            if (name.EndsWith("running_var")) (lo, hi) = (0.5, 1.5);
            else if (name.EndsWith("running_mean") || name.EndsWith("bias")) (lo, hi) = (-0.2, 0.2);
            else if (name.EndsWith("layer_scale") || (t.Rank == 1 && name.EndsWith("weight"))) (lo, hi) = (0.5, 1.5);
            else if (name.EndsWith("head.weight")) (lo, hi) = (-0.2, 0.2);
            else continue;
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }
        m.Eval();
        return m;
    }

    private static void AssertFusedEqualsPlain(ClassifierModel m, Tensor x)
    {
        if (!Ops.PackedKernelsSupported) return;
        Tensor fused, plain;
        IReadOnlyList<Tensor> fusedStages, plainStages;
        using (Autograd.NoGrad())
        {
            using (TensorScope.Begin())
            {
                fused = m.Forward(x).Clone();
                fusedStages = m.ForwardStages(x).Select(t => t.Clone()).ToList();
            }
            m.FusedInference = false;
            plain = m.Forward(x);
            plainStages = m.ForwardStages(x);
            m.FusedInference = true;
        }
        double scale = plain.ToArray<double>().Max(Math.Abs);
        TensorAssert.Close(plain, fused, 0, 1e-5 * scale, "logits");
        for (int i = 0; i < plainStages.Count; i++)
        {
            double s = plainStages[i].ToArray<double>().Max(Math.Abs);
            TensorAssert.Close(plainStages[i], fusedStages[i], 0, 1e-5 * s, $"stage {i}");
        }
    }

    [Fact]
    public void ResNet_FusedEqualsPlain()
    {
        var config = new ResNetConfig { Layers = [2, 1, 1, 1], Planes = [16, 16, 32, 32], StemWidth = 16, NumClasses = 10 };
        var m = Randomised(new ResNet(ParamPath.Root(DType.F32, new Rng(1)), config), 2);
        AssertFusedEqualsPlain(m, Tensor.Randn(new Rng(3), DType.F32, 2, 3, 40, 40));
    }

    [Fact]
    public void ConvNeXt_FusedEqualsPlain()
    {
        var config = new ConvNeXtConfig { Dims = [32, 32, 64, 64], Depths = [2, 1, 1, 1], NumClasses = 10 };
        var m = Randomised(new ConvNeXt(ParamPath.Root(DType.F32, new Rng(4)), config), 5);
        AssertFusedEqualsPlain(m, Tensor.Randn(new Rng(6), DType.F32, 2, 3, 64, 64));
    }

    [Fact]
    public void VisionTransformer_FusedEqualsPlain()
    {
        var config = new VisionTransformerConfig { ImageSize = 32, PatchSize = 8, NumLayers = 2, NumHeads = 2, HiddenDim = 32, MlpDim = 64, NumClasses = 10 };
        var m = Randomised(new VisionTransformer(ParamPath.Root(DType.F32, new Rng(7)), config), 8);
        AssertFusedEqualsPlain(m, Tensor.Randn(new Rng(9), DType.F32, 2, 3, 32, 32));
    }
}
