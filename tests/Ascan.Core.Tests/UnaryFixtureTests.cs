// PyTorch golden fixtures for the unary ops and activations: float32 and float64 forward and input gradient.
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class UnaryFixtureTests
{
    /// <summary>Every case under fixtures/&lt;family&gt;/ next to the test binaries.</summary>
    internal static TheoryData<string> Cases(string family)
    {
        var data = new TheoryData<string>();
        var dir = Path.Combine(AppContext.BaseDirectory, "fixtures", family);
        foreach (var f in Directory.GetFiles(dir, "*.safetensors").OrderBy(f => f, StringComparer.Ordinal))
            data.Add(family + "/" + Path.GetFileNameWithoutExtension(f));
        return data;
    }

    public static TheoryData<string> Elementwise => Cases("elementwise");

    internal static Tensor Leaf(FixtureTensor t, DType dtype)
    {
        var x = Tensor.FromArray(t.Data, t.Shape).To(dtype);
        x.RequiresGrad = true;
        return x;
    }

    private static double? Bound(JsonElement p, string name) =>
        p.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetDouble() : null;

    private static Tensor Apply(FixtureFile f, Tensor x) => f.Op switch
    {
        "neg" => -x,
        "exp" => x.Exp(),
        "log" => x.Log(),
        "sqrt" => x.Sqrt(),
        "abs" => x.Abs(),
        "pow" => x.Pow(f.Params.GetProperty("exponent").GetDouble()),
        "clamp" => x.Clamp(Bound(f.Params, "min"), Bound(f.Params, "max")),
        "relu" => x.Relu(),
        "gelu" => x.Gelu(),
        "silu" => x.Silu(),
        "sigmoid" => x.Sigmoid(),
        "tanh" => x.Tanh(),
        _ => throw new ArgumentException($"Unknown op {f.Op} in {f.Name}"),
    };

    [Theory, MemberData(nameof(Elementwise))]
    public void Unary_MatchesPyTorch_Float32(string name)
    {
        var f = FixtureFile.Load(name);
        var x = Leaf(f.Input("x"), DType.F32);
        var y = Apply(f, x);
        f.AssertShape("out", y.Shape);
        f.AssertClose("out", y.ToArray<float>(), 1e-5, 1e-6);
        y.Backward(Tensor.FromArray(f.GradOut.ToSingle(), f.GradOut.Shape));
        f.AssertClose("grad.x", x.Grad!.ToArray<float>(), 1e-4, 1e-5);
    }

    [Theory, MemberData(nameof(Elementwise))]
    public void Unary_MatchesPyTorch_Float64(string name)
    {
        var f = FixtureFile.Load(name);
        var x = Leaf(f.Input("x"), DType.F64);
        var y = Apply(f, x);
        f.AssertClose("out", y.ToArray<double>(), 1e-12, 1e-14);
        y.Backward(Tensor.FromArray(f.GradOut.Data, f.GradOut.Shape));
        f.AssertClose("grad.x", x.Grad!.ToArray<double>(), 1e-12, 1e-14);
    }
}
