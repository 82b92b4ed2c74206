// Scaled dot-product attention (fused, streaming softmax) with its FlashAttention-2-style backward node.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// softmax(q·kᵀ·scale + mask)·v, as PyTorch's F.scaled_dot_product_attention (torch ≥ 2.0) with an
    /// additive float mask. Self-attention (Tq = Tk) and cross-attention (Tq ≠ Tk); scale defaults to HD^-½.
    /// The Tq×Tk score matrix is never stored: the forward streams key tiles with an online softmax and
    /// keeps only the per-row log-sum-exp; the backward recomputes probabilities from it.
    /// A mask that requires a gradient gets one (dMask = dScores, summed over its broadcast dims).
    /// ASSUMPTION: only additive float masks (use −∞ to block; PyTorch's boolean masks become 0/−∞ first),
    /// and v has the head dim of q and k. A query row whose keys are all −∞ gives NaN, as the explicit formula does.
    /// Shapes: q (B, NH, Tq, HD); k, v (B, NH, Tk, HD); mask broadcastable to (B, NH, Tq, Tk) or null;
    /// result (B, NH, Tq, HD).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, double? scale = null)
    {
        using var _p = Profiler.Scope("ScaledDotProductAttention");
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"ScaledDotProductAttention expects q, k, v of rank 4 (B, NH, T, HD), got {ShapeUtil.Format(q.Shape)}, {ShapeUtil.Format(k.Shape)}, {ShapeUtil.Format(v.Shape)}.");
        int b = q.Shape[0], nh = q.Shape[1], tq = q.Shape[2], hd = q.Shape[3], tk = k.Shape[2];
        if (k.Shape[0] != b || k.Shape[1] != nh || k.Shape[3] != hd || !ShapeUtil.Equal(k.Shape, v.Shape))
            throw new ArgumentException($"ScaledDotProductAttention: k and v must be (B, NH, Tk, HD) = ({b}, {nh}, Tk, {hd}), got {ShapeUtil.Format(k.Shape)} and {ShapeUtil.Format(v.Shape)}.");
        CheckSameDType(q, k, "ScaledDotProductAttention"); CheckSameDType(q, v, "ScaledDotProductAttention");
        double s = scale ?? 1.0 / Math.Sqrt(hd);
        MacCounter.Add(2L * b * nh * tq * tk * hd); // q·kᵀ and p·v

        Tensor? maskC = null;
        var layout = new MaskLayout(Math.Max(nh, 1), 0, 0);
        if (mask != null)
        {
            CheckSameDType(q, mask, "ScaledDotProductAttention mask");
            if (mask.Rank > 4) throw new ArgumentException($"ScaledDotProductAttention: mask of rank {mask.Rank} > 4.");
            ShapeUtil.Broadcast(mask.Shape, new[] { b, nh, tq, tk }); // throws naming both shapes when incompatible
            using var _ = Autograd.NoGrad();
            var m4 = mask.Reshape(Enumerable.Repeat(1, 4 - mask.Rank).Concat(mask.ShapeArray()).ToArray());
            int mb = m4.Shape[0], mh = m4.Shape[1];
            if ((mb != 1 && mb != b) || (mh != 1 && mh != nh))
                throw new ArgumentException($"ScaledDotProductAttention: mask {ShapeUtil.Format(mask.Shape)} does not broadcast to [{b}, {nh}, {tq}, {tk}].");
            // Only the (Tq, Tk) dims are materialised; broadcast batch/head dims stay size 1 with stride 0.
            maskC = m4.Expand(mb, mh, tq, tk).Contiguous().Detach();
            layout = new MaskLayout(Math.Max(nh, 1), mb == 1 ? 0 : mh * tq * tk, mh == 1 ? 0 : tq * tk);
        }

        var qc = Dense(q); var kc = Dense(k); var vc = Dense(v);
        var o = Tensor.Empty(q.Shape, q.DType, zero: false);
        var lse = Tensor.Empty([b * nh * tq], q.DType, zero: false);
        if (q.DType == DType.F32)
            AttentionKernel.Forward(o.Span<float>(), lse.Span<float>(), qc.Span<float>(), kc.Span<float>(), vc.Span<float>(), SpanOrEmpty<float>(maskC), layout, b * nh, tq, tk, hd, (float)s);
        else
            AttentionKernel.Forward(o.Span<double>(), lse.Span<double>(), qc.Span<double>(), kc.Span<double>(), vc.Span<double>(), SpanOrEmpty<double>(maskC), layout, b * nh, tq, tk, hd, s);
        if (Autograd.NeedsGraph(q, k, v, mask))
            Autograd.Record(o, new AttentionNode(q, k, v, mask, qc, kc, vc, maskC, layout, o.Detach(), lse, s));
        return o;
    }

    private sealed class AttentionNode : Node
    {
        private readonly bool _hasMask;
        private readonly MaskLayout _layout;
        private readonly double _scale;
        private Tensor? _q, _k, _v, _mask, _o, _lse;

        public AttentionNode(Tensor q, Tensor k, Tensor v, Tensor? mask, Tensor qc, Tensor kc, Tensor vc, Tensor? maskC,
            MaskLayout layout, Tensor o, Tensor lse, double scale) : base(Present(q, k, v, mask))
        {
            _hasMask = mask != null; _layout = layout; _scale = scale;
            _q = qc; _k = kc; _v = vc; _mask = maskC; _o = o; _lse = lse;
        }

        public override string Name => "ScaledDotProductAttention";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dq = GradOf(0); var dk = GradOf(1); var dv = GradOf(2);
            var dMaskTarget = _hasMask ? GradOf(3) : null;
            var q = _q!;
            int b = q.Shape[0], nh = q.Shape[1], tq = q.Shape[2], hd = q.Shape[3], tk = _k!.Shape[2];
            // dMask per (batch, head) slice, summed into the mask's own (broadcast) shape afterwards.
            var dMaskFull = dMaskTarget == null ? null : Tensor.Empty([b, nh, tq, tk], q.DType);
            if (g.DType == DType.F32) Run<float>(g, dq, dk, dv, dMaskFull, b * nh, tq, tk, hd);
            else Run<double>(g, dq, dk, dv, dMaskFull, b * nh, tq, tk, hd);
            if (dMaskTarget != null) SumTo(dMaskTarget, dMaskFull!);
        }

        private void Run<T>(Tensor g, Tensor? dq, Tensor? dk, Tensor? dv, Tensor? dMask, int bh, int tq, int tk, int hd)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            AttentionKernel.Backward(SpanOrEmpty<T>(dq), SpanOrEmpty<T>(dk), SpanOrEmpty<T>(dv), SpanOrEmpty<T>(dMask),
                g.Span<T>(), _q!.Span<T>(), _k!.Span<T>(), _v!.Span<T>(), _o!.Span<T>(), _lse!.Span<T>(),
                SpanOrEmpty<T>(_mask), _layout, bh, tq, tk, hd, T.CreateTruncating(_scale));

        protected internal override void ReleaseSaved()
        {
            // q, k, v are usually dense copies of permuted views of one projection; o is the caller's output (kept).
            ReleaseOwned(_q, Inputs[0]); ReleaseOwned(_k, Inputs[1]); ReleaseOwned(_v, Inputs[2]); ReleaseOwned(_lse);
            if (_hasMask) ReleaseOwned(_mask, Inputs[3]);
            _q = _k = _v = _mask = _o = _lse = null;
        }
    }
}
