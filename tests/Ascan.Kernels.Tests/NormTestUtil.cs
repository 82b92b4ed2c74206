// Helpers for the norm, softmax and attention kernel tests: seeded random data and a closeness check in double.
using System.Numerics;

namespace Ascan.Kernels.Tests;

internal static class NormTestUtil
{
    /// <summary>The sizes every SIMD row kernel is checked at: 0–257 plus large odd ones.</summary>
    public static IEnumerable<int> Lengths(params int[] large) => Enumerable.Range(0, 258).Concat(large);

    public static T[] Random<T>(Random rng, int n, double scale = 1, double offset = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(offset + scale * (2 * rng.NextDouble() - 1));
        return a;
    }

    /// <summary>Float: rtol/atol as given; double: 1e-10 both.</summary>
    public static void Close<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, double rtol, double atol, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double)) { rtol = Math.Min(rtol, 1e-10); atol = Math.Min(atol, 1e-10); }
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what} ({typeof(T).Name}): index {i} of {expected.Length}: expected {e:G9}, got {a:G9}.");
        }
    }
}
