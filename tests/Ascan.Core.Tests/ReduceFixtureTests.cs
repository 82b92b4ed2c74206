// PyTorch golden fixtures for sum, mean, max(dim), amax/max(), var over axis sets with keepdim (ties included for max).
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ReduceFixtureTests
{
    public static TheoryData<string> Reduce => UnaryFixtureTests.Cases("reduce");

    private static Tensor Apply(FixtureFile f, Tensor x)
    {
        var p = f.Params;
        int[]? dim = p.GetProperty("dim").ValueKind == JsonValueKind.Null ? null : p.GetProperty("dim").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        bool keep = p.GetProperty("keepdim").GetBoolean();
        return f.Op switch
        {
            "sum" => x.Sum(dim, keep),
            "mean" => x.Mean(dim, keep),
            "amax" => x.Max(dim, keep),
            "maxdim" => x.Max(dim![0], keep),
            "var" => x.Var(dim, correction: p.GetProperty("correction").GetDouble(), keepDim: keep),
            _ => throw new ArgumentException($"Unknown op {f.Op} in {f.Name}"),
        };
    }

    [Theory, MemberData(nameof(Reduce))]
    public void Reduce_MatchesPyTorch_Float32(string name)
    {
        var f = FixtureFile.Load(name);
        var x = UnaryFixtureTests.Leaf(f.Input("x"), DType.F32);
        var y = Apply(f, x);
        f.AssertShape("out", y.Shape);
        f.AssertClose("out", y.ToArray<float>(), 1e-5, 1e-5);
        y.Backward(Tensor.FromArray(f.GradOut.ToSingle(), f.GradOut.Shape));
        f.AssertClose("grad.x", x.Grad!.ToArray<float>(), 1e-4, 1e-5);
    }

    [Theory, MemberData(nameof(Reduce))]
    public void Reduce_MatchesPyTorch_Float64(string name)
    {
        var f = FixtureFile.Load(name);
        var x = UnaryFixtureTests.Leaf(f.Input("x"), DType.F64);
        var y = Apply(f, x);
        f.AssertClose("out", y.ToArray<double>(), 1e-12, 1e-13);
        y.Backward(Tensor.FromArray(f.GradOut.Data, f.GradOut.Shape));
        f.AssertClose("grad.x", x.Grad!.ToArray<double>(), 1e-12, 1e-13);
    }
}
