// Per-thread scratch memory for kernels: 64-byte aligned native floats that only grow.
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>
/// A 64-byte aligned native float buffer held in a [ThreadStatic] slot and reused by every call on that thread (fresh
/// large buffers page-fault, and malloc/free of tens of MB per call let glibc keep the freed blocks). A request that
/// does not fit puts a larger buffer in the slot; the old one is freed by its finalizer once nobody holds it — a caller
/// keeps the buffer alive with <see cref="GC.KeepAlive"/> while it uses <see cref="Data"/>, so a nested kernel on the
/// same thread that grows the slot never frees memory its caller still reads.
/// </summary>
internal sealed unsafe class NativeScratch
{
    public readonly float* Data;
    public readonly long Floats;

    private NativeScratch(long floats)
    {
        Floats = floats;
        Data = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(floats, 1) * sizeof(float)), 64);
    }

    /// <summary>The buffer in <paramref name="slot"/>, replaced by one of at least <paramref name="floats"/> values when shorter.</summary>
    public static NativeScratch Get(ref NativeScratch? slot, long floats)
    {
        var b = slot;
        if (b != null && b.Floats >= floats) return b;
        return slot = new NativeScratch(Math.Max(floats, b?.Floats ?? 0));
    }

    ~NativeScratch() => NativeMemory.AlignedFree(Data);
}
