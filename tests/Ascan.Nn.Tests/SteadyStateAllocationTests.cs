// A steady training loop inside TensorScopes recycles its buffers instead of allocating new large arrays.
using Ascan.Core;
using Ascan.Nn;
using Ascan.Nn.Optim;

namespace Ascan.Nn.Tests;

public class SteadyStateAllocationTests
{
    [Fact]
    public void TrainingStep_InScope_AllocatesNoLargeArraysAfterWarmup()
    {
        var model = new TinyConvNet(ParamPath.Root(rng: new Rng(1)), classes: 4);
        var x = Tensor.Randn(new Rng(2), DType.F32, 8, 32, 32, 3).Clone(); // (B, H, W, C): activations of ~260 KB each
        int[] y = [0, 1, 2, 3, 3, 2, 1, 0];
        var opt = new AdamW(ParamGroups.WeightDecay(model, 1e-4), new AdamWConfig { Lr = 1e-3 });
        void Step()
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var loss = Ops.CrossEntropy(model.Forward(x), y);
            loss.Backward();
            opt.Step();
        }
        for (int i = 0; i < 3; i++) Step(); // warm-up: the pool fills, optimizer state and gradients appear

        long before = GC.GetAllocatedBytesForCurrentThread();
        const int steps = 5;
        for (int i = 0; i < steps; i++) Step();
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / steps;

        // One step's activations and gradients are several MB; what remains is small bookkeeping
        // (nodes, shape arrays, spans over pooled buffers).
        long activationBytes = 8L * 32 * 32 * 8 * 4;
        Assert.True(perStep < activationBytes / 4, $"a steady step allocated {perStep:N0} bytes (one activation is {activationBytes:N0})");
    }
}
