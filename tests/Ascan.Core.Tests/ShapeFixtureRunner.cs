// Runs an op over a PyTorch fixture in float32 and float64 and compares outputs and input gradients.
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

internal static class FixtureRunner
{
    /// <summary>
    /// Builds a leaf for every floating input that has a stored gradient (in <paramref name="dtype"/>),
    /// runs f, compares each output, then back-propagates each stored gout and compares the gradients.
    /// float32: outputs within 1e-5 relative, gradients within 1e-4; float64 within 1e-10.
    /// Integer inputs (indices) are read by f from the fixture itself.
    /// </summary>
    public static void Check(FixtureFile fx, DType dtype, Func<IReadOnlyDictionary<string, Tensor>, Tensor[]> f)
    {
        var gradNames = JsonSerializer.Deserialize<string[]>(fx.Metadata["grad"])!;
        var leaves = new Dictionary<string, Tensor>();
        foreach (var name in gradNames)
        {
            var (shape, data) = fx.Input(name);
            var t = dtype == DType.F64 ? Tensor.FromArray(data, shape) : Tensor.FromArray(Array.ConvertAll(data, v => (float)v), shape);
            t.RequiresGrad = true;
            leaves[name] = t;
        }
        var outs = f(leaves);
        bool f32 = dtype == DType.F32;
        var keys = fx.Outputs.Keys.OrderBy(k => k == "out" ? -1 : int.Parse(k)).ToArray();
        Assert.Equal(keys.Length, outs.Length);
        for (int i = 0; i < outs.Length; i++)
        {
            string stored = keys[i] == "out" ? "out" : "out." + keys[i];
            fx.AssertShape(stored, outs[i].Shape);
            fx.AssertClose(stored, outs[i].ToArray<double>(), f32 ? 1e-5 : 1e-10, f32 ? 1e-6 : 1e-12);
        }
        for (int i = 0; i < outs.Length; i++)
        {
            if (!outs[i].RequiresGrad) continue;
            var (gshape, g) = keys[i] == "out" ? fx.GradOut : fx.GradOuts[keys[i]];
            outs[i].Backward(f32 ? Tensor.FromArray(Array.ConvertAll(g, v => (float)v), gshape) : Tensor.FromArray(g, gshape));
        }
        foreach (var (name, leaf) in leaves)
        {
            var grad = leaf.Grad?.ToArray<double>() ?? new double[leaf.Numel];
            fx.AssertClose("grad." + name, grad, f32 ? 1e-4 : 1e-10, f32 ? 1e-5 : 1e-12);
        }
    }

    public static int Int(this FixtureFile fx, string key) => fx.Params.GetProperty(key).GetInt32();
    public static bool Bool(this FixtureFile fx, string key) => fx.Params.GetProperty(key).GetBoolean();

    /// <summary>NCHW fixture tensor → NHWC for the op, and the NHWC result back to NCHW for comparison.</summary>
    public static Tensor Nhwc(Tensor nchw) => nchw.Permute(0, 2, 3, 1);
    public static Tensor Nchw(Tensor nhwc) => nhwc.Permute(0, 3, 1, 2);

    /// <summary>Case names of a fixture family, from the files next to the test binaries.</summary>
    public static IEnumerable<object[]> Cases(string family, string prefix = "") =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", family), prefix + "*.safetensors")
            .Select(p => Path.GetFileNameWithoutExtension(p)).Order()
            .SelectMany(n => new[] { new object[] { n, "F32" }, new object[] { n, "F64" } });
}
