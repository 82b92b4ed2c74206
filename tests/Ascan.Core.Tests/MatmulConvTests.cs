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
