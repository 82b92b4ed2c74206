// Binary element-wise kernels: operator structs run by one generic SIMD driver.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>A binary operator in scalar and 512-bit vector form.</summary>
public interface IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract T Apply(T a, T b);
    static abstract Vector512<T> Apply(Vector512<T> a, Vector512<T> b);
}

public readonly struct AddOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Apply(T a, T b) => a + b;
    public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b) => a + b;
}

public readonly struct SubOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Apply(T a, T b) => a - b;
    public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b) => a - b;
}

public readonly struct MulOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Apply(T a, T b) => a * b;
    public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b) => a * b;
}

public readonly struct DivOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Apply(T a, T b) => a / b;
    public static Vector512<T> Apply(Vector512<T> a, Vector512<T> b) => a / b;
}

public static class BinaryKernel
{
    /// <summary>
    /// Shapes: y (n), a (n) when aStride = 1 or (1) when aStride = 0, likewise b.
    /// y[i] = Op(a[i·aStride], b[i·bStride]). y may alias a or b (same stride 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TOp, T>(Span<T> y, ReadOnlySpan<T> a, int aStride, ReadOnlySpan<T> b, int bStride)
        where TOp : struct, IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, w = Vector512<T>.Count;
        ref T yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        ref T ar = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        ref T br = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b);
        if (aStride == 1 && bStride == 1)
        {
            for (; i <= n - w; i += w)
                TOp.Apply(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            for (; i < n; i++) Unsafe.Add(ref yr, i) = TOp.Apply(Unsafe.Add(ref ar, i), Unsafe.Add(ref br, i));
        }
        else if (aStride == 1)
        {
            var bv = Vector512.Create(br);
            for (; i <= n - w; i += w) TOp.Apply(Vector512.LoadUnsafe(ref ar, (nuint)i), bv).StoreUnsafe(ref yr, (nuint)i);
            for (; i < n; i++) Unsafe.Add(ref yr, i) = TOp.Apply(Unsafe.Add(ref ar, i), br);
        }
        else if (bStride == 1)
        {
            var av = Vector512.Create(ar);
            for (; i <= n - w; i += w) TOp.Apply(av, Vector512.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            for (; i < n; i++) Unsafe.Add(ref yr, i) = TOp.Apply(ar, Unsafe.Add(ref br, i));
        }
        else
        {
            y.Fill(TOp.Apply(ar, br));
        }
    }

    /// <summary>Reference twin: the plain loop.</summary>
    public static void Reference<TOp, T>(Span<T> y, ReadOnlySpan<T> a, int aStride, ReadOnlySpan<T> b, int bStride)
        where TOp : struct, IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = TOp.Apply(a[i * aStride], b[i * bStride]);
    }

    /// <summary>Sum of x (n) in a fixed order (pairwise over vector lanes), deterministic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        ref T xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        var acc0 = Vector512<T>.Zero; var acc1 = Vector512<T>.Zero;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            acc0 += Vector512.LoadUnsafe(ref xr, (nuint)i);
            acc1 += Vector512.LoadUnsafe(ref xr, (nuint)(i + w));
        }
        for (; i <= n - w; i += w) acc0 += Vector512.LoadUnsafe(ref xr, (nuint)i);
        T s = Vector512.Sum(acc0 + acc1);
        for (; i < n; i++) s += Unsafe.Add(ref xr, i);
        return s;
    }
}
