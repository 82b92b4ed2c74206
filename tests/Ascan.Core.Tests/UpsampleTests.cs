// Gradient checks and index rules of nearest and bilinear Upsample on NHWC.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Core.Tests;

public class UpsampleTests
{
    [Fact]
    public void Upsample_Nearest_Gradcheck_Battery() => SpatialBattery.Run(x => Ops.Upsample(x, (7, 5)), 2, 3, 4);

    [Fact]
    public void Upsample_Bilinear_Gradcheck_Battery() => SpatialBattery.Run(x => Ops.Upsample(x, (7, 9), UpsampleMode.Bilinear), 2, 3, 4);

    [Fact]
    public void Upsample_Bilinear_Gradcheck_AlignCornersAndDownsampling()
    {
        var rng = new Rng(31);
        foreach (bool ac in new[] { false, true })
        {
            GradCheck.Check(x => Ops.Upsample(x[0], (8, 3), UpsampleMode.Bilinear, ac), new[] { GradCheck.Leaf(rng, 1, 5, 7, 3) });
            GradCheck.Check(x => Ops.Upsample(x[0], (1, 1), UpsampleMode.Bilinear, ac), new[] { GradCheck.Leaf(rng, 1, 4, 3, 2) });
            GradCheck.Check(x => Ops.Upsample(x[0], 2.0, UpsampleMode.Bilinear, ac), new[] { GradCheck.Leaf(rng, 2, 3, 2, 17) });
        }
        GradCheck.Check(x => Ops.Upsample(x[0], 0.5), new[] { GradCheck.Leaf(rng, 1, 6, 5, 3) });
    }

    [Fact]
    public void Upsample_Nearest_Indices_FollowPyTorch()
    {
        // torch 'nearest' 3 → 7: floor(i·3/7) = 0 0 0 1 1 2 2; 5 → 3 (downsample): 0 1 3.
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 2, 2 }, UpsampleAxis.Nearest(3, 7, null));
        Assert.Equal(new[] { 0, 1, 3 }, UpsampleAxis.Nearest(5, 3, null));
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, UpsampleAxis.Nearest(3, 6, null));
    }

    [Fact]
    public void Upsample_Bilinear_AlignCorners_KeepsCorners()
    {
        var x = Tensor.Randn(new Rng(32), DType.F64, 1, 3, 4, 2);
        var y = Ops.Upsample(x, (7, 9), UpsampleMode.Bilinear, alignCorners: true);
        var xv = x.ToArray<double>(); var yv = y.ToArray<double>();
        for (int c = 0; c < 2; c++)
        {
            Assert.Equal(xv[c], yv[c], 14);
            Assert.Equal(xv[(2 * 4 + 3) * 2 + c], yv[(6 * 9 + 8) * 2 + c], 14);
        }
    }

    [Fact]
    public void Upsample_Bilinear_SameSize_IsIdentity()
    {
        var x = Tensor.Randn(new Rng(33), DType.F32, 2, 5, 4, 19);
        Assert.Equal(x.ToArray<float>(), Ops.Upsample(x, (5, 4), UpsampleMode.Bilinear).ToArray<float>());
    }

    [Fact]
    public void Upsample_Errors_NameTheProblem()
    {
        var x = Tensor.Zeros(1, 4, 4, 3);
        Assert.Contains("alignCorners", Assert.Throws<ArgumentException>(() => Ops.Upsample(x, (8, 8), UpsampleMode.Nearest, true)).Message);
        Assert.Contains("positive", Assert.Throws<ArgumentException>(() => Ops.Upsample(x, (0, 8))).Message);
    }
}
