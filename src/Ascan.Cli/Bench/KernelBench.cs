// Kernel benchmark: GEMM shapes, conv2d and fused element-wise kernels against the measured FMA peak.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text;
using Ascan.Kernels;

namespace Ascan.Cli;

internal static class KernelBench
{
    /// <summary>A named benchmark: Prepare allocates and fills its buffers once and returns the timed action.</summary>
    private sealed record Case(string Name, double Flops, Func<Action> Prepare);

    /// <summary>One measurement: compute-bound kernels report GFLOP/s, memory-bound element-wise kernels GB/s.</summary>
    private sealed record Result(string Name, int Threads, double Gflops, double PeakGflops, double? GBps = null);

    private static readonly int[] _threadCounts = [1, 2];

    /// <summary>
    /// The benchmark list. To add a kernel family (element-wise GB/s, attention…), append cases here;
    /// Flops is whatever unit the family reports per run (GFLOP/s column = Flops / seconds / 1e9).
    /// </summary>
    private static List<Case> Cases()
    {
        var cases = new List<Case>
        {
            GemmCase("gemm 1024^3", 1024, 1024, 1024),
            GemmCase("gemm 2048^3", 2048, 2048, 2048),
            GemmCase("gemm 3136x576x64", 3136, 576, 64),
            GemmCase("gemm 784x1152x128", 784, 1152, 128),
            GemmCase("gemm 196x384x1152", 196, 384, 1152),
            GemmCase("gemm 3136x768x3072", 3136, 768, 3072),
            ConvCase("conv2d 16x56x56 64->256 3x3 p1", new Conv2dGeometry(16, 56, 56, 64, 256, 3, 3, 1, 1, 1, 1)),
            GemmCase("gemm 1024^3 subnormal A", 1024, 1024, 1024, subnormalA: true),
        };
        return cases;
    }

    public static int Run(bool json)
    {
        int oldThreads = KernelPool.Threads;
        var results = new List<Result>();
        try
        {
            var peak = new Dictionary<int, double>();
            foreach (int t in _threadCounts)
            {
                if (t > Environment.ProcessorCount) continue;
                peak[t] = MeasurePeak(t);
                results.Add(new Result("fma peak (24 zmm chains)", t, peak[t], peak[t]));
            }
            foreach (var c in Cases())
            {
                var action = c.Prepare();
                foreach (int t in peak.Keys)
                {
                    KernelPool.Threads = t;
                    double seconds = TimeMedian(action);
                    results.Add(new Result(c.Name, t, c.Flops / seconds / 1e9, peak[t]));
                    if (!json) Console.Error.Write('.');
                }
            }
            foreach (var (name, threads, gbps) in ElementwiseBench.Run())
            {
                results.Add(new Result(name, threads, double.NaN, peak.GetValueOrDefault(threads, double.NaN), gbps));
                if (!json) Console.Error.Write('.');
            }
        }
        finally
        {
            KernelPool.Threads = oldThreads;
        }
        if (json) PrintJson(results);
        else PrintTable(results);
        return 0;
    }

    private static Case GemmCase(string name, int m, int k, int n, bool subnormalA = false) =>
        new(name, 2.0 * m * n * k, () =>
        {
            var a = Random(m * k, 1);
            if (subnormalA) for (int i = 0; i < a.Length; i++) a[i] *= 1e-39f;
            var b = Random(k * n, 2);
            var c = new float[m * n];
            return () => Gemm.Compute(false, false, m, n, k, a, k, b, n, c, n, false);
        });

    private static Case ConvCase(string name, Conv2dGeometry g) =>
        new(name, 2.0 * g.B * g.OutH * g.OutW * g.O * g.KH * g.KW * (g.C / g.Groups), () =>
        {
            var x = Random(g.B * g.H * g.W * g.C, 3);
            var w = Random(g.KH * g.KW * (g.C / g.Groups) * g.O, 4);
            var bias = Random(g.O, 5);
            var y = new float[g.B * g.OutH * g.OutW * g.O];
            return () => Conv2dKernels.Forward<float>(y, x, w, bias, g, Activation.Relu);
        });

    internal static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    // Warm up, size the repetition count to ~0.4 s, report the median (the machine is shared and noisy).
    internal static double TimeMedian(Action action) => Time(action).Median;

    private static (double Median, double Min) Time(Action action)
    {
        action();
        var sw = Stopwatch.StartNew();
        action();
        double once = Math.Max(sw.Elapsed.TotalSeconds, 1e-6);
        int reps = Math.Clamp((int)(0.4 / once), 5, 50);
        var times = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            sw.Restart();
            action();
            times[r] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return (times[reps / 2], times[0]);
    }

    /// <summary>
    /// FMA throughput in GFLOP/s: 24 independent zmm FMA chains per thread (enough to cover 2 ports × 4-cycle latency
    /// with room). Shared with the model benchmark (bench --model), which reports its GFLOP/s against it.
    /// Leaves <see cref="KernelPool.Threads"/> set to <paramref name="threads"/>.
    /// </summary>
    internal static double MeasurePeak(int threads)
    {
        const int iters = 2_000_000;
        double flopsPerThread = 24.0 * Vector512<float>.Count * 2 * iters;
        KernelPool.Threads = threads;
        var sink = new float[threads];
        Action run = () => KernelPool.Run(threads, t => sink[t] = FmaChains(iters));
        // The peak is a property of the hardware, so take the best run, not the median: on a shared
        // machine other processes (or a late worker wake-up) only ever make a run slower.
        double seconds = Time(run).Min;
        return flopsPerThread * threads / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FmaChains(int iters)
    {
        var m = Vector512.Create(0.999999f);
        var add = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        Vector512<float> a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        Vector512<float> a16 = a0, a17 = a0, a18 = a0, a19 = a0, a20 = a0, a21 = a0, a22 = a0, a23 = a0;
        for (int i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, add); a1 = Vector512.FusedMultiplyAdd(a1, m, add);
            a2 = Vector512.FusedMultiplyAdd(a2, m, add); a3 = Vector512.FusedMultiplyAdd(a3, m, add);
            a4 = Vector512.FusedMultiplyAdd(a4, m, add); a5 = Vector512.FusedMultiplyAdd(a5, m, add);
            a6 = Vector512.FusedMultiplyAdd(a6, m, add); a7 = Vector512.FusedMultiplyAdd(a7, m, add);
            a8 = Vector512.FusedMultiplyAdd(a8, m, add); a9 = Vector512.FusedMultiplyAdd(a9, m, add);
            a10 = Vector512.FusedMultiplyAdd(a10, m, add); a11 = Vector512.FusedMultiplyAdd(a11, m, add);
            a12 = Vector512.FusedMultiplyAdd(a12, m, add); a13 = Vector512.FusedMultiplyAdd(a13, m, add);
            a14 = Vector512.FusedMultiplyAdd(a14, m, add); a15 = Vector512.FusedMultiplyAdd(a15, m, add);
            a16 = Vector512.FusedMultiplyAdd(a16, m, add); a17 = Vector512.FusedMultiplyAdd(a17, m, add);
            a18 = Vector512.FusedMultiplyAdd(a18, m, add); a19 = Vector512.FusedMultiplyAdd(a19, m, add);
            a20 = Vector512.FusedMultiplyAdd(a20, m, add); a21 = Vector512.FusedMultiplyAdd(a21, m, add);
            a22 = Vector512.FusedMultiplyAdd(a22, m, add); a23 = Vector512.FusedMultiplyAdd(a23, m, add);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
              + ((a12 + a13) + (a14 + a15)) + ((a16 + a17) + (a18 + a19)) + ((a20 + a21) + (a22 + a23));
        return Vector512.Sum(s);
    }

    private static void PrintTable(List<Result> results)
    {
        Console.Error.WriteLine();
        Console.WriteLine($"{"kernel",-34} {"threads",7} {"GFLOP/s",9} {"% peak",7}");
        foreach (var r in results.Where(r => r.GBps == null))
            Console.WriteLine($"{r.Name,-34} {r.Threads,7} {r.Gflops,9:F1} {100 * r.Gflops / r.PeakGflops,6:F1}%");
        Console.WriteLine();
        Console.WriteLine($"{"element-wise kernel (16M floats)",-34} {"threads",7} {"GB/s",9}");
        foreach (var r in results.Where(r => r.GBps != null))
            Console.WriteLine($"{r.Name,-34} {r.Threads,7} {r.GBps,9:F1}");
        foreach (int t in _threadCounts)
        {
            var normal = results.Find(r => r.Name == "gemm 1024^3" && r.Threads == t);
            var sub = results.Find(r => r.Name == "gemm 1024^3 subnormal A" && r.Threads == t);
            if (normal != null && sub != null && sub.Gflops * 2 < normal.Gflops)
                Console.WriteLine($"WARNING: subnormal GEMM on {t} thread(s) is more than 2x slower than normal ({sub.Gflops:F1} vs {normal.Gflops:F1}).");
        }
        var one = results.Find(r => r.Name == "gemm 2048^3" && r.Threads == 1);
        var two = results.Find(r => r.Name == "gemm 2048^3" && r.Threads == 2);
        if (one != null && two != null) Console.WriteLine($"2048^3 two-thread speed-up: {two.Gflops / one.Gflops:F2}x");
    }

    private static void PrintJson(List<Result> results)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            if (i > 0) sb.Append(',');
            // Element-wise rows carry "gbps" and a null "gflops": they are memory-bound, FLOPs say nothing.
            string gflops = r.GBps == null ? r.Gflops.ToString("F2", CultureInfo.InvariantCulture) : "null";
            string gbps = r.GBps == null ? "" : string.Create(CultureInfo.InvariantCulture, $",\"gbps\":{r.GBps:F2}");
            sb.Append(CultureInfo.InvariantCulture,
                $"{{\"name\":\"{r.Name}\",\"threads\":{r.Threads},\"gflops\":{gflops},\"peak_gflops\":{r.PeakGflops:F2}{gbps}}}");
        }
        sb.Append(']');
        Console.WriteLine(sb.ToString());
    }
}
