// Reductions over (outer, R, inner) against the float64 reference: every R and inner 0–257, split and parallel paths, determinism.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class ReduceKernelTests
{
    private static T[] Random<T>(int seed, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(rng.NextDouble() * 4 - 1.5);
        return a;
    }

    private static void Close<T>(T[] expected, T[] actual, double rtol, double atol, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e))) Assert.Fail($"{what}: index {i}: expected {e:G10}, got {a:G10}");
        }
    }

    private static void Check<T>(int outer, int r, int inner, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = Random<T>(outer * 1000 + r * 7 + inner, outer * r * inner);
        int ny = outer * inner;
        var y = new T[ny]; var yr = new T[ny]; var mean = new T[ny];
        string at = $"<{typeof(T).Name}> ({outer}, {r}, {inner})";
        double atol = tol * Math.Sqrt(r + 1);
        ReduceKernel.Sum<T>(y, x, outer, r, inner); ReduceReference.Sum<T>(yr, x, outer, r, inner);
        Close(yr, y, tol, atol, "sum" + at);
        if (r > 0)
        {
            ReduceKernel.Max<T>(y, x, outer, r, inner); ReduceReference.Max<T>(yr, x, outer, r, inner);
            Close(yr, y, 0, 0, "max" + at);
            ReduceKernel.Var<T>(y, mean, x, outer, r, inner, 1); ReduceReference.Var<T>(yr, x, outer, r, inner, 1);
            Close(yr, y, tol * 10, tol * 10, "var" + at);
        }
    }

    [Fact]
    public void Reduce_MatchesReference_EveryRowLength()
    {
        for (int r = 0; r <= 257; r++)
        {
            Check<float>(3, r, 1, 1e-6); Check<double>(3, r, 1, 1e-14);
            Check<float>(1, r, 1, 1e-6); Check<double>(2, r, 2, 1e-14);
        }
    }

    [Fact]
    public void Reduce_MatchesReference_EveryInnerLength()
    {
        for (int inner = 0; inner <= 257; inner++)
        {
            Check<float>(2, 5, inner, 1e-6); Check<double>(2, 5, inner, 1e-14);
            Check<float>(1, 3, inner, 1e-6);
        }
    }

    [Fact]
    public void Reduce_MatchesReference_LargeOddShapes()
    {
        foreach (var (o, r, i) in new[] { (1, 300007, 1), (1, 50001, 3), (1, 3001, 64), (7, 40009, 1), (1, 33, 5000), (2, 1, 70001), (5, 2049, 33) })
        {
            Check<float>(o, r, i, 1e-6); Check<double>(o, r, i, 1e-13);
        }
    }

    [Fact]
    public void Reduce_Deterministic_OneVersusTwoThreads()
    {
        int saved = KernelPool.Threads;
        try
        {
            foreach (var (o, r, i) in new[] { (1, 1_000_003, 1), (1, 20001, 64), (9, 100001, 1), (3, 4001, 40) })
            {
                var x = Random<float>(11, o * r * i);
                var y1 = new float[o * i]; var y2 = new float[o * i]; var m = new float[o * i];
                KernelPool.Threads = 1; ReduceKernel.Sum<float>(y1, x, o, r, i);
                KernelPool.Threads = 2; ReduceKernel.Sum<float>(y2, x, o, r, i);
                Assert.Equal(y1, y2);
                KernelPool.Threads = 1; ReduceKernel.Var<float>(y1, m, x, o, r, i, 0);
                KernelPool.Threads = 2; ReduceKernel.Var<float>(y2, m, x, o, r, i, 0);
                Assert.Equal(y1, y2);
            }
        }
        finally { KernelPool.Threads = saved; }
    }

    [Fact]
    public void Max_PropagatesNaN()
    {
        var x = new float[40]; x[17] = float.NaN; x[2] = 5;
        var y = new float[1];
        ReduceKernel.Max<float>(y, x, 1, 40, 1);
        Assert.True(float.IsNaN(y[0]));
        var y2 = new float[2];
        ReduceKernel.Max<float>(y2, x, 1, 20, 2);
        Assert.True(float.IsNaN(y2[1])); Assert.Equal(5f, y2[0]);
    }

    [Fact]
    public void MaxBackward_Ties_FirstOrEven()
    {
        // x (1, 5, 2): column 0 has ties at k = 1 and 3, column 1 a single max at k = 4.
        double[] x = { 0, 1, 3, 0, 1, 0, 3, 0, 2, 7 };
        double[] y = { 3, 7 }, dy = { 1, 10 };
        var first = new double[10]; var even = new double[10];
        ReduceKernel.MaxBackward<double>(first, dy, x, y, 1, 5, 2, evenly: false);
        ReduceKernel.MaxBackward<double>(even, dy, x, y, 1, 5, 2, evenly: true);
        Assert.Equal(new double[] { 0, 0, 1, 0, 0, 0, 0, 0, 0, 10 }, first);
        Assert.Equal(new double[] { 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 10 }, even);
    }
}
