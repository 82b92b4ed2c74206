// Memory bandwidth (GB/s) of the fused element-wise, activation and reduction kernels on 16M floats, 1 and 2 threads.
using System.Diagnostics;
using Ascan.Kernels;

namespace Ascan.Cli;

internal static class ElementwiseBench
{
    private const int N = 1 << 24; // 16M floats = 64 MiB per array: far beyond the caches

    /// <summary>
    /// Each row: kernel name, thread count, GB/s counted as the bytes an ideal single pass must move
    /// (forward: read x + write y; backward: read dy, x, dx + write dx). Baselines: "copy" (Span.CopyTo,
    /// the practical ceiling), "silu composed" (neg → exp → +1 → x/·, four passes through our own
    /// kernels, the shape of a TensorPrimitives composition — that package is not in the net10 BCL, so it
    /// is not compared directly).
    /// </summary>
    internal static IEnumerable<(string Name, int Threads, double GBps)> Run()
    {
        var x = new float[N]; var y = new float[N]; var dy = new float[N]; var dx = new float[N]; var t = new float[N];
        var rng = new Random(1);
        for (int i = 0; i < N; i++) { x[i] = (float)(rng.NextDouble() * 8 - 4); dy[i] = (float)(rng.NextDouble() - 0.5); }
        var colSums = new float[64];
        double fwd = 8.0 * N, bwd = 16.0 * N, rd = 4.0 * N;

        var cases = new (string Name, double Bytes, Action Body, bool OneThreadOnly)[]
        {
            ("copy", fwd, () => x.AsSpan().CopyTo(y), false),
            ("relu", fwd, () => ActivationKernels.Relu<float>(y, x), false),
            ("exp", fwd, () => UnaryKernel.Apply<ExpOp<float>, float>(y, x), false),
            ("tanh", fwd, () => UnaryKernel.Apply<TanhOp<float>, float>(y, x), false),
            ("sigmoid", fwd, () => UnaryKernel.Apply<SigmoidOp<float>, float>(y, x), false),
            ("gelu", fwd, () => ActivationKernels.Gelu<float>(y, x), false),
            ("gelu backward", bwd, () => ActivationKernels.GeluBackward<float>(dx, dy, x), false),
            ("silu", fwd, () => ActivationKernels.Silu<float>(y, x), false),
            ("silu backward", bwd, () => ActivationKernels.SiluBackward<float>(dx, dy, x), false),
            ("silu composed", fwd, () =>
            {
                UnaryKernel.Apply<NegOp<float>, float>(t, x);
                UnaryKernel.Apply<ExpOp<float>, float>(t, t);
                BinaryKernel.Apply<AddOp<float>, float>(t, t, 1, [1f], 0);
                BinaryKernel.Apply<DivOp<float>, float>(y, x, 1, t, 1);
            }, true),
            ("sum (full)", rd, () => ReduceKernel.Sum<float>(colSums.AsSpan(0, 1), x, 1, N, 1), false),
            ("sum (NHWC channels, C=64)", rd, () => ReduceKernel.Sum<float>(colSums, x, 1, N / 64, 64), false),
            ("sum (rows of 1024)", rd, () => ReduceKernel.Sum<float>(t.AsSpan(0, N / 1024), x, N / 1024, 1024, 1), false),
        };

        int saved = KernelPool.Threads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                KernelPool.Threads = threads;
                foreach (var c in cases)
                {
                    if (c.OneThreadOnly && threads > 1) continue;
                    yield return (c.Name, threads, c.Bytes / Median(c.Body) / 1e9);
                }
            }
        }
        finally { KernelPool.Threads = saved; }
    }

    /// <summary>Median seconds of 7 runs after 2 warm-ups (the buffers are reused: no page faults in the timing).</summary>
    private static double Median(Action body)
    {
        body(); body();
        var s = new double[7];
        for (int r = 0; r < s.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            body();
            s[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(s);
        return s[s.Length / 2];
    }
}
