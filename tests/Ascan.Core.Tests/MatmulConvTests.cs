// Gradient checks for matmul, linear and conv2d.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class MatmulConvTests
{
    [Fact]
    public void Matmul_Gradcheck_BatchedBroadcast()
    {
        var rng = new Rng(11);
        GradCheck.Check(x => x[0].Matmul(x[1]), new[] { GradCheck.Leaf(rng, 3, 5), GradCheck.Leaf(rng, 5, 4) });
        GradCheck.Check(x => x[0].Matmul(x[1]), new[] { GradCheck.Leaf(rng, 2, 3, 5), GradCheck.Leaf(rng, 5, 1) });
        GradCheck.Check(x => x[0].Matmul(x[1]), new[] { GradCheck.Leaf(rng, 2, 1, 3, 5), GradCheck.Leaf(rng, 3, 5, 2) });
        GradCheck.Check(x => x[0].Matmul(x[1]), new[] { GradCheck.Leaf(rng, 5), GradCheck.Leaf(rng, 2, 5, 3) });
        GradCheck.Check(x => x[0].Matmul(x[1].Transpose(0, 1)), new[] { GradCheck.Leaf(rng, 3, 4), GradCheck.Leaf(rng, 2, 4) });
        GradCheck.Check(x => x[0].Matmul(x[0]), new[] { GradCheck.Leaf(rng, 3, 3) });
    }

    [Fact]
    public void Linear_Gradcheck()
    {
        var rng = new Rng(12);
        GradCheck.Check(x => Ops.Linear(x[0], x[1], x[2]), new[] { GradCheck.Leaf(rng, 2, 3, 5), GradCheck.Leaf(rng, 4, 5), GradCheck.Leaf(rng, 4) });
        GradCheck.Check(x => Ops.Linear(x[0], x[1]), new[] { GradCheck.Leaf(rng, 1, 33), GradCheck.Leaf(rng, 3, 33) });
        // With a residual added in the GEMM's output step (with and without bias; the residual also being the input).
        GradCheck.Check(x => Ops.Linear(x[0], x[1], x[2], x[3]), new[] { GradCheck.Leaf(rng, 2, 3, 5), GradCheck.Leaf(rng, 4, 5), GradCheck.Leaf(rng, 4), GradCheck.Leaf(rng, 2, 3, 4) });
        GradCheck.Check(x => Ops.Linear(x[0], x[1], null, x[0]), new[] { GradCheck.Leaf(rng, 7, 6), GradCheck.Leaf(rng, 6, 6) });
    }

    [Fact]
    public void Linear_Residual_Float_MatchesSumOfParts()
    {
        var rng = new Rng(14);
        Tensor Leaf(params int[] shape) { var t = Tensor.Randn(rng, DType.F32, shape); t.RequiresGrad = true; return t; }
        var x = Leaf(3, 70, 48); var w = Leaf(40, 48); var b = Leaf(40); var r = Leaf(3, 70, 40);
        var dy = Tensor.Randn(rng, DType.F32, 3, 70, 40);
        var inputs = new[] { x, w, b, r };
        Ops.Linear(x, w, b, r).Backward(dy);
        var fused = inputs.Select(t => { var g = t.Grad!.Clone(); t.Grad = null; return g; }).ToArray();
        var y = Ops.Linear(x, w, b, r);
        var plain = Ops.Linear(x, w, b) + r;
        plain.Backward(dy);
        TensorAssert.Close(plain, y, 1e-6, 1e-6, "y");
        for (int i = 0; i < 4; i++) TensorAssert.Close(inputs[i].Grad!, fused[i], 1e-6, 1e-6, $"grad {i}");
        var ex = Assert.Throws<ArgumentException>(() => Ops.Linear(x, w, b, Tensor.Zeros(DType.F32, 3, 70, 41)));
        Assert.Contains("residual shape", ex.Message);
    }

    [Fact]
    public void Conv2d_Gradcheck_Geometries()
    {
        var rng = new Rng(13);
        foreach (var (k, s, p, d, groups) in new[] { (3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (1, 1, 0, 1, 1), (3, 1, 2, 2, 1), (3, 1, 1, 1, 2), (3, 2, 1, 1, 4) })
        {
            int c = 4, o = groups == 4 ? 4 : 6;
            GradCheck.Check(x => Ops.Conv2d(x[0], x[1], x[2], s, p, d, groups),
                new[] { GradCheck.Leaf(rng, 2, 5, 4, c), GradCheck.Leaf(rng, o, c / groups, k, k), GradCheck.Leaf(rng, o) });
        }
    }

    [Fact]
    public void Conv2d_BadChannels_NamesShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Ops.Conv2d(Tensor.Zeros(1, 4, 4, 3), Tensor.Zeros(8, 4, 3, 3)));
        Assert.Contains("[1, 4, 4, 3]", e.Message);
    }
}
