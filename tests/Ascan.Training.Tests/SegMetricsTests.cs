// Segmentation metrics on hand-made cases (mmseg's IoUMetric rules) and the inference helpers (slide grid, whole, TTA).
using Ascan.Core;
using Ascan.Data;
using Ascan.Training.Eval;

namespace Ascan.Training.Tests;

public class SegMetricsTests
{
    // Counted pixels (label ≠ 255) as (pred, label): (0,0) (0,1) (1,1) (0,0) (1,2) (0,2); the pred 2 sits on an ignored pixel.
    private static readonly int[] Pred = [0, 0, 1, 0, 1, 2, 1, 0];
    private static readonly int[] Label = [0, 1, 1, 0, 255, 255, 2, 2];

    [Fact]
    public void SegMetrics_HandCase_IgnoreAbsentNeverPredicted()
    {
        var acc = new SegMetricAccumulator(4);
        acc.Add(Pred, Label);
        Assert.Equal([2L, 1, 0, 0], acc.Intersect);
        Assert.Equal([4L, 3, 2, 0], acc.Union);
        Assert.Equal([2L, 2, 2, 0], acc.LabelArea);
        Assert.Equal([4L, 2, 0, 0], acc.PredArea);       // the 2 predicted on an ignored pixel is not counted
        var r = acc.Compute(["a", "b", "c", "d"]);
        Assert.Equal(6, r.Pixels);
        Assert.Equal(0.5, r.AAcc, 12);
        Assert.Equal(0.5, r.Classes[0].IoU, 12);
        Assert.Equal(1 / 3.0, r.Classes[1].IoU, 12);
        Assert.Equal(0.0, r.Classes[2].IoU);             // in the labels, never predicted → 0
        Assert.Equal(0.0, r.Classes[2].Acc);
        Assert.True(double.IsNaN(r.Classes[3].IoU));     // absent from both → NaN, left out of the means
        Assert.True(double.IsNaN(r.Classes[3].Acc));
        Assert.Equal((0.5 + 1 / 3.0 + 0) / 3, r.MIoU, 12);
        Assert.Equal((1 + 0.5 + 0) / 3, r.MAcc, 12);
        Assert.Equal(r.AAcc, r.ToMetrics()["aAcc"]);
        Assert.Equal(r.MIoU, r.ToMetrics()["mIoU"]);
    }

    [Fact]
    public void SegMetrics_SumsOverDataset_NotMeanOfImages()
    {
        // Image 1: class 0 perfect on 1 pixel; image 2: class 0 wrong on 3 pixels. Summed IoU(0) = 1/4, per-image mean 1/2.
        var acc = new SegMetricAccumulator(2);
        acc.Add([0], [0]);
        acc.Add([1, 1, 1], [0, 0, 0]);
        var whole = new SegMetricAccumulator(2);
        whole.Add([0, 1, 1, 1], [0, 0, 0, 0]);
        var r = acc.Compute();
        Assert.Equal(0.25, r.Classes[0].IoU, 12);
        Assert.Equal(whole.Compute(), r, new ResultComparer());
        var merged = new SegMetricAccumulator(2);
        var part = new SegMetricAccumulator(2);
        part.Add([1, 1, 1], [0, 0, 0]);
        merged.Add([0], [0]);
        merged.Merge(part);
        Assert.Equal(acc.Intersect, merged.Intersect);
        Assert.Equal(acc.Union, merged.Union);
        Assert.Equal(acc.Pixels, merged.Pixels);
    }

    private sealed class ResultComparer : IEqualityComparer<SegMetricResult>
    {
        public bool Equals(SegMetricResult? a, SegMetricResult? b) =>
            a!.AAcc == b!.AAcc && a.MIoU.Equals(b.MIoU) && a.MAcc.Equals(b.MAcc) && a.Classes.SequenceEqual(b.Classes);
        public int GetHashCode(SegMetricResult r) => 0;
    }

    [Fact]
    public void SegMetrics_AllIgnored_NaNEverywhere_AndOutOfRangeLabelsCountInNoClass()
    {
        var acc = new SegMetricAccumulator(3);
        acc.Add([0, 1], [255, 255]);
        var r = acc.Compute();
        Assert.True(double.IsNaN(r.AAcc) && double.IsNaN(r.MIoU) && double.IsNaN(r.MAcc));
        // A label 7 (not a class, not ignored): its pixel counts, its area goes nowhere (torch.histc), the prediction's does.
        acc.Add([1], [7]);
        Assert.Equal([0L, 0, 0], acc.LabelArea);
        Assert.Equal([0L, 1, 0], acc.PredArea);
        Assert.Equal(1, acc.Pixels);
    }

    [Fact]
    public void SegMetrics_FromLogits_ArgmaxAndResizeToMaskSize()
    {
        // Logits (1, 2, 1, 2): class 1 wins on the left, class 0 on the right; masks at 1×4 (logits resized bilinear).
        var logits = Tensor.FromArray([0f, 1f, 1f, 0f], 1, 2, 1, 2);
        var acc = new SegMetricAccumulator(2);
        acc.Add(logits, new Batch(Tensor.Zeros(1, 3, 1, 2)) { Masks = [1, 1, 0, 0], MaskHeight = 1, MaskWidth = 4 });
        Assert.Equal(1.0, acc.Compute().AAcc);
        Assert.Equal([1, 0], SegInference.Argmax(logits));
        Assert.Throws<ArgumentException>(() => acc.Add(Tensor.Zeros(1, 3, 1, 2), [0, 0]));
    }

    [Fact]
    public void SegMetrics_TableCsvJson()
    {
        var acc = new SegMetricAccumulator(4);
        acc.Add(Pred, Label);
        var r = acc.Compute(["road", "car, red", "sky", "tree"]);
        string table = r.ToTable();
        Assert.Contains("| road     |  50.00 | 100.00 |", table);
        Assert.Contains("| sky      |   0.00 |   0.00 |", table);
        Assert.Contains("| tree     |    nan |    nan |", table);
        Assert.Contains("aAcc 50.00  mIoU 27.78  mAcc 50.00", table);
        var csv = r.ToCsv().Split('\n');
        Assert.Equal("class,iou,acc,intersect,union,label_area,pred_area", csv[0]);
        Assert.Equal("road,0.5,1,2,4,2,4", csv[1]);
        Assert.StartsWith("\"car, red\",0.333", csv[2]);
        Assert.Equal("tree,,,0,0,0,0", csv[4]);
        using var doc = System.Text.Json.JsonDocument.Parse(r.ToJson());
        var root = doc.RootElement;
        Assert.Equal(0.5, root.GetProperty("aAcc").GetDouble());
        Assert.Equal(6, root.GetProperty("pixels").GetInt64());
        var tree = root.GetProperty("classes")[3];
        Assert.Equal("tree", tree.GetProperty("name").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, tree.GetProperty("iou").ValueKind);
        Assert.Equal(4, root.GetProperty("classes")[0].GetProperty("union").GetInt64());
    }
}

public class SegInferenceTests
{
    [Fact]
    public void SlideWindows_Ade512x683_Crop512_Stride341()
    {
        // h_grids = max(512 − 512 + 340, 0) // 341 + 1 = 1; w_grids = (683 − 512 + 340) // 341 + 1 = 2;
        // second window: x1 = 341, x2 = min(853, 683) = 683, x1 = max(683 − 512, 0) = 171.
        var w = SegInference.SlideWindows(512, 683, 512, 512, 341, 341);
        Assert.Equal([new SegInference.Window(0, 512, 0, 512), new SegInference.Window(0, 512, 171, 683)], w);
    }

    [Fact]
    public void SlideWindows_TwoByThreeGrid_AndSmallerThanCrop()
    {
        // 700 × 1000: h_grids = 528 // 341 + 1 = 2, w_grids = 828 // 341 + 1 = 3; the last row and column end at the border.
        var w = SegInference.SlideWindows(700, 1000, 512, 512, 341, 341);
        Assert.Equal(
        [
            new SegInference.Window(0, 512, 0, 512), new SegInference.Window(0, 512, 341, 853), new SegInference.Window(0, 512, 488, 1000),
            new SegInference.Window(188, 700, 0, 512), new SegInference.Window(188, 700, 341, 853), new SegInference.Window(188, 700, 488, 1000),
        ], w);
        // An image smaller than the crop is one window: the whole image.
        Assert.Equal([new SegInference.Window(0, 300, 0, 200)], SegInference.SlideWindows(300, 200, 512, 512, 341, 341));
    }

    // A position-dependent "model": logits depend on the crop's own coordinates, so stitching errors would show.
    private static Tensor Positional(Tensor x)
    {
        int b = x.Dim(0), h = x.Dim(2), w = x.Dim(3);
        var src = x.Contiguous().ReadSpan<float>();
        var o = new float[b * 2 * h * w];
        for (int n = 0; n < b; n++)
            for (int p = 0; p < h * w; p++)
            {
                o[(n * 2) * h * w + p] = src[(n * 3) * h * w + p] + (p % w) / (float)w;
                o[(n * 2 + 1) * h * w + p] = src[(n * 3 + 1) * h * w + p];
            }
        return Tensor.FromArray(o, b, 2, h, w);
    }

    // A pointwise "model": each pixel's logits from its own values only (so any tiling gives the same map).
    private static Tensor Pointwise(Tensor x)
    {
        var c0 = Ops.Slice(x, 1, 0, 1);
        var c1 = Ops.Mul(Ops.Slice(x, 1, 1, 1), -2.0);
        return Ops.Cat([c0, c1], 1).Contiguous();
    }

    [Fact]
    public void Slide_EqualsWhole_WhenOneWindowCovers_AndForPointwiseModels()
    {
        var img = Tensor.Randn(new Rng(3), DType.F32, 2, 3, 9, 13);
        var whole = SegInference.Whole(Positional, img);
        var slide = SegInference.Slide(Positional, img, 16, 16, 8, 8);
        Assert.Equal(whole.Span<float>().ToArray(), slide.Span<float>().ToArray());
        // Overlapping windows (2 × 3 of them) average to the same map when the model is pointwise.
        var pw = SegInference.Whole(Pointwise, img).Span<float>().ToArray();
        var ps = SegInference.Slide(Pointwise, img, 6, 6, 4, 4).Span<float>().ToArray();
        Assert.Equal(pw.Length, ps.Length);
        for (int i = 0; i < pw.Length; i++) Assert.Equal(pw[i], ps[i], 5);
        // Each window's crop reaches the model at the window's size.
        var sizes = new List<(int, int)>();
        SegInference.Slide(x => { sizes.Add((x.Dim(2), x.Dim(3))); return Pointwise(x); }, img, 6, 6, 4, 4);
        Assert.Equal(SegInference.SlideWindows(9, 13, 6, 6, 4, 4).Select(w => (w.Height, w.Width)), sizes);
        // The wrong output size is a clear error.
        var e = Assert.Throws<InvalidOperationException>(() => SegInference.Whole(x => Ops.Slice(x, 2, 0, 4).Contiguous(), img));
        Assert.Contains("at its input size", e.Message);
    }

    [Fact]
    public void Tta_FlipAndScales_OnConstantImage_EqualsSoftmaxOfWhole()
    {
        // Constant channels: resizing and flipping change nothing, so every view gives the same probabilities.
        var data = new float[1 * 3 * 10 * 14];
        for (int c = 0; c < 3; c++) Array.Fill(data, 0.3f * (c + 1), c * 140, 140);
        var img = Tensor.FromArray(data, 1, 3, 10, 14);
        var expect = Ops.Softmax(SegInference.Whole(Pointwise, img), 1).Span<float>().ToArray();
        var config = new SegInferenceConfig { Scales = [0.5, 1.0, 1.75], Flip = true };
        var tta = SegInference.Run(Pointwise, img, config);
        Assert.Equal([1, 2, 10, 14], tta.ShapeArray());
        var got = tta.Span<float>().ToArray();
        for (int i = 0; i < expect.Length; i++) Assert.Equal(expect[i], got[i], 5);
        // Slide mode under TTA as well.
        var slide = SegInference.Run(Pointwise, img, config with { Mode = SegInferenceMode.Slide, CropHeight = 6, CropWidth = 6, StrideHeight = 4, StrideWidth = 4 });
        var gs = slide.Span<float>().ToArray();
        for (int i = 0; i < expect.Length; i++) Assert.Equal(expect[i], gs[i], 5);
        // No TTA: the raw logits.
        Assert.Equal(SegInference.Whole(Pointwise, img).Span<float>().ToArray(), SegInference.Run(Pointwise, img, new SegInferenceConfig()).Span<float>().ToArray());
    }

    [Fact]
    public void Tta_Flip_FlipsBack()
    {
        // The positional model's column ramp: flipped back, the two views average to a map symmetric in x.
        var img = Tensor.Zeros(1, 3, 4, 6);
        var p = SegInference.Run(Positional, img, new SegInferenceConfig { Flip = true }).Span<float>().ToArray();
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                Assert.Equal(p[y * 6 + x], p[y * 6 + 5 - x], 6);
        var flipped = SegInference.FlipWidth(Tensor.FromArray([1f, 2f, 3f], 1, 1, 1, 3)).Span<float>().ToArray();
        Assert.Equal([3f, 2f, 1f], flipped);
    }
}
