// Storage of tensor elements, with a buffer pool and scopes that recycle buffers deterministically.
namespace Ascan.Core;

/// <summary>
/// A flat float[] or double[] owned by one or more tensors (views share it). Storage created while
/// a <see cref="TensorScope"/> is active comes from the <see cref="BufferPool"/> and goes back to
/// it when the scope ends, unless a tensor over it was kept (<see cref="Tensor.Keep"/>).
/// Reading released storage throws, so a stale tensor can never silently see recycled data.
/// </summary>
public sealed class Storage
{
    private Array? _data;
    public DType DType { get; }
    public int Length { get; }
    internal bool Pooled;
    internal bool Kept;
    private long _version;

    /// <summary>
    /// Counts the times the elements were handed out (<see cref="Array{T}"/>, and so every Span of a tensor over
    /// this storage). Nothing can write without one, so a cache derived from the values (folded or pre-packed
    /// inference weights) is still valid while the version it recorded is unchanged.
    /// </summary>
    public long Version => Volatile.Read(ref _version);

    private Storage(Array data, DType dtype, int length, bool pooled)
    {
        _data = data; DType = dtype; Length = length; Pooled = pooled;
    }

    /// <summary>Allocates storage for <paramref name="length"/> elements (pooled inside a scope).</summary>
    public static Storage Allocate(DType dtype, int length, bool zero = true)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        var scope = TensorScope.Current;
        if (scope == null || length < BufferPool.MinPooledLength)
            return new Storage(NewArray(dtype, length), dtype, length, pooled: false);
        var data = BufferPool.Rent(dtype, length, zero);
        var s = new Storage(data, dtype, length, pooled: true);
        scope.Track(s);
        return s;
    }

    /// <summary>Storage that is never returned to the pool (parameters, gradients of leaves, optimizer state).</summary>
    public static Storage AllocatePersistent(DType dtype, int length) =>
        new(NewArray(dtype, length), dtype, length, pooled: false);

    /// <summary>Wraps an existing array (no copy). The caller gives up ownership.</summary>
    public static Storage Wrap(float[] data) => new(data, DType.F32, data.Length, false);
    public static Storage Wrap(double[] data) => new(data, DType.F64, data.Length, false);

    private static Array NewArray(DType dtype, int length) =>
        dtype == DType.F32 ? new float[length] : new double[length];

    public bool IsReleased => _data == null;

    /// <summary>The elements as T[] (T must match the storage's DType).</summary>
    public T[] Array<T>() where T : unmanaged
    {
        Interlocked.Increment(ref _version);
        var d = _data ?? throw new ObjectDisposedException(nameof(Storage),
            "This tensor's storage was returned to the pool when its TensorScope ended; call Keep() on tensors that must outlive the scope.");
        return d as T[] ?? throw new InvalidCastException($"Tensor holds {DType}, accessed as {typeof(T).Name}.");
    }

    /// <summary>The elements without counting an access (<see cref="Version"/> unchanged): callers only read.</summary>
    internal T[] ReadArray<T>() where T : unmanaged
    {
        var d = _data ?? throw new ObjectDisposedException(nameof(Storage),
            "This tensor's storage was returned to the pool when its TensorScope ended; call Keep() on tensors that must outlive the scope.");
        return d as T[] ?? throw new InvalidCastException($"Tensor holds {DType}, accessed as {typeof(T).Name}.");
    }

    internal void Release()
    {
        if (_data == null || Kept || !Pooled) return;
        BufferPool.Return(_data);
        _data = null;
    }
}

/// <summary>Exact-size recycling of large arrays: a steady training loop allocates no new large arrays.</summary>
public static class BufferPool
{
    public const int MinPooledLength = 1024;
    private static readonly Dictionary<(bool, int), Stack<Array>> Free = new();
    private static long _pooledBytes;

    /// <summary>Bytes currently held in the pool, waiting for reuse.</summary>
    public static long PooledBytes { get { lock (Free) return _pooledBytes; } }

    internal static Array Rent(DType dtype, int length, bool zero)
    {
        bool f32 = dtype == DType.F32;
        Array? a = null;
        lock (Free)
        {
            if (Free.TryGetValue((f32, length), out var stack) && stack.Count > 0)
            {
                a = stack.Pop();
                _pooledBytes -= (long)length * dtype.SizeOf();
            }
        }
        a ??= f32 ? GC.AllocateUninitializedArray<float>(length) : GC.AllocateUninitializedArray<double>(length);
        if (zero) System.Array.Clear(a);
        return a;
    }

    internal static void Return(Array a)
    {
        bool f32 = a is float[];
        lock (Free)
        {
            if (!Free.TryGetValue((f32, a.Length), out var stack)) Free[(f32, a.Length)] = stack = new Stack<Array>();
            stack.Push(a);
            _pooledBytes += (long)a.Length * (f32 ? 4 : 8);
        }
    }

    /// <summary>Drops every pooled buffer (for example after changing batch size).</summary>
    public static void Trim() { lock (Free) { Free.Clear(); _pooledBytes = 0; } }
}

/// <summary>
/// Everything allocated on this thread between Begin() and Dispose() is recycled at Dispose,
/// except storage kept with <see cref="Tensor.Keep"/>. Wrap one training or inference step in a scope.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly TensorScope? _parent;
    private readonly List<Storage> _owned = new();
    private bool _disposed;

    private TensorScope(TensorScope? parent) { _parent = parent; }

    internal static TensorScope? Current => _current;

    /// <summary>
    /// Returns <paramref name="t"/>'s pooled buffer now instead of at the end of its scope, when the caller knows
    /// nothing reads it any more (an inference forward freeing each activation after its last use keeps the peak
    /// memory at a few layers' worth). Reading t or any view of it afterwards throws. Storage that is not pooled
    /// (created outside a scope) or was kept is left to the garbage collector.
    /// </summary>
    public static void Release(Tensor t) => t.Storage.Release();

    public static TensorScope Begin() => _current = new TensorScope(_current);

    internal void Track(Storage s) => _owned.Add(s);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this) throw new InvalidOperationException("TensorScopes must be disposed in reverse order of creation.");
        _current = _parent;
        foreach (var s in _owned) s.Release();
        _owned.Clear();
    }
}
