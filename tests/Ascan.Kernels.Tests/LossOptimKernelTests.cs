// Cross-entropy and optimizer kernels against their naive reference twins, every length 0–257 plus large odd sizes.
using System.Numerics;
using Ascan.Kernels;
using Ascan.Kernels.Reference;

namespace Ascan.Kernels.Tests;

public class LossOptimKernelTests
{
    private static readonly int[] Lengths = Enumerable.Range(0, 258).Concat([1001, 4099]).ToArray();

    private static T[] Random<T>(Random r, int n, double scale = 3, double shift = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Enumerable.Range(0, n).Select(_ => T.CreateTruncating((r.NextDouble() * 2 - 1) * scale + shift)).ToArray();

    private static void Close<T>(T[] expected, T[] actual, double tol, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (Math.Abs(e - a) > tol * (1 + Math.Abs(e))) Assert.Fail($"{what}: index {i} expected {e:G9}, got {a:G9}");
        }
    }

    private static void CrossEntropyCase<T>(double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(1);
        foreach (int c in Lengths)
        {
            int n = c > 300 ? 2 : 3;
            var x = Random<T>(r, n * c);
            var w = c % 2 == 0 ? Random<T>(r, c, 0.5, 1) : [];
            var t = Enumerable.Range(0, n).Select(i => i == 1 ? -100 : (c == 0 ? -100 : r.Next(c))).ToArray();
            var (n1, s1, l1) = (new T[n], new T[n], new T[n]);
            var (n2, s2, l2) = (new T[n], new T[n], new T[n]);
            CrossEntropyKernel.ForwardHard<T>(n1, s1, l1, x, t, w, -100, n, c);
            CrossEntropyReference.ForwardHard<T>(n2, s2, l2, x, t, w, -100, n, c);
            Close(n2, n1, tol, $"nll C={c}"); Close(s2, s1, tol, $"smooth C={c}");
            if (c > 0) Close(l2, l1, tol, $"lse C={c}");
            var a = Random<T>(r, n); var b = Random<T>(r, n);
            var d1 = Random<T>(r, n * c); var d2 = (T[])d1.Clone();
            CrossEntropyKernel.BackwardHard<T>(d1, x, l1, t, w, a, b, -100, n, c);
            CrossEntropyReference.BackwardHard<T>(d2, x, l2, t, w, a, b, -100, n, c);
            Close(d2, d1, tol, $"dx C={c}");
        }
    }

    [Fact] public void CrossEntropyKernel_MatchesReference_EveryClassCount_Float() => CrossEntropyCase<float>(2e-5);
    [Fact] public void CrossEntropyKernel_MatchesReference_EveryClassCount_Double() => CrossEntropyCase<double>(1e-12);

    [Fact]
    public void CrossEntropyKernel_IsDeterministic_AcrossParallelRows()
    {
        var r = new Random(2);
        int n = 4001, c = 19;
        var x = Random<float>(r, n * c); var t = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? 255 : i % c).ToArray();
        var (a1, b1, l1) = (new float[n], new float[n], new float[n]);
        var (a2, b2, l2) = (new float[n], new float[n], new float[n]);
        CrossEntropyKernel.ForwardHard<float>(a1, b1, l1, x, t, [], 255, n, c);
        CrossEntropyReference.ForwardHard<float>(a2, b2, l2, x, t, [], 255, n, c);
        Close(a2, a1, 2e-5, "nll"); Close(l2, l1, 2e-5, "lse");
    }

    private static void OptimCase<T>(double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(3);
        // (70001, 262161: the parallel ranges of large tensors, with a ragged end.)
        foreach (int n in Lengths.Concat([70001, 262161]))
        foreach (bool ams in new[] { false, true })
        {
            var p = Random<T>(r, n); var g = Random<T>(r, n); var m = Random<T>(r, n, 0.1); var v = Random<T>(r, n, 0.01, 0.01);
            var vm = ams ? Random<T>(r, n, 0.01, 0.01) : [];
            var (p2, m2, v2, vm2) = ((T[])p.Clone(), (T[])m.Clone(), (T[])v.Clone(), (T[])vm.Clone());
            var s = new AdamWStep(1e-3, 0.9, 0.999, 1e-8, 0.05, 3);
            OptimizerKernels.AdamW<T>(p, m, v, vm, g, s);
            OptimizerReference.AdamW<T>(p2, m2, v2, vm2, g, s);
            Close(p2, p, tol, $"adamw p n={n}"); Close(m2, m, tol, "m"); Close(v2, v, tol, "v"); Close(vm2, vm, tol, "vmax");
        }
        foreach (int n in Lengths)
        foreach (var (mom, nesterov, first) in new[] { (0.0, false, false), (0.9, true, true), (0.9, true, false), (0.8, false, false) })
        {
            var p = Random<T>(r, n); var g = Random<T>(r, n); var buf = mom != 0 ? Random<T>(r, n) : [];
            var (p2, b2) = ((T[])p.Clone(), (T[])buf.Clone());
            var s = new SgdStep(0.1, mom, nesterov ? 0 : 0.1, 1e-4, nesterov, first);
            OptimizerKernels.Sgd<T>(p, buf, g, s);
            OptimizerReference.Sgd<T>(p2, b2, g, s);
            Close(p2, p, tol, $"sgd p n={n}"); Close(b2, buf, tol, "buf");
        }
    }

    [Fact] public void OptimizerKernels_MatchReference_EveryLength_Float() => OptimCase<float>(1e-6);
    [Fact] public void OptimizerKernels_MatchReference_EveryLength_Double() => OptimCase<double>(1e-14);

    [Fact]
    public void SumSquares_And_Scale_MatchPlainLoops()
    {
        var r = new Random(4);
        foreach (int n in Lengths)
        {
            var x = Random<float>(r, n);
            double expected = x.Sum(v => (double)v * v);
            Assert.Equal(expected, OptimizerKernels.SumSquares<float>(x), 1e-9 * (1 + expected));
            var xd = x.Select(v => (double)v).ToArray();
            Assert.Equal(expected, OptimizerKernels.SumSquares<double>(xd), 1e-9 * (1 + expected));
            var y = (float[])x.Clone();
            OptimizerKernels.Scale<float>(y, 0.5f);
            Assert.Equal(x.Select(v => v * 0.5f).ToArray(), y);
        }
    }
}
