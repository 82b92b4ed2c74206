// Winograd F(2×2, 3×3) convolution for 3×3 stride-1 convs (float, NHWC, inference): 16 GEMMs on transformed tiles instead of 36 MACs per output.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// A 3×3 conv weight in the Winograd domain: U_ξ = G·g·Gᵀ for each of the 16 positions ξ of the 4×4 tile, each a
/// (C, O) matrix packed as a GEMM B operand, all 16 in one native buffer. G = [[1, 0, 0], [½, ½, ½], [½, −½, ½],
/// [0, 0, 1]]. Created once for inference (<see cref="WinogradConv.PackWeight"/>, transform in double), or refilled
/// every step for training (<see cref="Fill"/>, transform in float).
/// </summary>
public sealed unsafe class WinogradWeight : IDisposable
{
    private float* _data;
    private long _capacity;
    private int _nPad, _kcb, _nr;
    private long _plane;

    /// <summary>Rows (GEMM K) and columns (GEMM N) of each transformed matrix: input and output channels of the conv it runs.</summary>
    public int C { get; private set; }
    public int O { get; private set; }

    internal WinogradWeight() { }

    /// <summary>Whether the packed layout still matches the active GEMM kernel and blocking.</summary>
    public bool IsCurrent => _data != null && _nr == Sgemm.ActiveNr && _kcb == Sgemm.KBlock(C);
    public long Bytes => 16 * _plane * sizeof(float);

    internal PackedB.Source Source(int xi)
    {
        if (!IsCurrent) throw new InvalidOperationException("Winograd weight was packed for another GEMM kernel; pack it again.");
        return new PackedB.Source(_data + xi * _plane, _nPad);
    }

    /// <summary>
    /// Refills from the transformed matrices u (16 planes of (c, o), plane ξ at u + ξ·c·o). With
    /// <paramref name="transposeFlip"/> it holds the weight of the adjoint conv (the data gradient): plane ξ is the
    /// transpose of u's plane σ(ξ), σ swapping tile rows/columns 0 and 3 — flipping g spatially maps G·g·Gᵀ to
    /// P·(G·g·Gᵀ)·Pᵀ with P that row swap — so the matrices are (o, c).
    /// </summary>
    internal void Pack(float* u, int c, int o, bool transposeFlip)
    {
        int k = transposeFlip ? o : c, n = transposeFlip ? c : o;
        _nr = Sgemm.ActiveNr; _kcb = Sgemm.KBlock(k);
        _nPad = (n + _nr - 1) / _nr * _nr;
        _plane = (long)_nPad * k;
        C = k; O = n;
        if (_capacity < 16 * _plane)
        {
            Free();
            _capacity = 16 * _plane;
            _data = (float*)NativeMemory.AlignedAlloc((nuint)(_capacity * sizeof(float)), 64);
            GC.AddMemoryPressure(_capacity * sizeof(float));
        }
        // The 16 planes are independent: packed in parallel (a training step repacks every 3×3 weight twice).
        nint uA = (nint)u, dataA = (nint)_data;
        long planeFloats = _plane;
        int kcb = _kcb, nPad = _nPad;
        bool avx512 = Sgemm.ActivePath == SgemmPath.Avx512;
        KernelPool.Run(16, xi =>
        {
            int src = transposeFlip ? Sigma(xi / 4) * 4 + Sigma(xi % 4) : xi;
            float* b = (float*)uA + (long)src * c * o;
            float* dst = (float*)dataA + xi * planeFloats;
            for (int pc = 0; pc < k; pc += kcb)
            {
                int kc = Math.Min(kcb, k - pc);
                if (avx512) GemmPacking.PackB<Kernel14x32>(transposeFlip, b, o, pc, kc, 0, n, dst + (nint)pc * nPad);
                else GemmPacking.PackB<Kernel6x16>(transposeFlip, b, o, pc, kc, 0, n, dst + (nint)pc * nPad);
            }
        });
    }

    /// <summary>σ: tile rows/columns 0 and 3 swapped (see <see cref="Pack"/>).</summary>
    private static int Sigma(int i) => i == 0 ? 3 : i == 3 ? 0 : i;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~WinogradWeight() => Free();

    private void Free()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        GC.RemoveMemoryPressure(_capacity * sizeof(float));
        _data = null; _capacity = 0;
    }
}

/// <summary>
/// y = act(conv3×3(x, w) + bias) + residual by Winograd's minimal filtering F(2×2, 3×3) (Lavin &amp; Gray 2016):
/// each 2×2 output tile comes from a 4×4 input tile d as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, so the channel sums become
/// 16 GEMMs (tiles × C)·(C × O) with 16 multiplies per 4 outputs instead of 36: 2.25× fewer MACs. The transforms
/// use only additions (and ½ in the weight transform), so float rounding stays at the level of the direct conv.
/// Tiles are processed in chunks (input transform → 16 GEMMs → output transform with the epilogue) so the
/// transformed data stays in cache; chunks run in parallel, or with few tiles (batch 1, small maps) the 16 GEMMs do.
/// Shapes: x (B, H, W, C), y and residual (B, OH, OW, O) with OH = H + 2·pad − 2; C and O multiples of 16.
/// </summary>
public static unsafe class WinogradConv
{
    /// <summary>Tiles per chunk (about 8 GEMM row panels): the chunk's transformed input stays in L2/L3.</summary>
    internal static int ChunkTiles = 112;

    /// <summary>Whether this geometry runs on the Winograd path: 3×3, stride 1, dilation 1, groups 1, padding ≤ 2, channels in whole vectors.</summary>
    public static bool Supports(in Conv2dGeometry g) =>
        g.KH == 3 && g.KW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1 && g.Groups == 1
        && g.PadH <= 2 && g.PadW <= 2 && g.C % 16 == 0 && g.O % 16 == 0 && Vector512.IsHardwareAccelerated && PackedB.IsSupported;

    /// <summary>Transforms and packs a (3, 3, C, O) kernel-layout weight.</summary>
    public static WinogradWeight PackWeight(ReadOnlySpan<float> wHwio, int c, int o)
    {
        if (wHwio.Length < 9 * c * o) throw new ArgumentException($"Winograd weight has {wHwio.Length} values, needs {9 * c * o} for (3, 3, {c}, {o}).");
        double[,] gm = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
        // The 16 transformed matrices live in one temporary native buffer (no managed garbage), each packed in turn.
        long plane = (long)c * o;
        float* u = (float*)NativeMemory.Alloc((nuint)(16 * plane), sizeof(float));
        try
        {
            var g = stackalloc double[9];
            for (int ci = 0; ci < c; ci++)
                for (int oi = 0; oi < o; oi++)
                {
                    for (int t = 0; t < 9; t++) g[t] = wHwio[t * c * o + ci * o + oi];
                    for (int a = 0; a < 4; a++)
                        for (int b = 0; b < 4; b++)
                        {
                            double s = 0;
                            for (int i = 0; i < 3; i++)
                                for (int j = 0; j < 3; j++) s += gm[a, i] * g[i * 3 + j] * gm[b, j];
                            u[(a * 4 + b) * plane + (long)ci * o + oi] = (float)s;
                        }
                }
            var w = new WinogradWeight();
            w.Pack(u, c, o, transposeFlip: false);
            return w;
        }
        finally { NativeMemory.Free(u); }
    }

    /// <summary>
    /// U_ξ for all 16 ξ from a (3, 3, C, O) weight, in float, 16 output channels at a time (O a multiple of 16): the
    /// per-step transform of the training path. u holds 16 planes of (C, O).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transform(float* u, float* hwio, int c, int o)
    {
        // Input channels in two halves on two threads (each writes its own rows of every plane).
        nint uA = (nint)u, wA = (nint)hwio;
        int half = (c + 1) / 2;
        KernelPool.Run(2, p => TransformRows((float*)uA, (float*)wA, c, o, p * half, Math.Min(c, (p + 1) * half)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformRows(float* u, float* hwio, int c, int o, int first, int end)
    {
        long plane = (long)c * o;
        var half = Vector512.Create(0.5f);
        var r = stackalloc Vector512<float>[12];
        for (int ci = first; ci < end; ci++)
            for (int o0 = 0; o0 < o; o0 += 16)
            {
                float* g = hwio + (long)ci * o + o0;
                nint tap = (nint)c * o;
                // Rows of G·g (4 × 3): g_0, ½(g_0 + g_1 + g_2), ½(g_0 − g_1 + g_2), g_2, per kernel column j.
                for (int j = 0; j < 3; j++)
                {
                    var g0 = Vector512.Load(g + (0 * 3 + j) * tap); var g1 = Vector512.Load(g + (1 * 3 + j) * tap); var g2 = Vector512.Load(g + (2 * 3 + j) * tap);
                    var s02 = g0 + g2;
                    r[0 * 3 + j] = g0; r[1 * 3 + j] = (s02 + g1) * half; r[2 * 3 + j] = (s02 - g1) * half; r[3 * 3 + j] = g2;
                }
                // Then ·Gᵀ over the columns, the same combination.
                float* dst = u + (long)ci * o + o0;
                for (int a = 0; a < 4; a++)
                {
                    var c0 = r[a * 3]; var c1 = r[a * 3 + 1]; var c2 = r[a * 3 + 2];
                    var s02 = c0 + c2;
                    c0.Store(dst + (a * 4 + 0) * plane);
                    ((s02 + c1) * half).Store(dst + (a * 4 + 1) * plane);
                    ((s02 - c1) * half).Store(dst + (a * 4 + 2) * plane);
                    c2.Store(dst + (a * 4 + 3) * plane);
                }
            }
    }

    /// <summary>
    /// Training forward: y = conv3×3(x, w) + bias with the (3, 3, C, O) weight transformed and packed for this call into
    /// a per-thread buffer (weights change every step). Shapes as <see cref="Forward"/>.
    /// </summary>
    public static void ForwardHwio(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> wHwio, in Conv2dGeometry g, Epilogue<float> epilogue = default)
    {
        if (!Supports(g)) throw new ArgumentException($"Winograd F(2,3) does not handle this conv ({g}).");
        if (wHwio.Length < g.WeightLength) throw new ArgumentException($"Winograd weight has {wHwio.Length} values, needs {g.WeightLength}.");
        var w = Scratch.Weight(g, wHwio, transposeFlip: false);
        Forward(y, x, w, g, epilogue);
    }

    /// <summary>
    /// dx += ∂L/∂x of a 3×3 stride-1 conv: the adjoint is itself a 3×3 stride-1 conv of dy with the weight flipped in
    /// space and transposed in channels, padding 2 − pad, so it runs on the same Winograd path (its output step adds
    /// onto dx). Shapes: dx (B, H, W, C), dy (B, OH, OW, O), weight (3, 3, C, O).
    /// </summary>
    /// <param name="overwrite">dx holds no gradient yet (uninitialised): write it instead of adding to it.</param>
    public static void BackwardDataHwio(Span<float> dx, ReadOnlySpan<float> dy, ReadOnlySpan<float> wHwio, in Conv2dGeometry g, bool overwrite = false)
    {
        if (!Supports(g)) throw new ArgumentException($"Winograd F(2,3) does not handle this conv ({g}).");
        if (wHwio.Length < g.WeightLength) throw new ArgumentException($"Winograd weight has {wHwio.Length} values, needs {g.WeightLength}.");
        var adjoint = new Conv2dGeometry(g.B, g.OutH, g.OutW, g.O, g.C, 3, 3, 1, 1, 2 - g.PadH, 2 - g.PadW);
        var w = Scratch.Weight(g, wHwio, transposeFlip: true);
        Forward(dx, dy, w, adjoint, overwrite ? default : new Epilogue<float>(default, Activation.None, dx));
    }

    /// <summary>
    /// dw += ∂L/∂w of a 3×3 stride-1 conv by the adjoint of the Winograd forward: dU_ξ = Σ_tiles V_ξᵀ·dM_ξ with V = Bᵀ d B
    /// (the forward's input transform of x) and dM = A·dY·Aᵀ (the adjoint of the output transform), then
    /// dw = Gᵀ·dU·G per channel pair. 16 GEMMs of K = tiles instead of one of K = 9·pixels: 2.25× fewer multiply-adds.
    /// Tiles are taken in chunks (all at once when their transforms fit <see cref="WholeTransformFloats"/>), each
    /// chunk's transforms split over two threads; the 16 products accumulate in parallel (one thread per ξ, a fixed
    /// order, so results do not depend on the thread count). Shapes: dw (3, 3, C, O) accumulated, x (B, H, W, C),
    /// dy (B, OH, OW, O).
    /// </summary>
    public static void BackwardWeightHwio(Span<float> dwHwio, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in Conv2dGeometry g)
    {
        // (Callers take this path only with many tiles per weight, see WeightGradientPays: each chunk adds to all of dU.)
        if (!Supports(g)) throw new ArgumentException($"Winograd F(2,3) does not handle this conv ({g}).");
        if (dwHwio.Length < g.WeightLength || x.Length < g.InputLength || dy.Length < g.OutputLength)
            throw new ArgumentException($"Winograd weight gradient spans too short for {g}.");
        if (g.B == 0) return;
        FloatMode.EnsureFlushToZero();
        int c = g.C, o = g.O, th = (g.OutH + 1) / 2, tw = (g.OutW + 1) / 2, tiles = g.B * th * tw;
        // Few tiles (small maps): all of them in one chunk, so each dU_ξ is a single GEMM over every tile.
        int chunk = 16L * tiles * (c + o) <= WholeTransformFloats ? tiles : 512;
        long plane = (long)c * o;
        var du = NativeScratch.Get(ref _gradDU, 16 * plane);
        var v = NativeScratch.Get(ref _gradV, 16L * chunk * c);
        var dm = NativeScratch.Get(ref _gradDM, 16L * chunk * o);
        var geo = g;
        fixed (float* px = x) fixed (float* pdy = dy) fixed (float* pdw = dwHwio)
        {
            nint duA = (nint)du.Data, vA = (nint)v.Data, dmA = (nint)dm.Data, xA = (nint)px, dyA = (nint)pdy;
            for (int t0 = 0; t0 < tiles; t0 += chunk)
            {
                int count = Math.Min(chunk, tiles - t0), half = (count + 1) / 2, first = t0;
                // Both transforms of the chunk, its tiles in two halves on two threads (each tile written once).
                KernelPool.Run(2, p =>
                {
                    FloatMode.EnsureFlushToZero();
                    int s0 = p * half, n = Math.Min(half, count - s0);
                    InputRows((float*)vA, (float*)xA, geo, first + s0, n, first, count);
                    OutputAdjointRows((float*)dmA, (float*)dyA, geo, first + s0, n, first, count);
                });
                // dU_ξ (C, O) (+)= V_ξᵀ (C, count) · dM_ξ (count, O), each ξ on one thread; the first chunk writes dU.
                KernelPool.Run(16, xi =>
                {
                    FloatMode.EnsureFlushToZero();
                    Sgemm.Run(new StridedA((float*)vA + (nint)xi * count * c, c, true), new StridedB((float*)dmA + (nint)xi * count * o, o, false),
                        c, o, count, (float*)duA + xi * plane, o, first > 0, default);
                });
            }
            AdjointWeightTransform(pdw, du.Data, c, o);
        }
        GC.KeepAlive(du); GC.KeepAlive(v); GC.KeepAlive(dm);
    }

    /// <summary>
    /// Whether the Winograd weight gradient beats the direct one: either the transforms of all tiles fit a scratch budget
    /// (each dU_ξ is then one GEMM), or there are enough tiles per channel pair that re-reading dU per chunk is cheap.
    /// </summary>
    public static bool WeightGradientPays(in Conv2dGeometry g)
    {
        if (!Supports(g)) return false;
        long tiles = (long)g.B * ((g.OutH + 1) / 2) * ((g.OutW + 1) / 2);
        return tiles >= 2L * (g.C + g.O) || 16 * tiles * (g.C + g.O) <= WholeTransformFloats;
    }

    /// <summary>With at most this many floats of transformed input and gradient, the weight gradient transforms every
    /// tile first and runs 16 independent GEMMs over all of them (no accumulation of dU across chunks).</summary>
    internal static long WholeTransformFloats = 12L << 20;   // a field so that tests can force the chunked path


    /// <summary>V_ξ[t, c] = (Bᵀ d B)_ξ for tiles t0..t0+count of x, row-major per ξ in planes of <paramref name="planeRows"/>
    /// rows, tile t written to row t − rowBase.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputRows(float* v, float* x, in Conv2dGeometry g, int t0, int count, int rowBase, int planeRows)
    {
        int c = g.C, h = g.H, w = g.W, th = (g.OutH + 1) / 2, tw = (g.OutW + 1) / 2;
        nint plane = (nint)planeRows * c;
        var d = stackalloc Vector512<float>[16];
        for (int t = 0; t < count; t++)
        {
            int tile = t0 + t, b = tile / (th * tw), rem = tile - b * th * tw, ty = rem / tw, tx = rem - ty * tw;
            int ih0 = 2 * ty - g.PadH, iw0 = 2 * tx - g.PadW;
            float* image = x + (nint)b * h * w * c;
            float* dst = v + (nint)(tile - rowBase) * c;
            for (int ch = 0; ch < c; ch += 16)
            {
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        int ih = ih0 + i, iw = iw0 + j;
                        d[i * 4 + j] = (uint)ih < (uint)h && (uint)iw < (uint)w ? Vector512.Load(image + ((nint)ih * w + iw) * c + ch) : Vector512<float>.Zero;
                    }
                for (int j = 0; j < 4; j++)
                {
                    var d0 = d[j]; var d1 = d[4 + j]; var d2 = d[8 + j]; var d3 = d[12 + j];
                    d[j] = d0 - d2; d[4 + j] = d1 + d2; d[8 + j] = d2 - d1; d[12 + j] = d1 - d3;
                }
                for (int i = 0; i < 4; i++)
                {
                    var a0 = d[4 * i]; var a1 = d[4 * i + 1]; var a2 = d[4 * i + 2]; var a3 = d[4 * i + 3];
                    (a0 - a2).Store(dst + (4 * i + 0) * plane + ch);
                    (a1 + a2).Store(dst + (4 * i + 1) * plane + ch);
                    (a2 - a1).Store(dst + (4 * i + 2) * plane + ch);
                    (a1 - a3).Store(dst + (4 * i + 3) * plane + ch);
                }
            }
        }
    }

    /// <summary>
    /// dM_ξ[t, o] = (A·dY·Aᵀ)_ξ, the adjoint of the output transform, with A = [[1, 0], [1, 1], [1, −1], [0, −1]]:
    /// a tile's 2×2 output gradients (zero past the map edge) spread over its 16 positions. Row-major (count, O) per ξ.
    /// </summary>

    /// <summary>The same for planes of <paramref name="planeRows"/> rows, tile t written to row t − rowBase.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputAdjointRows(float* dm, float* dy, in Conv2dGeometry g, int t0, int count, int rowBase, int planeRows)
    {
        int o = g.O, oh = g.OutH, ow = g.OutW, th = (oh + 1) / 2, tw = (ow + 1) / 2;
        nint plane = (nint)planeRows * o;
        var r = stackalloc Vector512<float>[8];
        for (int t = 0; t < count; t++)
        {
            int tile = t0 + t, b = tile / (th * tw), rem = tile - b * th * tw, ty = rem / tw, tx = rem - ty * tw;
            int y0 = 2 * ty, x0 = 2 * tx;
            bool right = x0 + 1 < ow, down = y0 + 1 < oh;
            float* p00 = dy + (((nint)b * oh + y0) * ow + x0) * o;
            float* dst = dm + (nint)(tile - rowBase) * o;
            for (int ch = 0; ch < o; ch += 16)
            {
                var y00 = Vector512.Load(p00 + ch);
                var y01 = right ? Vector512.Load(p00 + o + ch) : Vector512<float>.Zero;
                var y10 = down ? Vector512.Load(p00 + (nint)ow * o + ch) : Vector512<float>.Zero;
                var y11 = down && right ? Vector512.Load(p00 + (nint)ow * o + o + ch) : Vector512<float>.Zero;
                // Rows a: r_0 = y_0, r_1 = y_0 + y_1, r_2 = y_0 − y_1, r_3 = −y_1 (each a row of two).
                r[0] = y00; r[1] = y01;
                r[2] = y00 + y10; r[3] = y01 + y11;
                r[4] = y00 - y10; r[5] = y01 - y11;
                r[6] = -y10; r[7] = -y11;
                for (int a = 0; a < 4; a++)
                {
                    var c0 = r[2 * a]; var c1 = r[2 * a + 1];
                    c0.Store(dst + (4 * a + 0) * plane + ch);
                    (c0 + c1).Store(dst + (4 * a + 1) * plane + ch);
                    (c0 - c1).Store(dst + (4 * a + 2) * plane + ch);
                    (-c1).Store(dst + (4 * a + 3) * plane + ch);
                }
            }
        }
    }

    /// <summary>dw[i, j] += (Gᵀ·dU·G)[i, j] per (c, o): the adjoint of U = G·g·Gᵀ, 16 output channels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdjointWeightTransform(float* dw, float* du, int c, int o)
    {
        long plane = (long)c * o;
        nint tap = (nint)c * o;
        var half = Vector512.Create(0.5f);
        var r = stackalloc Vector512<float>[12];
        for (int ci = 0; ci < c; ci++)
            for (int o0 = 0; o0 < o; o0 += 16)
            {
                float* src = du + (long)ci * o + o0;
                // Rows i of Gᵀ·dU: r_0 = u_0 + ½(u_1 + u_2), r_1 = ½(u_1 − u_2), r_2 = ½(u_1 + u_2) + u_3, per column b.
                for (int bcol = 0; bcol < 4; bcol++)
                {
                    var u0 = Vector512.Load(src + (0 * 4 + bcol) * plane); var u1 = Vector512.Load(src + (1 * 4 + bcol) * plane);
                    var u2 = Vector512.Load(src + (2 * 4 + bcol) * plane); var u3 = Vector512.Load(src + (3 * 4 + bcol) * plane);
                    var s12 = (u1 + u2) * half;
                    r[0 * 4 + bcol] = u0 + s12; r[1 * 4 + bcol] = (u1 - u2) * half; r[2 * 4 + bcol] = s12 + u3;
                }
                float* dst = dw + (long)ci * o + o0;
                for (int i = 0; i < 3; i++)
                {
                    var c0 = r[i * 4]; var c1 = r[i * 4 + 1]; var c2 = r[i * 4 + 2]; var c3 = r[i * 4 + 3];
                    var s12 = (c1 + c2) * half;
                    float* t0 = dst + (i * 3 + 0) * tap; float* t1 = dst + (i * 3 + 1) * tap; float* t2 = dst + (i * 3 + 2) * tap;
                    (Vector512.Load(t0) + c0 + s12).Store(t0);
                    (Vector512.Load(t1) + (c1 - c2) * half).Store(t1);
                    (Vector512.Load(t2) + s12 + c3).Store(t2);
                }
            }
    }

    /// <summary>The calling thread's transform buffer and packed weights for the training path (grow-only).</summary>
    private static class Scratch
    {
        [ThreadStatic] private static WinogradWeight? _weight;

        public static WinogradWeight Weight(in Conv2dGeometry g, ReadOnlySpan<float> wHwio, bool transposeFlip)
        {
            var u = NativeScratch.Get(ref _u, 16L * g.C * g.O);
            fixed (float* pw = wHwio) Transform(u.Data, pw, g.C, g.O);
            var w = _weight ??= new WinogradWeight();
            w.Pack(u.Data, g.C, g.O, transposeFlip);
            GC.KeepAlive(u);
            return w;
        }
    }

    public static void Forward(Span<float> y, ReadOnlySpan<float> x, WinogradWeight w, in Conv2dGeometry g, Epilogue<float> epilogue = default)
    {
        if (!Supports(g)) throw new ArgumentException($"Winograd F(2,3) does not handle this conv ({g}).");
        if (w.C != g.C || w.O != g.O) throw new ArgumentException($"Winograd weight is for {w.C} → {w.O} channels, geometry is {g.C} → {g.O}.");
        if (!w.IsCurrent) throw new InvalidOperationException("Winograd weight was packed for another GEMM kernel; pack it again.");
        if (y.Length < g.OutputLength || x.Length < g.InputLength) throw new ArgumentException($"Winograd conv spans too short for {g}.");
        if (!epilogue.Bias.IsEmpty && epilogue.Bias.Length < g.O) throw new ArgumentException($"Conv2d bias has {epilogue.Bias.Length} values, needs {g.O}.");
        if (!epilogue.Residual.IsEmpty && epilogue.Residual.Length < g.OutputLength) throw new ArgumentException($"Conv2d residual has {epilogue.Residual.Length} values, needs {g.OutputLength}.");
        if (g.B == 0) return;
        FloatMode.EnsureFlushToZero();
        fixed (float* py = y) fixed (float* px = x) fixed (float* pb = epilogue.Bias) fixed (float* pr = epilogue.Residual)
        {
            var job = new Job(w, g, px, py, epilogue.Bias.IsEmpty ? null : pb, epilogue.Act, epilogue.Residual.IsEmpty ? null : pr, epilogue.ResidualBeforeAct);
            job.Run();
        }
        GC.KeepAlive(w);
    }

    private sealed class Job
    {
        private readonly WinogradWeight _w;
        private readonly float* _x, _y, _bias, _res;
        private readonly Activation _act;
        private readonly bool _resFirst;
        private readonly int _h, _w_, _c, _o, _oh, _ow, _ph, _pw, _th, _tw, _tiles, _mr, _kcb, _per, _chunks, _ob, _oBlocks;
        private float* _sharedV;

        public Job(WinogradWeight w, in Conv2dGeometry g, float* x, float* y, float* bias, Activation act, float* res, bool resFirst)
        {
            _w = w; _x = x; _y = y; _bias = bias; _act = act; _res = res; _resFirst = resFirst;
            _h = g.H; _w_ = g.W; _c = g.C; _o = g.O; _oh = g.OutH; _ow = g.OutW; _ph = g.PadH; _pw = g.PadW;
            _th = (_oh + 1) / 2; _tw = (_ow + 1) / 2;
            _tiles = g.B * _th * _tw;
            _mr = Sgemm.ActiveMr;
            _kcb = Sgemm.KBlock(_c);
            // Balanced chunks of whole row panels.
            int chunks = (_tiles + ChunkTiles - 1) / ChunkTiles;
            _per = RoundUp((_tiles + chunks - 1) / chunks, _mr);
            _chunks = (_tiles + _per - 1) / _per;
            // Output-channel blocks small enough that a block's 16 products (16 × rows × OB floats) stay in L2.
            _ob = Math.Min(_o, Math.Max(32, 8192 / _per / 32 * 32));
            _oBlocks = (_o + _ob - 1) / _ob;
        }

        private static int RoundUp(int a, int b) => (a + b - 1) / b * b;

        // One transformed-input plane per ξ: the chunk's rows in GEMM panel layout, plus slack.
        private long PlaneFloats => (long)_per * _c + 16;

        public void Run()
        {
            int threads = KernelPool.IsInsidePart ? 1 : KernelPool.Threads;
            if (threads == 1 || _chunks >= 2 * threads)
            {
                if (_chunks == 1) Chunk(0);
                else KernelPool.Run(_chunks, Chunk);
                return;
            }
            // Few tiles (batch 1 on small maps): each chunk's transform once, then its output-channel blocks split over
            // the threads, so each thread streams only its own columns of the weights.
            var buf = NativeScratch.Get(ref _v, 16 * PlaneFloats);
            _sharedV = buf.Data;
            for (int chunk = 0; chunk < _chunks; chunk++)
            {
                int t0 = chunk * _per, count = Math.Min(_per, _tiles - t0);
                InputTransform(t0, count, _sharedV);
                KernelPool.Run(_oBlocks, ob =>
                {
                    FloatMode.EnsureFlushToZero();
                    var mb = NativeScratch.Get(ref _m, (long)16 * _per * _ob);
                    OBlock(t0, count, ob, _sharedV, mb.Data);
                    GC.KeepAlive(mb);
                });
            }
            GC.KeepAlive(buf);
        }

        private void Chunk(int chunk)
        {
            FloatMode.EnsureFlushToZero();
            int t0 = chunk * _per, count = Math.Min(_per, _tiles - t0);
            var v = NativeScratch.Get(ref _v, 16 * PlaneFloats);
            var m = NativeScratch.Get(ref _m, (long)16 * _per * _ob);
            InputTransform(t0, count, v.Data);
            for (int ob = 0; ob < _oBlocks; ob++) OBlock(t0, count, ob, v.Data, m.Data);
            GC.KeepAlive(v); GC.KeepAlive(m);
        }

        /// <summary>Columns [ob·OB, …) of the 16 products M_ξ (count, OB) = V_ξ · U_ξ, then their output transform.</summary>
        private void OBlock(int t0, int count, int ob, float* v, float* m)
        {
            int o0 = ob * _ob, n = Math.Min(_ob, _o - o0);
            for (int xi = 0; xi < 16; xi++)
                Sgemm.Run(new PrepackedA(v + xi * PlaneFloats, RoundUp(count, _mr)), new OffsetB<PackedB.Source>(_w.Source(xi), o0),
                    count, n, _c, m + (nint)xi * count * n, n, false, default);
            OutputTransform(t0, count, o0, n, m);
        }

        /// <summary>
        /// V_ξ for tiles t0..t0+count: Bᵀ d B per 4×4 input tile d, 16 channels at a time, written straight into the
        /// GEMM's A panel layout (per K block, row panels of Mr tiles, k-major) so the GEMM packs nothing.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void InputTransform(int t0, int count, float* v)
        {
            long planeFloats = PlaneFloats;
            int rowsPadded = RoundUp(count, _mr);
            var d = stackalloc Vector512<float>[16];
            var tmp = stackalloc Vector512<float>[16 * 16]; // [ξ][tile in panel]
            float** rowPtr = stackalloc float*[16];
            for (int q0 = 0; q0 < count; q0 += _mr)
            {
                int rows = Math.Min(_mr, count - q0);
                for (int c = 0; c < _c; c += 16)
                {
                    for (int r = 0; r < 16; r++)
                    {
                        if (r >= rows)
                        {
                            for (int xi = 0; xi < 16; xi++) tmp[xi * 16 + r] = Vector512<float>.Zero;
                            continue;
                        }
                        int tile = t0 + q0 + r, b = tile / (_th * _tw), rem = tile - b * _th * _tw, ty = rem / _tw, tx = rem - ty * _tw;
                        int ih0 = 2 * ty - _ph, iw0 = 2 * tx - _pw;
                        float* image = _x + (nint)b * _h * _w_ * _c + c;
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++)
                            {
                                int ih = ih0 + i, iw = iw0 + j;
                                d[i * 4 + j] = (uint)ih < (uint)_h && (uint)iw < (uint)_w_ ? Vector512.Load(image + ((nint)ih * _w_ + iw) * _c) : Vector512<float>.Zero;
                            }
                        // Rows: t_0 = d_0 − d_2, t_1 = d_1 + d_2, t_2 = d_2 − d_1, t_3 = d_1 − d_3 (each a row of 4).
                        for (int j = 0; j < 4; j++)
                        {
                            var d0 = d[j]; var d1 = d[4 + j]; var d2 = d[8 + j]; var d3 = d[12 + j];
                            d[j] = d0 - d2; d[4 + j] = d1 + d2; d[8 + j] = d2 - d1; d[12 + j] = d1 - d3;
                        }
                        // Columns, the same combination; position ξ = 4·row + column.
                        for (int i = 0; i < 4; i++)
                        {
                            var a0 = d[4 * i]; var a1 = d[4 * i + 1]; var a2 = d[4 * i + 2]; var a3 = d[4 * i + 3];
                            tmp[(4 * i + 0) * 16 + r] = a0 - a2;
                            tmp[(4 * i + 1) * 16 + r] = a1 + a2;
                            tmp[(4 * i + 2) * 16 + r] = a2 - a1;
                            tmp[(4 * i + 3) * 16 + r] = a1 - a3;
                        }
                    }
                    // Panel layout: K block pc (the 16 channels never straddle one: blocks are multiples of 16),
                    // then the row panel, then channel-major with Mr tiles per channel.
                    int pc = c / _kcb * _kcb, kc = Math.Min(_kcb, _c - pc);
                    for (int xi = 0; xi < 16; xi++)
                    {
                        float* dst = v + xi * planeFloats + (nint)pc * rowsPadded + (nint)q0 * kc + (nint)(c - pc) * _mr;
                        if (_mr == 14) GemmPacking.Transpose16To(new VectorRows(tmp + xi * 16), dst, 14);
                        else
                        {
                            float* col = (float*)(tmp + xi * 16);
                            for (int ch = 0; ch < 16; ch++)
                                for (int r = 0; r < _mr; r++) dst[ch * _mr + r] = col[r * 16 + ch];
                        }
                    }
                }
            }
        }

        /// <summary>
        /// y for tiles t0..t0+count and channels o0..o0+n from M_ξ (count, n): Aᵀ M A with Aᵀ = [[1, 1, 1, 0],
        /// [0, 1, −1, −1]], then bias, activation and residual; outputs past the map edge are dropped.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void OutputTransform(int t0, int count, int o0, int n, float* m)
        {
            nint plane = (nint)count * n;
            for (int t = 0; t < count; t++)
            {
                int tile = t0 + t, b = tile / (_th * _tw), rem = tile - b * _th * _tw, ty = rem / _tw, tx = rem - ty * _tw;
                int oy = 2 * ty, ox = 2 * tx;
                bool right = ox + 1 < _ow, down = oy + 1 < _oh;
                nint p00 = (((nint)b * _oh + oy) * _ow + ox) * _o + o0;
                nint p01 = p00 + _o, p10 = p00 + (nint)_ow * _o, p11 = p10 + _o;
                float* src = m + (nint)t * n;
                for (int o = 0; o < n; o += 16)
                {
                    float* s = src + o;
                    // Rows: s_0 = m_0 + m_1 + m_2, s_1 = m_1 − m_2 − m_3 (over the row index a of ξ = 4a + b).
                    var m4 = Vector512.Load(s + 4 * plane); var m5 = Vector512.Load(s + 5 * plane);
                    var m6 = Vector512.Load(s + 6 * plane); var m7 = Vector512.Load(s + 7 * plane);
                    var m8 = Vector512.Load(s + 8 * plane); var m9 = Vector512.Load(s + 9 * plane);
                    var m10 = Vector512.Load(s + 10 * plane); var m11 = Vector512.Load(s + 11 * plane);
                    var r00 = Vector512.Load(s) + m4 + m8;
                    var r01 = Vector512.Load(s + 1 * plane) + m5 + m9;
                    var r02 = Vector512.Load(s + 2 * plane) + m6 + m10;
                    var r03 = Vector512.Load(s + 3 * plane) + m7 + m11;
                    var r10 = m4 - m8 - Vector512.Load(s + 12 * plane);
                    var r11 = m5 - m9 - Vector512.Load(s + 13 * plane);
                    var r12 = m6 - m10 - Vector512.Load(s + 14 * plane);
                    var r13 = m7 - m11 - Vector512.Load(s + 15 * plane);
                    // Columns, the same combination.
                    Store(p00 + o, r00 + r01 + r02, o0 + o);
                    if (right) Store(p01 + o, r01 - r02 - r03, o0 + o);
                    if (down) Store(p10 + o, r10 + r11 + r12, o0 + o);
                    if (down && right) Store(p11 + o, r11 - r12 - r13, o0 + o);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Store(nint at, Vector512<float> v, int o)
        {
            if (_bias != null) v += Vector512.Load(_bias + o);
            if (_res != null && _resFirst) v += Vector512.Load(_res + at);
            v = EpilogueMath.Activate(v, _act);
            if (_res != null && !_resFirst) v += Vector512.Load(_res + at);
            v.Store(_y + at);
        }
    }

    // Per-thread scratch (see NativeScratch): the forward's transformed input (V) and products (M), the training path's
    // transformed weight (U), and the weight gradient's dU, V and dM.
    [ThreadStatic] private static NativeScratch? _v, _m, _u, _gradDU, _gradV, _gradDM;
}
