// Direct convolution for very few input channels (a stem reading RGB): no im2col packing, output channels in registers.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// y = act(conv(x, w) + bias) + residual for C ≤ 4 input channels and O ∈ {16, 32, 48, 64} output channels. With C = 3
/// a GEMM would pack 27 values per pixel to do 27·O multiply-adds with them, so packing, not arithmetic, set its
/// speed; here each pixel's inputs are broadcast straight from x and multiplied into O-wide weight rows, four
/// pixels at a time (the weight row is loaded once for the four). Shapes: x (B, H, W, C), w (KH, KW, C, O),
/// y and residual (B, OutH, OutW, O). Parallel over output rows; each output is summed in a fixed order.
/// </summary>
internal static unsafe class SmallChannelConv
{
    public static bool Supports(in Conv2dGeometry g) =>
        g.Groups == 1 && g.C <= 4 && g.O % 16 == 0 && g.O <= 64 && Vector512.IsHardwareAccelerated;

    public static void Forward(float* y, float* x, float* w, in Conv2dGeometry g, in EpilogueArgs epi)
    {
        FloatMode.EnsureFlushToZero();
        var job = new Job(y, x, w, g, epi);
        int rows = g.B * g.OutH;
        long work = (long)g.OutputLength * g.C * g.KH * g.KW;
        int parts = KernelPool.IsInsidePart || work < 1 << 18 ? 1 : Math.Min(rows, KernelPool.Threads * 4);
        if (parts <= 1) { job.Rows(0, rows); return; }
        KernelPool.Run(parts, p => job.Rows((int)((long)p * rows / parts), (int)((long)(p + 1) * rows / parts)));
    }

    private sealed class Job(float* y, float* x, float* w, Conv2dGeometry g, EpilogueArgs epi)
    {
        public void Rows(int first, int end)
        {
            FloatMode.EnsureFlushToZero();
            switch (g.O / 16)
            {
                case 1: RowsNv<V1>(first, end); break;
                case 2: RowsNv<V2>(first, end); break;
                case 3: RowsNv<V3>(first, end); break;
                default: RowsNv<V4>(first, end); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RowsNv<TV>(int first, int end) where TV : struct, IVectorCount
        {
            int nv = TV.Count, c = g.C, o = g.O, outH = g.OutH, outW = g.OutW, h = g.H, wd = g.W;
            int khs = g.KH, kws = g.KW, sh = g.StrideH, sw = g.StrideW, ph = g.PadH, pw = g.PadW, dh = g.DilationH, dw = g.DilationW;
            float* zeros = stackalloc float[4];
            for (int q = 0; q < 4; q++) zeros[q] = 0;
            float** px = stackalloc float*[4];
            for (int row = first; row < end; row++)
            {
                int b = row / outH, oh = row - b * outH;
                float* image = x + (nint)b * h * wd * c;
                float* yRow = y + (nint)row * outW * o;
                for (int ow0 = 0; ow0 < outW; ow0 += 4)
                {
                    int n = Math.Min(4, outW - ow0);
                    Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
                    Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
                    Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
                    Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
                    // Interior groups (every tap of all four pixels inside the row) address pixels directly.
                    bool interior = n == 4 && ow0 * sw - pw >= 0 && (ow0 + 3) * sw - pw + (kws - 1) * dw < wd;
                    nint pixelStep = (nint)sw * c;
                    for (int kh = 0; kh < khs; kh++)
                    {
                        int ih = oh * sh - ph + kh * dh;
                        if ((uint)ih >= (uint)h) continue; // a padding row contributes nothing
                        float* rowPtr = image + (nint)ih * wd * c;
                        for (int kw = 0; kw < kws; kw++)
                        {
                            if (interior)
                            {
                                float* p0 = rowPtr + (nint)(ow0 * sw - pw + kw * dw) * c;
                                px[0] = p0; px[1] = p0 + pixelStep; px[2] = p0 + 2 * pixelStep; px[3] = p0 + 3 * pixelStep;
                            }
                            else
                            {
                                // Pixels outside the map (padding, or past the row's end) read zeros.
                                for (int j = 0; j < 4; j++)
                                {
                                    int iw = (ow0 + j) * sw - pw + kw * dw;
                                    px[j] = j < n && (uint)iw < (uint)wd ? rowPtr + (nint)iw * c : zeros;
                                }
                            }
                            float* wt = w + (nint)(kh * kws + kw) * c * o;
                            float* q0 = px[0], q1 = px[1], q2 = px[2], q3 = px[3];
                            for (int ci = 0; ci < c; ci++)
                            {
                                float* wr = wt + ci * o;
                                var x0 = Vector512.Create(q0[ci]); var x1 = Vector512.Create(q1[ci]);
                                var x2 = Vector512.Create(q2[ci]); var x3 = Vector512.Create(q3[ci]);
                                var w0 = Vector512.Load(wr);
                                a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10);
                                a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30);
                                if (nv > 1)
                                {
                                    var w1 = Vector512.Load(wr + 16);
                                    a01 = Vector512.FusedMultiplyAdd(x0, w1, a01); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                                    a21 = Vector512.FusedMultiplyAdd(x2, w1, a21); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                                }
                                if (nv > 2)
                                {
                                    var w2 = Vector512.Load(wr + 32);
                                    a02 = Vector512.FusedMultiplyAdd(x0, w2, a02); a12 = Vector512.FusedMultiplyAdd(x1, w2, a12);
                                    a22 = Vector512.FusedMultiplyAdd(x2, w2, a22); a32 = Vector512.FusedMultiplyAdd(x3, w2, a32);
                                }
                                if (nv > 3)
                                {
                                    var w3 = Vector512.Load(wr + 48);
                                    a03 = Vector512.FusedMultiplyAdd(x0, w3, a03); a13 = Vector512.FusedMultiplyAdd(x1, w3, a13);
                                    a23 = Vector512.FusedMultiplyAdd(x2, w3, a23); a33 = Vector512.FusedMultiplyAdd(x3, w3, a33);
                                }
                            }
                        }
                    }
                    float* out0 = yRow + (nint)ow0 * o;
                    Store(out0, a00, a01, a02, a03, nv);
                    if (n > 1) Store(out0 + o, a10, a11, a12, a13, nv);
                    if (n > 2) Store(out0 + 2 * o, a20, a21, a22, a23, nv);
                    if (n > 3) Store(out0 + 3 * o, a30, a31, a32, a33, nv);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Store(float* dst, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, int nv)
        {
            StoreOne(dst, 0, v0);
            if (nv > 1) StoreOne(dst, 16, v1);
            if (nv > 2) StoreOne(dst, 32, v2);
            if (nv > 3) StoreOne(dst, 48, v3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void StoreOne(float* dst, int j, Vector512<float> v)
        {
            if (epi.Bias != null) v += Vector512.Load(epi.Bias + j);
            if (epi.Residual != null && epi.ResidualFirst) v += Vector512.Load(epi.Residual + (dst - y) + j);
            v = EpilogueMath.Activate(v, epi.Act);
            if (epi.Residual != null && !epi.ResidualFirst) v += Vector512.Load(epi.Residual + (dst - y) + j);
            v.Store(dst + j);
        }
    }

    private interface IVectorCount { static abstract int Count { get; } }
    private struct V1 : IVectorCount { public static int Count => 1; }
    private struct V2 : IVectorCount { public static int Count => 2; }
    private struct V3 : IVectorCount { public static int Count => 3; }
    private struct V4 : IVectorCount { public static int Count => 4; }
}
