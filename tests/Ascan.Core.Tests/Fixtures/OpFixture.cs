// Runs an Ascan op on a PyTorch fixture's inputs in float32 and compares outputs and gradients.
using Ascan.Core;

namespace Ascan.Core.Tests;

public static class OpFixture
{
    /// <summary>
    /// Loads fixture <paramref name="name"/>, builds float32 leaves from its floating inputs (those listed
    /// with gradients get RequiresGrad), evaluates <paramref name="f"/>, and checks the output within
    /// <paramref name="rtol"/> and each gradient (backward from the stored gout) within <paramref name="gradRtol"/>,
    /// both relative to the largest magnitude of the expected tensor. Integer inputs are read by f through the fixture.
    /// </summary>
    public static void Check(string name, Func<FixtureFile, IReadOnlyDictionary<string, Tensor>, Tensor> f,
        double rtol = 1e-5, double gradRtol = 1e-4)
    {
        var fx = FixtureFile.Load(name);
        var inputs = new Dictionary<string, Tensor>();
        foreach (var (key, t) in fx.Inputs)
        {
            var x = Tensor.FromArray(t.ToSingle(), t.Shape);
            if (fx.Has("grad." + key)) x.RequiresGrad = true;
            inputs[key] = x;
        }
        var y = f(fx, inputs);
        fx.AssertShape("out", y.Shape);
        fx.AssertClose("out", y.ToArray<float>(), rtol, rtol * Scale(fx.Output.Data));
        if (!inputs.Values.Any(t => t.RequiresGrad)) return;
        var gout = fx.GradOut;
        y.Backward(Tensor.FromArray(gout.ToSingle(), gout.Shape));
        foreach (var (key, x) in inputs)
        {
            if (!x.RequiresGrad) continue;
            var expected = fx.Grad(key).Data;
            Assert.True(x.Grad != null, $"Fixture '{name}': input {key} received no gradient");
            fx.AssertClose("grad." + key, x.Grad!.ToArray<float>(), gradRtol, gradRtol * Scale(expected));
        }
    }

    private static double Scale(double[] v) => v.Length == 0 ? 1 : Math.Max(v.Max(Math.Abs), 1e-30);
}
