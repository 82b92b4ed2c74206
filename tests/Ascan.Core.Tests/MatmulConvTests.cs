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

/// <summary>
/// Ops whose backward writes a fresh input gradient outright (no zero fill) instead of adding to it: when the input has
/// a second consumer, whichever runs later must still add. Float32 results against the same graph in float64.
/// </summary>
public class OverwriteGradientTests
{
    private static void CheckAgainstFloat64(Func<Tensor[], Tensor> f, params Tensor[] leaves64)
    {
        var rng = new Rng(5);
        var leaves32 = leaves64.Select(t => { var c = t.To(DType.F32); c.RequiresGrad = true; return c; }).ToArray();
        var dy = f(leaves64);
        var seed = Tensor.Randn(rng, DType.F64, dy.ShapeArray());
        dy.Backward(seed);
        f(leaves32).Backward(seed.To(DType.F32));
        for (int i = 0; i < leaves64.Length; i++)
            TensorAssert.Close(leaves64[i].Grad!, leaves32[i].Grad!.To(DType.F64), 1e-4, 1e-4, $"grad {i}");
    }

    private static Tensor Leaf(Rng rng, params int[] shape) { var t = Tensor.Randn(rng, DType.F64, shape); t.RequiresGrad = true; return t; }

    [Fact]
    public void InputWithTwoConsumers_FreshWriteThenAdd()
    {
        var rng = new Rng(21);
        // Linear: x feeds two projections.
        CheckAgainstFloat64(t => Ops.Linear(t[0], t[1]) + Ops.Linear(t[0], t[2], null, t[3]), Leaf(rng, 2, 9, 16), Leaf(rng, 5, 16), Leaf(rng, 5, 16), Leaf(rng, 2, 9, 5));
        // 3×3 stride-1 conv (the Winograd data gradient in float32) and a strided one (cleared, then added), sharing x.
        CheckAgainstFloat64(t => Ops.Conv2d(t[0], t[1], padding: 1).Sum() + Ops.Conv2d(t[0], t[2], stride: 2, padding: 1).Sum() * 0.5,
            Leaf(rng, 2, 7, 6, 16), Leaf(rng, 16, 16, 3, 3), Leaf(rng, 8, 16, 3, 3));
        // Grouped 1×1 convs (each group's GEMM writes its own columns of dx) sharing x.
        CheckAgainstFloat64(t => Ops.Conv2d(t[0], t[1], groups: 2) + Ops.Conv2d(t[0], t[2]),
            Leaf(rng, 2, 5, 4, 8), Leaf(rng, 6, 4, 1, 1), Leaf(rng, 6, 8, 1, 1));
        // BatchNorm in training mode, and the fused attention on a qkv projection, each with a second consumer.
        CheckAgainstFloat64(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, true) * t[0], Leaf(rng, 3, 4, 5, 8), Leaf(rng, 8), Leaf(rng, 8));
        CheckAgainstFloat64(t => Ops.AttentionQkv(t[0], 2) + t[0].Slice(2, 0, 8), Leaf(rng, 2, 20, 24));
    }
}
