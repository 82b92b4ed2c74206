// Losses: cross-entropy (hard and soft targets, fused log-softmax + NLL), MSE and L1, with their backward.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

/// <summary>How a per-element loss is reduced (as torch's reduction=).</summary>
public enum Reduction { Mean, Sum, None }

public static partial class Ops
{
    /// <summary>
    /// Cross-entropy with integer class targets, as torch.nn.functional.cross_entropy.
    /// Shapes: logits (…, C) with classes on the LAST axis (NHWC engine: a segmentation map is
    /// (B, H, W, C), not torch's (B, C, H, W)); targets (N) with N = numel / C, in row-major order of …;
    /// weight (C) or null. Result: scalar for Mean/Sum, (…) for None.
    /// Per row: loss_i = (1−ε)·w[t]·(−log p_t) + (ε/C)·Σ_c w_c·(−log p_c); rows whose target is
    /// <paramref name="ignoreIndex"/> contribute 0. Mean divides by Σ w[t_i] over non-ignored rows
    /// (the count when unweighted) — torch 1.13 uses that denominator for both terms.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, Tensor? weight = null, int ignoreIndex = -100,
        double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        using var _ = Profiler.Scope("CrossEntropy");
        if (logits.Rank == 0) throw new ArgumentException("CrossEntropy: logits must have a class axis (the last).");
        int c = logits.Dim(-1), n = c == 0 ? 0 : logits.Numel / c;
        if (targets.Length != n)
            throw new ArgumentException($"CrossEntropy: {targets.Length} targets for logits {ShapeUtil.Format(logits.Shape)} ({n} rows of {c} classes, classes on the last axis).");
        if (weight != null)
        {
            CheckSameDType(logits, weight, "CrossEntropy");
            if (weight.Rank != 1 || weight.Dim(0) != c) throw new ArgumentException($"CrossEntropy: weight shape {ShapeUtil.Format(weight.Shape)}, expected [{c}].");
        }
        if (labelSmoothing < 0 || labelSmoothing > 1) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), "Label smoothing must be in [0, 1].");
        if (weight != null && Autograd.NeedsGraph(weight)) throw new NotSupportedException("CrossEntropy: class weights are constants; detach them.");
        var xc = logits.Contiguous(); var wc = weight?.Contiguous();
        var outShape = reduction == Reduction.None ? logits.Shape[..^1].ToArray() : Array.Empty<int>();
        var y = Tensor.Empty(outShape, logits.DType, zero: false);
        var lse = Tensor.Empty([n], logits.DType, zero: false);
        double denom = logits.DType == DType.F32
            ? CrossEntropyForward<float>(y, lse, xc, targets, wc, ignoreIndex, labelSmoothing, reduction, n, c)
            : CrossEntropyForward<double>(y, lse, xc, targets, wc, ignoreIndex, labelSmoothing, reduction, n, c);
        if (Autograd.NeedsGraph(logits))
            Autograd.Record(y, new CrossEntropyNode(logits, xc, lse, targets, wc, ignoreIndex, labelSmoothing, reduction, denom, n, c));
        return y;
    }

    /// <returns>The Mean denominator (Σ of target weights over non-ignored rows), else 1.</returns>
    private static double CrossEntropyForward<T>(Tensor y, Tensor lse, Tensor x, int[] targets, Tensor? w, int ignoreIndex,
        double eps, Reduction reduction, int n, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var nll = new T[n]; var smooth = new T[n];
        var ws = w == null ? ReadOnlySpan<T>.Empty : w.Span<T>();
        CrossEntropyKernel.ForwardHard<T>(nll, smooth, lse.Span<T>(), x.Span<T>(), targets, ws, ignoreIndex, n, c);
        T a = T.CreateTruncating(1 - eps), b = T.CreateTruncating(eps / Math.Max(c, 1));
        var ys = y.Span<T>();
        if (reduction == Reduction.None)
        {
            for (int i = 0; i < n; i++) ys[i] = a * nll[i] + b * smooth[i];
            return 1;
        }
        // Sum in double in row order: deterministic and no drift over large segmentation maps.
        double sN = 0, sS = 0, d = 0;
        for (int i = 0; i < n; i++)
        {
            sN += double.CreateTruncating(nll[i]); sS += double.CreateTruncating(smooth[i]);
            if (targets[i] != ignoreIndex) d += ws.IsEmpty ? 1.0 : double.CreateTruncating(ws[targets[i]]);
        }
        double total = (1 - eps) * sN + (eps / Math.Max(c, 1)) * sS;
        ys[0] = T.CreateTruncating(reduction == Reduction.Mean ? total / d : total);
        return reduction == Reduction.Mean ? d : 1;
    }

    private sealed class CrossEntropyNode : Node
    {
        private Tensor? _x, _lse, _w;
        private readonly int[] _targets;
        private readonly int _ignore, _n, _c;
        private readonly double _eps, _denom;
        private readonly Reduction _reduction;

        public CrossEntropyNode(Tensor logits, Tensor xc, Tensor lse, int[] targets, Tensor? w, int ignore, double eps,
            Reduction reduction, double denom, int n, int c) : base(logits)
        {
            _x = xc.Detach(); _lse = lse; _w = w?.Detach(); _targets = targets; _ignore = ignore; _eps = eps;
            _reduction = reduction; _denom = denom; _n = n; _c = c;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (dx.DType == DType.F32) Run<float>(dx, g); else Run<double>(dx, g);
        }

        private void Run<T>(Tensor dx, Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var gs = g.Contiguous().Span<T>();
            var a = new T[_n]; var b = new T[_n];
            double scale = _reduction == Reduction.Mean ? 1.0 / _denom : 1.0;
            double ca = (1 - _eps) * scale, cb = _eps / Math.Max(_c, 1) * scale;
            for (int i = 0; i < _n; i++)
            {
                T gi = _reduction == Reduction.None ? gs[i] : gs[0];
                a[i] = gi * T.CreateTruncating(ca); b[i] = gi * T.CreateTruncating(cb);
            }
            var ws = _w == null ? ReadOnlySpan<T>.Empty : _w.Span<T>();
            CrossEntropyKernel.BackwardHard<T>(dx.Span<T>(), _x!.Span<T>(), _lse!.Span<T>(), _targets, ws, a, b, _ignore, _n, _c);
        }

        protected internal override void ReleaseSaved() { _x = null; _lse = null; _w = null; }
    }

    /// <summary>
    /// Cross-entropy with probability targets (mixup / cutmix), as torch's cross_entropy with a float target.
    /// Shapes: logits (…, C) classes last; targetProbs the same shape. Smoothing mixes the targets with the
    /// uniform distribution: q = (1−ε)·t + ε/C; loss_i = Σ_c q_c·(−log p_c); Mean divides by the row count.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targetProbs, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        using var _ = Profiler.Scope("SoftCrossEntropy");
        CheckSameDType(logits, targetProbs, "CrossEntropy");
        if (logits.Rank == 0) throw new ArgumentException("CrossEntropy: logits must have a class axis (the last).");
        if (!ShapeUtil.Equal(logits.Shape, targetProbs.Shape))
            throw new ArgumentException($"CrossEntropy: target probabilities {ShapeUtil.Format(targetProbs.Shape)} must have the logits' shape {ShapeUtil.Format(logits.Shape)}.");
        if (labelSmoothing < 0 || labelSmoothing > 1) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), "Label smoothing must be in [0, 1].");
        int c = logits.Dim(-1), n = c == 0 ? 0 : logits.Numel / c;
        var xc = logits.Contiguous(); var tc = targetProbs.Contiguous();
        var q = Tensor.Empty(logits.Shape, logits.DType, zero: false);
        var outShape = reduction == Reduction.None ? logits.Shape[..^1].ToArray() : Array.Empty<int>();
        var y = Tensor.Empty(outShape, logits.DType, zero: false);
        var lse = Tensor.Empty([n], logits.DType, zero: false);
        if (logits.DType == DType.F32) SoftForward<float>(y, lse, q, xc, tc, labelSmoothing, reduction, n, c);
        else SoftForward<double>(y, lse, q, xc, tc, labelSmoothing, reduction, n, c);
        if (Autograd.NeedsGraph(logits, targetProbs))
            Autograd.Record(y, new SoftCrossEntropyNode(logits, targetProbs, xc, q, lse, labelSmoothing, reduction, n, c));
        return y;
    }

    private static void SoftForward<T>(Tensor y, Tensor lse, Tensor q, Tensor x, Tensor t, double eps, Reduction reduction, int n, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var qs = q.Span<T>(); var ts = t.Span<T>();
        T keep = T.CreateTruncating(1 - eps), add = T.CreateTruncating(eps / Math.Max(c, 1));
        for (int i = 0; i < qs.Length; i++) qs[i] = eps == 0 ? ts[i] : ts[i] * keep + add;
        var loss = new T[n];
        CrossEntropyKernel.ForwardSoft<T>(loss, lse.Span<T>(), x.Span<T>(), qs, n, c);
        var ys = y.Span<T>();
        if (reduction == Reduction.None) { loss.CopyTo(ys); return; }
        double s = 0;
        for (int i = 0; i < n; i++) s += double.CreateTruncating(loss[i]);
        ys[0] = T.CreateTruncating(reduction == Reduction.Mean ? s / n : s);
    }

    private sealed class SoftCrossEntropyNode : Node
    {
        private Tensor? _x, _q, _lse;
        private readonly double _eps;
        private readonly Reduction _reduction;
        private readonly int _n, _c;

        public SoftCrossEntropyNode(Tensor logits, Tensor target, Tensor xc, Tensor q, Tensor lse, double eps, Reduction reduction, int n, int c)
            : base(logits, target)
        {
            _x = xc.Detach(); _q = q; _lse = lse; _eps = eps; _reduction = reduction; _n = n; _c = c;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); var dt = GradOf(1);
            if (dx == null && dt == null) return;
            if (_x!.DType == DType.F32) Run<float>(dx, dt, g); else Run<double>(dx, dt, g);
        }

        private void Run<T>(Tensor? dx, Tensor? dt, Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var gs = g.Contiguous().Span<T>();
            var gi = new T[_n];
            T scale = _reduction == Reduction.Mean ? T.One / T.CreateTruncating(_n) : T.One;
            // dq/dt = (1 − ε): folded into the per-row factor of the target gradient.
            for (int i = 0; i < _n; i++) gi[i] = (_reduction == Reduction.None ? gs[i] : gs[0]) * scale;
            if (dx != null)
                CrossEntropyKernel.BackwardSoft<T>(dx.Span<T>(), Span<T>.Empty, _x!.Span<T>(), _q!.Span<T>(), _lse!.Span<T>(), gi, _n, _c);
            if (dt != null)
            {
                T keep = T.CreateTruncating(1 - _eps);
                for (int i = 0; i < _n; i++) gi[i] *= keep;
                CrossEntropyKernel.BackwardSoft<T>(Span<T>.Empty, dt.Span<T>(), _x!.Span<T>(), _q!.Span<T>(), _lse!.Span<T>(), gi, _n, _c);
            }
        }

        protected internal override void ReleaseSaved() { _x = null; _q = null; _lse = null; }
    }

    /// <summary>Mean squared error, as torch's mse_loss. Shapes: input and target equal; result scalar, or the input shape for None.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
        PointwiseLoss(input, target, reduction, squared: true);

    /// <summary>Mean absolute error, as torch's l1_loss (gradient sign(x − t), 0 at ties). Shapes as <see cref="MseLoss"/>.</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
        PointwiseLoss(input, target, reduction, squared: false);

    private static Tensor PointwiseLoss(Tensor input, Tensor target, Reduction reduction, bool squared)
    {
        using var _ = Profiler.Scope(squared ? "MseLoss" : "L1Loss");
        string op = squared ? "MseLoss" : "L1Loss";
        CheckSameDType(input, target, op);
        if (!ShapeUtil.Equal(input.Shape, target.Shape))
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(input.Shape)} and target {ShapeUtil.Format(target.Shape)} must have the same shape.");
        var xc = input.Contiguous(); var tc = target.Contiguous();
        var y = Tensor.Empty(reduction == Reduction.None ? input.Shape : [], input.DType, zero: false);
        if (input.DType == DType.F32) PointwiseForward<float>(y, xc, tc, reduction, squared);
        else PointwiseForward<double>(y, xc, tc, reduction, squared);
        if (Autograd.NeedsGraph(input, target)) Autograd.Record(y, new PointwiseLossNode(input, target, xc, tc, reduction, squared));
        return y;
    }

    private static void PointwiseForward<T>(Tensor y, Tensor x, Tensor t, Reduction reduction, bool squared)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = x.Span<T>(); var ts = t.Span<T>(); var ys = y.Span<T>();
        if (reduction == Reduction.None)
        {
            for (int i = 0; i < xs.Length; i++) { T d = xs[i] - ts[i]; ys[i] = squared ? d * d : T.Abs(d); }
            return;
        }
        double s = 0;
        for (int i = 0; i < xs.Length; i++) { double d = double.CreateTruncating(xs[i] - ts[i]); s += squared ? d * d : Math.Abs(d); }
        ys[0] = T.CreateTruncating(reduction == Reduction.Mean ? s / xs.Length : s);
    }

    private sealed class PointwiseLossNode : Node
    {
        private Tensor? _x, _t;
        private readonly Reduction _reduction;
        private readonly bool _squared;

        public PointwiseLossNode(Tensor input, Tensor target, Tensor xc, Tensor tc, Reduction reduction, bool squared) : base(input, target)
        {
            _x = xc.Detach(); _t = tc.Detach(); _reduction = reduction; _squared = squared;
        }

        public override string Name => _squared ? "MseLoss" : "L1Loss";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); var dt = GradOf(1);
            if (dx == null && dt == null) return;
            if (_x!.DType == DType.F32) Run<float>(dx, dt, g); else Run<double>(dx, dt, g);
        }

        private void Run<T>(Tensor? dx, Tensor? dt, Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var xs = _x!.Span<T>(); var ts = _t!.Span<T>(); var gs = g.Contiguous().Span<T>();
            var dxs = dx == null ? Span<T>.Empty : dx.Span<T>();
            var dts = dt == null ? Span<T>.Empty : dt.Span<T>();
            T scale = _reduction == Reduction.Mean ? T.One / T.CreateTruncating(xs.Length) : T.One;
            T two = T.CreateTruncating(2);
            for (int i = 0; i < xs.Length; i++)
            {
                T d = xs[i] - ts[i];
                // d/dx (x−t)² = 2(x−t); d/dx |x−t| = sign(x−t); d/dt is the negative.
                T local = _squared ? two * d : T.CreateTruncating(T.Sign(d));
                T gi = (_reduction == Reduction.None ? gs[i] : gs[0]) * scale * local;
                if (!dxs.IsEmpty) dxs[i] += gi;
                if (!dts.IsEmpty) dts[i] -= gi;
            }
        }

        protected internal override void ReleaseSaved() { _x = null; _t = null; }
    }
}
