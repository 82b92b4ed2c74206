// Gradient checks and behaviour of Cat, Split, Chunk and Pad.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ShapeTests
{
    [Fact]
    public void Cat_Gradcheck_ChannelsAndBatch()
    {
        var rng = new Rng(41);
        foreach (int c in new[] { 1, 3, 33 })
        {
            var a = GradCheck.Leaf(rng, 2, 3, 2, c); var b = GradCheck.Leaf(rng, 2, 3, 2, 5);
            GradCheck.Check(x => Ops.Cat(new[] { x[0], x[1] }, -1), new[] { a, b });
        }
        GradCheck.Check(x => Ops.Cat(new[] { x[0], x[1], x[0] }, 0), new[] { GradCheck.Leaf(rng, 2, 3), GradCheck.Leaf(rng, 1, 3) });
    }

    [Fact]
    public void Cat_Gradcheck_PermutedViewAndFrozenInput()
    {
        var rng = new Rng(42);
        var frozen = Tensor.Randn(rng, DType.F64, 2, 4, 3);
        GradCheck.Check(x => Ops.Cat(new[] { x[0].Permute(0, 2, 1), x[1] }, 1), new[] { GradCheck.Leaf(rng, 2, 3, 3), frozen });
        Assert.Null(frozen.Grad);
        SpatialBattery.NoGraphUnderNoGrad(x => Ops.Cat(new[] { x, x }, 1), GradCheck.Leaf(rng, 2, 3));
    }

    [Fact]
    public void Cat_Values_And_ShapeError()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2); var b = Tensor.FromArray(new float[] { 5, 6 }, 2, 1);
        Assert.Equal(new float[] { 1, 2, 5, 3, 4, 6 }, Ops.Cat(new[] { a, b }, 1).ToArray<float>());
        var e = Assert.Throws<ArgumentException>(() => Ops.Cat(new[] { a, b }, 0));
        Assert.Contains("[2, 1]", e.Message);
    }

    [Fact]
    public void Split_Chunk_Gradcheck_SlicesGetTheirGradients()
    {
        var rng = new Rng(43);
        GradCheck.Check(x =>
        {
            var p = Ops.Split(x[0], new[] { 1, 3, 2 }, -1);
            return Ops.Cat(new[] { p[2] * 3.0, p[0], p[1] * p[1] }, -1);
        }, new[] { GradCheck.Leaf(rng, 2, 3, 6) });
        GradCheck.Check(x =>
        {
            var p = Ops.Chunk(x[0], 3, 1);
            return Ops.Cat(new[] { p[1] * 2.0, p[2] }, 1);
        }, new[] { GradCheck.Leaf(rng, 2, 7) });
    }

    [Fact]
    public void Chunk_Sizes_FollowTorch()
    {
        var x = Tensor.Zeros(2, 7);
        Assert.Equal(new[] { 3, 3, 1 }, Ops.Chunk(x, 3, 1).Select(t => t.Dim(1)).ToArray());
        Assert.Equal(new[] { 2, 2, 2, 1 }, Ops.Chunk(x, 4, 1).Select(t => t.Dim(1)).ToArray());
        Assert.Equal(new[] { 2, 2, 2 }, Ops.Chunk(Tensor.Zeros(6), 4, 0).Select(t => t.Dim(0)).ToArray()); // fewer than asked
        Assert.Throws<ArgumentException>(() => Ops.Split(x, new[] { 3, 3 }, 1));
    }

    [Fact]
    public void Pad_Gradcheck_Battery()
    {
        SpatialBattery.Run(x => Ops.Pad(x, new[] { 0, 0, 1, 2, 2, 1 }, 0.5), 2, 3, 4);
        SpatialBattery.Run(x => Ops.Pad(x, new[] { 0, 0, -1, 2, 1, -1 }), 1, 3, 4);
    }

    [Fact]
    public void Pad_Gradcheck_ReflectReplicate_LastDimPadded()
    {
        var rng = new Rng(44);
        foreach (var mode in new[] { PadMode.Constant, PadMode.Reflect, PadMode.Replicate })
        {
            GradCheck.Check(x => Ops.Pad(x[0], new[] { 2, 1 }, 0, mode), new[] { GradCheck.Leaf(rng, 3, 5) });
            GradCheck.Check(x => Ops.Pad(x[0], new[] { 0, 0, 2, 2, 1, 1 }, 0, mode), new[] { GradCheck.Leaf(rng, 1, 3, 4, 3) });
        }
    }

    [Fact]
    public void Pad_Values_MatchTorch()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 1, 3);
        Assert.Equal(new double[] { 9, 9, 1, 2, 3, 9 }, Ops.Pad(x, new[] { 2, 1 }, 9).ToArray<double>());
        Assert.Equal(new double[] { 3, 2, 1, 2, 3, 2 }, Ops.Pad(x, new[] { 2, 1 }, 0, PadMode.Reflect).ToArray<double>());
        Assert.Equal(new double[] { 1, 1, 1, 2, 3, 3 }, Ops.Pad(x, new[] { 2, 1 }, 0, PadMode.Replicate).ToArray<double>());
        Assert.Equal(new double[] { 2 }, Ops.Pad(x, new[] { -1, -1 }).ToArray<double>());
        var p = Ops.Pad(x, new[] { 0, 0, 1, 0 });
        Assert.Equal(new[] { 2, 3 }, p.ShapeArray());
        Assert.Equal(new double[] { 0, 0, 0, 1, 2, 3 }, p.ToArray<double>());
        Assert.Throws<ArgumentException>(() => Ops.Pad(x, new[] { 3, 0 }, 0, PadMode.Reflect));
        Assert.Throws<ArgumentException>(() => Ops.Pad(x, new[] { 1 }));
    }
}

public class StridedCopyTests
{
    [Theory]
    [InlineData(2, 3, 5, 17)]   // NCHW → NHWC: rows of 3 channels, walked along the source's contiguous W
    [InlineData(1, 4, 16, 16)]
    [InlineData(2, 3, 4, 5)]    // no long unit-stride dim: the plain row walk
    public void Contiguous_ChannelsLastPermute_MatchesIndexing(int b, int c, int h, int w)
    {
        var x = Tensor.Randn(new Rng(3), DType.F32, b, c, h, w);
        var y = x.Permute(0, 2, 3, 1).Contiguous().ToArray<float>();
        var xs = x.ToArray<float>();
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int wi = 0; wi < w; wi++)
                    for (int ci = 0; ci < c; ci++)
                        Assert.Equal(xs[((bi * c + ci) * h + hi) * w + wi], y[((bi * h + hi) * w + wi) * c + ci]);
    }
}
