// Gradchecks and conventions of the unary ops and activations (neg, exp, log, sqrt, pow, abs, clamp, relu, gelu, silu, sigmoid, tanh).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class UnaryTests
{
    public static readonly TheoryData<string> Ops = new() { "neg", "exp", "log", "sqrt", "abs", "pow2", "pow3", "pow-1.5", "clamp", "clampmin", "clampmax", "relu", "gelu", "silu", "sigmoid", "tanh", "minus" };

    internal static Func<Tensor, Tensor> Op(string name) => name switch
    {
        "neg" => x => x.Neg(),
        "minus" => x => -x,
        "exp" => x => x.Exp(),
        "log" => x => x.Log(),
        "sqrt" => x => x.Sqrt(),
        "abs" => x => x.Abs(),
        "pow2" => x => x.Pow(2),
        "pow3" => x => x.Pow(3),
        "pow-1.5" => x => x.Pow(-1.5),
        "clamp" => x => x.Clamp(-0.5, 0.7),
        "clampmin" => x => x.Clamp(min: -0.2),
        "clampmax" => x => x.Clamp(max: 0.3),
        "relu" => x => x.Relu(),
        "gelu" => x => x.Gelu(),
        "silu" => x => x.Silu(),
        "sigmoid" => x => x.Sigmoid(),
        "tanh" => x => x.Tanh(),
        _ => throw new ArgumentException(name),
    };

    private static (double lo, double hi) Domain(string name) => name is "log" or "sqrt" or "pow-1.5" ? (0.3, 3.0) : (-3.0, 3.0);

    [Theory, MemberData(nameof(Ops))]
    public void Unary_Gradcheck_OddSizes(string name)
    {
        var f = Op(name); var (lo, hi) = Domain(name);
        var rng = new Rng(11);
        foreach (var shape in new[] { new[] { 1 }, new[] { 3 }, new[] { 33 }, new[] { 2, 17 } })
            GradCheck.Check(t => f(t[0]), new[] { GradCheck.Leaf(rng, lo, hi, shape) });
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_Gradcheck_TransposedView(string name)
    {
        var f = Op(name); var (lo, hi) = Domain(name);
        var a = GradCheck.Leaf(new Rng(12), lo, hi, 5, 3, 7);
        GradCheck.Check(t => f(t[0].Permute(2, 0, 1)), new[] { a });
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_Gradcheck_InputUsedTwice(string name)
    {
        var f = Op(name); var (lo, hi) = Domain(name);
        var a = GradCheck.Leaf(new Rng(13), lo, hi, 19);
        GradCheck.Check(t => f(t[0]) * t[0] + f(t[0] * 0.5 + 0.1), new[] { a });
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_Gradcheck_InputWithoutGrad(string name)
    {
        var f = Op(name); var (lo, hi) = Domain(name);
        var rng = new Rng(14);
        var a = GradCheck.Leaf(rng, lo, hi, 4, 5);
        var b = Tensor.Rand(rng, DType.F64, lo, hi, 4, 5);
        GradCheck.Check(t => t[0] * f(t[1]) + f(t[0]), new[] { a, b });
        Assert.Null(b.Grad);
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_NoGrad_RecordsNothing(string name)
    {
        var a = GradCheck.Leaf(new Rng(15), 0.5, 2.0, 3, 4);
        using (Autograd.NoGrad())
        {
            var y = Op(name)(a);
            Assert.Null(y.GradFn);
            Assert.False(y.RequiresGrad);
        }
        Assert.NotNull(Op(name)(a).GradFn);
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_Float32_MatchesFloat64(string name)
    {
        var (lo, hi) = Domain(name);
        var x64 = Tensor.Rand(new Rng(16), DType.F64, lo, hi, 3, 41);
        var x32 = x64.To(DType.F32);
        var f = Op(name);
        TensorAssert.Close(f(x64), f(x32), 3e-6, 2e-6, name);
    }

    [Fact]
    public void Clamp_Gradient_PassesAtBounds()
    {
        // torch 1.13: torch.tensor([1.,2,3,2,3]).clamp(2,3) backward with ones → [0, 1, 1, 1, 1].
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 2, 3, 4 }, 6); x.RequiresGrad = true;
        x.Clamp(2, 3).Backward(Tensor.Ones(DType.F64, 6));
        Assert.Equal(new double[] { 0, 1, 1, 1, 1, 0 }, x.Grad!.ToArray<double>());
        Assert.Equal(new double[] { 2, 2, 3, 2, 3, 3 }, x.Detach().Clamp(2, 3).ToArray<double>());
    }

    [Fact]
    public void Kinks_Gradient_MatchesPyTorch()
    {
        // torch 1.13: relu'(0) = 0, abs'(0) = 0, sqrt'(0) = inf, pow(x, 0)' = 0.
        var x = Tensor.FromArray(new double[] { 0, -1, 4 }, 3); x.RequiresGrad = true;
        x.Relu().Backward(Tensor.Ones(DType.F64, 3));
        Assert.Equal(new double[] { 0, 0, 1 }, x.Grad!.ToArray<double>());
        x.Grad = null; x.Abs().Backward(Tensor.Ones(DType.F64, 3));
        Assert.Equal(new double[] { 0, -1, 1 }, x.Grad!.ToArray<double>());
        x.Grad = null; x.Pow(0).Backward(Tensor.Ones(DType.F64, 3));
        Assert.Equal(new double[] { 0, 0, 0 }, x.Grad!.ToArray<double>());
        x.Grad = null; x.Sqrt().Backward(Tensor.Ones(DType.F64, 3));
        Assert.Equal(double.PositiveInfinity, x.Grad!.ToArray<double>()[0]);
    }

    [Fact]
    public void Clamp_WithoutBounds_Throws() => Assert.Throws<ArgumentException>(() => Tensor.Ones(3).Clamp());
}
