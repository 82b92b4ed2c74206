// The 1×1 conv GEMMs whose A operand is act(z·scale + shift) computed while packing, against the materialised route.
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

[Collection("KernelGlobals")] // changes KernelPool.Threads
public class AffineActGemmTests
{
    private static float[] Random(int n, int seed, float lo = -1, float hi = 1)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return x;
    }

    /// <summary>a = act(z·scale + shift) written out (the route the fused GEMMs replace).</summary>
    private static float[] Materialise(float[] z, float[] scale, float[] shift, Activation act, int m, int c)
    {
        var a = new float[m * c];
        for (int r = 0; r < m; r++)
        {
            for (int ch = 0; ch < c; ch++) a[r * c + ch] = z[r * c + ch] * scale[ch] + shift[ch];
            GemmGeneric.ApplyEpilogue<float>(a.AsSpan(r * c, c), default, act);
        }
        return a;
    }

    private static void Close(float[] want, float[] got, string what)
    {
        double scale = want.Max(Math.Abs) + 1e-30;
        for (int i = 0; i < want.Length; i++)
            if (!(Math.Abs(got[i] - want[i]) <= 2e-5 * scale))
                Assert.Fail($"{what}[{i}] = {got[i]}, expected {want[i]} (max |ref| {scale})");
    }

    [Theory]
    [InlineData(61, 48, 32)]       // edge panels in every direction, one K block
    [InlineData(1100, 37, 20)]     // weight gradient: three K blocks of pixels, c not a multiple of 14 or 16
    [InlineData(700, 600, 150)]    // forward: two K blocks of channels, row split with shared B
    public void AffineActGemm_MatchesMaterialised_EveryActivation_OneAndTwoThreads(int m, int c, int o)
    {
        if (!AffineActGemm.IsSupported) return;
        var z = Random(m * c, 1, -3, 3); var scale = Random(c, 2, 0.2f, 2); var shift = Random(c, 3);
        var w = Random(c * o, 4); var dy = Random(m * o, 5);
        int old = KernelPool.Threads;
        try
        {
            foreach (var act in new[] { Activation.None, Activation.Relu, Activation.Gelu, Activation.Silu })
            {
                var a = Materialise(z, scale, shift, act, m, c);
                var wantY = new float[m * o];
                Gemm.Compute(false, false, m, o, c, a, c, w, o, wantY, o, false);
                var dw0 = Random(c * o, 6);
                var wantDw = (float[])dw0.Clone();
                Gemm.Compute(true, false, c, o, m, a, c, dy, o, wantDw, o, true);
                float[]? first = null;
                foreach (int threads in new[] { 1, 2 })
                {
                    KernelPool.Threads = threads;
                    var y = new float[m * o];
                    AffineActGemm.Forward(y, z, scale, shift, act, w, m, c, o);
                    Close(wantY, y, $"{act} y, {threads} thread(s)");
                    var dw = (float[])dw0.Clone();
                    AffineActGemm.WeightGradient(dw, z, scale, shift, act, dy, m, c, o);
                    Close(wantDw, dw, $"{act} dw, {threads} thread(s)");
                    if (first == null) first = dw;
                    else Assert.Equal(first, dw); // the thread count never changes the result
                }
            }
        }
        finally { KernelPool.Threads = old; }
    }

    [Fact]
    public void AffineActGemm_ShortSpans_NameWhatIsMissing()
    {
        if (!AffineActGemm.IsSupported) return;
        var ex = Assert.Throws<ArgumentException>(() => AffineActGemm.Forward(new float[4], new float[3], new float[2], new float[2], Activation.None, new float[4], 2, 2, 2));
        Assert.Contains("z has 3 values", ex.Message);
    }
}
