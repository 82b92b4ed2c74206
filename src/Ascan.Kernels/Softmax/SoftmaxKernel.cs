// Softmax and log-softmax over the last axis: fused, max-subtracted row kernels, forward and backward.
// Shapes: x, y, dy, dx (rows, n).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

public static class SoftmaxKernel
{
    /// <summary>Rows are split into parts above this many elements (rows are independent, so any split is exact).</summary>
    private const int ParallelThreshold = 1 << 15;

    /// <summary>y = softmax(x) per row: e^(x − max) / Σ e^(x − max).</summary>
    public static unsafe void Forward<T>(Span<T> y, ReadOnlySpan<T> x, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* py = y) fixed (T* px = x)
        {
            var yp = new Pinned<T>(py, rows * n); var xp = new Pinned<T>((T*)px, rows * n);
            RunRows(rows, n, (r0, r1) => { for (int r = r0; r < r1; r++) ForwardRow(yp.Slice(r * n, n), xp.Slice(r * n, n)); });
        }
    }

    /// <summary>y = log_softmax(x) per row: x − max − log Σ e^(x − max).</summary>
    public static unsafe void LogForward<T>(Span<T> y, ReadOnlySpan<T> x, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* py = y) fixed (T* px = x)
        {
            var yp = new Pinned<T>(py, rows * n); var xp = new Pinned<T>((T*)px, rows * n);
            RunRows(rows, n, (r0, r1) => { for (int r = r0; r < r1; r++) LogForwardRow(yp.Slice(r * n, n), xp.Slice(r * n, n)); });
        }
    }

    /// <summary>dx += y ∘ (dy − Σ dy∘y) per row, with y the softmax output.</summary>
    public static unsafe void Backward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* py = y)
        {
            var dxp = new Pinned<T>(pdx, rows * n); var dyp = new Pinned<T>((T*)pdy, rows * n); var yp = new Pinned<T>((T*)py, rows * n);
            RunRows(rows, n, (r0, r1) => { for (int r = r0; r < r1; r++) BackwardRow(dxp.Slice(r * n, n), dyp.Slice(r * n, n), yp.Slice(r * n, n)); });
        }
    }

    /// <summary>dx += dy − e^y · Σ dy per row, with y the log-softmax output.</summary>
    public static unsafe void LogBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y, int rows, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* py = y)
        {
            var dxp = new Pinned<T>(pdx, rows * n); var dyp = new Pinned<T>((T*)pdy, rows * n); var yp = new Pinned<T>((T*)py, rows * n);
            RunRows(rows, n, (r0, r1) => { for (int r = r0; r < r1; r++) LogBackwardRow(dxp.Slice(r * n, n), dyp.Slice(r * n, n), yp.Slice(r * n, n)); });
        }
    }

    /// <summary>y = e^x element-wise with the same vector exp the softmax rows use; returns Σ y. Shapes: y, x (n).</summary>
    public static T Exp<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => RowMath.ExpSub(y, x, T.Zero);

    /// <summary>Calls body(r0, r1) over row ranges: one range below the threshold, else a fixed split by size.</summary>
    internal static void RunRows(int rows, int n, Action<int, int> body)
    {
        long work = (long)rows * Math.Max(n, 1);
        int parts = work < ParallelThreshold ? 1 : (int)Math.Min(rows, Math.Min(64, work / ParallelThreshold));
        if (parts <= 1) { body(0, rows); return; }
        KernelPool.Run(parts, p => body((int)((long)rows * p / parts), (int)((long)rows * (p + 1) / parts)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardRow<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length == 0) return;
        T m = RowMath.Max(x);
        // A row of −∞ has no finite maximum: shift by 0 so the result is 0/0 = NaN, as PyTorch gives.
        if (T.IsNegativeInfinity(m)) m = T.Zero;
        T s = RowMath.ExpSub(y, x, m);
        RowMath.ScaleShift(y, y, T.One / s, T.Zero);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LogForwardRow<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length == 0) return;
        T m = RowMath.Max(x);
        if (T.IsNegativeInfinity(m)) m = T.Zero;
        // y is scratch for e^(x − m) first; only the sum is kept.
        T s = RowMath.ExpSub(y, x, m);
        RowMath.ScaleShift(y, x, T.One, -(m + T.Log(s)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardRow<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // ∂L/∂x_i = Σ_j dy_j · y_j (δ_ij − y_i) = y_i (dy_i − Σ_j dy_j y_j)
        T d = RowMath.Dot(dy, y);
        int n = dx.Length, i = 0, w = Vector512<T>.Count;
        ref T dxr = ref MemoryMarshal.GetReference(dx);
        ref T dyr = ref MemoryMarshal.GetReference(dy);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var dv = Vector512.Create(d);
        for (; i <= n - w; i += w)
            RowMath.Fma(Vector512.LoadUnsafe(ref yr, (nuint)i), Vector512.LoadUnsafe(ref dyr, (nuint)i) - dv, Vector512.LoadUnsafe(ref dxr, (nuint)i))
                .StoreUnsafe(ref dxr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref dxr, i) += Unsafe.Add(ref yr, i) * (Unsafe.Add(ref dyr, i) - d);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LogBackwardRow<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // y_j = x_j − lse(x): ∂L/∂x_i = dy_i − softmax_i · Σ_j dy_j, and softmax = e^y.
        T s = RowMath.Sum(dy);
        int n = dx.Length, i = 0, w = Vector512<T>.Count;
        ref T dxr = ref MemoryMarshal.GetReference(dx);
        ref T dyr = ref MemoryMarshal.GetReference(dy);
        ref T yr = ref MemoryMarshal.GetReference(y);
        var sv = Vector512.Create(s);
        for (; i <= n - w; i += w)
            (Vector512.LoadUnsafe(ref dxr, (nuint)i) + Vector512.LoadUnsafe(ref dyr, (nuint)i) - RowMath.Exp(Vector512.LoadUnsafe(ref yr, (nuint)i)) * sv)
                .StoreUnsafe(ref dxr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref dxr, i) += Unsafe.Add(ref dyr, i) - T.Exp(Unsafe.Add(ref yr, i)) * s;
    }
}
