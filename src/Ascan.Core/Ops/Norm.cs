// Normalisations: LayerNorm (last axis), BatchNorm and GroupNorm (channels last), with their backward nodes.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>The elements of an optional contiguous tensor, or an empty span for null.</summary>
    internal static Span<T> SpanOrEmpty<T>(Tensor? t) where T : unmanaged => t == null ? default : t.Span<T>();

    /// <summary>A contiguous copy for kernels, without recording a graph node (the op records its own).</summary>
    internal static Tensor Dense(Tensor t)
    {
        using var _ = Autograd.NoGrad();
        return t.Contiguous().Detach();
    }

    private static Tensor? DenseOrNull(Tensor? t) => t == null ? null : Dense(t);

    /// <summary>The non-null tensors, in order: graph inputs of ops with optional operands.</summary>
    private static Tensor[] Present(params Tensor?[] ts) => ts.Where(t => t != null).ToArray()!;

    private static void CheckChannelVector(Tensor? p, int c, DType dtype, string op, string what)
    {
        if (p == null) return;
        if (p.Rank != 1 || p.Shape[0] != c)
            throw new ArgumentException($"{op}: {what} has shape {ShapeUtil.Format(p.Shape)}, expected [{c}].");
        if (p.DType != dtype) throw new ArgumentException($"{op}: {what} is {p.DType} but the input is {dtype}.");
    }

    // ------------------------------------------------------------------ LayerNorm

    /// <summary>
    /// Layer normalisation over the last axis: (x − mean)/√(var + eps)·weight + bias, biased variance.
    /// Shapes: x (..., N); weight, bias (N) or null; result like x.
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        using var _ = Profiler.Scope("LayerNorm");
        if (x.Rank == 0) throw new ArgumentException("LayerNorm needs a tensor of rank ≥ 1.");
        int n = x.Dim(-1), rows = n == 0 ? 0 : x.Numel / n;
        CheckChannelVector(weight, n, x.DType, "LayerNorm", "weight");
        CheckChannelVector(bias, n, x.DType, "LayerNorm", "bias");
        var xc = Dense(x); var wc = DenseOrNull(weight); var bc = DenseOrNull(bias);
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        var mean = Tensor.Empty([rows], x.DType, zero: false);
        var rstd = Tensor.Empty([rows], x.DType, zero: false);
        if (x.DType == DType.F32)
            LayerNormKernel.Forward(y.Span<float>(), mean.Span<float>(), rstd.Span<float>(), xc.Span<float>(), SpanOrEmpty<float>(wc), SpanOrEmpty<float>(bc), rows, n, eps);
        else
            LayerNormKernel.Forward(y.Span<double>(), mean.Span<double>(), rstd.Span<double>(), xc.Span<double>(), SpanOrEmpty<double>(wc), SpanOrEmpty<double>(bc), rows, n, eps);
        if (Autograd.NeedsGraph(x, weight, bias))
            Autograd.Record(y, new LayerNormNode(x, weight, bias, xc, wc, mean, rstd, rows, n));
        return y;
    }

    private sealed class LayerNormNode : Node
    {
        private readonly bool _hasW, _hasB;
        private readonly int _rows, _n;
        private Tensor? _x, _w, _mean, _rstd;

        public LayerNormNode(Tensor x, Tensor? w, Tensor? b, Tensor xc, Tensor? wc, Tensor mean, Tensor rstd, int rows, int n)
            : base(Present(x, w, b))
        {
            _hasW = w != null; _hasB = b != null; _rows = rows; _n = n;
            _x = xc; _w = wc; _mean = mean; _rstd = rstd;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0);
            var dw = _hasW ? GradOf(1) : null;
            var db = _hasB ? GradOf(_hasW ? 2 : 1) : null;
            if (g.DType == DType.F32) Run<float>(g, dx, dw, db); else Run<double>(g, dx, dw, db);
        }

        private void Run<T>(Tensor g, Tensor? dx, Tensor? dw, Tensor? db) where T : unmanaged, IFloatingPointIeee754<T> =>
            LayerNormKernel.Backward(SpanOrEmpty<T>(dx), SpanOrEmpty<T>(dw), SpanOrEmpty<T>(db), g.Span<T>(), _x!.Span<T>(),
                SpanOrEmpty<T>(_w), _mean!.Span<T>(), _rstd!.Span<T>(), _rows, _n);

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_x, Inputs[0]); ReleaseOwned(_mean); ReleaseOwned(_rstd);
            _x = null; _w = null; _mean = null; _rstd = null;
        }
    }

    // ------------------------------------------------------------------ BatchNorm

    /// <summary>
    /// Batch normalisation with channels on the last axis. Training: normalises with the batch mean and
    /// biased variance and, when running statistics are given, updates them in place (no graph) as
    /// PyTorch does: mean ← (1 − momentum)·mean + momentum·batch_mean, var likewise with the
    /// unbiased batch variance. Eval: normalises with the running statistics (required).
    /// Shapes: x (..., C), e.g. (B, H, W, C) or (B, C); weight, bias, runningMean, runningVar (C) or null.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        using var _ = Profiler.Scope("BatchNorm");
        if (x.Rank < 2) throw new ArgumentException($"BatchNorm needs a tensor of rank ≥ 2 (..., C), got {ShapeUtil.Format(x.Shape)}.");
        int c = x.Dim(-1), m = c == 0 ? 0 : x.Numel / c;
        CheckChannelVector(weight, c, x.DType, "BatchNorm", "weight");
        CheckChannelVector(bias, c, x.DType, "BatchNorm", "bias");
        CheckChannelVector(runningMean, c, x.DType, "BatchNorm", "runningMean");
        CheckChannelVector(runningVar, c, x.DType, "BatchNorm", "runningVar");
        if ((runningMean == null) != (runningVar == null)) throw new ArgumentException("BatchNorm: give both running statistics or neither.");
        if (!training && runningMean == null) throw new ArgumentException("BatchNorm in eval mode needs runningMean and runningVar.");
        if (training && m <= 1) throw new ArgumentException($"BatchNorm in training mode needs more than 1 value per channel, got input {ShapeUtil.Format(x.Shape)}.");
        if (runningMean != null && (!runningMean.IsContiguous || !runningVar!.IsContiguous))
            throw new ArgumentException("BatchNorm: running statistics must be contiguous (they are updated in place).");

        var xc = Dense(x); var wc = DenseOrNull(weight); var bc = DenseOrNull(bias);
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        var mean = Tensor.Empty([c], x.DType, zero: false);
        var rstd = Tensor.Empty([c], x.DType, zero: false);
        if (x.DType == DType.F32) BatchNormForward<float>(y, mean, rstd, xc, wc, bc, runningMean, runningVar, training, momentum, eps, m, c);
        else BatchNormForward<double>(y, mean, rstd, xc, wc, bc, runningMean, runningVar, training, momentum, eps, m, c);
        if (Autograd.NeedsGraph(x, weight, bias))
            Autograd.Record(y, new BatchNormNode(x, weight, bias, xc, wc, mean, rstd, m, c, training));
        return y;
    }

    private static void BatchNormForward<T>(Tensor y, Tensor mean, Tensor rstd, Tensor xc, Tensor? wc, Tensor? bc,
        Tensor? runningMean, Tensor? runningVar, bool training, double momentum, double eps, int m, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var mu = mean.Span<T>();
        var variance = new T[c];
        BatchNormBatchOrRunning<T>(mu, variance, xc, runningMean, runningVar, training, momentum, m, c);
        BatchNormKernel.Forward(y.Span<T>(), rstd.Span<T>(), xc.ReadSpan<T>(), mu, variance, SpanOrEmpty<T>(wc), SpanOrEmpty<T>(bc), m, c, eps);
    }

    private sealed class BatchNormNode : Node
    {
        private readonly bool _hasW, _hasB, _training;
        private readonly int _m, _c;
        private Tensor? _x, _w, _mean, _rstd;

        public BatchNormNode(Tensor x, Tensor? w, Tensor? b, Tensor xc, Tensor? wc, Tensor mean, Tensor rstd, int m, int c, bool training)
            : base(Present(x, w, b))
        {
            _hasW = w != null; _hasB = b != null; _m = m; _c = c; _training = training;
            _x = xc; _w = wc; _mean = mean; _rstd = rstd;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOfForOverwrite(0, out bool fresh);
            var dw = _hasW ? GradOf(1) : null;
            var db = _hasB ? GradOf(_hasW ? 2 : 1) : null;
            if (g.DType == DType.F32) Run<float>(g, dx, dw, db, fresh); else Run<double>(g, dx, dw, db, fresh);
        }

        private void Run<T>(Tensor g, Tensor? dx, Tensor? dw, Tensor? db, bool fresh) where T : unmanaged, IFloatingPointIeee754<T> =>
            BatchNormKernel.Backward(SpanOrEmpty<T>(dx), SpanOrEmpty<T>(dw), SpanOrEmpty<T>(db), g.Span<T>(), _x!.Span<T>(),
                SpanOrEmpty<T>(_w), _mean!.Span<T>(), _rstd!.Span<T>(), _m, _c, _training, overwriteDx: fresh);

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_x, Inputs[0]); ReleaseOwned(_mean); ReleaseOwned(_rstd);
            _x = null; _w = null; _mean = null; _rstd = null;
        }
    }

    // ------------------------------------------------------------------ BatchNorm + activation (+ residual)

    /// <summary>
    /// y = act(BatchNorm(x)) + residual in one op (the conv blocks' BN → GELU, and BN → + skip): the normalised values
    /// are never stored — the backward recomputes them from x and the statistics — and neither the activation nor the
    /// add costs a pass or a buffer of its own. Statistics and running-stat updates exactly as <see cref="BatchNorm"/>.
    /// Composite twin (tests): Gelu/Relu/Silu(BatchNorm(…)) + residual.
    /// Shapes: x (..., C), residual like x or null; weight, bias, runningMean, runningVar (C) or null.
    /// </summary>
    public static Tensor BatchNormAct(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        bool training, Activation act, Tensor? residual = null, double momentum = 0.1, double eps = 1e-5)
    {
        using var _ = Profiler.Scope("BatchNorm");
        if (x.Rank < 2) throw new ArgumentException($"BatchNormAct needs a tensor of rank ≥ 2 (..., C), got {ShapeUtil.Format(x.Shape)}.");
        int c = x.Dim(-1), m = c == 0 ? 0 : x.Numel / c;
        CheckChannelVector(weight, c, x.DType, "BatchNormAct", "weight");
        CheckChannelVector(bias, c, x.DType, "BatchNormAct", "bias");
        CheckChannelVector(runningMean, c, x.DType, "BatchNormAct", "runningMean");
        CheckChannelVector(runningVar, c, x.DType, "BatchNormAct", "runningVar");
        if (residual != null && (!ShapeUtil.Equal(residual.Shape, x.Shape) || residual.DType != x.DType))
            throw new ArgumentException($"BatchNormAct: residual {ShapeUtil.Format(residual.Shape)} {residual.DType} must match the input {ShapeUtil.Format(x.Shape)} {x.DType}.");
        if ((runningMean == null) != (runningVar == null)) throw new ArgumentException("BatchNormAct: give both running statistics or neither.");
        if (!training && runningMean == null) throw new ArgumentException("BatchNormAct in eval mode needs runningMean and runningVar.");
        if (training && m <= 1) throw new ArgumentException($"BatchNormAct in training mode needs more than 1 value per channel, got input {ShapeUtil.Format(x.Shape)}.");

        var xc = Dense(x); var wc = DenseOrNull(weight); var bc = DenseOrNull(bias); var rc = DenseOrNull(residual);
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        var mean = Tensor.Empty([c], x.DType, zero: false);
        var rstd = Tensor.Empty([c], x.DType, zero: false);
        if (x.DType == DType.F32) BatchNormActForward<float>(y, mean, rstd, xc, wc, bc, rc, runningMean, runningVar, training, momentum, eps, m, c, act);
        else BatchNormActForward<double>(y, mean, rstd, xc, wc, bc, rc, runningMean, runningVar, training, momentum, eps, m, c, act);
        if (Autograd.NeedsGraph(x, weight, bias, residual))
            Autograd.Record(y, new BatchNormActNode(x, weight, bias, residual, xc, wc, bc, mean, rstd, m, c, training, act));
        return y;
    }

    private static void BatchNormActForward<T>(Tensor y, Tensor mean, Tensor rstd, Tensor xc, Tensor? wc, Tensor? bc, Tensor? rc,
        Tensor? runningMean, Tensor? runningVar, bool training, double momentum, double eps, int m, int c, Activation act)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var mu = mean.Span<T>();
        var variance = new T[c];
        BatchNormBatchOrRunning<T>(mu, variance, xc, runningMean, runningVar, training, momentum, m, c);
        BatchNormActKernel.Forward(y.Span<T>(), rstd.Span<T>(), xc.ReadSpan<T>(), mu, variance,
            wc == null ? default : wc.ReadSpan<T>(), bc == null ? default : bc.ReadSpan<T>(), rc == null ? default : rc.ReadSpan<T>(), act, m, c, eps);
    }

    /// <summary>Training: the batch's mean and (biased) variance per channel, running statistics updated (unbiased
    /// variance, PyTorch's rule). Eval: the running statistics.</summary>
    private static void BatchNormBatchOrRunning<T>(Span<T> mu, Span<T> variance, Tensor xc, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, int m, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (training)
        {
            BatchNormKernel.Statistics(mu, variance, xc.ReadSpan<T>(), m, c);
            if (runningMean != null)
            {
                // Running statistics are buffers, not parameters: updated in place, never in the graph.
                var rm = runningMean.Span<T>(); var rv = runningVar!.Span<T>();
                T mom = T.CreateTruncating(momentum), keep = T.One - mom, unbias = T.CreateTruncating(m / (double)(m - 1));
                for (int ch = 0; ch < c; ch++)
                {
                    rm[ch] = keep * rm[ch] + mom * mu[ch];
                    rv[ch] = keep * rv[ch] + mom * variance[ch] * unbias;
                }
            }
        }
        else
        {
            runningMean!.ReadSpan<T>().CopyTo(mu);
            runningVar!.ReadSpan<T>().CopyTo(variance);
        }
    }

    private sealed class BatchNormActNode : Node
    {
        private readonly bool _hasW, _hasB, _hasRes, _training;
        private readonly int _m, _c;
        private readonly Activation _act;
        private Tensor? _x, _w, _b, _mean, _rstd;

        public BatchNormActNode(Tensor x, Tensor? w, Tensor? b, Tensor? residual, Tensor xc, Tensor? wc, Tensor? bc, Tensor mean, Tensor rstd,
            int m, int c, bool training, Activation act) : base(Present(x, w, b, residual))
        {
            _hasW = w != null; _hasB = b != null; _hasRes = residual != null; _m = m; _c = c; _training = training; _act = act;
            _x = xc; _w = wc; _b = bc; _mean = mean; _rstd = rstd;
        }

        public override string Name => "BatchNorm";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            int i = 1;
            // With a residual, x's gradient may share its buffer with the residual's (added to first): no overwrite then.
            bool fresh = false;
            var dx = _hasRes ? GradOf(0) : GradOfForOverwrite(0, out fresh);
            var dw = _hasW ? GradOf(i++) : null;
            var db = _hasB ? GradOf(i++) : null;
            var dres = _hasRes ? GradOf(i) : null;
            var dz = _act == Activation.None ? null : Tensor.Empty([_m * _c], g.DType, zero: false);
            if (g.DType == DType.F32) Run<float>(g, dx, dw, db, dres, dz, fresh); else Run<double>(g, dx, dw, db, dres, dz, fresh);
            if (dz != null) TensorScope.Release(dz);
        }

        private void Run<T>(Tensor g, Tensor? dx, Tensor? dw, Tensor? db, Tensor? dres, Tensor? dz, bool fresh) where T : unmanaged, IFloatingPointIeee754<T> =>
            BatchNormActKernel.Backward(SpanOrEmpty<T>(dx), SpanOrEmpty<T>(dw), SpanOrEmpty<T>(db), SpanOrEmpty<T>(dres), g.ReadSpan<T>(), _x!.ReadSpan<T>(),
                _w == null ? default : _w.ReadSpan<T>(), _b == null ? default : _b.ReadSpan<T>(), _mean!.ReadSpan<T>(), _rstd!.ReadSpan<T>(),
                SpanOrEmpty<T>(dz), _act, _m, _c, _training, overwriteDx: fresh);

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_x, Inputs[0]); ReleaseOwned(_mean); ReleaseOwned(_rstd);
            _x = null; _w = null; _b = null; _mean = null; _rstd = null;
        }
    }

    // ------------------------------------------------------------------ GroupNorm

    /// <summary>
    /// Group normalisation, channels last: per sample, C is split into <paramref name="groups"/> groups of
    /// C/groups consecutive channels, normalised over all their positions; then a per-channel affine.
    /// Shapes: x (B, ..., C), e.g. (B, H, W, C); weight, bias (C) or null.
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        using var _ = Profiler.Scope("GroupNorm");
        if (x.Rank < 2) throw new ArgumentException($"GroupNorm needs a tensor of rank ≥ 2 (B, ..., C), got {ShapeUtil.Format(x.Shape)}.");
        int batch = x.Dim(0), c = x.Dim(-1);
        if (groups <= 0 || c % groups != 0) throw new ArgumentException($"GroupNorm: {c} channels cannot be split into {groups} groups.");
        int hw = batch * c == 0 ? 0 : x.Numel / (batch * c);
        CheckChannelVector(weight, c, x.DType, "GroupNorm", "weight");
        CheckChannelVector(bias, c, x.DType, "GroupNorm", "bias");
        var xc = Dense(x); var wc = DenseOrNull(weight); var bc = DenseOrNull(bias);
        var y = Tensor.Empty(x.Shape, x.DType, zero: false);
        var mean = Tensor.Empty([batch * groups], x.DType, zero: false);
        var rstd = Tensor.Empty([batch * groups], x.DType, zero: false);
        if (x.DType == DType.F32)
            GroupNormKernel.Forward(y.Span<float>(), mean.Span<float>(), rstd.Span<float>(), xc.Span<float>(), SpanOrEmpty<float>(wc), SpanOrEmpty<float>(bc), batch, hw, c, groups, eps);
        else
            GroupNormKernel.Forward(y.Span<double>(), mean.Span<double>(), rstd.Span<double>(), xc.Span<double>(), SpanOrEmpty<double>(wc), SpanOrEmpty<double>(bc), batch, hw, c, groups, eps);
        if (Autograd.NeedsGraph(x, weight, bias))
            Autograd.Record(y, new GroupNormNode(x, weight, bias, xc, wc, mean, rstd, batch, hw, c, groups));
        return y;
    }

    private sealed class GroupNormNode : Node
    {
        private readonly bool _hasW, _hasB;
        private readonly int _batch, _hw, _c, _groups;
        private Tensor? _x, _w, _mean, _rstd;

        public GroupNormNode(Tensor x, Tensor? w, Tensor? b, Tensor xc, Tensor? wc, Tensor mean, Tensor rstd, int batch, int hw, int c, int groups)
            : base(Present(x, w, b))
        {
            _hasW = w != null; _hasB = b != null; _batch = batch; _hw = hw; _c = c; _groups = groups;
            _x = xc; _w = wc; _mean = mean; _rstd = rstd;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0);
            var dw = _hasW ? GradOf(1) : null;
            var db = _hasB ? GradOf(_hasW ? 2 : 1) : null;
            if (g.DType == DType.F32) Run<float>(g, dx, dw, db); else Run<double>(g, dx, dw, db);
        }

        private void Run<T>(Tensor g, Tensor? dx, Tensor? dw, Tensor? db) where T : unmanaged, IFloatingPointIeee754<T> =>
            GroupNormKernel.Backward(SpanOrEmpty<T>(dx), SpanOrEmpty<T>(dw), SpanOrEmpty<T>(db), g.Span<T>(), _x!.Span<T>(),
                SpanOrEmpty<T>(_w), _mean!.Span<T>(), _rstd!.Span<T>(), _batch, _hw, _c, _groups);

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_x, Inputs[0]); ReleaseOwned(_mean); ReleaseOwned(_rstd);
            _x = null; _w = null; _mean = null; _rstd = null;
        }
    }
}

public sealed partial class Tensor
{
    public Tensor LayerNorm(Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) => Ops.LayerNorm(this, weight, bias, eps);
    public Tensor GroupNorm(int groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) => Ops.GroupNorm(this, groups, weight, bias, eps);
}
