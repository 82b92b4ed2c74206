// 2-d pooling on NHWC: AvgPool2d, MaxPool2d (argmax backward) and AdaptiveAvgPool2d.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, OH, OW, C), OH = ⌊(H + 2·pad − k) / stride⌋ + 1 (⌈⌉ with ceilMode).
    /// stride defaults to the kernel size; padding at most half the kernel, as in PyTorch.
    /// </summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool countIncludePad = true, bool ceilMode = false)
        => AvgPool2d(x, (kernel, kernel), stride is { } s ? (s, s) : null, (padding, padding), countIncludePad, ceilMode);

    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernel, (int H, int W)? stride, (int H, int W) padding, bool countIncludePad = true, bool ceilMode = false)
    {
        using var _ = Profiler.Scope("AvgPool2d");
        var st = stride ?? kernel;
        CheckPool("AvgPool2d", x, kernel, st, padding, (1, 1));
        var ha = PoolWindows.Avg(x.Dim(1), kernel.H, st.H, padding.H, countIncludePad, ceilMode);
        var wa = PoolWindows.Avg(x.Dim(2), kernel.W, st.W, padding.W, countIncludePad, ceilMode);
        return WindowAverage("AvgPool2d", x, ha, wa);
    }

    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, outH, outW, C). Bin i covers [⌊i·H/outH⌋, ⌈(i+1)·H/outH⌉) as in
    /// PyTorch (bins overlap when H is not a multiple); (1, 1) is global average pooling.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, (int H, int W) output)
    {
        using var _ = Profiler.Scope("AdaptiveAvgPool2d");
        if (x.Rank != 4) throw new ArgumentException($"AdaptiveAvgPool2d: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (output.H < 1 || output.W < 1) throw new ArgumentException($"AdaptiveAvgPool2d: output size {output} must be positive.");
        if (x.Dim(1) < 1 || x.Dim(2) < 1) throw new ArgumentException($"AdaptiveAvgPool2d: empty spatial input {ShapeUtil.Format(x.Shape)}.");
        return WindowAverage("AdaptiveAvgPool2d", x, PoolWindows.Adaptive(x.Dim(1), output.H), PoolWindows.Adaptive(x.Dim(2), output.W));
    }

    public static Tensor AdaptiveAvgPool2d(Tensor x, int output) => AdaptiveAvgPool2d(x, (output, output));

    private static Tensor WindowAverage(string op, Tensor x, PoolAxis ha, PoolAxis wa)
    {
        if (ha.Size < 1 || wa.Size < 1)
            throw new ArgumentException($"{op}: input {ShapeUtil.Format(x.Shape)} gives an empty output ({ha.Size}×{wa.Size}).");
        var xc = x.Contiguous();
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = x.Dim(3);
        var y = Tensor.Empty(new[] { b, ha.Size, wa.Size, c }, x.DType, zero: false);
        if (x.DType == DType.F32) AvgPool2dKernel.Forward(y.Span<float>(), xc.Span<float>(), b, h, w, c, ha, wa);
        else AvgPool2dKernel.Forward(y.Span<double>(), xc.Span<double>(), b, h, w, c, ha, wa);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new WindowAverageNode(x, op, ha, wa));
        return y;
    }

    private sealed class WindowAverageNode(Tensor x, string op, PoolAxis ha, PoolAxis wa) : Node(x)
    {
        public override string Name => op;

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            int b = dx.Dim(0), h = dx.Dim(1), w = dx.Dim(2), c = dx.Dim(3);
            if (g.DType == DType.F32) AvgPool2dKernel.Backward(dx.Span<float>(), g.Span<float>(), b, h, w, c, ha, wa);
            else AvgPool2dKernel.Backward(dx.Span<double>(), g.Span<double>(), b, h, w, c, ha, wa);
        }
    }

    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, OH, OW, C), OH = ⌊(H + 2·pad − dil·(k−1) − 1) / stride⌋ + 1.
    /// Padding never wins; the gradient goes to the first maximum of each window (row-major), as in PyTorch.
    /// </summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
        => MaxPool2d(x, (kernel, kernel), stride is { } s ? (s, s) : null, (padding, padding), (dilation, dilation), ceilMode);

    public static Tensor MaxPool2d(Tensor x, (int H, int W) kernel, (int H, int W)? stride, (int H, int W) padding, (int H, int W) dilation, bool ceilMode = false)
    {
        using var _ = Profiler.Scope("MaxPool2d");
        var st = stride ?? kernel;
        CheckPool("MaxPool2d", x, kernel, st, padding, dilation);
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = x.Dim(3);
        int oh = PoolWindows.OutputSize(h, kernel.H, st.H, padding.H, dilation.H, ceilMode);
        int ow = PoolWindows.OutputSize(w, kernel.W, st.W, padding.W, dilation.W, ceilMode);
        if (oh < 1 || ow < 1) throw new ArgumentException($"MaxPool2d: input {ShapeUtil.Format(x.Shape)} gives an empty output ({oh}×{ow}).");
        var g = new MaxPoolGeometry(b, h, w, c, oh, ow, kernel.H, kernel.W, st.H, st.W, padding.H, padding.W, dilation.H, dilation.W);
        var xc = x.Contiguous();
        var y = Tensor.Empty(new[] { b, oh, ow, c }, x.DType, zero: false);
        bool graph = Autograd.NeedsGraph(x);
        // Without a backward the argmax is scratch: a reused per-thread buffer, not a fresh array every call (a batch-16
        // ResNet stem would otherwise leave 12 MB of garbage per step).
        var argmax = graph ? new int[y.Numel] : ArgmaxScratch(y.Numel);
        var idx = argmax.AsSpan(0, y.Numel);
        if (x.DType == DType.F32) MaxPool2dKernel.Forward(y.Span<float>(), idx, xc.Span<float>(), g);
        else MaxPool2dKernel.Forward(y.Span<double>(), idx, xc.Span<double>(), g);
        if (graph) Autograd.Record(y, new MaxPool2dNode(x, argmax, g));
        return y;
    }

    [ThreadStatic] private static int[]? _argmaxScratch;

    private static int[] ArgmaxScratch(int n)
    {
        if (_argmaxScratch == null || _argmaxScratch.Length < n) _argmaxScratch = new int[n];
        return _argmaxScratch;
    }

    private sealed class MaxPool2dNode(Tensor x, int[] argmax, MaxPoolGeometry geom) : Node(x)
    {
        private int[]? _argmax = argmax;

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            if (g.DType == DType.F32) MaxPool2dKernel.Backward(dx.Span<float>(), g.Span<float>(), _argmax!, geom);
            else MaxPool2dKernel.Backward(dx.Span<double>(), g.Span<double>(), _argmax!, geom);
        }

        protected internal override void ReleaseSaved() => _argmax = null;
    }

    private static void CheckPool(string op, Tensor x, (int H, int W) k, (int H, int W) s, (int H, int W) p, (int H, int W) d)
    {
        if (x.Rank != 4) throw new ArgumentException($"{op}: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (k.H < 1 || k.W < 1 || s.H < 1 || s.W < 1 || d.H < 1 || d.W < 1)
            throw new ArgumentException($"{op}: kernel {k}, stride {s} and dilation {d} must be positive.");
        if (p.H < 0 || p.W < 0 || p.H > k.H / 2 || p.W > k.W / 2)
            throw new ArgumentException($"{op}: padding {p} must be between 0 and half the kernel size {k}.");
    }
}

public sealed partial class Tensor
{
    public Tensor AvgPool2d(int kernel, int? stride = null, int padding = 0) => Ops.AvgPool2d(this, kernel, stride, padding);
    public Tensor MaxPool2d(int kernel, int? stride = null, int padding = 0) => Ops.MaxPool2d(this, kernel, stride, padding);
    public Tensor AdaptiveAvgPool2d(int outH, int outW) => Ops.AdaptiveAvgPool2d(this, (outH, outW));
}
