// PyTorch golden fixtures for the unary ops and activations: float32 and float64 forward and input gradient.
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class UnaryFixtureTests
{
    public static TheoryData<string> Elementwise => OpFixture.Cases("elementwise");

    private static readonly FixtureTolerance Tol32 = new(Out: new(1e-5, 1e-6), Grad: new(1e-4, 1e-5));
    private static readonly FixtureTolerance Tol64 = new(new Tolerance(1e-12, 1e-14));

    private static double? Bound(JsonElement p, string name) =>
        p.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetDouble() : null;

    private static Tensor Apply(FixtureFile f, Tensor x) => f.Op switch
    {
        "neg" => -x,
        "exp" => x.Exp(),
        "log" => x.Log(),
        "sqrt" => x.Sqrt(),
        "abs" => x.Abs(),
        "pow" => x.Pow(f.Double("exponent")),
        "clamp" => x.Clamp(Bound(f.Params, "min"), Bound(f.Params, "max")),
        "relu" => x.Relu(),
        "gelu" => x.Gelu(),
        "silu" => x.Silu(),
        "sigmoid" => x.Sigmoid(),
        "tanh" => x.Tanh(),
        _ => throw new ArgumentException($"Unknown op {f.Op} in {f.Name}"),
    };

    [Theory, MemberData(nameof(Elementwise))]
    public void Unary_MatchesPyTorch_Float32(string name) =>
        OpFixture.Check("elementwise/" + name, DType.F32, Tol32, (f, x) => [Apply(f, x["x"])]);

    [Theory, MemberData(nameof(Elementwise))]
    public void Unary_MatchesPyTorch_Float64(string name) =>
        OpFixture.Check("elementwise/" + name, DType.F64, Tol64, (f, x) => [Apply(f, x["x"])]);
}
