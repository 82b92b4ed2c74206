// Gradient checks and behaviour of AvgPool2d, MaxPool2d and AdaptiveAvgPool2d on NHWC.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class PoolTests
{
    [Fact]
    public void AvgPool2d_Gradcheck_Battery() => SpatialBattery.Run(x => Ops.AvgPool2d(x, 2), 2, 4, 5);

    [Fact]
    public void AvgPool2d_Gradcheck_PaddingCeilModeExcludePad()
    {
        var rng = new Rng(21);
        foreach (var (inc, ceil) in new[] { (true, false), (false, false), (true, true), (false, true) })
            GradCheck.Check(x => Ops.AvgPool2d(x[0], (3, 2), (2, 2), (1, 1), inc, ceil), new[] { GradCheck.Leaf(rng, 2, 6, 5, 3) });
    }

    [Fact]
    public void MaxPool2d_Gradcheck_Battery() => SpatialBattery.Run(x => Ops.MaxPool2d(x, 3, 2, 1), 1, 5, 6);

    [Fact]
    public void MaxPool2d_Gradcheck_DilationCeilMode()
    {
        var rng = new Rng(22);
        GradCheck.Check(x => Ops.MaxPool2d(x[0], (3, 2), (2, 1), (1, 1), (2, 1), ceilMode: true), new[] { GradCheck.Leaf(rng, 2, 7, 6, 33) });
        GradCheck.Check(x => Ops.MaxPool2d(x[0], 2, 1), new[] { GradCheck.Leaf(rng, 1, 3, 3, 17) });
    }

    [Fact]
    public void MaxPool2d_Gradient_GoesToFirstMaxOnTies()
    {
        // A 2×2 window of equal values: PyTorch sends the whole gradient to the first (top-left).
        var x = Tensor.Full(1.5, DType.F64, 1, 2, 2, 17); x.RequiresGrad = true;
        Ops.MaxPool2d(x, 2).Backward(Tensor.Ones(DType.F64, 1, 1, 1, 17));
        var g = x.Grad!.ToArray<double>();
        for (int c = 0; c < 17; c++)
        {
            Assert.Equal(1.0, g[c]);
            Assert.Equal(0.0, g[17 + c]); Assert.Equal(0.0, g[34 + c]); Assert.Equal(0.0, g[51 + c]);
        }
    }

    [Fact]
    public void MaxPool2d_Padding_NeverWins()
    {
        var x = Tensor.Full(-5, DType.F32, 1, 2, 2, 3);
        var y = Ops.MaxPool2d(x, 3, 1, 1).ToArray<float>();
        Assert.All(y, v => Assert.Equal(-5f, v));
    }

    [Fact]
    public void AdaptiveAvgPool2d_Gradcheck_Battery() => SpatialBattery.Run(x => Ops.AdaptiveAvgPool2d(x, (3, 2)), 2, 7, 5);

    [Fact]
    public void AdaptiveAvgPool2d_Gradcheck_PyramidBins()
    {
        // UPerNet's pyramid pooling: bins 1, 2, 3, 6 over a map that none of them divides evenly.
        var rng = new Rng(23);
        foreach (int bins in new[] { 1, 2, 3, 6 })
            GradCheck.Check(x => Ops.AdaptiveAvgPool2d(x[0], bins), new[] { GradCheck.Leaf(rng, 1, 7, 11, 3) });
    }

    [Fact]
    public void AdaptiveAvgPool2d_Global_IsMean()
    {
        var x = Tensor.Randn(new Rng(24), DType.F64, 2, 5, 3, 4);
        var y = Ops.AdaptiveAvgPool2d(x, 1).ToArray<double>();
        var v = x.ToArray<double>();
        for (int b = 0; b < 2; b++)
        for (int c = 0; c < 4; c++)
        {
            double s = 0; for (int p = 0; p < 15; p++) s += v[(b * 15 + p) * 4 + c];
            Assert.Equal(s / 15, y[b * 4 + c], 12);
        }
    }

    [Fact]
    public void AdaptiveAvgPool2d_Bins_FollowPyTorchRule()
    {
        // H = 5 into 3 bins: [0, 2), [1, 4), [3, 5).
        var ax = Ascan.Kernels.PoolWindows.Adaptive(5, 3);
        Assert.Equal(new[] { 0, 1, 3 }, ax.Start);
        Assert.Equal(new[] { 2, 4, 5 }, ax.End);
    }

    [Fact]
    public void Pool_OutputSize_MatchesPyTorch()
    {
        // Values printed by torch.nn.MaxPool2d(...)(torch.zeros(1, 1, n, n)).shape.
        Assert.Equal(4, Ascan.Kernels.PoolWindows.OutputSize(7, 3, 2, 1, 1, false));
        Assert.Equal(4, Ascan.Kernels.PoolWindows.OutputSize(6, 3, 2, 1, 1, true));
        Assert.Equal(3, Ascan.Kernels.PoolWindows.OutputSize(5, 2, 2, 0, 1, true));
        Assert.Equal(2, Ascan.Kernels.PoolWindows.OutputSize(7, 3, 2, 0, 2, false));
    }

    [Fact]
    public void Pool_Errors_NameTheProblem()
    {
        var x = Tensor.Zeros(1, 4, 4, 3);
        Assert.Contains("padding", Assert.Throws<ArgumentException>(() => Ops.MaxPool2d(x, 2, 1, 2)).Message);
        Assert.Contains("channels-last", Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(Tensor.Zeros(4, 4, 3), 2)).Message);
        Assert.Contains("empty output", Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(x, 5)).Message);
    }

    [Fact]
    public void Pool_Float32_MatchesFloat64()
    {
        var x = Tensor.Randn(new Rng(25), DType.F64, 2, 9, 8, 35);
        foreach (var f in new Func<Tensor, Tensor>[] { t => Ops.AvgPool2d(t, 3, 2, 1), t => Ops.MaxPool2d(t, 3, 2, 1), t => Ops.AdaptiveAvgPool2d(t, (6, 6)) })
            TensorAssert.Close(f(x), f(x.To(DType.F32)), 1e-5, 1e-6, "pool f32");
    }
}
