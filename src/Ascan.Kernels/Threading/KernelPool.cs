// Dedicated worker threads for kernels: fixed partitioning, deterministic, FTZ/DAZ on every worker.
namespace Ascan.Kernels;

/// <summary>
/// Runs the parts of a parallel kernel on dedicated workers. The calling thread runs part 0;
/// a nested call (from inside a part) runs all its parts inline. Results never depend on the
/// thread count because kernels split work by a fixed rule, not by who is free.
/// </summary>
/// <remarks>
/// Dedicated threads rather than the ThreadPool: MXCSR (FTZ/DAZ) is per thread and must be set on
/// every thread that runs a kernel, and the pool gives no guarantee that two parts run concurrently.
/// One job at a time owns the workers; a concurrent caller that finds them busy runs its parts inline.
/// </remarks>
public static class KernelPool
{
    private static int _threads = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Number of threads kernels may use (1 = everything on the calling thread).</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = Math.Clamp(value, 1, Math.Max(1, Environment.ProcessorCount));
    }

    /// <summary>True while the current thread is running a part (so kernels can avoid re-splitting).</summary>
    public static bool IsInsidePart => _inside;

    [ThreadStatic] private static bool _inside;

    private static readonly object _gate = new();
    private static Worker[] _workers = [];
    private static volatile Job? _current;
    // Shared by all jobs: a job starts only after the previous one has completed every part.
    private static readonly ManualResetEventSlim _done = new(false);

    /// <summary>Runs body(0) … body(parts-1), spread over at most <see cref="Threads"/> threads; blocks until all finish.</summary>
    public static void Run(int parts, Action<int> body)
    {
        if (parts <= 0) return;
        FloatMode.EnsureFlushToZero();
        int threads = Math.Min(_threads, parts);
        if (parts == 1 || threads == 1 || _inside || !Monitor.TryEnter(_gate))
        {
            RunInline(parts, body);
            return;
        }
        try
        {
            EnsureWorkers(threads - 1);
            var job = new Job(body, parts);
            _done.Reset();
            _current = job;
            for (int w = 0; w < threads - 1; w++) _workers[w].Wake();

            job.RunPart(0);
            job.Drain();
            // Spin briefly (parts are usually balanced), then block.
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Pending) != 0 && !spin.NextSpinWillYield) spin.SpinOnce();
            _done.Wait();
            _current = null;
            if (job.Error is { } e) throw new AggregateException(e);
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private static void RunInline(int parts, Action<int> body)
    {
        bool was = _inside;
        _inside = true;
        try { for (int i = 0; i < parts; i++) body(i); }
        finally { _inside = was; }
    }

    private static void EnsureWorkers(int count)
    {
        if (_workers.Length >= count) return;
        var grown = new Worker[count];
        Array.Copy(_workers, grown, _workers.Length);
        for (int w = _workers.Length; w < count; w++) grown[w] = new Worker(w + 1);
        _workers = grown;
    }

    // One Run call. A worker that wakes late sees either this job (and helps) or a finished one (Next >= parts).
    private sealed class Job(Action<int> body, int parts)
    {
        private readonly int _parts = parts;
        private readonly Action<int> _body = body;
        public int Next = 1; // part 0 belongs to the caller
        public int Pending = parts;
        public Exception? Error;

        public void Drain()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < _parts) RunPart(i);
        }

        public void RunPart(int i)
        {
            bool was = _inside;
            _inside = true;
            try { _body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
            finally
            {
                _inside = was;
                if (Interlocked.Decrement(ref Pending) == 0) _done.Set();
            }
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);

        public Worker(int id)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Ascan kernel worker {id}" };
            thread.Start();
        }

        public void Wake() => _wake.Release();

        private void Loop()
        {
            FloatMode.EnsureFlushToZero();
            while (true)
            {
                _wake.Wait(); // SemaphoreSlim spins before it blocks, which keeps back-to-back kernels cheap
                _current?.Drain();
            }
        }
    }
}
