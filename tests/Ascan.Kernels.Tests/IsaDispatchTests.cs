// The ISA dispatch rule: every kernel runs on any x64 CPU; AVX-512 code only where the JIT says AVX-512 exists.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

/// <summary>
/// Which code runs where (the checks are JIT-time constants, so a path that cannot run is not even compiled):
/// <list type="bullet">
/// <item>GEMM micro-kernel (<see cref="Sgemm.ActivePath"/>): 14×32 zmm kernel with AVX-512F and Vector512 accelerated;
/// else the 6×16 ymm kernel with AVX2 + FMA; else the generic Vector&lt;T&gt; GEMM. PackedB / implicit-GEMM conv exist
/// on the first two.</item>
/// <item>GEMM epilogue (<see cref="EpilogueMath"/>): 16 lanes with vrcp14ps under AVX-512; the 8-lane twin (exact
/// divide) under AVX2; otherwise the 16-lane code in software with the divide.</item>
/// <item>16×16 register transpose (packing, Winograd, implicit GEMM, conv weight layout, attention Kᵀ): AVX-512F
/// shuffles; callers check Vector512.IsHardwareAccelerated and take scalar/strided loops otherwise, and the transpose
/// itself falls back to a scalar twin.</item>
/// <item>FastMath exp/erfc/tanh: vscalefps with AVX-512F, else the 8-lane code (twice for a Vector512 argument).</item>
/// <item>Winograd, small-channel and float depthwise conv: only with Vector512 accelerated; else im2col/implicit GEMM
/// or the generic depthwise loop.</item>
/// <item>Element-wise, norm, softmax, attention tiles, optimizers: written with Vector512 (or Vector512/Vector256
/// drivers); without AVX-512 the JIT splits a Vector512 into two Vector256 halves — correct, and about as fast for
/// streaming loops.</item>
/// </list>
/// No kernel may call an Avx512*.* intrinsic without an IsSupported check: on an AVX2-only CPU it throws
/// PlatformNotSupportedException. The whole test suite running on such a CPU (or under DOTNET_EnableAVX512F=0) is the
/// proof; the cases below pin the ones that once threw.
/// </summary>
[Collection("KernelGlobals")]
public class IsaDispatchTests
{
    [Fact]
    public void Sgemm_ActivePath_FollowsIsa()
    {
        var want = Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? SgemmPath.Avx512
            : Avx2.IsSupported && Fma.IsSupported ? SgemmPath.Avx2
            : SgemmPath.Generic;
        Assert.Equal(want, Sgemm.ActivePath);
        Assert.Equal(want != SgemmPath.Generic, PackedB.IsSupported);
    }

    [Theory]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Relu)]
    public void Gemm_ActivationEpilogue_RunsOnEveryIsa(Activation act)
    {
        const int m = 5, n = 37, k = 19; // odd n: vector body and stack-buffer tail
        var rng = new Random(3);
        var a = new float[m * k]; var b = new float[k * n]; var bias = new float[n]; var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < n; i++) bias[i] = (float)(rng.NextDouble() - 0.5);
        Gemm.Compute<float>(false, false, m, n, k, a, k, b, n, c, n, accumulate: false, new Epilogue<float>(bias, act));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double z = bias[j];
                for (int p = 0; p < k; p++) z += (double)a[i * k + p] * b[p * n + j];
                double want = act switch
                {
                    Activation.Gelu => z * 0.5 * (1 + FastMath.Erf(z / Math.Sqrt(2))),
                    Activation.Silu => z / (1 + Math.Exp(-z)),
                    _ => Math.Max(z, 0),
                };
                Assert.True(Math.Abs(c[i * n + j] - want) <= 1e-5 * (1 + Math.Abs(want)), $"C[{i},{j}] = {c[i * n + j]}, expected {want}");
            }
    }

    [Fact]
    public void EpilogueTwins_Agree()
    {
        // The 8-lane twins run the 16-lane code's operations; they differ only by vrcp14ps+Newton vs a divide.
        var xs = new float[16];
        for (int i = 0; i < 4000; i += 16)
        {
            for (int q = 0; q < 16; q++) xs[q] = -15f + 30f * (i + q) / 4000f;
            var x = Vector512.Create(xs);
            foreach (var (wide, narrow) in new[]
            {
                (EpilogueMath.Gelu(x), Vector512.Create(EpilogueMath.Gelu(x.GetLower()), EpilogueMath.Gelu(x.GetUpper()))),
                (EpilogueMath.Silu(x), Vector512.Create(EpilogueMath.Silu(x.GetLower()), EpilogueMath.Silu(x.GetUpper()))),
            })
                for (int q = 0; q < 16; q++)
                {
                    if (!Avx512F.IsSupported) Assert.Equal(wide[q], narrow[q]);
                    else Assert.True(Math.Abs(wide[q] - narrow[q]) <= 1e-6f * Math.Abs(wide[q]) + 1e-37f, $"x = {xs[q]}: {wide[q]} vs {narrow[q]}");
                }
        }
    }

    [Fact]
    public void FastMathExp512_RunsOnEveryIsa()
    {
        var x = Vector512.Create(-110f, -90f, -1f, 0f, 0.5f, 1f, 10f, 88f, 90f, float.NaN, -0f, 2f, 3f, -3f, 20f, -20f);
        var y = FastMath.Exp(x);
        for (int q = 0; q < 16; q++)
        {
            double want = Math.Exp(x[q]);
            if (float.IsNaN(x[q])) Assert.True(float.IsNaN(y[q]));
            else if (want > float.MaxValue) Assert.Equal(float.PositiveInfinity, y[q]);
            else if (want < 1e-38) Assert.True(y[q] >= 0 && y[q] < 1e-37f);
            else Assert.True(Math.Abs(y[q] - want) <= 3e-7 * want, $"exp({x[q]}) = {y[q]}, expected {want}");
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(14)]
    [InlineData(20)]
    public unsafe void Transpose16To_TransposesAndStaysInBounds(int stride)
    {
        var src = new float[16 * 16];
        for (int i = 0; i < src.Length; i++) src[i] = i + 1;
        var dst = new float[16 * stride + 32];
        Array.Fill(dst, -7f);
        fixed (float* ps = src) fixed (float* pd = dst)
            GemmPacking.Transpose16To(new StridedRows(ps, 16, 13), pd, stride); // rows 13..15 read as zeros
        int height = stride == 14 ? 14 : 16, written = stride == 14 ? 16 * 14 : 15 * stride + 16;
        for (int c = 0; c < 16; c++)
            for (int r = 0; r < height; r++)
                Assert.Equal(r < 13 ? src[r * 16 + c] : 0f, dst[c * stride + r]);
        for (int i = written; i < dst.Length; i++) Assert.Equal(-7f, dst[i]);
    }

    [Theory]
    [InlineData(49, 32)]  // short keys: the path whose Kᵀ build used the AVX-512 transpose unconditionally
    [InlineData(16, 16)]
    [InlineData(130, 16)] // long keys: the streaming path
    public void Attention_Float_RunsOnEveryIsa(int t, int hd)
    {
        const int bh = 2;
        var rng = new Random(t);
        float[] Fill(int len) { var x = new float[len]; for (int i = 0; i < len; i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }
        var q = Fill(bh * t * hd); var k = Fill(bh * t * hd); var v = Fill(bh * t * hd);
        var o = new float[bh * t * hd]; var lse = new float[bh * t]; var want = new double[bh * t * hd];
        float scale = 1f / MathF.Sqrt(hd);
        AttentionKernel.Forward<float>(o, lse, q, k, v, default, default, bh, t, t, hd, scale);
        AttentionReference.Forward<double>(want, Array.ConvertAll(q, x => (double)x), Array.ConvertAll(k, x => (double)x),
            Array.ConvertAll(v, x => (double)x), default, default, bh, t, t, hd, scale);
        for (int i = 0; i < o.Length; i++) Assert.True(Math.Abs(o[i] - want[i]) <= 2e-5, $"o[{i}] = {o[i]}, expected {want[i]}");
    }
}
