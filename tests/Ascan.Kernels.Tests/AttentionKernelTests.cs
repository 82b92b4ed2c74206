// The fused attention kernel against the explicit softmax(q·kᵀ·scale + mask)·v twin, forward and backward.
using System.Numerics;

namespace Ascan.Kernels.Tests;

public class AttentionKernelTests
{
    private static void Check<T>(int batch, int heads, int tq, int tk, int hd, int maskKind, double rtol, double atol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bh = batch * heads;
        var rng = new Random(tq * 1000 + tk * 10 + hd + maskKind);
        var q = NormTestUtil.Random<T>(rng, bh * tq * hd, 1.5);
        var k = NormTestUtil.Random<T>(rng, bh * tk * hd, 1.5);
        var v = NormTestUtil.Random<T>(rng, bh * tk * hd);
        var dO = NormTestUtil.Random<T>(rng, bh * tq * hd);
        // maskKind 0: none; 1: one (Tq, Tk) mask for all; 2: per batch, shared by heads; 3: full (B, NH, Tq, Tk).
        (int count, MaskLayout layout) = maskKind switch
        {
            0 => (0, new MaskLayout(heads, 0, 0)),
            1 => (1, new MaskLayout(heads, 0, 0)),
            2 => (batch, new MaskLayout(heads, tq * tk, 0)),
            _ => (bh, new MaskLayout(heads, heads * tq * tk, tq * tk)),
        };
        var mask = NormTestUtil.Random<T>(rng, count * tq * tk, 2);
        if (maskKind == 1) for (int i = 0; i < tq; i++) for (int j = i + 1; j < tk; j++) mask[i * tk + j] = T.NegativeInfinity; // causal, row 0 keeps key 0
        double scale = 1 / Math.Sqrt(hd);

        var o = new T[bh * tq * hd]; var lse = new T[bh * tq]; var or = new T[o.Length];
        AttentionKernel.Forward<T>(o, lse, q, k, v, mask, layout, bh, tq, tk, hd, T.CreateTruncating(scale));
        AttentionReference.Forward<T>(or, q, k, v, mask, layout, bh, tq, tk, hd, scale);
        NormTestUtil.Close<T>(or, o, rtol, atol, $"attention forward ({tq}, {tk}, {hd}) mask {maskKind}");

        int dmLen = maskKind == 0 ? 0 : bh * tq * tk;
        var dq = new T[q.Length]; var dk = new T[k.Length]; var dv = new T[v.Length]; var dm = new T[dmLen];
        var dqr = new T[q.Length]; var dkr = new T[k.Length]; var dvr = new T[v.Length]; var dmr = new T[dmLen];
        AttentionKernel.Backward<T>(dq, dk, dv, dm, dO, q, k, v, o, lse, mask, layout, bh, tq, tk, hd, T.CreateTruncating(scale));
        AttentionReference.Backward<T>(dqr, dkr, dvr, dmr, dO, q, k, v, mask, layout, bh, tq, tk, hd, scale);
        NormTestUtil.Close<T>(dqr, dq, rtol * 10, atol * 10, "dq");
        NormTestUtil.Close<T>(dkr, dk, rtol * 10, atol * 10, "dk");
        NormTestUtil.Close<T>(dvr, dv, rtol * 10, atol * 10, "dv");
        NormTestUtil.Close<T>(dmr, dm, rtol * 10, atol * 10, "dmask");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1)]
    [InlineData(2, 3, 5, 5, 8)]
    [InlineData(1, 2, 33, 17, 3)]   // cross-attention, Tq > Tk
    [InlineData(2, 1, 7, 130, 16)]  // Tk spans three key tiles
    [InlineData(1, 2, 129, 65, 32)] // Tq spans three query tiles
    [InlineData(3, 2, 64, 64, 33)]  // exact tiles, odd head dim
    public void Attention_MatchesReference_Shapes(int b, int nh, int tq, int tk, int hd)
    {
        for (int maskKind = 0; maskKind < 4; maskKind++)
        {
            if (maskKind == 1 && tq > tk) continue; // a causal row beyond Tk would be fully masked
            Check<float>(b, nh, tq, tk, hd, maskKind, 1e-4, 1e-5);
            Check<double>(b, nh, tq, tk, hd, maskKind, 1e-10, 1e-11);
        }
    }

    [Fact]
    public void Attention_NoBackwardWork_WhenNothingNeeded()
    {
        // All outputs empty: nothing to accumulate, must not throw.
        var q = new float[8]; var o = new float[8]; var lse = new float[2];
        AttentionKernel.Forward<float>(o, lse, q, q, q, default, new MaskLayout(1, 0, 0), 1, 2, 2, 4, 0.5f);
        AttentionKernel.Backward<float>(default, default, default, default, o, q, q, q, o, lse, default, new MaskLayout(1, 0, 0), 1, 2, 2, 4, 0.5f);
        Assert.All(o, x => Assert.Equal(0f, x));
    }
}
