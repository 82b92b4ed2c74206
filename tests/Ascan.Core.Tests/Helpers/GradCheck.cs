// Finite-difference gradient checks in float64, scalarised with fixed random weights.
using Ascan.Core;

namespace Ascan.Core.Tests;

public static class GradCheck
{
    /// <summary>
    /// Checks the backward of <paramref name="f"/> for every input with RequiresGrad. The output is
    /// scalarised as L = Σ f(x)·R with fixed random R (never a plain sum, which would hide a broken
    /// softmax backward); analytic dL/dx comes from Backward(R), numeric from central differences.
    /// Inputs must be float64 leaves; f must be deterministic (re-seed any Rng inside f).
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5, ulong seed = 7)
    {
        foreach (var x in inputs)
        {
            Assert.Equal(DType.F64, x.DType);
            Assert.True(x.IsLeaf, "GradCheck inputs must be leaves");
            x.Grad = null;
        }
        var y = f(inputs);
        Assert.Equal(DType.F64, y.DType);
        var r = Tensor.Randn(new Rng(seed), DType.F64, y.ShapeArray());
        var rv = r.ToArray<double>();
        y.Backward(r);

        double Loss()
        {
            using var _ = Autograd.NoGrad();
            var v = f(inputs).ToArray<double>();
            double s = 0;
            for (int i = 0; i < v.Length; i++) s += v[i] * rv[i];
            return s;
        }

        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            if (!x.RequiresGrad) { Assert.Null(x.Grad); continue; }
            Assert.True(x.Grad != null, $"input {k} requires a gradient but got none");
            var analytic = x.Grad!.ToArray<double>();
            var data = x.Storage.Array<double>();
            Assert.True(x.IsContiguous, "GradCheck inputs must be contiguous leaves (build views inside f)");
            for (int j = 0; j < x.Numel; j++)
            {
                int at = x.Offset + j;
                double orig = data[at];
                data[at] = orig + eps; double lp = Loss();
                data[at] = orig - eps; double lm = Loss();
                data[at] = orig;
                double numeric = (lp - lm) / (2 * eps);
                double diff = Math.Abs(numeric - analytic[j]);
                if (diff > atol + rtol * Math.Abs(numeric))
                    Assert.Fail($"Gradient of input {k} (shape {ShapeUtil.Format(x.Shape)}) at flat index {j}: analytic {analytic[j]:G10}, numeric {numeric:G10}, |diff| {diff:G3}.");
            }
        }
    }

    /// <summary>A float64 leaf with standard normal values.</summary>
    public static Tensor Leaf(Rng rng, params int[] shape)
    {
        var t = Tensor.Randn(rng, DType.F64, shape);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>A float64 leaf with uniform values in [lo, hi).</summary>
    public static Tensor Leaf(Rng rng, double lo, double hi, params int[] shape)
    {
        var t = Tensor.Rand(rng, DType.F64, lo, hi, shape);
        t.RequiresGrad = true;
        return t;
    }
}

public static class TensorAssert
{
    /// <summary>|expected − actual| ≤ atol + rtol·|expected| elementwise, with a readable failure.</summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double rtol, double atol, string what = "tensor")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        double worst = -1; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            bool bad = double.IsNaN(actual[i]) != double.IsNaN(expected[i]) || d > atol + rtol * Math.Abs(expected[i]);
            if (bad && (at < 0 || d > worst)) { worst = d; at = i; }
        }
        if (at >= 0)
        {
            string head(ReadOnlySpan<double> v) => string.Join(", ", v[..Math.Min(6, v.Length)].ToArray().Select(x => x.ToString("G7")));
            Assert.Fail($"{what}: max |diff| {worst:G4} at index {at} (expected {expected[at]:G9}, got {actual[at]:G9}).\n expected: {head(expected)} …\n actual:   {head(actual)} …");
        }
    }

    public static void Close(Tensor expected, Tensor actual, double rtol, double atol, string what = "tensor")
    {
        Assert.True(ShapeUtil.Equal(expected.Shape, actual.Shape), $"{what}: shape {ShapeUtil.Format(actual.Shape)}, expected {ShapeUtil.Format(expected.Shape)}");
        Close(expected.ToArray<double>(), actual.ToArray<double>(), rtol, atol, what);
    }
}
