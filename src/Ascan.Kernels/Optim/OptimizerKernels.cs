// Optimizer update kernels: AdamW and SGD as one fused SIMD pass per parameter, plus gradient-norm helpers.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>Scalars of one AdamW step (bias corrections already folded in by the caller).</summary>
public readonly record struct AdamWStep(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, long Step)
{
    public double BiasCorrection1 => 1 - Math.Pow(Beta1, Step);
    public double BiasCorrection2 => 1 - Math.Pow(Beta2, Step);
}

/// <summary>Scalars of one SGD step. FirstStep: the momentum buffer is initialised to the gradient (as torch).</summary>
public readonly record struct SgdStep(double Lr, double Momentum, double Dampening, double WeightDecay, bool Nesterov, bool FirstStep);

public static class OptimizerKernels
{
    /// <summary>
    /// Shapes: p, m, v, g (n); vMax (n) when amsgrad, else empty. torch.optim.AdamW's rule:
    ///   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  (amsgrad: vMax ← max(vMax, v), use vMax)
    ///   p ← p − (lr / bc1) · m / (√v / √bc2 + eps)
    /// Large tensors are cut into fixed, vector-aligned ranges run on the kernel threads (element-wise: the result does
    /// not depend on the split).
    /// </summary>
    public static unsafe void AdamW<T>(Span<T> p, Span<T> m, Span<T> v, Span<T> vMax, ReadOnlySpan<T> g, AdamWStep s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length;
        if (m.Length != n || v.Length != n || g.Length != n || (!vMax.IsEmpty && vMax.Length != n))
            throw new ArgumentException("AdamW: parameter, moments and gradient must have the same length.");
        if (n < ParallelMin) { AdamWRange(p, m, v, vMax, g, s); return; }
        int chunk = (n / ParallelParts + 63) / 64 * 64, parts = (n + chunk - 1) / chunk;
        bool ams = !vMax.IsEmpty;
        fixed (T* pp = p) fixed (T* pm = m) fixed (T* pv = v) fixed (T* px = vMax) fixed (T* pg = g)
        {
            var P = new Pinned<T>(pp, n); var M = new Pinned<T>(pm, n); var V = new Pinned<T>(pv, n);
            var X = new Pinned<T>(px, ams ? n : 0); var G = new Pinned<T>(pg, n);
            KernelPool.Run(parts, i =>
            {
                int start = i * chunk, len = Math.Min(chunk, n - start);
                AdamWRange(P.Slice(start, len), M.Slice(start, len), V.Slice(start, len), ams ? X.Slice(start, len) : default, G.Slice(start, len), s);
            });
        }
    }

    // Tensors of at least this many values are updated in ParallelParts ranges.
    private const int ParallelMin = 1 << 16, ParallelParts = 4;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdamWRange<T>(Span<T> p, Span<T> m, Span<T> v, Span<T> vMax, ReadOnlySpan<T> g, AdamWStep s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length;
        bool ams = !vMax.IsEmpty;
        T decay = T.CreateTruncating(1 - s.Lr * s.WeightDecay);
        T b1 = T.CreateTruncating(s.Beta1), ob1 = T.CreateTruncating(1 - s.Beta1);
        T b2 = T.CreateTruncating(s.Beta2), ob2 = T.CreateTruncating(1 - s.Beta2);
        T stepSize = T.CreateTruncating(s.Lr / s.BiasCorrection1);
        T bc2Sqrt = T.CreateTruncating(Math.Sqrt(s.BiasCorrection2));
        T eps = T.CreateTruncating(s.Eps);
        ref T pr = ref MemoryMarshal.GetReference(p); ref T mr = ref MemoryMarshal.GetReference(m);
        ref T vr = ref MemoryMarshal.GetReference(v); ref T gr = ref MemoryMarshal.GetReference(g);
        ref T xr = ref MemoryMarshal.GetReference(vMax);
        int i = 0, w = Vector512<T>.Count;
        var vDecay = Vector512.Create(decay); var vB1 = Vector512.Create(b1); var vOb1 = Vector512.Create(ob1);
        var vB2 = Vector512.Create(b2); var vOb2 = Vector512.Create(ob2); var vStep = Vector512.Create(stepSize);
        var vBc2 = Vector512.Create(bc2Sqrt); var vEps = Vector512.Create(eps);
        for (; i <= n - w; i += w)
        {
            var gi = Vector512.LoadUnsafe(ref gr, (nuint)i);
            var pi = Vector512.LoadUnsafe(ref pr, (nuint)i) * vDecay;
            var mi = Vector512.LoadUnsafe(ref mr, (nuint)i) * vB1 + gi * vOb1;
            var vi = Vector512.LoadUnsafe(ref vr, (nuint)i) * vB2 + gi * gi * vOb2;
            mi.StoreUnsafe(ref mr, (nuint)i); vi.StoreUnsafe(ref vr, (nuint)i);
            if (ams) { vi = Vector512.Max(Vector512.LoadUnsafe(ref xr, (nuint)i), vi); vi.StoreUnsafe(ref xr, (nuint)i); }
            var denom = Vector512.Sqrt(vi) / vBc2 + vEps;
            (pi - vStep * (mi / denom)).StoreUnsafe(ref pr, (nuint)i);
        }
        for (; i < n; i++)
        {
            T gi = Unsafe.Add(ref gr, i);
            T pi = Unsafe.Add(ref pr, i) * decay;
            T mi = Unsafe.Add(ref mr, i) * b1 + gi * ob1;
            T vi = Unsafe.Add(ref vr, i) * b2 + gi * gi * ob2;
            Unsafe.Add(ref mr, i) = mi; Unsafe.Add(ref vr, i) = vi;
            if (ams) { vi = T.Max(Unsafe.Add(ref xr, i), vi); Unsafe.Add(ref xr, i) = vi; }
            T denom = T.Sqrt(vi) / bc2Sqrt + eps;
            Unsafe.Add(ref pr, i) = pi - stepSize * (mi / denom);
        }
    }

    /// <summary>
    /// Shapes: p, g (n); buf (n) when momentum ≠ 0, else empty. torch.optim.SGD's rule:
    ///   d ← g + wd·p;  buf ← d (first step) or μ·buf + (1−τ)·d;  d ← d + μ·buf (Nesterov) or buf;  p ← p − lr·d
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sgd<T>(Span<T> p, Span<T> buf, ReadOnlySpan<T> g, SgdStep s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length;
        bool mom = s.Momentum != 0;
        if (g.Length != n || (mom && buf.Length != n))
            throw new ArgumentException("SGD: parameter, gradient and momentum buffer must have the same length.");
        T wd = T.CreateTruncating(s.WeightDecay), mu = T.CreateTruncating(s.Momentum), oneMinusDamp = T.CreateTruncating(1 - s.Dampening);
        T lr = T.CreateTruncating(s.Lr);
        bool first = s.FirstStep, nesterov = s.Nesterov;
        ref T pr = ref MemoryMarshal.GetReference(p); ref T br = ref MemoryMarshal.GetReference(buf); ref T gr = ref MemoryMarshal.GetReference(g);
        int i = 0, w = Vector512<T>.Count;
        var vWd = Vector512.Create(wd); var vMu = Vector512.Create(mu); var vDamp = Vector512.Create(oneMinusDamp); var vLr = Vector512.Create(lr);
        for (; i <= n - w; i += w)
        {
            var pi = Vector512.LoadUnsafe(ref pr, (nuint)i);
            var d = Vector512.LoadUnsafe(ref gr, (nuint)i) + vWd * pi;
            if (mom)
            {
                var b = first ? d : Vector512.LoadUnsafe(ref br, (nuint)i) * vMu + vDamp * d;
                b.StoreUnsafe(ref br, (nuint)i);
                d = nesterov ? d + vMu * b : b;
            }
            (pi - vLr * d).StoreUnsafe(ref pr, (nuint)i);
        }
        for (; i < n; i++)
        {
            T pi = Unsafe.Add(ref pr, i);
            T d = Unsafe.Add(ref gr, i) + wd * pi;
            if (mom)
            {
                T b = first ? d : Unsafe.Add(ref br, i) * mu + oneMinusDamp * d;
                Unsafe.Add(ref br, i) = b;
                d = nesterov ? d + mu * b : b;
            }
            Unsafe.Add(ref pr, i) = pi - lr * d;
        }
    }

    /// <summary>Σ x² accumulated in double, in a fixed order (deterministic).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double SumSquares<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        if (typeof(T) == typeof(float))
        {
            var xf = MemoryMarshal.Cast<T, float>(x);
            int i = 0, w = Vector512<double>.Count;
            var acc = Vector512<double>.Zero;
            for (; i <= xf.Length - w; i += w)
            {
                var d = Vector512.WidenLower(Vector512.Create(Vector256.Create(xf.Slice(i, w)), Vector256<float>.Zero));
                acc += d * d;
            }
            s = Vector512.Sum(acc);
            for (; i < xf.Length; i++) s += (double)xf[i] * xf[i];
            return s;
        }
        for (int i = 0; i < x.Length; i++) { double d = double.CreateTruncating(x[i]); s += d * d; }
        return s;
    }

    /// <summary>x ← x · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale<T>(Span<T> x, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, w = Vector512<T>.Count;
        ref T xr = ref MemoryMarshal.GetReference(x);
        var sv = Vector512.Create(scale);
        for (; i <= x.Length - w; i += w) (Vector512.LoadUnsafe(ref xr, (nuint)i) * sv).StoreUnsafe(ref xr, (nuint)i);
        for (; i < x.Length; i++) Unsafe.Add(ref xr, i) *= scale;
    }
}
