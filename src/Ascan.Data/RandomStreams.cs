// Random streams for data loading: seeds derived from (seed, epoch, sample …) and the distributions timm draws from.
using Ascan.Core;

namespace Ascan.Data;

/// <summary>
/// Derives independent generators from a tuple of integers, so every sample's augmentation depends only on
/// (seed, epoch, sample index) and never on which worker thread got to it first.
/// </summary>
public static class RandomStreams
{
    // Distinct salts keep the streams for shuffling, per-sample augmentation and per-batch mixing apart.
    public const long ShuffleStream = 0x5348;     // "SH"
    public const long SampleStream = 0x5341;      // "SA"
    public const long BatchStream = 0x4241;       // "BA"

    /// <summary>A 64-bit seed mixed from all parts (SplitMix64 finaliser after each part).</summary>
    public static ulong Derive(ulong seed, params ReadOnlySpan<long> parts)
    {
        ulong h = Mix(seed ^ 0x243F6A8885A308D3UL);
        foreach (long p in parts) h = Mix(h ^ Mix((ulong)p + 0x9E3779B97F4A7C15UL));
        return h;
    }

    public static Rng Create(ulong seed, params ReadOnlySpan<long> parts) => new(Derive(seed, parts));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [lo, hi) (Python's random.uniform).</summary>
    public static double Uniform(this Rng rng, double lo, double hi) => lo + (hi - lo) * rng.NextDouble();

    /// <summary>Uniform integer in [lo, hi], both ends included (Python's random.randint).</summary>
    public static int IntInclusive(this Rng rng, int lo, int hi) => lo + rng.NextInt(hi - lo + 1);

    /// <summary>Normal with the given mean and standard deviation (random.gauss).</summary>
    public static double Gauss(this Rng rng, double mean, double std) => mean + std * rng.NextNormal();

    /// <summary>Gamma(shape, 1) by Marsaglia–Tsang (with the shape &lt; 1 boost).</summary>
    public static double Gamma(this Rng rng, double shape)
    {
        if (shape <= 0) throw new ArgumentOutOfRangeException(nameof(shape), shape, "Gamma shape must be positive.");
        if (shape < 1)
        {
            double u = rng.NextDouble();
            return rng.Gamma(shape + 1) * Math.Pow(u, 1.0 / shape);
        }
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do { x = rng.NextNormal(); v = 1 + c * x; } while (v <= 0);
            v = v * v * v;
            double u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>Beta(a, b) from two gammas (numpy.random.beta).</summary>
    public static double Beta(this Rng rng, double a, double b)
    {
        double x = rng.Gamma(a), y = rng.Gamma(b);
        return x + y > 0 ? x / (x + y) : 0.5;
    }

    /// <summary>A uniformly random permutation of 0..n−1 (Fisher–Yates).</summary>
    public static int[] Permutation(this Rng rng, int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(rng.NextUInt64() % (ulong)(i + 1));
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
