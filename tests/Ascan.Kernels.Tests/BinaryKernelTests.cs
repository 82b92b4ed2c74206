// Binary element-wise driver and deterministic sum against their reference twins at every length 0–257.
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class BinaryKernelTests
{
    public static IEnumerable<object[]> Lengths() =>
        Enumerable.Range(0, 258).Concat(new[] { 1023, 4099, 100_003 }).Select(n => new object[] { n });

    private static T[] Random<T>(int n, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => T.CreateTruncating(r.NextDouble() * 4 - 2)).ToArray();
    }

    private static void Check<TOp, T>(int n) where TOp : struct, IBinaryOp<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var a = Random<T>(n, 1); var b = Random<T>(n, 2);
        for (int sa = 0; sa <= 1; sa++)
        for (int sb = 0; sb <= 1; sb++)
        {
            var la = sa == 1 ? a : a.Take(Math.Min(1, n)).ToArray();
            var lb = sb == 1 ? b : b.Take(Math.Min(1, n)).ToArray();
            if (n > 0 && (la.Length == 0 || lb.Length == 0)) continue;
            var y = new T[n]; var r = new T[n];
            BinaryKernel.Apply<TOp, T>(y, la, sa, lb, sb);
            BinaryKernel.Reference<TOp, T>(r, la, sa, lb, sb);
            Assert.Equal(r, y); // exact: the same operation per element
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void Binary_MatchesReference_AllLengths(int n)
    {
        Check<AddOp<float>, float>(n); Check<SubOp<float>, float>(n); Check<MulOp<float>, float>(n); Check<DivOp<float>, float>(n);
        Check<AddOp<double>, double>(n); Check<MulOp<double>, double>(n); Check<DivOp<double>, double>(n);
    }

    [Theory, MemberData(nameof(Lengths))]
    public void Sum_MatchesReference_AllLengths(int n)
    {
        var x = Random<double>(n, 3);
        double expected = 0; foreach (var v in x) expected += v;
        Assert.Equal(expected, BinaryKernel.Sum<double>(x), 1e-9 * Math.Max(1, n));
        var xf = x.Select(v => (float)v).ToArray();
        Assert.Equal(expected, BinaryKernel.Sum<float>(xf), 1e-4 * Math.Max(1, Math.Sqrt(n)));
        Assert.Equal(BinaryKernel.Sum<float>(xf), BinaryKernel.Sum<float>(xf)); // deterministic
    }

    [Fact]
    public void Binary_InPlace_Aliasing()
    {
        var a = Random<float>(100, 4); var b = Random<float>(100, 5);
        var expected = a.Zip(b, (x, y) => x + y).ToArray();
        BinaryKernel.Apply<AddOp<float>, float>(a, a, 1, b, 1);
        Assert.Equal(expected, a);
    }
}
