// Shape of a 2-D convolution on NHWC activations: sizes, stride, padding, dilation, groups.
namespace Ascan.Kernels;

/// <summary>
/// Shapes: x (B, H, W, C), y (B, OutH, OutW, O), weight (KH, KW, C/Groups, O) — see
/// <see cref="Conv2dKernels"/> for why the weight is stored output-channel-last.
/// </summary>
public readonly record struct Conv2dGeometry(
    int B, int H, int W, int C, int O, int KH, int KW,
    int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0,
    int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    public int OutH => (H + 2 * PadH - DilationH * (KH - 1) - 1) / StrideH + 1;
    public int OutW => (W + 2 * PadW - DilationW * (KW - 1) - 1) / StrideW + 1;
    /// <summary>Input channels per group (the weight's third dimension).</summary>
    public int Cg => C / Groups;
    /// <summary>Output channels per group.</summary>
    public int Og => O / Groups;
    public int InputLength => B * H * W * C;
    public int OutputLength => B * OutH * OutW * O;
    public int WeightLength => KH * KW * Cg * O;

    /// <summary>A 1×1, stride-1, unpadded convolution is exactly a GEMM over pixels: no im2col needed.</summary>
    public bool IsPointwise => KH == 1 && KW == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0;

    /// <summary>One input and one output channel per group (multiplier 1): handled by the direct kernel.</summary>
    public bool IsDepthwise => Groups == C && O == C;

    public void Validate()
    {
        if (B < 0 || H <= 0 || W <= 0 || C <= 0 || O <= 0 || KH <= 0 || KW <= 0)
            throw new ArgumentException($"Conv2d: sizes must be positive ({this}).");
        if (StrideH <= 0 || StrideW <= 0 || DilationH <= 0 || DilationW <= 0 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"Conv2d: stride and dilation must be positive, padding non-negative ({this}).");
        if (Groups <= 0 || C % Groups != 0 || O % Groups != 0)
            throw new ArgumentException($"Conv2d: groups {Groups} must divide C {C} and O {O}.");
        if (OutH <= 0 || OutW <= 0)
            throw new ArgumentException($"Conv2d: kernel larger than the padded input ({this}).");
    }
}
