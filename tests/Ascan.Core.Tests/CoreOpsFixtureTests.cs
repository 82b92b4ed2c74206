// Binary ops, views, matmul and linear against PyTorch fixtures (float32, forward 1e-5, gradients 1e-4).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class CoreOpsFixtureTests
{
    [Theory]
    [InlineData("add"), InlineData("sub"), InlineData("mul"), InlineData("div")]
    public void Binary_MatchesTorch(string op)
    {
        Func<Tensor, Tensor, Tensor> f = op switch
        {
            "add" => Ops.Add, "sub" => Ops.Sub, "mul" => Ops.Mul, _ => Ops.Div,
        };
        OpFixture.Check($"binary/{op}_broadcast", (_, x) => f(x["a"], x["b"]));
        OpFixture.Check($"binary/{op}_same", (_, x) => f(x["a"], x["b"]));
    }

    [Fact]
    public void Views_MatchTorch() =>
        OpFixture.Check("binary/views_permute_slice", (_, x) => x["a"].Permute(2, 0, 1).Slice(1, 1, 2).Reshape(4, -1) * 2.0);

    [Fact]
    public void Matmul_MatchesTorch()
    {
        OpFixture.Check("matmul/matmul_2d", (_, x) => x["a"].Matmul(x["b"]));
        OpFixture.Check("matmul/matmul_batched_broadcast", (_, x) => x["a"].Matmul(x["b"]));
    }

    [Fact]
    public void Linear_MatchesTorch() =>
        OpFixture.Check("matmul/linear_bias", (_, x) => Ops.Linear(x["x"], x["w"], x["b"]));
}
