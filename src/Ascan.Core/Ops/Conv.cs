// 2-d convolution on NHWC activations with PyTorch-layout weights (O, C/groups, KH, KW).
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// Shapes: x (B, H, W, C) channels-last, weight (O, C/groups, KH, KW) as in PyTorch, bias (O)
    /// → (B, OH, OW, O) with OH = (H + 2·padH − dilH·(KH−1) − 1) / strideH + 1.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        => Conv2d(x, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups)
    {
        using var _ = Profiler.Scope("Conv2d");
        CheckSameDType(x, weight, "Conv2d");
        var g = ConvGeometry(x, weight, bias, stride, padding, dilation, groups);
        MacCounter.Add((long)g.B * g.OutH * g.OutW * g.O * g.Cg * g.KH * g.KW);
        var xc = x.Contiguous(); var bc = bias?.Contiguous();
        var wk = KernelLayoutWeight(weight, g);
        var y = Tensor.Empty(new[] { g.B, g.OutH, g.OutW, g.O }, x.DType, zero: false);
        if (x.DType == DType.F32) Conv2dKernels.Forward(y.Span<float>(), xc.ReadSpan<float>(), wk.ReadSpan<float>(), bc == null ? default : bc.ReadSpan<float>(), g);
        else Conv2dKernels.Forward(y.Span<double>(), xc.ReadSpan<double>(), wk.ReadSpan<double>(), bc == null ? default : bc.ReadSpan<double>(), g);
        // The converted weight is not kept for the backward (it is rebuilt there: a fast transpose), so a training step's
        // peak memory does not hold a second copy of every conv weight.
        TensorScope.Release(wk);
        if (Autograd.NeedsGraph(x, weight, bias)) Autograd.Record(y, new Conv2dNode(x, weight, bias, xc, g));
        return y;
    }

    /// <summary>PyTorch weight (O, C/groups, KH, KW) → the kernels' (KH, KW, C/groups, O), where each group is a GEMM operand.</summary>
    private static Tensor KernelLayoutWeight(Tensor weight, in Conv2dGeometry g)
    {
        var w = Dense(weight);
        var wk = Tensor.Empty(new[] { g.KH, g.KW, g.Cg, g.O }, w.DType, zero: false);
        if (w.DType == DType.F32) Conv2dKernels.FromTorchLayout(wk.Span<float>(), w.ReadSpan<float>(), g);
        else Conv2dKernels.FromTorchLayout(wk.Span<double>(), w.ReadSpan<double>(), g);
        return wk;
    }

    private static Conv2dGeometry ConvGeometry(Tensor x, Tensor w, Tensor? b, (int H, int W) s, (int H, int W) p, (int H, int W) d, int groups)
    {
        string wn = w.Name != null ? $" ({w.Name})" : "";
        if (x.Rank != 4) throw new ArgumentException($"Conv2d: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (w.Rank != 4) throw new ArgumentException($"Conv2d: weight{wn} must be (O, C/groups, KH, KW), got {ShapeUtil.Format(w.Shape)}.");
        if (groups < 1 || x.Dim(3) % groups != 0 || w.Dim(0) % groups != 0)
            throw new ArgumentException($"Conv2d: groups={groups} must divide input channels {x.Dim(3)} and output channels {w.Dim(0)}.");
        if (w.Dim(1) * groups != x.Dim(3))
            throw new ArgumentException($"Conv2d: weight{wn} {ShapeUtil.Format(w.Shape)} expects {w.Dim(1) * groups} input channels, input has {x.Dim(3)} (shape {ShapeUtil.Format(x.Shape)}, channels last).");
        if (b != null && (b.Rank != 1 || b.Dim(0) != w.Dim(0)))
            throw new ArgumentException($"Conv2d: bias shape {ShapeUtil.Format(b.Shape)}, expected [{w.Dim(0)}].");
        if (s.H < 1 || s.W < 1 || d.H < 1 || d.W < 1 || p.H < 0 || p.W < 0)
            throw new ArgumentException("Conv2d: stride and dilation must be ≥ 1 and padding ≥ 0.");
        var g = new Conv2dGeometry(x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), w.Dim(0), w.Dim(2), w.Dim(3), s.H, s.W, p.H, p.W, d.H, d.W, groups);
        if (g.OutH < 1 || g.OutW < 1)
            throw new ArgumentException($"Conv2d: input {x.Dim(1)}×{x.Dim(2)} is too small for kernel {g.KH}×{g.KW} (dilation {d}, padding {p}).");
        return g;
    }

    private sealed class Conv2dNode : Node
    {
        private Tensor? _x;
        private readonly Conv2dGeometry _g;

        // ASSUMPTION: as in any training loop, the weight is not changed between this forward and its backward (PyTorch
        // would raise on such an in-place change; here the backward would use the new values).
        public Conv2dNode(Tensor x, Tensor w, Tensor? b, Tensor xc, Conv2dGeometry g)
            : base(b == null ? new[] { x, w } : new[] { x, w, b })
        {
            _x = xc.Detach(); _g = g;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            if (g.DType == DType.F32) Run<float>(g); else Run<double>(g);
        }

        private void Run<T>(Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (GradOfForOverwrite(0, out bool fresh) is { } dx)
            {
                var wk = KernelLayoutWeight(Inputs[1], _g);
                Conv2dKernels.BackwardData(dx.Span<T>(), g.ReadSpan<T>(), wk.ReadSpan<T>(), _g, overwrite: fresh);
                TensorScope.Release(wk);
            }
            if (GradOf(1) is { } dw)
            {
                // The kernels produce dW in their (KH, KW, C/groups, O) layout; it is added back in PyTorch layout.
                var dwk = Tensor.Empty([_g.KH, _g.KW, _g.Cg, _g.O], g.DType);
                Conv2dKernels.BackwardWeight(dwk.Span<T>(), _x!.Span<T>(), g.Span<T>(), _g);
                Conv2dKernels.AddToTorchLayout(dw.Span<T>(), dwk.Span<T>(), _g);
                TensorScope.Release(dwk);
            }
            if (Inputs.Length > 2 && GradOf(2) is { } db) SumTo(db, g);
        }

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_x, Inputs[0]);
            _x = null;
        }
    }

    /// <summary>
    /// conv1×1(act(BatchNorm(z))) — the middle of a FusedMBConv block — as one op whose activation tensor is never kept:
    /// the forward writes it to a scratch buffer for the GEMM and frees it, the backward recomputes it from z and the
    /// batch statistics (one more normalise pass) for the weight gradient. A training step then holds z but not
    /// act(BN(z)), the block's largest tensor after z. BatchNorm semantics as <see cref="BatchNorm"/> (running
    /// statistics updated in training). Composite twin (tests): Conv2d(BatchNormAct(z, …), weight).
    /// Shapes: z (B, H, W, C), BN parameters (C), convWeight (O, C, 1, 1) → (B, H, W, O).
    /// </summary>
    public static Tensor BatchNormActConv1x1(Tensor z, Tensor? bnWeight, Tensor? bnBias, Tensor? runningMean, Tensor? runningVar,
        bool training, Activation act, Tensor convWeight, double momentum = 0.1, double eps = 1e-5)
    {
        using var _ = Profiler.Scope("Conv2d");
        if (z.Rank != 4) throw new ArgumentException($"BatchNormActConv1x1: input must be (B, H, W, C), got {ShapeUtil.Format(z.Shape)}.");
        int c = z.Dim(3), m = z.Numel / Math.Max(c, 1);
        if (convWeight.Rank != 4 || convWeight.Dim(1) != c || convWeight.Dim(2) != 1 || convWeight.Dim(3) != 1)
            throw new ArgumentException($"BatchNormActConv1x1: conv weight{(convWeight.Name != null ? " " + convWeight.Name : "")} must be (O, {c}, 1, 1), got {ShapeUtil.Format(convWeight.Shape)}.");
        CheckChannelVector(bnWeight, c, z.DType, "BatchNormActConv1x1", "BN weight");
        CheckChannelVector(bnBias, c, z.DType, "BatchNormActConv1x1", "BN bias");
        CheckChannelVector(runningMean, c, z.DType, "BatchNormActConv1x1", "runningMean");
        CheckChannelVector(runningVar, c, z.DType, "BatchNormActConv1x1", "runningVar");
        CheckSameDType(z, convWeight, "BatchNormActConv1x1");
        if ((runningMean == null) != (runningVar == null)) throw new ArgumentException("BatchNormActConv1x1: give both running statistics or neither.");
        if (!training && runningMean == null) throw new ArgumentException("BatchNormActConv1x1 in eval mode needs runningMean and runningVar.");
        if (training && m <= 1) throw new ArgumentException($"BatchNormActConv1x1 in training mode needs more than 1 value per channel, got input {ShapeUtil.Format(z.Shape)}.");
        var g = new Conv2dGeometry(z.Dim(0), z.Dim(1), z.Dim(2), c, convWeight.Dim(0), 1, 1);
        MacCounter.Add((long)m * c * g.O);
        var zc = Dense(z); var wc = DenseOrNull(bnWeight); var bc = DenseOrNull(bnBias);
        var mean = Tensor.Empty([c], z.DType, zero: false);
        var rstd = Tensor.Empty([c], z.DType, zero: false);
        // a = act(BN(z)) goes to a scratch buffer for the GEMM and back to the pool at once. (Computing it while the GEMM
        // packs its A panels instead measured slower: the 1×1 conv reuses each value only O times.)
        var a = Tensor.Empty(z.Shape, z.DType, zero: false);
        if (z.DType == DType.F32) BatchNormActForward<float>(a, mean, rstd, zc, wc, bc, null, runningMean, runningVar, training, momentum, eps, m, c, act);
        else BatchNormActForward<double>(a, mean, rstd, zc, wc, bc, null, runningMean, runningVar, training, momentum, eps, m, c, act);
        var y = Tensor.Empty([g.B, g.H, g.W, g.O], z.DType, zero: false);
        var wk = KernelLayoutWeight(convWeight, g);
        if (z.DType == DType.F32) Conv2dKernels.Forward(y.Span<float>(), a.ReadSpan<float>(), wk.ReadSpan<float>(), default, g);
        else Conv2dKernels.Forward(y.Span<double>(), a.ReadSpan<double>(), wk.ReadSpan<double>(), default, g);
        TensorScope.Release(wk);
        TensorScope.Release(a);
        if (Autograd.NeedsGraph(z, bnWeight, bnBias, convWeight))
            Autograd.Record(y, new BatchNormActConv1x1Node(z, bnWeight, bnBias, convWeight, zc, wc, bc, mean, rstd, g, training, act));
        return y;
    }

    private sealed class BatchNormActConv1x1Node : Node
    {
        private readonly bool _hasW, _hasB, _training;
        private readonly Activation _act;
        private readonly Conv2dGeometry _g;
        private Tensor? _z, _w, _b, _mean, _rstd;

        public BatchNormActConv1x1Node(Tensor z, Tensor? bnWeight, Tensor? bnBias, Tensor convWeight, Tensor zc, Tensor? wc, Tensor? bc,
            Tensor mean, Tensor rstd, Conv2dGeometry g, bool training, Activation act) : base(Present(z, bnWeight, bnBias, convWeight))
        {
            _hasW = bnWeight != null; _hasB = bnBias != null; _training = training; _act = act; _g = g;
            _z = zc; _w = wc; _b = bc; _mean = mean; _rstd = rstd;
        }

        public override string Name => "Conv2d";

        protected internal override void Backward(Tensor dy)
        {
            using var _ = Profiler.Backward(this);
            if (dy.DType == DType.F32) Run<float>(dy); else Run<double>(dy);
        }

        private void Run<T>(Tensor dy) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int i = 1;
            var dz = GradOfForOverwrite(0, out bool freshDz);
            var dgamma = _hasW ? GradOf(i++) : null;
            var dbeta = _hasB ? GradOf(i++) : null;
            var dconv = GradOf(i);
            int m = _g.B * _g.H * _g.W, c = _g.C;
            var wSpan = _w == null ? default : _w.ReadSpan<T>();
            var bSpan = _b == null ? default : _b.ReadSpan<T>();
            if (dconv != null)
            {
                // dW = aᵀ·dY with a = act(BN(z)) recomputed from the saved statistics.
                var dwk = Tensor.Empty([1, 1, c, _g.O], dy.DType);
                var a = Tensor.Empty(_z!.Shape, dy.DType, zero: false);
                BatchNormActKernel.ApplyWithRstd(a.Span<T>(), _z.ReadSpan<T>(), _mean!.ReadSpan<T>(), _rstd!.ReadSpan<T>(), wSpan, bSpan, default, _act, m, c);
                Conv2dKernels.BackwardWeight(dwk.Span<T>(), a.ReadSpan<T>(), dy.ReadSpan<T>(), _g);
                TensorScope.Release(a);
                Conv2dKernels.AddToTorchLayout(dconv.Span<T>(), dwk.ReadSpan<T>(), _g);
                TensorScope.Release(dwk);
            }
            if (dz == null && dgamma == null && dbeta == null) return;
            // da = dY·Wᵀ, then the fused BatchNorm-activation backward.
            var da = Tensor.Empty(_z!.Shape, dy.DType);
            var wk = KernelLayoutWeight(Inputs[^1], _g);
            Conv2dKernels.BackwardData(da.Span<T>(), dy.ReadSpan<T>(), wk.ReadSpan<T>(), _g);
            TensorScope.Release(wk);
            // dz = da ⊙ act'(BN(z)) overwrites da in place (element by element): one map-sized buffer fewer at the peak.
            BatchNormActKernel.Backward(SpanOrEmpty<T>(dz), SpanOrEmpty<T>(dgamma), SpanOrEmpty<T>(dbeta), default, da.ReadSpan<T>(), _z.ReadSpan<T>(),
                wSpan, bSpan, _mean!.ReadSpan<T>(), _rstd!.ReadSpan<T>(), da.Span<T>(), _act, m, c, _training, overwriteDx: freshDz);
            TensorScope.Release(da);
        }

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_z, Inputs[0]); ReleaseOwned(_mean); ReleaseOwned(_rstd);
            _z = _w = _b = _mean = _rstd = null;
        }
    }
}
