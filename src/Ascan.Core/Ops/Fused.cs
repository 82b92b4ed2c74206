// Inference-only fused ops: conv and linear on pre-packed weights with bias, activation and residual in the GEMM output step; attention on a fused qkv.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

/// <summary>
/// A Conv2d weight converted once from PyTorch layout (O, C, KH, KW) to the kernels' (KH, KW, C, O), optionally
/// scaled per output channel (a folded BatchNorm), and packed as the GEMM's B operand — or, for 3×3 stride-1
/// convs, transformed for Winograd F(2×2, 3×3) (<see cref="WinogradConv"/>). Groups 1, float32.
/// </summary>
public sealed class PackedConv2dWeight : IDisposable
{
    /// <summary>The implicit-GEMM weight, or null when the conv runs on <see cref="Winograd"/>.</summary>
    public PackedB? Packed { get; }
    /// <summary>The Winograd-domain weight, or null.</summary>
    public WinogradWeight? Winograd { get; }
    /// <summary>The plain (KH, KW, C, O) weight for the direct few-input-channel kernel (a stem), or null.</summary>
    public float[]? Direct { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelH { get; }
    public int KernelW { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    public (int H, int W) Dilation { get; }

    internal PackedConv2dWeight(PackedB? packed, WinogradWeight? winograd, float[]? direct, int c, int o, int kh, int kw, (int, int) stride, (int, int) padding, (int, int) dilation)
    {
        Packed = packed; Winograd = winograd; Direct = direct; InChannels = c; OutChannels = o; KernelH = kh; KernelW = kw;
        Stride = stride; Padding = padding; Dilation = dilation;
    }

    /// <summary>Whether the packed layout still matches the active GEMM kernel.</summary>
    public bool IsCurrent => Packed?.IsCurrent ?? Winograd?.IsCurrent ?? true;

    public void Dispose() { Packed?.Dispose(); Winograd?.Dispose(); }
}

public static partial class Ops
{
    /// <summary>Whether the pre-packed float kernels exist on this machine (AVX-512 or AVX2 with FMA).</summary>
    public static bool PackedKernelsSupported => PackedB.IsSupported;

    /// <summary>Packs a Linear weight (out, in), float32, for <see cref="LinearPacked"/>.</summary>
    public static PackedB PackLinearWeight(Tensor weight)
    {
        if (weight.Rank != 2 || weight.DType != DType.F32)
            throw new ArgumentException($"PackLinearWeight: weight{(weight.Name != null ? " " + weight.Name : "")} must be a float32 (out, in) matrix, got {ShapeUtil.Format(weight.Shape)} {weight.DType}.");
        var w = Dense(weight);
        return PackedB.Create(w.ReadSpan<float>(), weight.Dim(1), transB: true, k: weight.Dim(1), n: weight.Dim(0));
    }

    /// <summary>
    /// Packs a Conv2d weight (O, C, KH, KW) in PyTorch layout, float32, groups 1, for <see cref="Conv2dPacked"/>;
    /// output channel o is multiplied by <paramref name="outScale"/>[o] when given (BatchNorm folding).
    /// </summary>
    public static PackedConv2dWeight PackConv2dWeight(Tensor weight, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation,
        ReadOnlySpan<double> outScale = default)
    {
        string wn = weight.Name != null ? $" {weight.Name}" : "";
        if (weight.Rank != 4 || weight.DType != DType.F32)
            throw new ArgumentException($"PackConv2dWeight: weight{wn} must be a float32 (O, C, KH, KW) tensor, got {ShapeUtil.Format(weight.Shape)} {weight.DType}.");
        int o = weight.Dim(0), c = weight.Dim(1), kh = weight.Dim(2), kw = weight.Dim(3);
        if (!outScale.IsEmpty && outScale.Length != o) throw new ArgumentException($"PackConv2dWeight: {outScale.Length} scales for {o} output channels{wn}.");
        var src = Dense(weight).ReadSpan<float>();
        // The (KH, KW, C, O) copy is temporary: native memory, freed at once, so packing a large model leaves no
        // garbage on the managed heap (it would count in the process's peak memory until the next full collection).
        int count = kh * kw * c * o;
        unsafe
        {
            float* buffer = (float*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)count, sizeof(float));
            try
            {
                var hwio = new Span<float>(buffer, count);
                for (int oi = 0; oi < o; oi++)
                {
                    double s = outScale.IsEmpty ? 1.0 : outScale[oi];
                    for (int ci = 0; ci < c; ci++)
                        for (int y = 0; y < kh; y++)
                            for (int x = 0; x < kw; x++)
                                hwio[((y * kw + x) * c + ci) * o + oi] = (float)(src[((oi * c + ci) * kh + y) * kw + x] * s);
                }
                // Winograd depends only on the kernel, not on the input size; the geometry below stands for any input.
                var probe = new Conv2dGeometry(1, 8, 8, c, o, kh, kw, stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W);
                if (WinogradConv.Supports(probe))
                    return new PackedConv2dWeight(null, WinogradConv.PackWeight(hwio, c, o), null, c, o, kh, kw, stride, padding, dilation);
                if (Conv2dKernels.UsesDirectSmallChannel(probe))
                    return new PackedConv2dWeight(null, null, hwio.ToArray(), c, o, kh, kw, stride, padding, dilation);
                var packed = PackedB.Create(hwio, o, transB: false, k: kh * kw * c, n: o);
                return new PackedConv2dWeight(packed, null, null, c, o, kh, kw, stride, padding, dilation);
            }
            finally { System.Runtime.InteropServices.NativeMemory.Free(buffer); }
        }
    }

    /// <summary>
    /// Inference Linear on a packed weight: y = act(x·Wᵀ + bias) + residual in one GEMM pass (act(x·Wᵀ + bias + residual)
    /// with <paramref name="residualBeforeAct"/>).
    /// Shapes: x (…, in), bias (out) or null, residual like y or null → y (…, out). No backward: throws when a
    /// gradient would be needed.
    /// </summary>
    public static Tensor LinearPacked(Tensor x, PackedB weight, Tensor? bias = null, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        using var _ = Profiler.Scope("Linear");
        Autograd.NoBackward("LinearPacked", x, bias, residual);
        int inF = weight.K, outF = weight.N;
        if (x.DType != DType.F32 || x.Rank == 0 || x.Dim(-1) != inF)
            throw new ArgumentException($"LinearPacked: input {ShapeUtil.Format(x.Shape)} {x.DType} must be float32 ending in {inF} features.");
        var yShape = x.ShapeArray(); yShape[^1] = outF;
        CheckFusedOperands("LinearPacked", bias, outF, residual, yShape);
        int rows = x.Numel / inF;
        MacCounter.Add((long)rows * inF * outF);
        var xc = Dense(x);
        var y = Tensor.Empty(yShape, DType.F32, zero: false);
        Gemm.ComputePacked(rows, xc.ReadSpan<float>(), inF, weight, y.Span<float>(), outF, FusedEpilogue(bias, act, residual, residualBeforeAct));
        return y;
    }

    /// <summary>
    /// Inference Linear on the plain (out, in) weight: y = act(x·Wᵀ + bias) + residual in one GEMM pass, B packed by
    /// the GEMM as it goes (for many rows that costs little, and no packed copy of the weight is kept). Weight and bias
    /// are only read (their versions stay put). Shapes as <see cref="LinearPacked"/>. No backward.
    /// </summary>
    public static Tensor LinearFused(Tensor x, Tensor weight, Tensor? bias = null, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        using var _ = Profiler.Scope("Linear");
        Autograd.NoBackward("LinearFused", x, bias, residual);
        if (weight.Rank != 2 || weight.DType != DType.F32) throw new ArgumentException($"LinearFused: weight must be a float32 (out, in) matrix, got {ShapeUtil.Format(weight.Shape)} {weight.DType}.");
        int inF = weight.Dim(1), outF = weight.Dim(0);
        if (x.DType != DType.F32 || x.Rank == 0 || x.Dim(-1) != inF)
            throw new ArgumentException($"LinearFused: input {ShapeUtil.Format(x.Shape)} {x.DType} must be float32 ending in {inF} features.");
        var yShape = x.ShapeArray(); yShape[^1] = outF;
        CheckFusedOperands("LinearFused", bias, outF, residual, yShape);
        int rows = x.Numel / inF;
        MacCounter.Add((long)rows * inF * outF);
        var xc = Dense(x);
        var y = Tensor.Empty(yShape, DType.F32, zero: false);
        Gemm.Compute(false, true, rows, outF, inF, xc.ReadSpan<float>(), inF, Dense(weight).ReadSpan<float>(), inF, y.Span<float>(), outF, false,
            FusedEpilogue(bias, act, residual, residualBeforeAct));
        return y;
    }

    private static Epilogue<float> FusedEpilogue(Tensor? bias, Activation act, Tensor? residual, bool residualBeforeAct) =>
        new(bias == null ? default : Dense(bias).ReadSpan<float>(), act, residual == null ? default : Dense(residual).ReadSpan<float>(), residualBeforeAct);

    /// <summary>
    /// Inference Conv2d on a packed weight: y = act(conv(x, w) + bias) + residual in one implicit-GEMM pass (no im2col
    /// matrix), or by Winograd F(2×2, 3×3) for 3×3 stride-1 convs. Shapes: x (B, H, W, C) channels-last, bias (O) or null, residual (B, OH, OW, O) or null → (B, OH, OW, O).
    /// No backward: throws when a gradient would be needed.
    /// </summary>
    public static Tensor Conv2dPacked(Tensor x, PackedConv2dWeight weight, Tensor? bias = null, Activation act = Activation.None, Tensor? residual = null, bool residualBeforeAct = false)
    {
        using var _ = Profiler.Scope("Conv2d");
        Autograd.NoBackward("Conv2dPacked", x, bias, residual);
        if (x.DType != DType.F32 || x.Rank != 4 || x.Dim(3) != weight.InChannels)
            throw new ArgumentException($"Conv2dPacked: input {ShapeUtil.Format(x.Shape)} {x.DType} must be float32 (B, H, W, {weight.InChannels}) channels-last.");
        var g = new Conv2dGeometry(x.Dim(0), x.Dim(1), x.Dim(2), weight.InChannels, weight.OutChannels, weight.KernelH, weight.KernelW,
            weight.Stride.H, weight.Stride.W, weight.Padding.H, weight.Padding.W, weight.Dilation.H, weight.Dilation.W);
        if (g.OutH < 1 || g.OutW < 1)
            throw new ArgumentException($"Conv2dPacked: input {x.Dim(1)}×{x.Dim(2)} is too small for kernel {g.KH}×{g.KW}.");
        int[] yShape = [g.B, g.OutH, g.OutW, g.O];
        CheckFusedOperands("Conv2dPacked", bias, g.O, residual, yShape);
        MacCounter.Add((long)g.B * g.OutH * g.OutW * g.O * g.C * g.KH * g.KW);
        var xc = Dense(x);
        var y = Tensor.Empty(yShape, DType.F32, zero: false);
        var epilogue = FusedEpilogue(bias, act, residual, residualBeforeAct);
        if (weight.Winograd is { } wino) WinogradConv.Forward(y.Span<float>(), xc.ReadSpan<float>(), wino, g, epilogue);
        else if (weight.Direct is { } direct) Conv2dKernels.ForwardDirect(y.Span<float>(), xc.ReadSpan<float>(), direct, g, epilogue);
        else Conv2dKernels.ForwardPacked(y.Span<float>(), xc.ReadSpan<float>(), weight.Packed!, g, epilogue);
        return y;
    }

    /// <summary>
    /// Self-attention on a fused projection: softmax(q·kᵀ·scale)·v with q, k, v read in place from it (no permute copies),
    /// output written with heads concatenated, ready for the output projection. Differentiable: the backward gives
    /// the gradient of the whole projection (B, T, 3·C); it keeps only qkv, the output and the row log-sum-exps.
    /// Composite twin (tests): reshape (B, T, 3, NH, HD) → permute → <see cref="ScaledDotProductAttention"/> → merge heads.
    /// Shapes: qkv (B, T, 3·NH·HD) → (B, T, NH·HD).
    /// </summary>
    public static Tensor AttentionQkv(Tensor qkv, int heads, double? scale = null)
    {
        using var _ = Profiler.Scope("ScaledDotProductAttention");
        if (qkv.Rank != 3 || heads < 1 || qkv.Dim(2) % (3 * heads) != 0)
            throw new ArgumentException($"AttentionQkv: qkv must be (B, T, 3·NH·HD) with NH = {heads}, got {ShapeUtil.Format(qkv.Shape)}.");
        int b = qkv.Dim(0), t = qkv.Dim(1), c = qkv.Dim(2) / 3, hd = c / heads;
        double s = scale ?? 1.0 / Math.Sqrt(hd);
        MacCounter.Add(2L * b * heads * t * t * hd);
        var qc = Dense(qkv);
        var o = Tensor.Empty([b, t, c], qkv.DType, zero: false);
        bool graph = Autograd.NeedsGraph(qkv);
        var lse = graph ? Tensor.Empty([b * heads * t], qkv.DType, zero: false) : null;
        if (qkv.DType == DType.F32)
            AttentionKernel.ForwardQkv(o.Span<float>(), lse == null ? default : lse.Span<float>(), qc.ReadSpan<float>(), b, t, heads, hd, (float)s);
        else AttentionQkvGeneric<double>(o, lse, qc, b, t, heads, hd, s);
        if (graph) Autograd.Record(o, new AttentionQkvNode(qkv, qc, o.Detach(), lse!, b, t, heads, hd, s));
        return o;
    }

    /// <summary>The float64 forward (gradient checks): gather the heads, the contiguous kernel, merge the heads.</summary>
    private static void AttentionQkvGeneric<T>(Tensor o, Tensor? lse, Tensor qkv, int b, int t, int nh, int hd, double s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = nh * hd, n = b * nh * t * hd;
        var q = new T[n]; var k = new T[n]; var v = new T[n]; var o4 = new T[n];
        var src = qkv.ReadSpan<T>();
        AttentionKernel.GatherHeads(q, src, b, t, nh, hd, 3 * c, 0);
        AttentionKernel.GatherHeads(k, src, b, t, nh, hd, 3 * c, c);
        AttentionKernel.GatherHeads(v, src, b, t, nh, hd, 3 * c, 2 * c);
        var l = lse == null ? new T[b * nh * t] : null;
        AttentionKernel.Forward<T>(o4, lse == null ? l : lse.Span<T>(), q, k, v, default, new MaskLayout(nh, 0, 0), b * nh, t, t, hd, T.CreateTruncating(s));
        var os = o.Span<T>();
        os.Clear();
        AttentionKernel.ScatterAddHeads<T>(os, o4, b, t, nh, hd, c, 0);
    }

    private sealed class AttentionQkvNode : Node
    {
        private readonly int _b, _t, _nh, _hd;
        private readonly double _scale;
        private Tensor? _qkv, _o, _lse;

        public AttentionQkvNode(Tensor qkv, Tensor qc, Tensor o, Tensor lse, int b, int t, int nh, int hd, double scale) : base(qkv)
        {
            _qkv = qc; _o = o; _lse = lse; _b = b; _t = t; _nh = nh; _hd = hd; _scale = scale;
        }

        public override string Name => "ScaledDotProductAttention";

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            if (GradOfForOverwrite(0, out bool fresh) is not { } dqkv) return;
            if (g.DType == DType.F32) Run<float>(g, dqkv, fresh); else Run<double>(g, dqkv, fresh);
        }

        // Heads gathered into (B·NH, T, HD) scratch for the streaming backward, gradients scattered back into (B, T, 3C).
        // fresh: dqkv holds nothing yet; the q, k and v parts cover all of it, so they are copied rather than added.
        private void Run<T>(Tensor g, Tensor dqkv, bool fresh) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int c = _nh * _hd, n = _b * _nh * _t * _hd, ld3 = 3 * c;
            var shape = new[] { n };
            Tensor Scratch(bool zero) => Tensor.Empty(shape, g.DType, zero);
            Tensor q = Scratch(false), k = Scratch(false), v = Scratch(false), o = Scratch(false), dO = Scratch(false);
            Tensor dq = Scratch(true), dk = Scratch(true), dv = Scratch(true);
            var src = _qkv!.ReadSpan<T>();
            AttentionKernel.GatherHeads(q.Span<T>(), src, _b, _t, _nh, _hd, ld3, 0);
            AttentionKernel.GatherHeads(k.Span<T>(), src, _b, _t, _nh, _hd, ld3, c);
            AttentionKernel.GatherHeads(v.Span<T>(), src, _b, _t, _nh, _hd, ld3, 2 * c);
            AttentionKernel.GatherHeads(o.Span<T>(), _o!.ReadSpan<T>(), _b, _t, _nh, _hd, c, 0);
            AttentionKernel.GatherHeads(dO.Span<T>(), g.ReadSpan<T>(), _b, _t, _nh, _hd, c, 0);
            AttentionKernel.Backward(dq.Span<T>(), dk.Span<T>(), dv.Span<T>(), default, dO.ReadSpan<T>(), q.ReadSpan<T>(), k.ReadSpan<T>(),
                v.ReadSpan<T>(), o.ReadSpan<T>(), _lse!.ReadSpan<T>(), default, new MaskLayout(_nh, 0, 0), _b * _nh, _t, _t, _hd, T.CreateTruncating(_scale));
            var d = dqkv.Span<T>();
            AttentionKernel.ScatterAddHeads(d, dq.ReadSpan<T>(), _b, _t, _nh, _hd, ld3, 0, fresh);
            AttentionKernel.ScatterAddHeads(d, dk.ReadSpan<T>(), _b, _t, _nh, _hd, ld3, c, fresh);
            AttentionKernel.ScatterAddHeads(d, dv.ReadSpan<T>(), _b, _t, _nh, _hd, ld3, 2 * c, fresh);
            foreach (var tmp in new[] { q, k, v, o, dO, dq, dk, dv }) TensorScope.Release(tmp);
        }

        protected internal override void ReleaseSaved()
        {
            ReleaseOwned(_qkv, Inputs[0]); ReleaseOwned(_lse);
            _qkv = _o = _lse = null;
        }
    }

    private static void CheckFusedOperands(string op, Tensor? bias, int n, Tensor? residual, int[] yShape)
    {
        if (bias != null && (bias.Rank != 1 || bias.Dim(0) != n || bias.DType != DType.F32))
            throw new ArgumentException($"{op}: bias{(bias.Name != null ? " " + bias.Name : "")} {ShapeUtil.Format(bias.Shape)} {bias.DType}, expected float32 [{n}].");
        if (residual != null && (!ShapeUtil.Equal(residual.Shape, yShape) || residual.DType != DType.F32))
            throw new ArgumentException($"{op}: residual {ShapeUtil.Format(residual.Shape)} {residual.DType}, expected float32 {ShapeUtil.Format(yShape)}.");
    }
}
