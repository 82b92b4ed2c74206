// `ascan bench gemm`: the float GEMM at the shapes a layer calls it with, against the FMA peak.
using System.Globalization;
using Ascan.Kernels;

namespace Ascan.Cli;

/// <summary>`ascan bench gemm`: chosen GEMM shapes (as a layer calls them) at 1 and 2 threads against the FMA peak.</summary>
internal static class GemmShapeBench
{
    /// <param name="shapes">"m,n,k" with optional ",ta" / ",tb" (A stored (k, m) / B stored (n, k)).</param>
    public static int Run(IReadOnlyList<string> shapes, TextWriter output, TextWriter error)
    {
        var inv = CultureInfo.InvariantCulture;
        int old = KernelPool.Threads;
        try
        {
            var peaks = new Dictionary<int, double>();
            foreach (int t in new[] { 1, 2 }) if (t <= Environment.ProcessorCount) peaks[t] = KernelBench.MeasurePeak(t);
            output.WriteLine($"{"shape (m,n,k)",-26} {"threads",7} {"ms",9} {"GFLOP/s",9} {"% peak",7}");
            foreach (var spec in shapes)
            {
                var f = spec.Split(',', StringSplitOptions.TrimEntries);
                if (f.Length < 3 || !int.TryParse(f[0], out int m) || !int.TryParse(f[1], out int n) || !int.TryParse(f[2], out int k) || m < 1 || n < 1 || k < 1
                    || f.Skip(3).Any(x => x != "ta" && x != "tb"))
                {
                    error.WriteLine($"bench gemm: --shape '{spec}' is not m,n,k[,ta][,tb] with positive sizes.");
                    return 2;
                }
                bool ta = f.Contains("ta"), tb = f.Contains("tb");
                var a = KernelBench.Random(m * k, 1); var b = KernelBench.Random(k * n, 2); var c = new float[m * n];
                foreach (var (t, peak) in peaks)
                {
                    KernelPool.Threads = t;
                    double sec = KernelBench.TimeMedian(() => Gemm.Compute(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, false));
                    double gflops = 2.0 * m * n * k / sec / 1e9;
                    output.WriteLine(string.Create(inv, $"{spec,-26} {t,7} {sec * 1e3,9:F3} {gflops,9:F1} {100 * gflops / peak,6:F1}%"));
                }
            }
            return 0;
        }
        finally
        {
            KernelPool.Threads = old;
        }
    }
}
