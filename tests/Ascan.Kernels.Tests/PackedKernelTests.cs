// Pre-packed GEMM, implicit-GEMM conv and qkv attention (the inference paths) against the naive references.
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

[Collection("KernelGlobals")] // shares KernelPool.Threads and the forced GEMM path with other tests
public class PackedKernelTests
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void AssertClose(double[] want, float[] got, double rel, string what)
    {
        double scale = want.Max(Math.Abs) + 1e-30;
        for (int i = 0; i < want.Length; i++)
            if (!(Math.Abs(got[i] - want[i]) <= rel * scale))
                Assert.Fail($"{what}[{i}] = {got[i]}, expected {want[i]} (max |ref| {scale}, rel tol {rel})");
    }

    private static double[] D(float[] v) => Array.ConvertAll(v, x => (double)x);

    [Theory]
    [InlineData(1, 7, 5, false)]        // smaller than one tile
    [InlineData(49, 2048, 512, true)]   // batch-1 MLP of a 7×7 stage: N split across threads
    [InlineData(37, 70, 1100, false)]   // three K blocks, edge tiles in M and N
    [InlineData(300, 33, 64, true)]
    public void GemmPacked_MatchesReference(int m, int n, int k, bool transB)
    {
        if (!PackedB.IsSupported) return;
        var a = Random(m * k, 1); var b = Random(k * n, 2); var bias = Random(n, 3); var res = Random(m * n, 4);
        var packed = PackedB.Create(b, transB ? k : n, transB, k, n);
        foreach (var act in new[] { Activation.None, Activation.Gelu })
        {
            var want = new double[m * n];
            GemmReference.Compute<double>(false, transB, m, n, k, D(a), k, D(b), transB ? k : n, want, n, false,
                new Epilogue<double>(D(bias), act, D(res)));
            var got = new float[m * n];
            Gemm.ComputePacked(m, a, k, packed, got, n, new Epilogue<float>(bias, act, res));
            AssertClose(want, got, 1e-5, $"C ({act})");
        }
    }

    [Fact]
    public void Gemm_ResidualEpilogue_MatchesReference()
    {
        int m = 29, n = 45, k = 17;
        var a = Random(k * m, 1); var b = Random(n * k, 2); var bias = Random(n, 3); var res = Random(m * n, 4);
        var want = new double[m * n];
        GemmReference.Compute<double>(true, true, m, n, k, D(a), m, D(b), k, want, n, false, new Epilogue<double>(D(bias), Activation.Silu, D(res)));
        var got = new float[m * n];
        Gemm.Compute<float>(true, true, m, n, k, a, m, b, k, got, n, false, new Epilogue<float>(bias, Activation.Silu, res));
        AssertClose(want, got, 1e-5, "C");
        var got64 = new double[m * n];
        Gemm.Compute<double>(true, true, m, n, k, D(a), m, D(b), k, got64, n, false, new Epilogue<double>(D(bias), Activation.Silu, D(res)));
        AssertClose(want, Array.ConvertAll(got64, x => (float)x), 1e-6, "C (double)");
    }

    // (B, H, W, C, O, K, stride, pad, dilation): channel runs of whole vectors, tails, taps split by K blocks.
    [Theory]
    [InlineData(2, 9, 8, 32, 20, 3, 1, 1, 1)]
    [InlineData(1, 7, 7, 80, 48, 3, 1, 1, 1)]    // K = 720: two K blocks, the boundary falls inside a tap
    [InlineData(2, 11, 10, 19, 33, 3, 2, 1, 1)]  // 16 + 3 channels, stride 2
    [InlineData(1, 10, 9, 16, 16, 3, 1, 2, 2)]   // dilation 2
    [InlineData(3, 6, 6, 24, 40, 1, 1, 0, 1)]    // pointwise: plain GEMM on the packed weight
    [InlineData(1, 15, 14, 3, 16, 7, 2, 3, 1)]   // stem: 3 channels, scalar packing
    public void ConvPacked_MatchesReference(int b, int h, int w, int c, int o, int k, int s, int p, int d)
    {
        if (!PackedB.IsSupported) return;
        var g = new Conv2dGeometry(b, h, w, c, o, k, k, s, s, p, p, d, d);
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2); var bias = Random(o, 3); var res = Random(g.OutputLength, 4);
        var packed = Conv2dKernels.PackConvWeight(wt, g);
        var want = new double[g.OutputLength];
        ConvReference.Forward<double>(want, D(x), D(wt), D(bias), g, Activation.Gelu);
        for (int i = 0; i < want.Length; i++) want[i] += res[i];
        var got = new float[g.OutputLength];
        Conv2dKernels.ForwardPacked(got, x, packed, g, new Epilogue<float>(bias, Activation.Gelu, res));
        AssertClose(want, got, 1e-5, "y");
        // The per-call (training) float forward runs the same implicit GEMM on the unpacked weight.
        var plain = new float[g.OutputLength];
        Conv2dKernels.Forward<float>(plain, x, wt, bias, g, Activation.Gelu);
        for (int i = 0; i < plain.Length; i++) plain[i] += res[i];
        AssertClose(want, plain, 1e-5, "y (unpacked)");
    }

    // (B, H, W, C, O, pad): odd maps (partial tiles), several chunks, C over one K block, the few-tiles mode.
    [Theory]
    [InlineData(2, 20, 20, 16, 32, 1)]    // 200 tiles: two chunks
    [InlineData(1, 7, 9, 32, 48, 1)]      // odd map: the last tile row and column are half outside
    [InlineData(1, 6, 6, 528, 16, 1)]     // C = 528: two K blocks
    [InlineData(1, 14, 14, 64, 1024, 1)]  // batch 1: one chunk, output-channel blocks over the threads
    [InlineData(2, 8, 7, 16, 16, 0)]      // no padding
    [InlineData(1, 5, 5, 16, 32, 2)]      // padding 2
    public void Winograd_MatchesReference(int b, int h, int w, int c, int o, int pad)
    {
        var g = new Conv2dGeometry(b, h, w, c, o, 3, 3, 1, 1, pad, pad);
        if (!WinogradConv.Supports(g)) return;
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2); var bias = Random(o, 3); var res = Random(g.OutputLength, 4);
        var want = new double[g.OutputLength];
        ConvReference.Forward<double>(want, D(x), D(wt), D(bias), g, Activation.Gelu);
        for (int i = 0; i < want.Length; i++) want[i] += res[i];
        var wino = WinogradConv.PackWeight(wt, c, o);
        int old = KernelPool.Threads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                KernelPool.Threads = threads;
                var got = new float[g.OutputLength];
                WinogradConv.Forward(got, x, wino, g, new Epilogue<float>(bias, Activation.Gelu, res));
                AssertClose(want, got, 2e-6, $"y ({threads} threads)");
            }
        }
        finally { KernelPool.Threads = old; }
    }

    // (B, H, W, C, O, K, stride, pad): the direct few-input-channel kernel (stems), interior and edge pixel groups.
    [Theory]
    [InlineData(2, 13, 11, 3, 32, 3, 2, 1)]
    [InlineData(1, 9, 10, 3, 64, 7, 2, 3)]
    [InlineData(1, 8, 7, 1, 48, 3, 1, 1)]
    [InlineData(2, 6, 9, 4, 16, 3, 1, 0)]
    public void SmallChannelConv_MatchesReference(int b, int h, int w, int c, int o, int k, int s, int p)
    {
        var g = new Conv2dGeometry(b, h, w, c, o, k, k, s, s, p, p);
        if (!Conv2dKernels.UsesDirectSmallChannel(g)) return;
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2); var bias = Random(o, 3); var res = Random(g.OutputLength, 4);
        var want = new double[g.OutputLength];
        ConvReference.Forward<double>(want, D(x), D(wt), D(bias), g, Activation.Gelu);
        for (int i = 0; i < want.Length; i++) want[i] += res[i];
        var got = new float[g.OutputLength];
        Conv2dKernels.ForwardDirect(got, x, wt, g, new Epilogue<float>(bias, Activation.Gelu, res));
        AssertClose(want, got, 1e-5, "y");
    }

    // Depthwise convs with channels in 32-wide blocks take the register-blocked float path.
    [Theory]
    [InlineData(2, 11, 9, 64, 7, 1, 3)]
    [InlineData(1, 10, 13, 32, 3, 2, 1)]
    public void DepthwiseFloat_MatchesReference(int b, int h, int w, int c, int k, int s, int p)
    {
        var g = new Conv2dGeometry(b, h, w, c, c, k, k, s, s, p, p, 1, 1, c);
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2); var bias = Random(c, 3);
        var want = new double[g.OutputLength];
        ConvReference.Forward<double>(want, D(x), D(wt), D(bias), g, Activation.Silu);
        var got = new float[g.OutputLength];
        Conv2dKernels.Forward<float>(got, x, wt, bias, g, Activation.Silu);
        AssertClose(want, got, 1e-5, "y");
    }

    [Theory]
    [InlineData(32, 16, 3)]   // blocked 16×16 transposes
    [InlineData(48, 32, 1)]
    [InlineData(256, 128, 3)] // large enough for column blocks in parallel (1152 columns in 4 parts)
    [InlineData(20, 3, 3)]    // scalar fallback
    public void WeightLayout_FromAndBackToTorch(int o, int c, int k)
    {
        var g = new Conv2dGeometry(1, 8, 8, c, o, k, k, 1, 1, k / 2, k / 2);
        var torch = Random(g.WeightLength, 5);
        var ours = new float[g.WeightLength];
        Conv2dKernels.FromTorchLayout<float>(ours, torch, g);
        for (int oi = 0; oi < o; oi++)
            for (int ci = 0; ci < c; ci++)
                for (int t = 0; t < k * k; t++)
                    Assert.Equal(torch[(oi * c + ci) * k * k + t], ours[(t * c + ci) * o + oi]);
        var acc = Random(g.WeightLength, 6);
        var want = (float[])acc.Clone();
        for (int i = 0; i < want.Length; i++) want[i] += torch[i];
        Conv2dKernels.AddToTorchLayout<float>(acc, ours, g);
        Assert.Equal(want, acc);
    }

    // The training path: Winograd forward and data gradient on a weight transformed per call (and the implicit-GEMM
    // weight gradient), through the Conv2dKernels entry points the autograd node uses.
    [Theory]
    [InlineData(2, 9, 8, 16, 32, 1)]
    [InlineData(1, 7, 7, 32, 16, 0)]
    [InlineData(2, 6, 5, 16, 48, 2)]
    [InlineData(2, 33, 34, 16, 32, 1)]  // 578 tiles: the weight gradient transforms all of them at once
    public void WinogradTraining_ForwardAndBackward_MatchReference(int b, int h, int w, int c, int o, int pad)
    {
        var g = new Conv2dGeometry(b, h, w, c, o, 3, 3, 1, 1, pad, pad);
        if (!WinogradConv.Supports(g)) return;
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2); var bias = Random(o, 3);
        var dy = Random(g.OutputLength, 4); var dx0 = Random(g.InputLength, 5); var dw0 = Random(g.WeightLength, 6);
        var yRef = new double[g.OutputLength];
        ConvReference.Forward<double>(yRef, D(x), D(wt), D(bias), g, Activation.Relu);
        var y = new float[g.OutputLength];
        Conv2dKernels.Forward<float>(y, x, wt, bias, g, Activation.Relu);
        AssertClose(yRef, y, 2e-6, "y");
        var dxRef = D(dx0);
        ConvReference.BackwardData<double>(dxRef, D(dy), D(wt), g);
        var dx = (float[])dx0.Clone();
        Conv2dKernels.BackwardData<float>(dx, dy, wt, g);
        AssertClose(dxRef, dx, 2e-6, "dx");
        var dwRef = D(dw0);
        ConvReference.BackwardWeight<double>(dwRef, D(x), D(dy), g);
        var dwv = (float[])dw0.Clone();
        Conv2dKernels.BackwardWeight<float>(dwv, x, dy, g);
        AssertClose(dwRef, dwv, 2e-6, "dw");
    }

    // The chunked weight gradient (transforms of each chunk split over two threads, dU accumulated chunk after chunk),
    // forced by an empty whole-transform budget: two chunks with a partial last one, and one chunk of an odd count.
    [Theory]
    [InlineData(3, 33, 31, 16, 32, 1)]   // 816 tiles: 512 + 304
    [InlineData(1, 33, 33, 32, 16, 1)]   // 289 tiles
    public void WinogradWeightGradient_Chunked_MatchesReference(int b, int h, int w, int c, int o, int pad)
    {
        var g = new Conv2dGeometry(b, h, w, c, o, 3, 3, 1, 1, pad, pad);
        if (!WinogradConv.Supports(g)) return;
        long old = WinogradConv.WholeTransformFloats;
        WinogradConv.WholeTransformFloats = 0;
        try
        {
            Assert.True(WinogradConv.WeightGradientPays(g));
            var x = Random(g.InputLength, 1); var dy = Random(g.OutputLength, 4); var dw0 = Random(g.WeightLength, 6);
            var dwRef = D(dw0);
            ConvReference.BackwardWeight<double>(dwRef, D(x), D(dy), g);
            var dwv = (float[])dw0.Clone();
            WinogradConv.BackwardWeightHwio(dwv, x, dy, g);
            AssertClose(dwRef, dwv, 2e-6, "dw");
        }
        finally { WinogradConv.WholeTransformFloats = old; }
    }

    [Fact]
    public void ConvPacked_Avx2Path_MatchesReference()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported || !System.Runtime.Intrinsics.X86.Fma.IsSupported) return;
        var old = Sgemm.ForcePath;
        Sgemm.ForcePath = SgemmPath.Avx2;
        try
        {
            ConvPacked_MatchesReference(2, 9, 8, 32, 20, 3, 1, 1, 1);
            ConvPacked_MatchesReference(1, 7, 7, 80, 48, 3, 1, 1, 1);
            GemmPacked_MatchesReference(37, 70, 1100, false);
            Winograd_MatchesReference(2, 20, 20, 16, 32, 1); // 6-row panels written by the Winograd input transform
            Winograd_MatchesReference(1, 6, 6, 528, 16, 1);
            WinogradTraining_ForwardAndBackward_MatchReference(2, 9, 8, 16, 32, 1);
        }
        finally { Sgemm.ForcePath = old; }
    }

    [Fact]
    public void PackedB_OtherKernel_IsNotCurrent()
    {
        if (!PackedB.IsSupported || Sgemm.ActivePath != SgemmPath.Avx512) return;
        var packed = PackedB.Create(Random(64 * 40, 1), 40, false, 64, 40);
        Assert.True(packed.IsCurrent);
        var old = Sgemm.ForcePath;
        Sgemm.ForcePath = SgemmPath.Avx2;
        try
        {
            Assert.False(packed.IsCurrent);
            Assert.Throws<InvalidOperationException>(() => Gemm.ComputePacked(3, new float[3 * 64], 64, packed, new float[3 * 40], 40));
        }
        finally { Sgemm.ForcePath = old; }
    }

    [Fact]
    public void ConvPacked_ThreadCount_BitIdentical()
    {
        if (!PackedB.IsSupported) return;
        var g = new Conv2dGeometry(2, 12, 12, 48, 64, 3, 3, 1, 1, 1, 1);
        var x = Random(g.InputLength, 1); var wt = Random(g.WeightLength, 2);
        var packed = Conv2dKernels.PackConvWeight(wt, g);
        int old = KernelPool.Threads;
        try
        {
            KernelPool.Threads = 1;
            var one = new float[g.OutputLength];
            Conv2dKernels.ForwardPacked(one, x, packed, g);
            KernelPool.Threads = 2;
            var two = new float[g.OutputLength];
            Conv2dKernels.ForwardPacked(two, x, packed, g);
            Assert.Equal(one, two);
        }
        finally { KernelPool.Threads = old; }
    }

    [Theory]
    [InlineData(2, 16, 4, 8)]
    [InlineData(1, 49, 16, 32)]
    [InlineData(2, 70, 2, 20)]   // several query and key tiles, head dim not a multiple of 16
    public void AttentionQkv_MatchesPermutedReference(int b, int t, int nh, int hd)
    {
        int c = nh * hd;
        var qkv = Random(b * t * 3 * c, 7);
        // Reference: split (B, T, 3, NH, HD) into q, k, v (B·NH, T, HD), attend, and write back as (B, T, NH, HD).
        var q = new double[b * nh * t * hd]; var k = new double[q.Length]; var v = new double[q.Length];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int h = 0; h < nh; h++)
                    for (int di = 0; di < hd; di++)
                    {
                        int src = ((bi * t + ti) * 3 * nh + h) * hd + di, dst = ((bi * nh + h) * t + ti) * hd + di;
                        q[dst] = qkv[src]; k[dst] = qkv[src + c]; v[dst] = qkv[src + 2 * c];
                    }
        var o = new double[q.Length];
        double scale = 1 / Math.Sqrt(hd);
        AttentionReference.Forward<double>(o, q, k, v, default, new MaskLayout(nh, 0, 0), b * nh, t, t, hd, scale);
        var want = new double[b * t * c];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int h = 0; h < nh; h++)
                    for (int di = 0; di < hd; di++)
                        want[((bi * t + ti) * nh + h) * hd + di] = o[((bi * nh + h) * t + ti) * hd + di];
        var got = new float[b * t * c];
        AttentionKernel.ForwardQkv(got, qkv, b, t, nh, hd, (float)scale);
        AssertClose(want, got, 1e-5, "o");
    }
}
