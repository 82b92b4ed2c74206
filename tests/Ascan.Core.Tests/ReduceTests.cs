// Reductions over any axes (sum, mean, max, var) with keepDim: values against naive loops, gradchecks, tie conventions.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ReduceTests
{
    public static readonly TheoryData<string> Ops = new() { "sum", "mean", "max", "maxdim", "var", "varbiased", "varcorr2" };

    private static Tensor Apply(string op, Tensor x, int[]? axes, bool keepDim) => op switch
    {
        "sum" => x.Sum(axes, keepDim),
        "mean" => x.Mean(axes, keepDim),
        "max" => x.Max(axes, keepDim),
        "maxdim" => axes is { Length: 1 } ? x.Max(axes[0], keepDim) : x.Max(axes, keepDim),
        "var" => x.Var(axes, unbiased: true, keepDim),
        "varbiased" => x.Var(axes, unbiased: false, keepDim),
        "varcorr2" => x.Var(axes, correction: 2, keepDim),
        _ => throw new ArgumentException(op),
    };

    private static readonly int[]?[] AxisSets = { null, new[] { 0 }, new[] { 1 }, new[] { 2 }, new[] { -1 }, new[] { 0, 1 }, new[] { 1, 2 }, new[] { 0, 2 }, new[] { 0, 1, 2 } };

    /// <summary>Naive float64 reduction by walking every element (the oracle).</summary>
    private static double[] Naive(string op, double[] x, int[] shape, int[]? axes)
    {
        int rank = shape.Length;
        var ax = ShapeUtil.Axes(axes, rank);
        var outIdx = new Dictionary<int, List<double>>();
        var strides = Tensor.ContiguousStrides(shape);
        var keep = Enumerable.Range(0, rank).Select(d => ax.Contains(d) ? 1 : shape[d]).ToArray();
        var ks = Tensor.ContiguousStrides(keep);
        for (int f = 0; f < x.Length; f++)
        {
            int o = 0;
            for (int d = 0; d < rank; d++) { int i = f / strides[d] % shape[d]; if (!ax.Contains(d)) o += i * ks[d]; }
            if (!outIdx.TryGetValue(o, out var l)) outIdx[o] = l = new List<double>();
            l.Add(x[f]);
        }
        return Enumerable.Range(0, ShapeUtil.Numel(keep)).Select(o =>
        {
            var v = outIdx[o];
            double mu = v.Average(), ss = v.Sum(t => (t - mu) * (t - mu));
            return op switch
            {
                "sum" => v.Sum(),
                "mean" => mu,
                "max" or "maxdim" => v.Max(),
                "var" => ss / (v.Count - 1),
                "varbiased" => ss / v.Count,
                _ => ss / (v.Count - 2),
            };
        }).ToArray();
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_MatchesNaive_EveryAxisSet(string op)
    {
        var shape = new[] { 3, 4, 5 };
        var x = Tensor.Randn(new Rng(21), DType.F64, shape);
        var xv = x.ToArray<double>();
        foreach (var axes in AxisSets)
            foreach (bool keep in new[] { false, true })
            {
                var y = Apply(op, x, axes, keep);
                var ax = ShapeUtil.Axes(axes, 3);
                var expectShape = Enumerable.Range(0, 3).Where(d => keep || !ax.Contains(d)).Select(d => ax.Contains(d) ? 1 : shape[d]).ToArray();
                Assert.Equal(expectShape, y.ShapeArray());
                TensorAssert.Close(Naive(op, xv, shape, axes), y.ToArray<double>(), 1e-12, 1e-12, $"{op} axes [{string.Join(",", axes ?? Array.Empty<int>())}] keep {keep}");
                var y32 = Apply(op, x.To(DType.F32), axes, keep);
                TensorAssert.Close(y.ToArray<double>(), y32.ToArray<double>(), 1e-5, 1e-5, $"{op} float32");
            }
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_Gradcheck_EveryAxisSet(string op)
    {
        var rng = new Rng(22);
        var a = GradCheck.Leaf(rng, 3, 4, 5);
        foreach (var axes in AxisSets)
            foreach (bool keep in new[] { false, true })
                GradCheck.Check(t => Apply(op, t[0], axes, keep), new[] { a });
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_Gradcheck_OddSizes(string op)
    {
        var rng = new Rng(23);
        foreach (var shape in new[] { new[] { 3 }, new[] { 33 }, new[] { 1, 33 }, new[] { 33, 1, 3 } })
        {
            var a = GradCheck.Leaf(rng, shape);
            GradCheck.Check(t => Apply(op, t[0], null, false), new[] { a });
            GradCheck.Check(t => Apply(op, t[0], new[] { -1 }, true), new[] { a });
            GradCheck.Check(t => Apply(op, t[0], new[] { 0 }, false), new[] { a });
        }
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_Gradcheck_TransposedViewAndBroadcast(string op)
    {
        var rng = new Rng(24);
        var a = GradCheck.Leaf(rng, 5, 3, 4);
        // A permuted view in, and the result broadcast back against its input (x − f(x) as in a norm).
        GradCheck.Check(t => { var v = t[0].Permute(2, 0, 1); return v - Apply(op, v, new[] { 0, 2 }, true); }, new[] { a });
        GradCheck.Check(t => Apply(op, t[0].Transpose(0, 2), new[] { 1 }, false), new[] { a });
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_Gradcheck_InputUsedTwiceAndWithoutGrad(string op)
    {
        var rng = new Rng(25);
        var a = GradCheck.Leaf(rng, 4, 7);
        var b = Tensor.Randn(rng, DType.F64, 4, 7);
        GradCheck.Check(t => Apply(op, t[0] * t[1], new[] { 1 }, true) * t[0] + Apply(op, t[1], null, false), new[] { a, b });
        Assert.Null(b.Grad);
    }

    [Theory, MemberData(nameof(Ops))]
    public void Reduce_NoGrad_RecordsNothing(string op)
    {
        var a = GradCheck.Leaf(new Rng(26), 3, 4);
        using (Autograd.NoGrad()) Assert.Null(Apply(op, a, new[] { 1 }, false).GradFn);
        Assert.NotNull(Apply(op, a, new[] { 1 }, false).GradFn);
    }

    [Fact]
    public void Max_Ties_FirstForAxisEvenForFull()
    {
        // torch 1.13, x = [1, 2, 3, 2, 3]: x.max(0).values → grad [0,0,1,0,0]; x.max() and x.amax(0) → [0,0,.5,0,.5].
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 2, 3 }, 5); x.RequiresGrad = true;
        x.Max(0).Backward();
        Assert.Equal(new double[] { 0, 0, 1, 0, 0 }, x.Grad!.ToArray<double>());
        x.Grad = null; x.Max().Backward();
        Assert.Equal(new double[] { 0, 0, 0.5, 0, 0.5 }, x.Grad!.ToArray<double>());
        x.Grad = null; x.Max(new[] { 0 }).Backward();
        Assert.Equal(new double[] { 0, 0, 0.5, 0, 0.5 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void Reduce_ChannelsLast_PerChannelSum()
    {
        // NHWC per-channel statistics: leading axes reduced without a transposed copy.
        var x = Tensor.Randn(new Rng(27), DType.F32, 2, 5, 7, 33);
        var s = x.Sum(new[] { 0, 1, 2 });
        var v = x.Var(new[] { 0, 1, 2 }, unbiased: false);
        Assert.Equal(new[] { 33 }, s.ShapeArray());
        var xv = x.ToArray<double>();
        for (int c = 0; c < 33; c++)
        {
            double sum = 0, sq = 0; int n = 2 * 5 * 7;
            for (int i = 0; i < n; i++) sum += xv[i * 33 + c];
            for (int i = 0; i < n; i++) sq += Math.Pow(xv[i * 33 + c] - sum / n, 2);
            Assert.Equal(sum, s.ToArray<double>()[c], 1e-4);
            Assert.Equal(sq / n, v.ToArray<double>()[c], 1e-5);
        }
    }

    [Fact]
    public void Reduce_EmptyAxis_SumZeroMeanNaNMaxThrows()
    {
        var x = Tensor.Zeros(3, 0);
        Assert.Equal(new float[] { 0, 0, 0 }, x.Sum(1).ToArray<float>());
        Assert.True(float.IsNaN(x.Mean(1).ToArray<float>()[0]));
        Assert.Throws<ArgumentException>(() => x.Max(1));
        Assert.True(double.IsNaN(Tensor.Ones(1).Var().Item()));
    }
}
