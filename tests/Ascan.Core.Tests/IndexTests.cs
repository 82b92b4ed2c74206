// Gradient checks and errors of IndexSelect, Gather and Embedding.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class IndexTests
{
    [Fact]
    public void IndexSelect_Gradcheck_RepeatedIndicesAccumulate()
    {
        var rng = new Rng(51);
        foreach (int c in new[] { 1, 3, 33 })
            GradCheck.Check(x => Ops.IndexSelect(x[0], 1, new[] { 2, 0, 2, 2 }), new[] { GradCheck.Leaf(rng, 2, 3, c) });
        GradCheck.Check(x => Ops.IndexSelect(x[0].Transpose(0, 1), -1, new[] { 1, 1 }) * Ops.IndexSelect(x[0], 0, new[] { 0, 2, 1 }).Transpose(0, 1).Slice(1, 0, 2),
            new[] { GradCheck.Leaf(rng, 3, 3) });
        var frozen = Tensor.Randn(rng, DType.F64, 4, 2);
        GradCheck.Check(x => Ops.IndexSelect(x[0], 0, new[] { 3, 0 }) + Ops.IndexSelect(x[1], 0, new[] { 1, 1 }), new[] { GradCheck.Leaf(rng, 4, 2), frozen });
        SpatialBattery.NoGraphUnderNoGrad(x => Ops.IndexSelect(x, 0, new[] { 0 }), GradCheck.Leaf(rng, 2, 2));
    }

    [Fact]
    public void IndexSelect_RepeatedIndex_GradientIsCount()
    {
        var x = Tensor.Zeros(DType.F64, 3, 2); x.RequiresGrad = true;
        Ops.IndexSelect(x, 0, new[] { 1, 1, 1, 2 }).Backward(Tensor.Ones(DType.F64, 4, 2));
        Assert.Equal(new double[] { 0, 0, 3, 3, 1, 1 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Gather_Gradcheck_AllAxes()
    {
        var rng = new Rng(52);
        var idx = new[] { 0, 2, 2, 1, 1, 0, 2, 2 };
        GradCheck.Check(x => Ops.Gather(x[0], 1, idx, new[] { 2, 4 }), new[] { GradCheck.Leaf(rng, 2, 3) });
        GradCheck.Check(x => Ops.Gather(x[0], 0, new[] { 1, 0, 1, 1 }, new[] { 2, 2 }), new[] { GradCheck.Leaf(rng, 2, 3) });
        GradCheck.Check(x => Ops.Gather(x[0].Permute(1, 0, 2), 2, new[] { 0, 4, 4, 3, 2, 1 }, new[] { 1, 2, 3 }), new[] { GradCheck.Leaf(rng, 3, 2, 5) });
        var frozen = Tensor.Randn(rng, DType.F64, 2, 4);
        GradCheck.Check(x => Ops.Gather(x[0], 1, idx, new[] { 2, 4 }) * frozen, new[] { GradCheck.Leaf(rng, 2, 3), frozen });
        SpatialBattery.NoGraphUnderNoGrad(x => Ops.Gather(x, 0, new[] { 0 }, new[] { 1, 1 }), GradCheck.Leaf(rng, 2, 2));
    }

    [Fact]
    public void Gather_Values_MatchTorch()
    {
        // torch.gather(tensor([[1, 2], [3, 4]]), 1, tensor([[0, 0], [1, 0]])) = [[1, 1], [4, 3]]
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        Assert.Equal(new float[] { 1, 1, 4, 3 }, Ops.Gather(x, 1, new[] { 0, 0, 1, 0 }, new[] { 2, 2 }).ToArray<float>());
    }

    [Fact]
    public void Embedding_Gradcheck_PaddingRowGetsNoGradient()
    {
        var rng = new Rng(53);
        foreach (int d in new[] { 1, 3, 33 })
            GradCheck.Check(x => Ops.Embedding(x[0], new[] { 4, 1, 1, 0, 3, 1 }, new[] { 2, 3 }), new[] { GradCheck.Leaf(rng, 5, d) });
        // With a padding row the gradient is the plain one with that row zeroed (no finite differences:
        // the true derivative of the lookup is not what PyTorch's padding_idx defines).
        var w = GradCheck.Leaf(rng, 5, 4); var plain = GradCheck.Leaf(rng, 5, 4);
        var g = Tensor.Randn(rng, DType.F64, 4, 4);
        Ops.Embedding(w, new[] { 0, 2, 2, 4 }, new[] { 4 }, paddingIdx: 2).Backward(g);
        Ops.Embedding(plain, new[] { 0, 2, 2, 4 }, new[] { 4 }).Backward(g);
        var expect = plain.Grad!.ToArray<double>(); Array.Clear(expect, 8, 4);
        Assert.Equal(expect, w.Grad!.ToArray<double>());
        Assert.Equal(w.Slice(0, 2, 1).ToArray<double>(), Ops.Embedding(w, new[] { 2 }, new[] { 1 }, paddingIdx: 2).ToArray<double>());
        var w2 = Tensor.Randn(rng, DType.F64, 5, 3); w2.RequiresGrad = true;
        var y = Ops.Embedding(w2, new[] { 4, 4 }, new[] { 2 }, paddingIdx: -1);
        Assert.Equal(new[] { 2, 3 }, y.ShapeArray());
        y.Backward(Tensor.Ones(DType.F64, 2, 3));
        Assert.All(w2.Grad!.ToArray<double>(), v => Assert.Equal(0.0, v));
        SpatialBattery.NoGraphUnderNoGrad(x => Ops.Embedding(x, new[] { 0 }, new[] { 1 }), GradCheck.Leaf(rng, 2, 2));
    }

    [Fact]
    public void Index_Errors_NameIndexValueAndRange()
    {
        var x = Tensor.Zeros(3, 4);
        var e = Assert.Throws<IndexOutOfRangeException>(() => Ops.IndexSelect(x, 1, new[] { 0, 4 }));
        Assert.Contains("index 4 at position 1", e.Message); Assert.Contains("0 to 3", e.Message);
        e = Assert.Throws<IndexOutOfRangeException>(() => Ops.Gather(x, 0, new[] { -1 }, new[] { 1, 1 }));
        Assert.Contains("index -1 at position 0", e.Message); Assert.Contains("0 to 2", e.Message);
        var w = Tensor.Zeros(5, 2); w.Name = "tok_emb";
        e = Assert.Throws<IndexOutOfRangeException>(() => Ops.Embedding(w, new[] { 1, 7 }, new[] { 2 }));
        Assert.Contains("index 7 at position 1", e.Message); Assert.Contains("tok_emb", e.Message); Assert.Contains("0 to 4", e.Message);
    }
}
