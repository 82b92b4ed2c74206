// Conv2d on NHWC activations: pointwise as plain GEMM, general via chunked im2col + GEMM, depthwise direct.
using System.Numerics;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>
/// Conv2d forward and backward kernels. Shapes: x (B, H, W, C), y (B, OutH, OutW, O),
/// weight (KH, KW, C/groups, O) — "HWIO": output channels last, so a group's weight is a
/// (KH·KW·C/groups, O/groups) matrix with row stride O, exactly the GEMM's B operand (no reshuffle
/// per call), and the depthwise weight (KH, KW, 1, C) is contiguous over channels for SIMD.
/// Convert PyTorch weights with <see cref="FromTorchLayout{T}"/>.
/// Determinism: every output element is computed in a fixed order that does not depend on the
/// thread count (images, taps and pixel chunks are split by fixed rules; GEMM is itself deterministic).
/// </summary>
public static unsafe partial class Conv2dKernels
{
    // im2col is built in chunks of output pixels of about this many elements, so the patch matrix
    // stays cache-resident between being written and being packed by the GEMM, and large images
    // do not need a huge buffer.
    private const int ColsBudget = 1 << 20;

    /// <summary>y = act(conv(x, w) + bias); bias (O) may be empty. y is overwritten.</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        in Conv2dGeometry g, Activation act = Activation.None) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(g, y.Length, g.OutputLength, x.Length, w.Length);
        if (!bias.IsEmpty && bias.Length < g.O) throw new ArgumentException($"Conv2d bias has {bias.Length} values, needs {g.O}.");
        if (g.B == 0) return;
        if (g.IsDepthwise)
        {
            DepthwiseConv2d.Forward(y, x, w, bias, g, act);
            return;
        }
        int cg = g.Cg, og = g.Og;
        if (g.IsPointwise)
        {
            // (B·H·W, C/groups) · (C/groups, O/groups) per group, reading x and writing y in place.
            int pixels = g.B * g.H * g.W;
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Compute(false, false, pixels, og, cg, x[(grp * cg)..], g.C, w[(grp * og)..], g.O,
                    y[(grp * og)..], g.O, false, new Epilogue<T>(bias.IsEmpty ? default : bias.Slice(grp * og, og), act));
            return;
        }
        if (typeof(T) == typeof(float) && WinogradConv.Supports(g))
        {
            WinogradConv.ForwardHwio(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(w), g,
                new Epilogue<float>(MemoryMarshal.Cast<T, float>(bias), act));
            return;
        }
        if (typeof(T) == typeof(float) && UsesImplicitGemm(g))
        {
            ForwardImplicit(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(w), g,
                new Epilogue<float>(MemoryMarshal.Cast<T, float>(bias), act));
            return;
        }
        var geo = g;
        fixed (T* py = y) fixed (T* px = x) fixed (T* pw = w) fixed (T* pb = bias)
        {
            nint yA = (nint)py, xA = (nint)px, wA = (nint)pw, bA = (nint)pb;
            int biasLen = bias.Length;
            ForImages(g.B, (first, end) =>
            {
                int pix = geo.OutH * geo.OutW, kk = geo.KH * geo.KW * geo.Cg;
                int chunk = ChunkRows(pix, kk);
                var cols = Scratch<T>.Get(chunk * kk);
                var wS = new ReadOnlySpan<T>((void*)wA, geo.WeightLength);
                var bS = new ReadOnlySpan<T>((void*)bA, biasLen);
                for (int b = first; b < end; b++)
                {
                    var xb = new ReadOnlySpan<T>((void*)(xA + (nint)b * geo.H * geo.W * geo.C * sizeof(T)), geo.H * geo.W * geo.C);
                    var yb = new Span<T>((void*)(yA + (nint)b * pix * geo.O * sizeof(T)), pix * geo.O);
                    for (int r0 = 0; r0 < pix; r0 += chunk)
                    {
                        int rows = Math.Min(chunk, pix - r0);
                        for (int grp = 0; grp < geo.Groups; grp++)
                        {
                            Im2Col<T>(cols, xb, geo, grp, r0, rows);
                            Gemm.Compute(false, false, rows, geo.Og, kk, cols, kk, wS[(grp * geo.Og)..], geo.O,
                                yb[(r0 * geo.O + grp * geo.Og)..], geo.O, false,
                                new Epilogue<T>(bS.IsEmpty ? default : bS.Slice(grp * geo.Og, geo.Og), act));
                        }
                    }
                }
            });
        }
    }

    /// <summary>
    /// dx += ∂L/∂x for dy = ∂L/∂y (the gradient at the conv output, before any activation). With
    /// <paramref name="overwrite"/> dx holds nothing yet (it may be uninitialised) and receives ∂L/∂x itself: the paths
    /// that write every element do so directly, the others clear dx first.
    /// </summary>
    public static void BackwardData<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, in Conv2dGeometry g, bool overwrite = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(g, dy.Length, g.OutputLength, dx.Length, w.Length);
        if (g.B == 0)
        {
            if (overwrite) dx[..g.InputLength].Clear();
            return;
        }
        if (typeof(T) == typeof(float) && !g.IsDepthwise && WinogradConv.Supports(g))
        {
            WinogradConv.BackwardDataHwio(MemoryMarshal.Cast<T, float>(dx), MemoryMarshal.Cast<T, float>(dy), MemoryMarshal.Cast<T, float>(w), g, overwrite);
            return;
        }
        int cg = g.Cg, og = g.Og;
        if (g.IsPointwise && !g.IsDepthwise)
        {
            // dX_g (pixels, C/groups) (+)= dY_g (pixels, O/groups) · W_gᵀ; W_g stored (C/groups, O/groups) row stride O.
            // The groups' column blocks cover all of dX, so an overwrite needs no clearing.
            int pixels = g.B * g.H * g.W;
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Compute(false, true, pixels, cg, og, dy[(grp * og)..], g.O, w[(grp * og)..], g.O,
                    dx[(grp * cg)..], g.C, !overwrite);
            return;
        }
        if (overwrite) dx[..g.InputLength].Clear();
        if (g.IsDepthwise)
        {
            DepthwiseConv2d.BackwardData(dx, dy, w, g);
            return;
        }
        var geo = g;
        fixed (T* pdx = dx) fixed (T* pdy = dy) fixed (T* pw = w)
        {
            nint dxA = (nint)pdx, dyA = (nint)pdy, wA = (nint)pw;
            // Images own disjoint slices of dx, so they can run in parallel.
            ForImages(g.B, (first, end) =>
            {
                int pix = geo.OutH * geo.OutW, kk = geo.KH * geo.KW * geo.Cg;
                int chunk = ChunkRows(pix, kk);
                var dcols = Scratch<T>.Get(chunk * kk);
                var wS = new ReadOnlySpan<T>((void*)wA, geo.WeightLength);
                for (int b = first; b < end; b++)
                {
                    var dxb = new Span<T>((void*)(dxA + (nint)b * geo.H * geo.W * geo.C * sizeof(T)), geo.H * geo.W * geo.C);
                    var dyb = new ReadOnlySpan<T>((void*)(dyA + (nint)b * pix * geo.O * sizeof(T)), pix * geo.O);
                    for (int r0 = 0; r0 < pix; r0 += chunk)
                    {
                        int rows = Math.Min(chunk, pix - r0);
                        for (int grp = 0; grp < geo.Groups; grp++)
                        {
                            // dcols (rows, KH·KW·C/groups) = dY_g · W_gᵀ, then scatter-add the patches back (col2im).
                            Gemm.Compute(false, true, rows, kk, geo.Og, dyb[(r0 * geo.O + grp * geo.Og)..], geo.O,
                                wS[(grp * geo.Og)..], geo.O, dcols, kk, false);
                            Col2ImAdd<T>(dxb, dcols, geo, grp, r0, rows);
                        }
                    }
                }
            });
        }
    }

    /// <summary>dw += ∂L/∂w (same (KH, KW, C/groups, O) layout as w) for dy = ∂L/∂y.</summary>
    public static void BackwardWeight<T>(Span<T> dw, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, in Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(g, dy.Length, g.OutputLength, x.Length, dw.Length);
        if (g.B == 0) return;
        if (g.IsDepthwise)
        {
            DepthwiseConv2d.BackwardWeight(dw, x, dy, g);
            return;
        }
        int cg = g.Cg, og = g.Og;
        if (g.IsPointwise)
        {
            // dW_g (C/groups, O/groups) += X_gᵀ · dY_g over all pixels of the batch.
            int pixels = g.B * g.H * g.W;
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Compute(true, false, cg, og, pixels, x[(grp * cg)..], g.C, dy[(grp * og)..], g.O,
                    dw[(grp * og)..], g.O, true);
            return;
        }
        if (typeof(T) == typeof(float) && WinogradConv.WeightGradientPays(g))
        {
            WinogradConv.BackwardWeightHwio(MemoryMarshal.Cast<T, float>(dw), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(dy), g);
            return;
        }
        if (typeof(T) == typeof(float) && UsesImplicitGemm(g))
        {
            BackwardWeightImplicit(MemoryMarshal.Cast<T, float>(dw), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(dy), g);
            return;
        }
        // Images one after another (a fixed summation order for dw); the GEMM inside uses the threads.
        int pix = g.OutH * g.OutW, kk = g.KH * g.KW * cg;
        int chunk = ChunkRows(pix, kk);
        var cols = Scratch<T>.Get(chunk * kk);
        for (int b = 0; b < g.B; b++)
        {
            var xb = x.Slice(b * g.H * g.W * g.C, g.H * g.W * g.C);
            var dyb = dy.Slice(b * pix * g.O, pix * g.O);
            for (int r0 = 0; r0 < pix; r0 += chunk)
            {
                int rows = Math.Min(chunk, pix - r0);
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    Im2Col<T>(cols, xb, g, grp, r0, rows);
                    // dW_g (KH·KW·C/groups, O/groups) += colsᵀ · dY_g
                    Gemm.Compute(true, false, kk, og, rows, cols, kk, dyb[(r0 * g.O + grp * og)..], g.O,
                        dw[(grp * og)..], g.O, true);
                }
            }
        }
    }

    /// <summary>PyTorch weight (O, C/groups, KH, KW) → ours (KH, KW, C/groups, O).</summary>
    public static void FromTorchLayout<T>(Span<T> dst, ReadOnlySpan<T> torch, in Conv2dGeometry g) where T : unmanaged
    {
        if (typeof(T) == typeof(float) && TransposeSupported(g))
        {
            if (dst.Length < g.WeightLength || torch.Length < g.WeightLength) throw new ArgumentException("Conv2d weight layout spans too short.");
            fixed (T* pd = dst) fixed (T* pt = torch) LayoutTranspose((float*)pd, (float*)pt, g, toTorch: false);
            return;
        }
        int cg = g.Cg;
        for (int o = 0; o < g.O; o++)
            for (int ci = 0; ci < cg; ci++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                        dst[((kh * g.KW + kw) * cg + ci) * g.O + o] = torch[((o * cg + ci) * g.KH + kh) * g.KW + kw];
    }

    /// <summary>torch (O, C/groups, KH, KW) += ours (KH, KW, C/groups, O): a weight gradient added back in PyTorch layout.</summary>
    public static void AddToTorchLayout<T>(Span<T> torch, ReadOnlySpan<T> src, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && TransposeSupported(g))
        {
            if (src.Length < g.WeightLength || torch.Length < g.WeightLength) throw new ArgumentException("Conv2d weight layout spans too short.");
            fixed (T* ps = src) fixed (T* pt = torch) LayoutTranspose((float*)ps, (float*)pt, g, toTorch: true);
            return;
        }
        int cg = g.Cg;
        for (int o = 0; o < g.O; o++)
            for (int ci = 0; ci < cg; ci++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                        torch[((o * cg + ci) * g.KH + kh) * g.KW + kw] += src[((kh * g.KW + kw) * cg + ci) * g.O + o];
    }

    private static bool TransposeSupported(in Conv2dGeometry g) =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && g.O % 16 == 0 && g.Cg * g.KH * g.KW % 16 == 0;

    /// <summary>
    /// The layout change as a blocked transpose: torch is an (O, Q) matrix with Q = (c, kh, kw), ours a (Q', O) matrix
    /// whose row for q is r(q) = (kh, kw, c). 16×16 blocks go through registers: torch rows in, our rows out (or back,
    /// adding onto torch). Both dimensions are multiples of 16; spans were checked by the callers.
    /// </summary>
    private static void LayoutTranspose(float* po, float* pt, in Conv2dGeometry g, bool toTorch)
    {
        int o = g.O, cg = g.Cg, kk = g.KH * g.KW, q = cg * kk;
        // Large weights (a training step relays every conv weight out and its gradient back): column blocks of q in
        // parallel, each part writing its own columns of torch / rows of ours.
        int parts = (long)o * q >= 1 << 16 ? Math.Min(4, q / 16) : 1;
        int blocks = q / 16, per = (blocks + parts - 1) / parts;
        nint poA = (nint)po, ptA = (nint)pt;
        KernelPool.Run(parts, p => LayoutTransposeColumns((float*)poA, (float*)ptA, o, cg, kk, toTorch, p * per * 16, Math.Min(q, (p + 1) * per * 16)));
    }

    private static void LayoutTransposeColumns(float* po, float* pt, int o, int cg, int kk, bool toTorch, int qStart, int qEnd)
    {
        int q = cg * kk;
        var rows = stackalloc int[16];
        float* tmp = stackalloc float[16 * 16];
        float* t16 = stackalloc float[16 * 16];
        {
            for (int q0 = qStart; q0 < qEnd; q0 += 16)
            {
                for (int j = 0; j < 16; j++)
                {
                    int qq = q0 + j, ci = qq / kk, tap = qq - ci * kk;
                    rows[j] = tap * cg + ci; // r(q): (kh, kw) major, then c
                }
                for (int o0 = 0; o0 < o; o0 += 16)
                {
                    if (!toTorch)
                    {
                        // 16 torch rows (o) × 16 columns (q) → 16 of our rows r(q) × 16 columns (o).
                        GemmPacking.Transpose16To(new StridedRows(pt + (nint)o0 * q + q0, q, 16), tmp, 16);
                        for (int j = 0; j < 16; j++)
                            System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(tmp + j * 16), po + (nint)rows[j] * o + o0);
                    }
                    else
                    {
                        for (int j = 0; j < 16; j++)
                            System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(po + (nint)rows[j] * o + o0), tmp + j * 16);
                        GemmPacking.Transpose16To(new StridedRows(tmp, 16, 16), t16, 16);
                        for (int i = 0; i < 16; i++)
                        {
                            float* dst = pt + (nint)(o0 + i) * q + q0;
                            var v = System.Runtime.Intrinsics.Vector512.Load(t16 + i * 16);
                            v += System.Runtime.Intrinsics.Vector512.Load(dst);
                            System.Runtime.Intrinsics.Vector512.Store(v, dst);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Ours (KH, KW, C/groups, O) → PyTorch (O, C/groups, KH, KW).</summary>
    public static void ToTorchLayout<T>(Span<T> torch, ReadOnlySpan<T> src, in Conv2dGeometry g)
    {
        int cg = g.Cg;
        for (int o = 0; o < g.O; o++)
            for (int ci = 0; ci < cg; ci++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                        torch[((o * cg + ci) * g.KH + kh) * g.KW + kw] = src[((kh * g.KW + kw) * cg + ci) * g.O + o];
    }

    private static void Check(in Conv2dGeometry g, int outLen, int outNeed, int inLen, int wLen)
    {
        g.Validate();
        if (outLen < outNeed) throw new ArgumentException($"Conv2d output span has {outLen} values, needs {outNeed}.");
        if (inLen < g.InputLength) throw new ArgumentException($"Conv2d input span has {inLen} values, needs {g.InputLength}.");
        if (wLen < g.WeightLength) throw new ArgumentException($"Conv2d weight span has {wLen} values, needs {g.WeightLength}.");
    }

    // Output pixels per im2col chunk: about ColsBudget elements, a multiple of the 14-row GEMM tile.
    private static int ChunkRows(int pixels, int kk) => Math.Min(pixels, Math.Max(14, ColsBudget / kk / 14 * 14));

    /// <summary>Splits images into contiguous ranges, one per thread (each range's work is independent).</summary>
    internal static void ForImages(int count, Action<int, int> body)
    {
        int parts = KernelPool.IsInsidePart ? 1 : Math.Min(count, KernelPool.Threads);
        if (parts <= 1) { body(0, count); return; }
        KernelPool.Run(parts, p => body((int)((long)p * count / parts), (int)((long)(p + 1) * count / parts)));
    }

    /// <summary>
    /// cols (rows, KH·KW·C/groups) for output pixels r0..r0+rows of one image and one group: row
    /// (oh, ow) holds the receptive field, tap-major then channel (zeros where it hangs over the padding).
    /// </summary>
    private static void Im2Col<T>(Span<T> cols, ReadOnlySpan<T> xImage, in Conv2dGeometry g, int grp, int r0, int rows)
    {
        int cg = g.Cg, kk = g.KH * g.KW * cg, ow = g.OutW;
        for (int r = 0; r < rows; r++)
        {
            int p = r0 + r, oh = p / ow, owi = p - oh * ow;
            var dst = cols.Slice(r * kk, kk);
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = owi * g.StrideW - g.PadW + kw * g.DilationW;
                    var seg = dst.Slice((kh * g.KW + kw) * cg, cg);
                    if ((uint)ih < (uint)g.H && (uint)iw < (uint)g.W)
                        xImage.Slice((ih * g.W + iw) * g.C + grp * cg, cg).CopyTo(seg);
                    else seg.Clear();
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col{T}"/>: adds each patch row back onto the input positions it came from.</summary>
    private static void Col2ImAdd<T>(Span<T> dxImage, ReadOnlySpan<T> cols, in Conv2dGeometry g, int grp, int r0, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.Cg, kk = g.KH * g.KW * cg, ow = g.OutW;
        for (int r = 0; r < rows; r++)
        {
            int p = r0 + r, oh = p / ow, owi = p - oh * ow;
            var src = cols.Slice(r * kk, kk);
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.StrideH - g.PadH + kh * g.DilationH;
                if ((uint)ih >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = owi * g.StrideW - g.PadW + kw * g.DilationW;
                    if ((uint)iw >= (uint)g.W) continue;
                    VectorOps.Add(dxImage.Slice((ih * g.W + iw) * g.C + grp * cg, cg), src.Slice((kh * g.KW + kw) * cg, cg));
                }
            }
        }
    }
}

/// <summary>Grow-only per-thread scratch arrays (fresh large buffers page-fault on every call).</summary>
internal static class Scratch<T>
{
    [ThreadStatic] private static T[]? _buffer;

    public static T[] Get(int length)
    {
        var b = _buffer;
        if (b == null || b.Length < length) _buffer = b = GC.AllocateUninitializedArray<T>(length);
        return b;
    }
}

/// <summary>Small element-wise loops for the conv kernels, in <see cref="Vector{T}"/> lanes (separate multiply and add).</summary>
internal static class VectorOps
{
    /// <summary>acc += x.</summary>
    public static void Add<T>(Span<T> acc, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<T>.Count <= acc.Length; i += Vector<T>.Count)
                (new Vector<T>(acc[i..]) + new Vector<T>(x[i..])).CopyTo(acc[i..]);
        for (; i < acc.Length; i++) acc[i] += x[i];
    }

    /// <summary>acc += a ⊙ b.</summary>
    public static void MultiplyAdd<T>(Span<T> acc, ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<T>.Count <= acc.Length; i += Vector<T>.Count)
                (new Vector<T>(acc[i..]) + new Vector<T>(a[i..]) * new Vector<T>(b[i..])).CopyTo(acc[i..]);
        for (; i < acc.Length; i++) acc[i] += a[i] * b[i];
    }
}
