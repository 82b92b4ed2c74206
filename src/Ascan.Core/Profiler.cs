// Per-op wall-clock profiler: named scopes at op entry points and in backward nodes, self and inclusive time per name.
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Ascan.Core;

/// <summary>One row of a profile: a scope name and its accumulated times.</summary>
/// <param name="Name">The op ("Conv2d"), its backward ("Conv2d.backward") or a phase a caller marked ("AdamW.step").</param>
/// <param name="Count">Number of times the scope was entered.</param>
/// <param name="SelfSeconds">Time inside the scope minus time inside scopes nested in it: the rows' self times add up
/// to the time spent inside any scope, each moment counted once.</param>
/// <param name="TotalSeconds">Inclusive time (nested scopes included). A name nested in itself (Reshape inside
/// Reshape) is counted once, at its outermost entry.</param>
public sealed record ProfileEntry(string Name, long Count, double SelfSeconds, double TotalSeconds);

/// <summary>
/// Where the time of a step goes, per op type. Ops open a scope on entry
/// (<c>using var _ = Profiler.Scope("Conv2d");</c>) and backward nodes in their Backward
/// (<c>using var _ = Profiler.Backward(this);</c>, reported as "&lt;node name&gt;.backward"); callers may mark
/// their own phases the same way. Nesting is tracked per thread: an op called inside another op (Reshape inside
/// Matmul, Mul inside Dropout) is charged to itself, and only the rest is charged to the caller —
/// <see cref="ProfileEntry.SelfSeconds"/>. Ops that a backward node calls are named with
/// <see cref="InsideBackwardSuffix"/> ("Mul (in backward)"), so forward and backward rows stay apart. Thin
/// forwarders (Transpose → Permute, Squeeze → Reshape, the int overloads of Conv2d and the pools) have no scope of
/// their own and show up as the op they call; Contiguous is only recorded when it copies.
/// </summary>
/// <remarks>
/// Disabled (the default) a scope costs one static bool test and an empty struct: no clock read, no allocation.
/// Enabled, two <see cref="Stopwatch.GetTimestamp"/> reads per scope (tens of nanoseconds); time in kernel worker
/// threads is covered by the scope of the op that started them. <see cref="Start"/>, <see cref="Reset"/> and
/// <see cref="Snapshot"/> are meant to be called between steps, when no op is running on another thread.
/// </remarks>
public static class Profiler
{
    // A plain static field, not volatile: one load and a predictable branch per op when profiling is off.
    private static bool _enabled;
    private static int _generation;
    private static readonly List<ThreadState> _threads = new();

    [ThreadStatic] private static ThreadState? _state;

    /// <summary>Appended to the name of an op that runs inside a backward node ("AddInPlace (in backward)"), so the
    /// backward pass's share is complete and the op's forward row stays forward-only.</summary>
    public const string InsideBackwardSuffix = " (in backward)";

    /// <summary>Whether scopes are being recorded.</summary>
    public static bool IsEnabled => _enabled;

    /// <summary>Clears what was recorded and starts recording.</summary>
    public static void Start()
    {
        Reset();
        _enabled = true;
    }

    /// <summary>Stops recording; what was recorded stays available to <see cref="Snapshot"/>. Open scopes still close normally.</summary>
    public static void Stop() => _enabled = false;

    /// <summary>Forgets everything recorded so far (each thread drops its table at its next scope or snapshot).</summary>
    public static void Reset() => Interlocked.Increment(ref _generation);

    /// <summary>Opens a scope named <paramref name="name"/> (pass a constant string: it is the table key); close it with Dispose.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ProfileScope Scope(string name) => _enabled ? Enter(name, backward: false) : default;

    /// <summary>Opens the scope "&lt;node.Name&gt;.backward" for a backward node.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ProfileScope Backward(Node node) => _enabled ? Enter(BackwardName(node.Name), backward: true) : default;

    /// <summary>
    /// Everything recorded since the last <see cref="Start"/>/<see cref="Reset"/>, by self time (largest first):
    /// all threads merged, or only the calling thread's scopes with <paramref name="currentThreadOnly"/>.
    /// </summary>
    public static IReadOnlyList<ProfileEntry> Snapshot(bool currentThreadOnly = false)
    {
        var merged = new Dictionary<string, (long Count, long Self, long Total)>(StringComparer.Ordinal);
        int generation = Volatile.Read(ref _generation);
        var current = _state;
        lock (_threads)
        {
            foreach (var t in _threads)
            {
                if (t.Generation != generation) continue; // recorded before the last reset
                if (currentThreadOnly && t != current) continue;
                foreach (var (name, s) in t.Stats)
                {
                    merged.TryGetValue(name, out var m);
                    merged[name] = (m.Count + s.Count, m.Self + s.Self, m.Total + s.Total);
                }
            }
        }
        double tick = 1.0 / Stopwatch.Frequency;
        return merged
            .Select(kv => new ProfileEntry(kv.Key, kv.Value.Count, kv.Value.Self * tick, kv.Value.Total * tick))
            .OrderByDescending(e => e.SelfSeconds).ThenBy(e => e.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static readonly Dictionary<string, string> _backwardNames = new(StringComparer.Ordinal);

    private static string BackwardName(string node)
    {
        lock (_backwardNames)
        {
            if (!_backwardNames.TryGetValue(node, out var name)) _backwardNames[node] = name = node + ".backward";
            return name;
        }
    }

    private static ProfileScope Enter(string name, bool backward)
    {
        var state = _state;
        if (state == null)
        {
            _state = state = new ThreadState();
            lock (_threads) _threads.Add(state);
        }
        int generation = Volatile.Read(ref _generation);
        if (state.Generation != generation)
        {
            lock (_threads) state.Stats.Clear(); // Snapshot may be reading it
            state.Generation = generation;
        }
        state.Push(name, backward);
        return new ProfileScope(state);
    }

    /// <summary>Accumulated ticks of one name on one thread; Active counts open scopes of that name (for recursion).</summary>
    internal sealed class Stat
    {
        public long Count, Self, Total;
        public int Active;
    }

    private struct Frame
    {
        public Stat Stat;
        public long Start, Children;
        public bool Backward;
    }

    internal sealed class ThreadState
    {
        public readonly Dictionary<string, Stat> Stats = new(StringComparer.Ordinal);
        public int Generation = -1;
        private readonly Dictionary<string, string> _insideBackward = new(StringComparer.Ordinal);
        private Frame[] _stack = new Frame[32];
        private int _depth, _backwardDepth;

        public void Push(string name, bool backward)
        {
            if (backward) _backwardDepth++;
            else if (_backwardDepth > 0)
            {
                if (!_insideBackward.TryGetValue(name, out var inside)) _insideBackward[name] = inside = name + InsideBackwardSuffix;
                name = inside;
            }
            if (!Stats.TryGetValue(name, out var stat))
                lock (_threads) Stats[name] = stat = new Stat();
            if (_depth == _stack.Length) Array.Resize(ref _stack, _depth * 2);
            stat.Active++;
            // The clock is read last, so the bookkeeping above is charged to the caller rather than to the op.
            _stack[_depth++] = new Frame { Stat = stat, Backward = backward, Start = Stopwatch.GetTimestamp() };
        }

        public void Pop()
        {
            long now = Stopwatch.GetTimestamp();
            ref var f = ref _stack[--_depth];
            long elapsed = now - f.Start;
            var s = f.Stat;
            s.Count++;
            s.Self += elapsed - f.Children;
            if (--s.Active == 0) s.Total += elapsed;
            if (_depth > 0) _stack[_depth - 1].Children += elapsed;
            if (f.Backward) _backwardDepth--;
            f.Stat = null!;
        }
    }
}

/// <summary>An open profiler scope; <c>default</c> (profiling off) does nothing on Dispose.</summary>
public readonly struct ProfileScope : IDisposable
{
    private readonly Profiler.ThreadState? _state;

    internal ProfileScope(Profiler.ThreadState state) { _state = state; }

    public void Dispose() => _state?.Pop();
}
