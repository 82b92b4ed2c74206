// GEMM against the naive reference: every transpose combination, epilogues, accumulate, odd sizes, paths, threads.
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

/// <summary>Tests that change process-wide kernel settings (thread count, forced GEMM path) run alone.</summary>
[CollectionDefinition("KernelGlobals", DisableParallelization = true)]
public sealed class KernelGlobalsCollection;

[Collection("KernelGlobals")]
public class GemmTests
{
    public static readonly TheoryData<int, int, int> Sizes = new()
    {
        { 1, 1, 1 }, { 3, 3, 3 }, { 1, 33, 7 }, { 33, 1, 7 }, { 13, 14, 15 }, { 14, 32, 31 }, { 15, 33, 13 },
        { 31, 32, 33 }, { 32, 31, 14 }, { 127, 13, 257 }, { 257, 127, 33 }, { 300, 513, 77 }, { 129, 65, 1100 },
        { 27, 40, 9001 }, // a small output over a long K: split into K ranges
    };

    private static readonly SgemmPath[] _paths = [SgemmPath.Avx512, SgemmPath.Avx2, SgemmPath.Generic];

    private static bool Supported(SgemmPath p) => p switch
    {
        SgemmPath.Avx512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        SgemmPath.Avx2 => System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        _ => true,
    };

    internal sealed record Problem(bool TransA, bool TransB, int M, int N, int K, int Lda, int Ldb, int Ldc,
        double[] A, double[] B, double[] C, double[] Bias);

    internal static Problem Make(bool transA, bool transB, int m, int n, int k, int pad, int seed)
    {
        var rng = new Random(seed);
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        double[] Fill(int len) { var x = new double[len]; for (int i = 0; i < len; i++) x[i] = (float)(rng.NextDouble() * 2 - 1); return x; }
        return new Problem(transA, transB, m, n, k, lda, ldb, ldc,
            Fill(Math.Max(0, (aRows - 1) * lda + aCols)), Fill(Math.Max(0, (bRows - 1) * ldb + bCols)),
            Fill(Math.Max(0, (m - 1) * ldc + n)), Fill(n));
    }

    internal static float[] F(double[] x) => Array.ConvertAll(x, v => (float)v);

    /// <summary>Runs the float GEMM on the problem; returns C.</summary>
    internal static float[] RunFloat(Problem p, bool accumulate, Activation act, bool bias)
    {
        var c = F(p.C);
        var e = bias || act != Activation.None ? new Epilogue<float>(bias ? F(p.Bias) : default, act) : default;
        Gemm.Compute(p.TransA, p.TransB, p.M, p.N, p.K, F(p.A), p.Lda, F(p.B), p.Ldb, c, p.Ldc, accumulate, e);
        return c;
    }

    /// <summary>float64 reference on the same (float-representable) inputs, plus Σ|a·b| + |c| per element for the tolerance.</summary>
    internal static (double[] Ref, double[] Mag) Reference(Problem p, bool accumulate, Activation act, bool bias)
    {
        var c = (double[])p.C.Clone();
        var e = new Epilogue<double>(bias ? p.Bias : default, act);
        GemmReference.Compute(p.TransA, p.TransB, p.M, p.N, p.K, p.A, p.Lda, p.B, p.Ldb, c, p.Ldc, accumulate, e);
        var absA = Array.ConvertAll(p.A, Math.Abs);
        var absB = Array.ConvertAll(p.B, Math.Abs);
        var mag = Array.ConvertAll(p.C, Math.Abs);
        GemmReference.Compute(p.TransA, p.TransB, p.M, p.N, p.K, absA, p.Lda, absB, p.Ldb, mag, p.Ldc, accumulate, default);
        if (bias) for (int i = 0; i < p.M; i++) for (int j = 0; j < p.N; j++) mag[i * p.Ldc + j] += Math.Abs(p.Bias[j]);
        return (c, mag);
    }

    internal static void AssertClose(Problem p, float[] got, double[] want, double[] mag, double rel = 1e-5, double abs = 1e-30)
    {
        for (int i = 0; i < p.M; i++)
        {
            for (int j = 0; j < p.N; j++)
            {
                int idx = i * p.Ldc + j;
                double tol = rel * mag[idx] + abs;
                if (!(Math.Abs(got[idx] - want[idx]) <= tol))
                    Assert.Fail($"C[{i},{j}] = {got[idx]}, expected {want[idx]} (tol {tol}); m={p.M} n={p.N} k={p.K} tA={p.TransA} tB={p.TransB}");
            }
        }
        // Padding between rows must be untouched.
        for (int i = 0; i + 1 < p.M; i++)
            for (int j = p.N; j < p.Ldc; j++)
                Assert.Equal((float)p.C[i * p.Ldc + j], got[i * p.Ldc + j]);
    }

    private static void WithPath(SgemmPath path, Action body)
    {
        var old = Sgemm.ForcePath;
        Sgemm.ForcePath = path;
        try { body(); } finally { Sgemm.ForcePath = old; }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Gemm_Float_MatchesReference_AllTransposesAndPaths(int m, int n, int k)
    {
        foreach (var path in _paths.Where(Supported))
        {
            WithPath(path, () =>
            {
                for (int t = 0; t < 4; t++)
                {
                    var p = Make((t & 1) != 0, (t & 2) != 0, m, n, k, pad: t == 3 ? 5 : 0, seed: m * 31 + n * 7 + k + t);
                    var got = RunFloat(p, false, Activation.None, false);
                    var (want, mag) = Reference(p, false, Activation.None, false);
                    AssertClose(p, got, want, mag);
                }
            });
        }
    }

    [Theory]
    [InlineData(Activation.None, true)]
    [InlineData(Activation.Relu, false)]
    [InlineData(Activation.Relu, true)]
    [InlineData(Activation.Gelu, true)]
    [InlineData(Activation.Silu, true)]
    public void Gemm_Float_Epilogue_MatchesReference(Activation act, bool bias)
    {
        foreach (var path in _paths.Where(Supported))
        {
            WithPath(path, () =>
            {
                foreach (var (m, n, k) in new[] { (1, 1, 1), (15, 33, 13), (45, 70, 40), (300, 513, 77) })
                {
                    for (int t = 0; t < 4; t++)
                    {
                        var p = Make((t & 1) != 0, (t & 2) != 0, m, n, k, pad: t, seed: 17 + t + m);
                        var got = RunFloat(p, false, act, bias);
                        var (want, mag) = Reference(p, false, act, bias);
                        AssertClose(p, got, want, mag);
                    }
                }
            });
        }
    }

    [Theory]
    [InlineData(14, 32, 512)]
    [InlineData(33, 65, 1030)]
    [InlineData(300, 513, 77)]
    public void Gemm_Float_Accumulate_AddsToC(int m, int n, int k)
    {
        foreach (var path in _paths.Where(Supported))
        {
            WithPath(path, () =>
            {
                for (int t = 0; t < 4; t++)
                {
                    var p = Make((t & 1) != 0, (t & 2) != 0, m, n, k, pad: 3, seed: 5 + t);
                    var got = RunFloat(p, true, Activation.None, false);
                    var (want, mag) = Reference(p, true, Activation.None, false);
                    AssertClose(p, got, want, mag);
                }
            });
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Gemm_Double_EqualsReference(int m, int n, int k)
    {
        for (int t = 0; t < 8; t++)
        {
            var p = Make((t & 1) != 0, (t & 2) != 0, m, n, k, pad: t % 3, seed: t + 100);
            bool accumulate = (t & 4) != 0;
            var act = accumulate ? Activation.None : (Activation)(t % 4);
            var c = (double[])p.C.Clone();
            var e = new Epilogue<double>(accumulate ? default : p.Bias, act);
            Gemm.Compute(p.TransA, p.TransB, m, n, k, p.A, p.Lda, p.B, p.Ldb, c, p.Ldc, accumulate, e);
            var (want, _) = Reference(p, accumulate, act, !accumulate);
            Assert.Equal(want, c);
        }
    }

    [Fact]
    public void Gemm_Float_ThreadCount_BitIdentical()
    {
        int old = KernelPool.Threads;
        try
        {
            // Split along M (m ≥ n) and along N (n > m), with edges, transposes, epilogue and accumulate; (256, 256, 1100)
            // and (700, 150, 1300) take the row split with B blocks packed once and shared (several K blocks, edge panels);
            // (27, 40, 9001) the split into K ranges.
            foreach (var (m, n, k) in new[] { (301, 97, 130), (97, 301, 130), (256, 256, 1100), (70, 1000, 64), (700, 150, 1300), (27, 40, 9001) })
            {
                for (int t = 0; t < 4; t++)
                {
                    var p = Make((t & 1) != 0, (t & 2) != 0, m, n, k, pad: 1, seed: t);
                    foreach (var (acc, act, bias) in new[] { (false, Activation.Gelu, true), (true, Activation.None, false) })
                    {
                        KernelPool.Threads = 1;
                        var one = RunFloat(p, acc, act, bias);
                        KernelPool.Threads = 2;
                        var two = RunFloat(p, acc, act, bias);
                        var again = RunFloat(p, acc, act, bias);
                        Assert.Equal(one, two);
                        Assert.Equal(two, again);
                    }
                }
            }
        }
        finally { KernelPool.Threads = old; }
    }

    [Fact]
    public void Gemm_Float_SubnormalInputs_Correct()
    {
        var p = Make(false, false, 70, 90, 200, pad: 0, seed: 9);
        var rng = new Random(3);
        // Half of A subnormal, the rest normal; a second case with every A value subnormal.
        var mixed = p with { A = Array.ConvertAll(p.A, v => rng.Next(2) == 0 ? v : v * 1e-39) };
        var tiny = p with { A = Array.ConvertAll(p.A, v => (double)(float)(v * 1e-39)) };
        mixed = mixed with { A = Array.ConvertAll(mixed.A, v => (double)(float)v) };
        foreach (var q in new[] { mixed, tiny })
        {
            var got = RunFloat(q, false, Activation.None, false);
            var (want, mag) = Reference(q, false, Activation.None, false);
            AssertClose(q, got, want, mag, abs: 1e-35);
            Assert.All(got, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Fact]
    public void Gemm_EpilogueWithAccumulate_Throws()
    {
        var x = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 1, x, 1, x, 2, x, 2, true, new Epilogue<float>(default, Activation.Relu)));
    }

    [Fact]
    public void Gemm_ShortSpan_Throws()
    {
        var x = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Compute(false, false, 2, 2, 2, x, 2, x, 2, new float[3], 2, false));
    }

    [Fact]
    public void Gemm_ZeroK_GivesEpilogueOfZeroOrKeepsC()
    {
        var c = new float[] { 5, 6 };
        Gemm.Compute(false, false, 1, 2, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, c, 2, false, new Epilogue<float>(new float[] { 1, -2 }, Activation.Relu));
        Assert.Equal(new float[] { 1, 0 }, c);
        c = [5, 6];
        Gemm.Compute(false, false, 1, 2, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, c, 2, true);
        Assert.Equal(new float[] { 5, 6 }, c);
    }

    [Fact]
    public void FloatMode_WorkerAndCaller_HaveFlushToZero()
    {
        FloatMode.EnsureFlushToZero();
        var mine = FloatMode.ReadMxcsr();
        if (mine is null) return; // not Linux x64
        Assert.Equal(0x8040u, mine.Value & 0x8040u);
        var seen = new uint?[2];
        int old = KernelPool.Threads;
        KernelPool.Threads = 2;
        try { KernelPool.Run(2, i => { Thread.Sleep(20); seen[i] = FloatMode.ReadMxcsr(); }); }
        finally { KernelPool.Threads = old; }
        Assert.All(seen, s => Assert.Equal(0x8040u, s!.Value & 0x8040u));
    }

    [Fact]
    public void KernelPool_RunsEveryPartOnce_AndPropagatesErrors()
    {
        var hits = new int[37];
        KernelPool.Run(hits.Length, i => Interlocked.Increment(ref hits[i]));
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.ThrowsAny<Exception>(() => KernelPool.Run(4, i => { if (i == 3) throw new InvalidOperationException(); }));
        // Nested runs execute inline and still cover every part.
        var nested = new int[4 * 3];
        KernelPool.Run(4, i => KernelPool.Run(3, j => Interlocked.Increment(ref nested[i * 3 + j])));
        Assert.All(nested, h => Assert.Equal(1, h));
    }

    // Workers watch for the next job for a while, then sleep: thousands of back-to-back jobs, jobs after a pause long
    // enough for them to sleep, and a thread limit of 1 (no worker may help) all run every part exactly once.
    [Fact]
    public void KernelPool_BackToBackAndAfterSleep_EveryPartOnce_ThreadLimitRespected()
    {
        int old = KernelPool.Threads;
        try
        {
            KernelPool.Threads = 2;
            var hits = new int[5];
            for (int round = 0; round < 3000; round++)
            {
                Array.Clear(hits);
                KernelPool.Run(hits.Length, i => Interlocked.Increment(ref hits[i]));
                Assert.All(hits, h => Assert.Equal(1, h));
                if (round % 1000 == 999) Thread.Sleep(30);
            }
            KernelPool.Threads = 1;
            int caller = Environment.CurrentManagedThreadId;
            var threads = new int[16];
            KernelPool.Run(threads.Length, i => threads[i] = Environment.CurrentManagedThreadId);
            Assert.All(threads, t => Assert.Equal(caller, t));
        }
        finally { KernelPool.Threads = old; }
    }
}
