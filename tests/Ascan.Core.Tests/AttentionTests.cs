// Gradient checks of ScaledDotProductAttention (self, cross, masked, broadcast masks) and its agreement with the explicit twin.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Core.Tests;

public class AttentionTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 3, 3)]
    [InlineData(5, 3, 33)]   // cross-attention, odd head dim
    [InlineData(3, 70, 2)]   // Tk crosses a key tile
    public void Attention_Gradcheck_QKV(int tq, int tk, int hd)
    {
        var rng = new Rng(50 + (ulong)(tq * tk));
        var q = GradCheck.Leaf(rng, 1, 2, tq, hd); var k = GradCheck.Leaf(rng, 1, 2, tk, hd); var v = GradCheck.Leaf(rng, 1, 2, tk, hd);
        GradCheck.Check(t => Ops.ScaledDotProductAttention(t[0], t[1], t[2]), [q, k, v]);
    }

    [Fact]
    public void Attention_Gradcheck_BroadcastMaskWithGrad()
    {
        var rng = new Rng(51);
        var q = GradCheck.Leaf(rng, 2, 2, 3, 4); var k = GradCheck.Leaf(rng, 2, 2, 5, 4); var v = GradCheck.Leaf(rng, 2, 2, 5, 4);
        foreach (var shape in new[] { new[] { 3, 5 }, new[] { 2, 1, 3, 5 }, new[] { 1, 2, 1, 5 }, new[] { 2, 2, 3, 5 } })
        {
            var m = GradCheck.Leaf(rng, shape);
            GradCheck.Check(t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], t[3], scale: 0.7), [q, k, v, m]);
        }
    }

    [Fact]
    public void Attention_Gradcheck_CausalMaskWithoutGrad()
    {
        var rng = new Rng(52);
        var q = GradCheck.Leaf(rng, 1, 1, 4, 3); var k = GradCheck.Leaf(rng, 1, 1, 4, 3); var v = GradCheck.Leaf(rng, 1, 1, 4, 3);
        var mask = Tensor.Zeros(DType.F64, 4, 4);
        var md = mask.Span<double>();
        for (int i = 0; i < 4; i++) for (int j = i + 1; j < 4; j++) md[i * 4 + j] = double.NegativeInfinity;
        GradCheck.Check(t => Ops.ScaledDotProductAttention(t[0], t[1], t[2], mask), [q, k, v]);
        Assert.Null(mask.Grad);
    }

    [Fact]
    public void Attention_Gradcheck_ViewsSharedInputAndNoGradInput()
    {
        var rng = new Rng(53);
        // Self-attention from one (B, T, NH, HD) leaf permuted to (B, NH, T, HD): q = k = v share it.
        var x = GradCheck.Leaf(rng, 2, 3, 2, 4);
        GradCheck.Check(t => { var h = t[0].Permute(0, 2, 1, 3); return Ops.ScaledDotProductAttention(h, h, h); }, [x]);
        var q = GradCheck.Leaf(rng, 1, 1, 2, 3); var kv = Tensor.Randn(rng, DType.F64, 1, 1, 3, 3);
        GradCheck.Check(t => Ops.ScaledDotProductAttention(t[0], t[1], t[1]), [q, kv]);
        Assert.Null(kv.Grad);
    }

    [Fact]
    public void Attention_MatchesExplicitTwin_Float()
    {
        var rng = new Rng(54);
        var q = Tensor.Randn(rng, DType.F32, 2, 3, 70, 16); var k = Tensor.Randn(rng, DType.F32, 2, 3, 90, 16); var v = Tensor.Randn(rng, DType.F32, 2, 3, 90, 16);
        var mask = Tensor.Randn(rng, DType.F32, 2, 1, 70, 90);
        var o = Ops.ScaledDotProductAttention(q, k, v, mask);
        var expected = new float[o.Numel];
        AttentionReference.Forward<float>(expected, q.Span<float>(), k.Span<float>(), v.Span<float>(), mask.Span<float>(),
            new MaskLayout(3, 70 * 90, 0), 6, 70, 90, 16, 0.25);
        TensorAssert.Close(expected.Select(f => (double)f).ToArray(), o.ToArray<double>(), 1e-5, 1e-6, "attention vs twin");
    }

    [Fact]
    public void Attention_NoGrad_RecordsNothing()
    {
        var q = GradCheck.Leaf(new Rng(55), 1, 1, 2, 2);
        using (Autograd.NoGrad()) Assert.Null(Ops.ScaledDotProductAttention(q, q, q).GradFn);
        Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, q, q, Tensor.Zeros(DType.F64, 3, 2)));
    }

    public static TheoryData<string> AttentionCases => new() { "self_b2_h2_t5_d8", "cross_t5_s66_d9", "mask_broadcast_grad", "mask_causal" };

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void Attention_MatchesPyTorch_Fixture(string name)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            NormFixtureTests.Check("attention/" + name, dtype, (x, p) => Ops.ScaledDotProductAttention(x["q"], x["k"], x["v"], NormFixtureTests.Opt(x, "mask"),
                p.TryGetProperty("scale", out var s) ? s.GetDouble() : null));
    }
}

public class AttentionQkvTests
{
    [Fact]
    public void AttentionQkv_Gradcheck()
    {
        var rng = new Rng(31);
        var qkv = GradCheck.Leaf(rng, 2, 5, 3 * 2 * 3); // (B 2, T 5, 3·NH 2·HD 3)
        GradCheck.Check(t => Ops.AttentionQkv(t[0], 2), [qkv]);
    }

    /// <summary>Against its composite twin: reshape → permute → ScaledDotProductAttention → merge heads (forward and gradient).</summary>
    [Theory]
    [InlineData(2, 19, 4, 8)]
    [InlineData(1, 49, 8, 32)]
    public void AttentionQkv_Float_MatchesComposite(int b, int t, int nh, int hd)
    {
        var rng = new Rng(32);
        int c = nh * hd;
        var qkv = Tensor.Randn(rng, DType.F32, b, t, 3 * c);
        qkv.RequiresGrad = true;
        var dy = Tensor.Randn(rng, DType.F32, b, t, c);
        var fused = Ops.AttentionQkv(qkv, nh);
        fused.Backward(dy);
        var gFused = qkv.Grad!.Clone();
        qkv.Grad = null;
        var p = qkv.Reshape(b, t, 3, nh, hd).Permute(2, 0, 3, 1, 4); // (3, B, NH, T, HD)
        Tensor Part(int i) => p.Slice(0, i, 1).Squeeze(0);
        var plain = Ops.ScaledDotProductAttention(Part(0), Part(1), Part(2)).Transpose(1, 2).Reshape(b, t, c);
        plain.Backward(dy);
        TensorAssert.Close(plain, fused, 1e-5, 1e-6, "o");
        TensorAssert.Close(qkv.Grad!, gFused, 1e-4, 1e-5, "dqkv");
    }
}
