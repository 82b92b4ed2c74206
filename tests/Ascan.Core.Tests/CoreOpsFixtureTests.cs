// Binary ops, views, matmul and linear against PyTorch fixtures (float32, forward 1e-5, gradients 1e-4).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class CoreOpsFixtureTests
{
    // Each element within r·|expected| + r·max|expected|: relative to the element and to the tensor's scale alike.
    private static readonly FixtureTolerance Tol = new(Out: new(1e-5, 0, OfMax: 1e-5), Grad: new(1e-4, 0, OfMax: 1e-4));

    private static void Check(string name, Func<IReadOnlyDictionary<string, Tensor>, Tensor> f) =>
        OpFixture.Check(name, DType.F32, Tol, (_, x) => [f(x)]);

    [Theory]
    [InlineData("add"), InlineData("sub"), InlineData("mul"), InlineData("div")]
    public void Binary_MatchesTorch(string op)
    {
        Func<Tensor, Tensor, Tensor> f = op switch
        {
            "add" => Ops.Add, "sub" => Ops.Sub, "mul" => Ops.Mul, _ => Ops.Div,
        };
        Check($"binary/{op}_broadcast", x => f(x["a"], x["b"]));
        Check($"binary/{op}_same", x => f(x["a"], x["b"]));
    }

    [Fact]
    public void Views_MatchTorch() =>
        Check("binary/views_permute_slice", x => x["a"].Permute(2, 0, 1).Slice(1, 1, 2).Reshape(4, -1) * 2.0);

    [Fact]
    public void Matmul_MatchesTorch()
    {
        Check("matmul/matmul_2d", x => x["a"].Matmul(x["b"]));
        Check("matmul/matmul_batched_broadcast", x => x["a"].Matmul(x["b"]));
    }

    [Fact]
    public void Linear_MatchesTorch() =>
        Check("matmul/linear_bias", x => Ops.Linear(x["x"], x["w"], x["b"]));
}
