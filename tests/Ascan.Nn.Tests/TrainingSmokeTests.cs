// Training smoke test: a small conv net overfits one fixed batch with AdamW, deterministically.
using Ascan.Core;
using Ascan.Nn;
using Ascan.Nn.Optim;

namespace Ascan.Nn.Tests;

/// <summary>Conv3×3 → ReLU → Conv3×3 (stride 2) → SiLU → global average → Linear (channels-last).</summary>
internal sealed class TinyConvNet : Module
{
    private readonly Conv2d _conv1, _conv2;
    private readonly Relu _act1;
    private readonly Silu _act2;
    private readonly Linear _head;

    public TinyConvNet(Path p, int classes) : base(p)
    {
        _conv1 = new Conv2d(p.Sub("conv1"), new Conv2dConfig(3, 8, 3) { Padding = 1 });
        _act1 = new Relu(p.Sub("act1"));
        _conv2 = new Conv2d(p.Sub("conv2"), new Conv2dConfig(8, 16, 3) { Padding = 1, Stride = 2 });
        _act2 = new Silu(p.Sub("act2"));
        _head = new Linear(p.Sub("head"), 16, classes);
    }

    /// <summary>Shapes: x (B, H, W, 3) → logits (B, classes).</summary>
    public Tensor Forward(Tensor x)
    {
        var h = _act2.Forward(_conv2.Forward(_act1.Forward(_conv1.Forward(x)))); // (B, H/2, W/2, 16)
        var pooled = Ops.AdaptiveAvgPool2d(h, 1);                                 // (B, 1, 1, 16)
        return _head.Forward(pooled.Reshape(pooled.Dim(0), -1));                  // (B, classes)
    }
}

public class TrainingSmokeTests
{
    private static List<double> Train(ulong seed, int steps)
    {
        var model = new TinyConvNet(Path.Root(rng: new Rng(seed)), classes: 4);
        var data = new Rng(seed + 1000);
        var x = Tensor.Randn(data, DType.F32, 8, 8, 8, 3).Clone(); // (B, H, W, C)
        int[] y = [0, 1, 2, 3, 3, 2, 1, 0];
        var opt = new AdamW(ParamGroups.WeightDecay(model, 1e-4), new AdamWConfig { Lr = 1e-2 });
        var losses = new List<double>();
        for (int step = 0; step < steps; step++)
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var loss = Ops.CrossEntropy(model.Forward(x), y);
            loss.Backward();
            ClipGrad.ClipGradNorm(model.Parameters(), 5.0);
            opt.Step();
            losses.Add(loss.Item());
        }
        return losses;
    }

    [Fact]
    public void Training_OverfitsOneBatch_Deterministically()
    {
        var a = Train(3, 150);
        Assert.True(a[^1] < 0.05 * a[0], $"loss fell from {a[0]:G4} to {a[^1]:G4} only");
        Assert.All(a, l => Assert.True(double.IsFinite(l)));
        var b = Train(3, 150);
        Assert.Equal(a, b); // same seed → bit-identical losses
    }
}
