// PyTorch golden fixtures for sum, mean, max(dim), amax/max(), var over axis sets with keepdim (ties included for max).
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ReduceFixtureTests
{
    public static TheoryData<string> Reduce => OpFixture.Cases("reduce");

    private static readonly FixtureTolerance Tol32 = new(Out: new(1e-5, 1e-5), Grad: new(1e-4, 1e-5));
    private static readonly FixtureTolerance Tol64 = new(new Tolerance(1e-12, 1e-13));

    private static Tensor Apply(FixtureFile f, Tensor x)
    {
        int[]? dim = f.Params.GetProperty("dim").ValueKind == JsonValueKind.Null ? null : f.Ints("dim");
        bool keep = f.Bool("keepdim");
        return f.Op switch
        {
            "sum" => x.Sum(dim, keep),
            "mean" => x.Mean(dim, keep),
            "amax" => x.Max(dim, keep),
            "maxdim" => x.Max(dim![0], keep),
            "var" => x.Var(dim, correction: f.Double("correction"), keepDim: keep),
            _ => throw new ArgumentException($"Unknown op {f.Op} in {f.Name}"),
        };
    }

    [Theory, MemberData(nameof(Reduce))]
    public void Reduce_MatchesPyTorch_Float32(string name) =>
        OpFixture.Check("reduce/" + name, DType.F32, Tol32, (f, x) => [Apply(f, x["x"])]);

    [Theory, MemberData(nameof(Reduce))]
    public void Reduce_MatchesPyTorch_Float64(string name) =>
        OpFixture.Check("reduce/" + name, DType.F64, Tol64, (f, x) => [Apply(f, x["x"])]);
}
