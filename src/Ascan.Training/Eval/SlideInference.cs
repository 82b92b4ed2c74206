// Segmentation inference around any logits function: whole image, mmseg's sliding window, multi-scale + flip TTA.
using Ascan.Core;

namespace Ascan.Training.Eval;

public enum SegInferenceMode { Whole, Slide }

/// <summary>How <see cref="SegInference.Run"/> turns images into logits; defaults are mmseg's ADE20K slide test (512 crop, 341 stride).</summary>
public sealed record SegInferenceConfig
{
    public SegInferenceMode Mode { get; init; } = SegInferenceMode.Whole;
    public int CropHeight { get; init; } = 512;
    public int CropWidth { get; init; } = 512;
    public int StrideHeight { get; init; } = 341;
    public int StrideWidth { get; init; } = 341;

    /// <summary>Test-time scale factors of the input (mmseg's img_ratios); [1] = no multi-scale.</summary>
    public double[] Scales { get; init; } = [1.0];

    /// <summary>Also run on the horizontally flipped input of every scale.</summary>
    public bool Flip { get; init; }

    public bool IsTta => Flip || Scales.Length != 1 || Scales[0] != 1.0;

    internal void Validate()
    {
        if (CropHeight < 1 || CropWidth < 1 || StrideHeight < 1 || StrideWidth < 1)
            throw new ArgumentException($"Slide inference needs positive crop and stride, got crop {CropHeight}×{CropWidth}, stride {StrideHeight}×{StrideWidth}.");
        if (Scales.Length == 0 || Scales.Any(s => !(s > 0))) throw new ArgumentException("TTA scales must be a non-empty list of positive factors.");
    }
}

/// <summary>
/// Inference helpers independent of the model: <c>run</c> maps images (B, 3, h, w) to logits (B, K, h, w) at its
/// input size (a segmentor's encode_decode). Everything runs without autograd.
/// </summary>
public static class SegInference
{
    /// <summary>One crop of the image: rows Y1..Y2−1, columns X1..X2−1.</summary>
    public readonly record struct Window(int Y1, int Y2, int X1, int X2)
    {
        public int Height => Y2 - Y1;
        public int Width => X2 - X1;
    }

    /// <summary>
    /// mmseg's slide_inference grid: h_grids = max(H − crop_h + stride_h − 1, 0) // stride_h + 1 (same for w); row-major
    /// over (h_idx, w_idx): y1 = h_idx·stride_h, y2 = min(y1 + crop_h, H), y1 = max(y2 − crop_h, 0), likewise x.
    /// The last window is pushed back to end at the border, so windows overlap rather than run past it.
    /// </summary>
    public static Window[] SlideWindows(int height, int width, int cropHeight, int cropWidth, int strideHeight, int strideWidth)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"Image size must be positive, got {height}×{width}.");
        if (cropHeight < 1 || cropWidth < 1 || strideHeight < 1 || strideWidth < 1) throw new ArgumentException("Crop and stride must be positive.");
        int hGrids = Math.Max(height - cropHeight + strideHeight - 1, 0) / strideHeight + 1;
        int wGrids = Math.Max(width - cropWidth + strideWidth - 1, 0) / strideWidth + 1;
        var windows = new Window[hGrids * wGrids];
        for (int hi = 0; hi < hGrids; hi++)
            for (int wi = 0; wi < wGrids; wi++)
            {
                int y1 = hi * strideHeight, x1 = wi * strideWidth;
                int y2 = Math.Min(y1 + cropHeight, height), x2 = Math.Min(x1 + cropWidth, width);
                y1 = Math.Max(y2 - cropHeight, 0); x1 = Math.Max(x2 - cropWidth, 0);
                windows[hi * wGrids + wi] = new Window(y1, y2, x1, x2);
            }
        return windows;
    }

    /// <summary>Shapes: images (B, 3, H, W) → logits (B, K, H, W), the whole image at once (mmseg's whole_inference).</summary>
    public static Tensor Whole(Func<Tensor, Tensor> run, Tensor images)
    {
        CheckImages(images);
        using var _ = Autograd.NoGrad();
        var logits = run(images);
        CheckLogits(logits, images.Dim(0), images.Dim(2), images.Dim(3), "the whole image");
        return logits.Contiguous();
    }

    /// <summary>
    /// Shapes: images (B, 3, H, W) → logits (B, K, H, W): every <see cref="SlideWindows"/> crop is run, its logits
    /// summed into place, and each pixel divided by the number of windows covering it.
    /// </summary>
    public static Tensor Slide(Func<Tensor, Tensor> run, Tensor images, int cropHeight, int cropWidth, int strideHeight, int strideWidth)
    {
        CheckImages(images);
        using var _ = Autograd.NoGrad();
        int b = images.Dim(0), h = images.Dim(2), w = images.Dim(3);
        var windows = SlideWindows(h, w, cropHeight, cropWidth, strideHeight, strideWidth);
        float[]? sum = null;
        var count = new int[h * w];
        int k = 0;
        foreach (var win in windows)
        {
            var crop = Ops.Slice(Ops.Slice(images, 2, win.Y1, win.Height), 3, win.X1, win.Width).Contiguous();   // (B, 3, ch, cw)
            var logits = run(crop);
            CheckLogits(logits, b, win.Height, win.Width, $"window y {win.Y1}–{win.Y2}, x {win.X1}–{win.X2}");
            if (sum == null) { k = logits.Dim(1); sum = new float[b * k * h * w]; }
            else if (logits.Dim(1) != k) throw new InvalidOperationException($"Slide inference: a window gave {logits.Dim(1)} classes, the first {k}.");
            var src = logits.Contiguous().ReadSpan<float>();
            int ch = win.Height, cw = win.Width;
            for (int bk = 0; bk < b * k; bk++)
                for (int y = 0; y < ch; y++)
                {
                    var s = src.Slice((bk * ch + y) * cw, cw);
                    var d = sum.AsSpan((bk * h + win.Y1 + y) * w + win.X1, cw);
                    for (int x = 0; x < cw; x++) d[x] += s[x];
                }
            for (int y = win.Y1; y < win.Y2; y++)
                for (int x = win.X1; x < win.X2; x++) count[y * w + x]++;
        }
        for (int bk = 0; bk < b * k; bk++)
            for (int p = 0; p < h * w; p++) sum![bk * h * w + p] /= count[p];
        return Tensor.FromArray(sum!, b, k, h, w);
    }

    /// <summary>
    /// Shapes: images (B, 3, H, W) → (B, K, H, W). Without TTA, the logits of <see cref="Whole"/> or <see cref="Slide"/>.
    /// With TTA (several scales or flip), mmseg's SegTTAModel: per scale s the input is resized bilinear to
    /// (int(H·s + 0.5), int(W·s + 0.5)), run (and run flipped, the result flipped back), the logits resized back to
    /// H × W (bilinear, align_corners false) and softmaxed over K; the result is the mean probability over all views.
    /// </summary>
    public static Tensor Run(Func<Tensor, Tensor> run, Tensor images, SegInferenceConfig config)
    {
        config.Validate();
        CheckImages(images);
        using var _ = Autograd.NoGrad();
        Tensor Once(Tensor x) => config.Mode == SegInferenceMode.Slide
            ? Slide(run, x, config.CropHeight, config.CropWidth, config.StrideHeight, config.StrideWidth)
            : Whole(run, x);
        if (!config.IsTta) return Once(images);
        int h = images.Dim(2), w = images.Dim(3);
        Tensor? total = null;
        int views = 0;
        foreach (double s in config.Scales)
        {
            // ASSUMPTION: mmseg resizes the uint8 image before normalising; resizing the normalised tensor is the same up to rounding.
            int sh = Math.Max(1, (int)(h * s + 0.5)), sw = Math.Max(1, (int)(w * s + 0.5));
            var scaled = sh == h && sw == w ? images : Resize(images, sh, sw);
            foreach (bool flip in config.Flip ? new[] { false, true } : [false])
            {
                var logits = flip ? FlipWidth(Once(FlipWidth(scaled))) : Once(scaled);
                if (sh != h || sw != w) logits = Resize(logits, h, w);
                var prob = Ops.Softmax(logits, 1);
                total = total == null ? prob : Ops.Add(total, prob);
                views++;
            }
        }
        return Ops.Div(total!, views).Contiguous();
    }

    /// <summary>Shapes: x (B, C, H, W) → (B, C, height, width), bilinear with align_corners false (F.interpolate).</summary>
    public static Tensor Resize(Tensor x, int height, int width)
    {
        if (x.Rank != 4) throw new ArgumentException($"Resize expects (B, C, H, W), got ({string.Join(", ", x.ShapeArray())}).");
        if (x.Dim(2) == height && x.Dim(3) == width) return x;
        var nhwc = Ops.Permute(x, 0, 2, 3, 1).Contiguous();                                   // (B, H, W, C)
        var r = Ops.Upsample(nhwc, (height, width), UpsampleMode.Bilinear, alignCorners: false); // (B, h, w, C)
        return Ops.Permute(r, 0, 3, 1, 2).Contiguous();                                        // (B, C, h, w)
    }

    /// <summary>Shapes: x (B, C, H, W) → the same, columns reversed (torch.flip(x, [3])).</summary>
    public static Tensor FlipWidth(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"FlipWidth expects (B, C, H, W), got ({string.Join(", ", x.ShapeArray())}).");
        int w = x.Dim(3);
        var reversed = new int[w];
        for (int i = 0; i < w; i++) reversed[i] = w - 1 - i;
        return Ops.IndexSelect(x, 3, reversed);
    }

    /// <summary>Shapes: logits (B, K, H, W) → classes (B, H, W), the first maximum on ties (torch.argmax).</summary>
    public static int[] Argmax(Tensor logits)
    {
        if (logits.Rank != 4) throw new ArgumentException($"Argmax expects logits (B, K, H, W), got ({string.Join(", ", logits.ShapeArray())}).");
        int b = logits.Dim(0), k = logits.Dim(1), hw = logits.Dim(2) * logits.Dim(3);
        var src = logits.Contiguous().ReadSpan<float>();
        var o = new int[b * hw];
        for (int n = 0; n < b; n++)
        {
            var best = new float[hw];
            src.Slice(n * k * hw, hw).CopyTo(best);
            var arg = o.AsSpan(n * hw, hw);
            for (int c = 1; c < k; c++)
            {
                var row = src.Slice((n * k + c) * hw, hw);
                for (int p = 0; p < hw; p++)
                    if (row[p] > best[p]) { best[p] = row[p]; arg[p] = c; }
            }
        }
        return o;
    }

    /// <summary>
    /// Predicted classes at the label's size: logits (B, K, h, w) resized bilinear to (height, width) when they differ
    /// (mmseg resizes the logits back to the original image before the argmax), then argmax → (B, height, width).
    /// </summary>
    public static int[] Predict(Tensor logits, int height, int width)
    {
        using var _ = Autograd.NoGrad();
        return Argmax(Resize(logits, height, width));
    }

    private static void CheckImages(Tensor images)
    {
        if (images.Rank != 4) throw new ArgumentException($"Segmentation inference expects images (B, 3, H, W), got ({string.Join(", ", images.ShapeArray())}).");
        if (images.DType != DType.F32) throw new ArgumentException("Segmentation inference expects float32 images.");
    }

    private static void CheckLogits(Tensor logits, int b, int h, int w, string what)
    {
        if (logits.Rank != 4 || logits.Dim(0) != b || logits.Dim(2) != h || logits.Dim(3) != w || logits.DType != DType.F32)
            throw new InvalidOperationException(
                $"Segmentation inference: for {what} the model must return float32 logits (B={b}, K, {h}, {w}) at its input size, got ({string.Join(", ", logits.ShapeArray())}).");
    }
}
