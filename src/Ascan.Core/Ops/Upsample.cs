// Resampling on NHWC as torch.nn.functional.interpolate: nearest and bilinear (align_corners both ways).
using Ascan.Kernels;

namespace Ascan.Core;

public enum UpsampleMode { Nearest, Bilinear }

public static partial class Ops
{
    /// <summary>Shapes: x (B, H, W, C) → (B, outH, outW, C). Bilinear also downsamples (two taps, no antialias).</summary>
    public static Tensor Upsample(Tensor x, (int H, int W) size, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false)
        => Resample(x, size, null, mode, alignCorners);

    /// <summary>
    /// Shapes: x (B, H, W, C) → (B, ⌊H·scale⌋, ⌊W·scale⌋, C). As PyTorch with a scale factor, the
    /// source coordinates use 1/scale rather than in/out (they differ for non-integer results).
    /// </summary>
    public static Tensor Upsample(Tensor x, double scale, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false)
    {
        if (x.Rank != 4) throw new ArgumentException($"Upsample: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (!(scale > 0)) throw new ArgumentException($"Upsample: scale factor {scale} must be positive.");
        var size = ((int)Math.Floor(x.Dim(1) * scale), (int)Math.Floor(x.Dim(2) * scale));
        return Resample(x, size, scale, mode, alignCorners);
    }

    private static Tensor Resample(Tensor x, (int H, int W) size, double? scale, UpsampleMode mode, bool alignCorners)
    {
        using var _ = Profiler.Scope(mode == UpsampleMode.Nearest ? "UpsampleNearest" : "UpsampleBilinear");
        if (x.Rank != 4) throw new ArgumentException($"Upsample: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (size.H < 1 || size.W < 1) throw new ArgumentException($"Upsample: output size {size} must be positive (input {ShapeUtil.Format(x.Shape)}).");
        if (x.Dim(1) < 1 || x.Dim(2) < 1) throw new ArgumentException($"Upsample: empty spatial input {ShapeUtil.Format(x.Shape)}.");
        if (mode == UpsampleMode.Nearest && alignCorners) throw new ArgumentException("Upsample: alignCorners only applies to bilinear mode (as in PyTorch).");
        int b = x.Dim(0), h = x.Dim(1), w = x.Dim(2), c = x.Dim(3);
        var xc = x.Contiguous();
        var y = Tensor.Empty(new[] { b, size.H, size.W, c }, x.DType, zero: false);
        Node? node = null;
        if (mode == UpsampleMode.Nearest)
        {
            var hi = UpsampleAxis.Nearest(h, size.H, scale); var wi = UpsampleAxis.Nearest(w, size.W, scale);
            if (x.DType == DType.F32) Upsample2dKernel.NearestForward(y.Span<float>(), xc.Span<float>(), b, h, w, c, hi, wi);
            else Upsample2dKernel.NearestForward(y.Span<double>(), xc.Span<double>(), b, h, w, c, hi, wi);
            if (Autograd.NeedsGraph(x)) node = new UpsampleNearestNode(x, hi, wi);
        }
        else
        {
            var ha = UpsampleAxis.Linear(h, size.H, alignCorners, scale); var wa = UpsampleAxis.Linear(w, size.W, alignCorners, scale);
            if (x.DType == DType.F32) Upsample2dKernel.BilinearForward(y.Span<float>(), xc.Span<float>(), b, h, w, c, ha, wa);
            else Upsample2dKernel.BilinearForward(y.Span<double>(), xc.Span<double>(), b, h, w, c, ha, wa);
            if (Autograd.NeedsGraph(x)) node = new UpsampleBilinearNode(x, ha, wa);
        }
        return node == null ? y : Autograd.Record(y, node);
    }

    private sealed class UpsampleNearestNode(Tensor x, int[] hi, int[] wi) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            int b = dx.Dim(0), h = dx.Dim(1), w = dx.Dim(2), c = dx.Dim(3);
            if (g.DType == DType.F32) Upsample2dKernel.NearestBackward(dx.Span<float>(), g.Span<float>(), b, h, w, c, hi, wi);
            else Upsample2dKernel.NearestBackward(dx.Span<double>(), g.Span<double>(), b, h, w, c, hi, wi);
        }
    }

    private sealed class UpsampleBilinearNode(Tensor x, LinearAxis ha, LinearAxis wa) : Node(x)
    {
        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var dx = GradOf(0); if (dx == null) return;
            int b = dx.Dim(0), h = dx.Dim(1), w = dx.Dim(2), c = dx.Dim(3);
            if (g.DType == DType.F32) Upsample2dKernel.BilinearBackward(dx.Span<float>(), g.Span<float>(), b, h, w, c, ha, wa);
            else Upsample2dKernel.BilinearBackward(dx.Span<double>(), g.Span<double>(), b, h, w, c, ha, wa);
        }
    }
}

public sealed partial class Tensor
{
    public Tensor Upsample(int outH, int outW, UpsampleMode mode = UpsampleMode.Nearest, bool alignCorners = false)
        => Ops.Upsample(this, (outH, outW), mode, alignCorners);
}
