// Dedicated worker threads for kernels: fixed partitioning, deterministic, FTZ/DAZ on every worker.
namespace Ascan.Kernels;

/// <summary>
/// Runs the parts of a parallel kernel on dedicated workers. The calling thread runs part 0;
/// a nested call (from inside a part) runs all its parts inline. Results never depend on the
/// thread count because kernels split work by a fixed rule, not by who is free.
/// </summary>
public static class KernelPool
{
    private static int _threads = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Number of threads kernels may use (1 = everything on the calling thread).</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = Math.Clamp(value, 1, Math.Max(1, Environment.ProcessorCount));
    }

    [ThreadStatic] private static bool _inside;

    /// <summary>Runs body(0) … body(parts-1), spread over at most <see cref="Threads"/> threads; blocks until all finish.</summary>
    public static void Run(int parts, Action<int> body)
    {
        if (parts <= 0) return;
        if (parts == 1 || _threads == 1 || _inside)
        {
            for (int i = 0; i < parts; i++) body(i);
            return;
        }
        // Placeholder: the worker implementation replaces this with pinned, FTZ-enabled workers.
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = _threads }, i =>
        {
            bool was = _inside; _inside = true;
            try { body(i); } finally { _inside = was; }
        });
    }
}
