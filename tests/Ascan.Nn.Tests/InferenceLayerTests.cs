// Packed and folded inference layers against their plain compositions, and their rebuild when a source tensor changes.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Kernels;

namespace Ascan.Nn.Tests;

public class InferenceLayerTests
{
    private sealed class ConvBn : Module
    {
        public readonly Conv2d Conv;
        public readonly BatchNorm2d Bn;

        public ConvBn(ParamPath p, int cin, int cout, int k, int stride, bool bias) : base(p)
        {
            Conv = new Conv2d(p.Sub("conv"), new Conv2dConfig(cin, cout, k) { Stride = stride, Padding = k / 2, Bias = bias });
            Bn = new BatchNorm2d(p.Sub("bn"), cout);
        }
    }

    /// <summary>Redraws the BatchNorm statistics and affine parameters so folding them matters.</summary>
    private static void Randomise(BatchNorm2d bn, Rng rng)
    {
        foreach (var (t, lo, hi) in new[] { (bn.Weight!, 0.5, 1.5), (bn.Bias!, -0.3, 0.3), (bn.RunningMean!, -0.3, 0.3), (bn.RunningVar!, 0.5, 1.5) })
        {
            var s = t.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }
    }

    [Theory]
    [InlineData(3, 1, false)]
    [InlineData(3, 2, true)]
    [InlineData(1, 1, false)]
    public void FoldedConv2d_MatchesConvBnActResidual(int k, int stride, bool convBias)
    {
        if (!Ops.PackedKernelsSupported) return;
        var rng = new Rng(11);
        var m = new ConvBn(ParamPath.Root(rng: rng), 24, 32, k, stride, convBias);
        Randomise(m.Bn, rng);
        m.Eval();
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(rng, DType.F32, 2, 9, 9, 24);
        var plainOut = m.Bn.Forward(m.Conv.Forward(x));
        var residual = Tensor.Randn(rng, DType.F32, plainOut.ShapeArray());
        var want = Ops.Gelu(plainOut) + residual;
        var folded = new FoldedConv2d(m.Conv, m.Bn);
        TensorAssert.Close(want, folded.Forward(x, Activation.Gelu, residual), 1e-5, 1e-5, "folded conv");
    }

    [Fact]
    public void FoldedConv2d_SourceChanged_Rebuilds()
    {
        if (!Ops.PackedKernelsSupported) return;
        var rng = new Rng(12);
        var m = new ConvBn(ParamPath.Root(rng: rng), 16, 16, 3, 1, false);
        Randomise(m.Bn, rng);
        m.Eval();
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(rng, DType.F32, 1, 6, 6, 16);
        var folded = new FoldedConv2d(m.Conv, m.Bn);
        folded.Forward(x);
        // Writes through a span (as an optimizer, an EMA update or a checkpoint load do) invalidate the packed weight.
        m.Bn.RunningVar!.Span<float>()[3] = 4f;
        m.Conv.Weight.Span<float>()[0] += 1f;
        TensorAssert.Close(m.Bn.Forward(m.Conv.Forward(x)), folded.Forward(x), 1e-5, 1e-5, "after update");
    }

    [Fact]
    public void PackedLinear_MatchesLinearGeluResidual_AndRebuilds()
    {
        if (!Ops.PackedKernelsSupported) return;
        var rng = new Rng(13);
        var lin = new Linear(ParamPath.Root(rng: rng), 40, 24);
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(rng, DType.F32, 3, 5, 40);
        var residual = Tensor.Randn(rng, DType.F32, 3, 5, 24);
        var packed = new PackedLinear(lin);
        TensorAssert.Close(Ops.Gelu(lin.Forward(x)) + residual, packed.Forward(x, Activation.Gelu, residual), 1e-5, 1e-5, "linear");
        lin.Bias!.Span<float>()[2] = 5f;
        TensorAssert.Close(lin.Forward(x), packed.Forward(x), 1e-5, 1e-5, "after bias update");
    }

    [Fact]
    public void PackedLinear_ManyRows_UnpackedPath_Matches()
    {
        if (!Ops.PackedKernelsSupported) return;
        var rng = new Rng(14);
        var lin = new Linear(ParamPath.Root(rng: rng), 24, 40);
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(rng, DType.F32, PackedLinear.PackRowsMax + 9, 24);
        var residual = Tensor.Randn(rng, DType.F32, PackedLinear.PackRowsMax + 9, 40);
        long version = lin.Weight.Storage.Version;
        TensorAssert.Close(Ops.Silu(lin.Forward(x)) + residual, new PackedLinear(lin).Forward(x, Activation.Silu, residual), 1e-5, 1e-5, "linear");
        lin.Weight.ReadSpan<float>();
        Assert.True(lin.Weight.Storage.Version > version); // the plain forward above counted; ReadSpan does not
        long after = lin.Weight.Storage.Version;
        new PackedLinear(lin).Forward(x);
        Assert.Equal(after, lin.Weight.Storage.Version); // the fused path only reads the weight
    }

    [Fact]
    public void PackedOps_NeedingGradient_Throw()
    {
        if (!Ops.PackedKernelsSupported) return;
        var lin = new Linear(ParamPath.Root(rng: new Rng(1)), 4, 4);
        var x = Tensor.Randn(new Rng(2), DType.F32, 2, 4);
        x.RequiresGrad = true;
        Assert.Throws<NotSupportedException>(() => new PackedLinear(lin).Forward(x));
    }

    [Fact]
    public void InferenceFusion_OnlyInEvalWithoutGraph()
    {
        var lin = new Linear(ParamPath.Root(rng: new Rng(1)), 4, 4);
        var x = Tensor.Randn(new Rng(2), DType.F32, 2, 4);
        Assert.False(InferenceFusion.Applies(lin, x)); // training mode
        lin.Eval();
        Assert.False(InferenceFusion.Applies(lin, x)); // parameters require gradients and autograd is on
        using (Autograd.NoGrad()) Assert.Equal(Ops.PackedKernelsSupported, InferenceFusion.Applies(lin, x));
        Assert.False(InferenceFusion.Applies(lin, x.To(DType.F64)));
    }
}
