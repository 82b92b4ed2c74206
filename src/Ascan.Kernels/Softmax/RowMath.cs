// Row primitives shared by the norm, softmax and attention kernels: max, sum, dot, fused exp-and-sum, scaling.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// Vector512 loops over one contiguous row, generic over float/double. Reductions run in a fixed
/// order (lane-wise accumulators, then lanes, then the scalar tail), so results are deterministic.
/// </summary>
internal static class RowMath
{
    /// <summary>e^v lane-wise (the BCL's vectorised exp for float and double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp<T>(Vector512<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpFloat(v.As<T, float>()).As<float, T>();
        return Vector512.Exp(v.As<T, double>()).As<double, T>();
    }

    /// <summary>
    /// e^x for float lanes, ≈ 2 ulp: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact
    /// product), e^r by its degree-7 Taylor polynomial (truncation &lt; 1e-8 relative), then 2^n built in
    /// the exponent bits. Below −87.3 the result is 0 exactly (so −∞ masks give 0 weights), NaN stays NaN.
    /// Several times faster than the BCL's Vector512.Exp(float), which matters for T² exps in attention.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpFloat(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.3f)), Vector512.Create(88.0f));
        // Round to nearest by adding 1.5·2²³: the integer lands in the low mantissa bits. Vector512.Round and
        // ConvertToInt32 gave wrong results in optimised code on kernel threads (FTZ/DAZ set).
        var t = Vector512.FusedMultiplyAdd(xc, Vector512.Create(1.44269504f), Vector512.Create(12582912f));
        var n = t - Vector512.Create(12582912f);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r);
        var p = Vector512.Create(1.98412698e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.38888889e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.33333333e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.16666667e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.66666667e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = (t.AsInt32() - Vector512.Create(0x4B400000) + Vector512.Create(127) << 23).AsSingle();
        var y = p * scale;
        y = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-87.3f)), Vector512<float>.Zero, y);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }

    /// <summary>a·b + c lane-wise with one rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        return Vector512.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
    }

    /// <summary>max of x; −∞ for an empty row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T Max<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        T m = T.NegativeInfinity;
        if (n >= w)
        {
            var acc = Vector512.LoadUnsafe(ref xr);
            for (i = w; i <= n - w; i += w) acc = Vector512.Max(acc, Vector512.LoadUnsafe(ref xr, (nuint)i));
            for (int l = 0; l < w; l++) m = T.Max(m, acc.GetElement(l));
        }
        for (; i < n; i++) m = T.Max(m, Unsafe.Add(ref xr, i));
        return m;
    }

    /// <summary>Σ x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        var acc = Vector512<T>.Zero;
        for (; i <= n - w; i += w) acc += Vector512.LoadUnsafe(ref xr, (nuint)i);
        T s = Vector512.Sum(acc);
        for (; i < n; i++) s += Unsafe.Add(ref xr, i);
        return s;
    }

    /// <summary>Σ a·b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length, i = 0, w = Vector512<T>.Count;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        var acc = Vector512<T>.Zero;
        for (; i <= n - w; i += w) acc = RowMath.Fma(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref br, (nuint)i), acc);
        T s = Vector512.Sum(acc);
        for (; i < n; i++) s += Unsafe.Add(ref ar, i) * Unsafe.Add(ref br, i);
        return s;
    }

    /// <summary>y = e^(x − shift), returns Σ y. y may alias x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T ExpSub<T>(Span<T> y, ReadOnlySpan<T> x, T shift) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var sv = Vector512.Create(shift);
        var acc = Vector512<T>.Zero;
        for (; i <= n - w; i += w)
        {
            var e = Exp(Vector512.LoadUnsafe(ref xr, (nuint)i) - sv);
            e.StoreUnsafe(ref yr, (nuint)i);
            acc += e;
        }
        T s = Vector512.Sum(acc);
        for (; i < n; i++) { T e = T.Exp(Unsafe.Add(ref xr, i) - shift); Unsafe.Add(ref yr, i) = e; s += e; }
        return s;
    }

    /// <summary>y = x·s + t. y may alias x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleShift<T>(Span<T> y, ReadOnlySpan<T> x, T s, T t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0, w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var sv = Vector512.Create(s); var tv = Vector512.Create(t);
        for (; i <= n - w; i += w) RowMath.Fma(Vector512.LoadUnsafe(ref xr, (nuint)i), sv, tv).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) = Unsafe.Add(ref xr, i) * s + t;
    }

    /// <summary>y += a·s (axpy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled<T>(Span<T> y, ReadOnlySpan<T> a, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, w = Vector512<T>.Count;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var sv = Vector512.Create(s);
        for (; i <= n - w; i += w) RowMath.Fma(Vector512.LoadUnsafe(ref ar, (nuint)i), sv, Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) += Unsafe.Add(ref ar, i) * s;
    }

    /// <summary>y = p∘(y − d): the softmax backward of a row given dP in y and D = Σ p∘dP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulSub<T>(Span<T> y, ReadOnlySpan<T> p, T d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, w = Vector512<T>.Count;
        ref T pr = ref MemoryMarshal.GetReference(p);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var dv = Vector512.Create(d);
        for (; i <= n - w; i += w) (Vector512.LoadUnsafe(ref pr, (nuint)i) * (Vector512.LoadUnsafe(ref yr, (nuint)i) - dv)).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) = Unsafe.Add(ref pr, i) * (Unsafe.Add(ref yr, i) - d);
    }

    /// <summary>y += a.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add<T>(Span<T> y, ReadOnlySpan<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, i = 0, w = Vector512<T>.Count;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - w; i += w) (Vector512.LoadUnsafe(ref ar, (nuint)i) + Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) += Unsafe.Add(ref ar, i);
    }
}

/// <summary>
/// A pointer and length standing in for a span inside a KernelPool body (lambdas cannot capture
/// spans). Only valid while the caller keeps the memory pinned (a <c>fixed</c> block around the Run).
/// </summary>
internal readonly unsafe struct Pinned<T> where T : unmanaged
{
    private readonly T* _p;
    private readonly int _length;
    public Pinned(T* p, int length) { _p = p; _length = length; }
    public bool IsEmpty => _length == 0;
    public Span<T> Span => new(_p, _length);
    public Span<T> Slice(int start, int length) => new(_p + start, length);
}
