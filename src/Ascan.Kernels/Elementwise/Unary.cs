// Unary element-wise kernels: the operator interfaces and the one generic driver (Vector512 → Vector256 → scalar, chunked over KernelPool).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>y = f(x) in scalar and vector forms. Instance methods so an op can carry parameters (pow's exponent, clamp's bounds).</summary>
public interface IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    T Apply(T x);
    Vector512<T> Apply(Vector512<T> x);
    Vector256<T> Apply(Vector256<T> x);
}

/// <summary>The backward of a unary op: the contribution dy·f'(x) to dx, given x and y = f(x) (each op uses what it needs).</summary>
public interface IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    T Grad(T dy, T x, T y);
    Vector512<T> Grad(Vector512<T> dy, Vector512<T> x, Vector512<T> y);
    Vector256<T> Grad(Vector256<T> dy, Vector256<T> x, Vector256<T> y);
}

public static class UnaryKernel
{
    /// <summary>Below this many elements everything runs on the calling thread.</summary>
    public const int ParallelThreshold = 1 << 18;

    /// <summary>Fixed chunk (elements) handed to one KernelPool part.</summary>
    public const int Chunk = 1 << 16;

    /// <summary>
    /// Shapes: y (n), x (n). y[i] = op(x[i]); y may alias x exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Apply<TOp, T>(Span<T> y, ReadOnlySpan<T> x, TOp op = default)
        where TOp : struct, IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length) throw new ArgumentException($"Unary kernel: x has {x.Length} elements, y {y.Length}.");
        int n = y.Length;
        if (n < ParallelThreshold || KernelPool.Threads == 1) { ApplyRange(y, x, op); return; }
        fixed (T* py = y) fixed (T* px = x)
        {
            nint ay = (nint)py, ax = (nint)px;
            KernelPool.Run((n + Chunk - 1) / Chunk, p =>
            {
                int s = p * Chunk, len = Math.Min(Chunk, n - s);
                ApplyRange(new Span<T>((T*)ay + s, len), new ReadOnlySpan<T>((T*)ax + s, len), op);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyRange<TOp, T>(Span<T> y, ReadOnlySpan<T> x, TOp op)
        where TOp : struct, IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0;
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T xr = ref MemoryMarshal.GetReference(x);
        if (Vector512.IsHardwareAccelerated)
        {
            int w = Vector512<T>.Count;
            for (; i <= n - w; i += w) op.Apply(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            int w = Vector256<T>.Count;
            for (; i <= n - w; i += w) op.Apply(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) = op.Apply(Unsafe.Add(ref xr, i));
    }

    /// <summary>
    /// Shapes: dx (n), dy (n), x (n), y (n). dx[i] += op.Grad(dy[i], x[i], y[i]) — accumulates.
    /// Ops that need only x may be given x as y (and vice versa); the unused loads are cheap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Backward<TOp, T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> y, TOp op = default)
        where TOp : struct, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dx.Length;
        if (dy.Length != n || x.Length != n || y.Length != n)
            throw new ArgumentException($"Unary backward: dx {n}, dy {dy.Length}, x {x.Length}, y {y.Length} elements.");
        if (n < ParallelThreshold || KernelPool.Threads == 1) { BackwardRange(dx, dy, x, y, op); return; }
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* px = x) fixed (T* py = y)
        {
            nint adx = (nint)pdx, ady = (nint)pdy, ax = (nint)px, ay = (nint)py;
            KernelPool.Run((n + Chunk - 1) / Chunk, p =>
            {
                int s = p * Chunk, len = Math.Min(Chunk, n - s);
                BackwardRange(new Span<T>((T*)adx + s, len), new ReadOnlySpan<T>((T*)ady + s, len),
                    new ReadOnlySpan<T>((T*)ax + s, len), new ReadOnlySpan<T>((T*)ay + s, len), op);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRange<TOp, T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> y, TOp op)
        where TOp : struct, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dx.Length, i = 0;
        ref T dxr = ref MemoryMarshal.GetReference(dx);
        ref T dyr = ref MemoryMarshal.GetReference(dy);
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            int w = Vector512<T>.Count;
            for (; i <= n - w; i += w)
            {
                var g = op.Grad(Vector512.LoadUnsafe(ref dyr, (nuint)i), Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i));
                (Vector512.LoadUnsafe(ref dxr, (nuint)i) + g).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            int w = Vector256<T>.Count;
            for (; i <= n - w; i += w)
            {
                var g = op.Grad(Vector256.LoadUnsafe(ref dyr, (nuint)i), Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i));
                (Vector256.LoadUnsafe(ref dxr, (nuint)i) + g).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dxr, i) += op.Grad(Unsafe.Add(ref dyr, i), Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }
}

/// <summary>Helpers for ops whose float64 (or rare-parameter) vector form is computed lane by lane with the scalar form.</summary>
internal static class Lanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Map<TOp, T>(Vector512<T> v, TOp op) where TOp : struct, IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> b = stackalloc T[Vector512<T>.Count];
        v.CopyTo(b);
        for (int i = 0; i < b.Length; i++) b[i] = op.Apply(b[i]);
        return Vector512.Create<T>(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Map<TOp, T>(Vector256<T> v, TOp op) where TOp : struct, IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> b = stackalloc T[Vector256<T>.Count];
        v.CopyTo(b);
        for (int i = 0; i < b.Length; i++) b[i] = op.Apply(b[i]);
        return Vector256.Create<T>(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Grad<TOp, T>(Vector512<T> dy, Vector512<T> x, Vector512<T> y, TOp op) where TOp : struct, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> b = stackalloc T[Vector512<T>.Count];
        for (int i = 0; i < b.Length; i++) b[i] = op.Grad(dy[i], x[i], y[i]);
        return Vector512.Create<T>(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Grad<TOp, T>(Vector256<T> dy, Vector256<T> x, Vector256<T> y, TOp op) where TOp : struct, IUnaryGradOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> b = stackalloc T[Vector256<T>.Count];
        for (int i = 0; i < b.Length; i++) b[i] = op.Grad(dy[i], x[i], y[i]);
        return Vector256.Create<T>(b);
    }
}
