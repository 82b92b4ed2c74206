// Dedicated worker threads for kernels: fixed partitioning, deterministic, FTZ/DAZ on every worker.
using System.Diagnostics;

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
    // Bumped by every parallel Run after publishing its job: workers spinning between jobs watch it.
    private static int _jobSeq;
    // How long an idle worker keeps watching for the next job before it sleeps. A training step runs thousands of
    // parallel kernels back to back, with short single-threaded stretches between them; a sleeping worker costs a
    // futex wake-up and a late start on every one. ASCAN_KERNEL_SPIN_US overrides it (0: sleep at once).
    private static readonly long _spinTicks = Stopwatch.Frequency *
        (long.TryParse(Environment.GetEnvironmentVariable("ASCAN_KERNEL_SPIN_US"), out long us) && us >= 0 ? us : 100) / 1_000_000;
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
            var job = new Job(body, parts, threads);
            _done.Reset();
            _current = job;
            Interlocked.Increment(ref _jobSeq);
            for (int w = 0; w < threads - 1; w++) _workers[w].WakeIfSleeping();

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
    private sealed class Job(Action<int> body, int parts, int threads)
    {
        /// <summary>Threads the job may use: workers 1 … Threads − 1 help, others leave it alone.</summary>
        public readonly int Threads = threads;
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
        private readonly int _id;
        private int _sleeping;

        public Worker(int id)
        {
            _id = id;
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Ascan kernel worker {id}" };
            thread.Start();
        }

        /// <summary>Called after the job is published and the sequence bumped; a spinning worker sees the bump itself.</summary>
        public void WakeIfSleeping()
        {
            if (Volatile.Read(ref _sleeping) != 0) _wake.Release();
        }

        private void Loop()
        {
            FloatMode.EnsureFlushToZero();
            int seen = Volatile.Read(ref _jobSeq);
            while (true)
            {
                long until = Stopwatch.GetTimestamp() + _spinTicks;
                while (Volatile.Read(ref _jobSeq) == seen && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
                if (Volatile.Read(ref _jobSeq) == seen)
                {
                    // Announce the sleep, then look once more: a Run that bumped the sequence before seeing the flag
                    // is caught by this second look; one that saw the flag releases the semaphore. (A release that
                    // finds the worker already awake leaves a count behind: one harmless extra turn of the loop.)
                    Interlocked.Exchange(ref _sleeping, 1);
                    if (Volatile.Read(ref _jobSeq) == seen) _wake.Wait();
                    Interlocked.Exchange(ref _sleeping, 0);
                }
                seen = Volatile.Read(ref _jobSeq);
                if (_current is { } job && _id < job.Threads) job.Drain();
            }
        }
    }
}
