// The shared C and T blocks with their UNet options (GroupNorm+SiLU scale-shift, adaptive LayerNorm, cross-attention):
// float64 gradient checks, composite oracles, and the fused eval path against the plain layers.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Kernels;

namespace Ascan.Nn.Tests;

public class BlockTests
{
    /// <summary>Every parameter redrawn in [-0.5, 0.5] (norm weights around 1), so zero-initialised modulation and
    /// default norms do not hide anything.</summary>
    private static void Randomise(Module m, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var (name, t) in m.StateDict())
        {
            bool norm = t.Rank == 1 && name.EndsWith("weight") && !name.Contains("emb_proj") && !name.Contains("adaLN");
            if (name.EndsWith("running_var")) Fill(t, rng, 0.5, 1.5);
            else if (norm) Fill(t, rng, 0.7, 1.3);
            else Fill(t, rng, -0.5, 0.5);
        }
    }

    private static void Fill(Tensor t, Rng rng, double lo, double hi)
    {
        if (t.DType == DType.F64) { var s = t.Span<double>(); for (int i = 0; i < s.Length; i++) s[i] = lo + (hi - lo) * rng.NextDouble(); }
        else { var s = t.Span<float>(); for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble()); }
    }

    private static ConvBlock UnetC(DType dtype, ulong seed = 1) =>
        new(ParamPath.Root(dtype, new Rng(seed)), new ConvBlockConfig(8) { Expansion = 2, Norm = BlockNorm.GroupNorm, NormGroups = 4, Act = Activation.Silu, CondDim = 6 });

    private static TransformerBlock UnetT(DType dtype, ulong seed = 2) =>
        new(ParamPath.Root(dtype, new Rng(seed)), new TransformerBlockConfig(8, 2) { MlpHidden = 16, CondDim = 6, ContextDim = 5 });

    /// <summary>f(x) with every parameter of <paramref name="m"/> also checked: all are float64 leaves.</summary>
    private static void GradcheckModule(Module m, Func<Tensor[], Tensor> f, params Tensor[] inputs) =>
        GradCheck.Check(f, inputs.Concat(m.Parameters()).ToArray(), atol: 1e-6, rtol: 1e-5);

    [Fact]
    public void ConvBlock_GroupNormSiluScaleShift_Gradcheck()
    {
        var m = UnetC(DType.F64);
        Randomise(m, 3);
        var rng = new Rng(4);
        var x = GradCheck.Leaf(rng, 2, 3, 3, 8);
        var cond = GradCheck.Leaf(rng, 2, 6);
        GradcheckModule(m, a => m.Forward(a[0], a[1], null), x, cond);
    }

    [Fact]
    public void ConvBlock_GroupNormSiluScaleShift_MatchesComposite()
    {
        var m = UnetC(DType.F64);
        Randomise(m, 5);
        var rng = new Rng(6);
        var x = Tensor.Randn(rng, DType.F64, 2, 4, 4, 8);
        var cond = Tensor.Randn(rng, DType.F64, 2, 6);
        using var _ = Autograd.NoGrad();
        // ADM's scale-shift norm: h = SiLU(GN(conv3×3(x))·(1 + s) + b), (s, b) = emb_proj(SiLU(cond)); y = x + GN(conv1×1(h)).
        var e = Ops.Linear(Ops.Silu(cond), m.EmbProj!.Weight, m.EmbProj.Bias);                 // (2, 32)
        var s = Ops.Slice(e, 1, 0, 16).Contiguous().Reshape(2, 1, 1, 16);
        var b = Ops.Slice(e, 1, 16, 16).Contiguous().Reshape(2, 1, 1, 16);
        var h = Ops.GroupNorm(Ops.Conv2d(x, m.ConvExp.Weight, null, 1, 1), 4, m.Norm1!.Weight, m.Norm1.Bias);
        h = Ops.Silu(Ops.Add(Ops.Mul(h, Ops.Add(s, 1.0)), b));
        var want = Ops.Add(x, Ops.GroupNorm(Ops.Conv2d(h, m.ConvProj.Weight), 4, m.Norm2!.Weight, m.Norm2.Bias));
        TensorAssert.Close(want, m.Forward(x, cond, null), 1e-12, 1e-12, "C block");
        // The condition matters.
        Assert.NotEqual(m.Forward(x, cond, null).ToArray<double>(), m.Forward(x, Ops.Mul(cond, 2.0), null).ToArray<double>());
    }

    [Fact]
    public void ConvBlock_Conditioned_WithoutCondition_ThrowsNamingTheBlock()
    {
        var m = UnetC(DType.F32);
        var e = Assert.Throws<ArgumentException>(() => m.Forward(Tensor.Zeros(1, 2, 2, 8)));
        Assert.Contains("condition embedding (B, 6)", e.Message);
    }

    [Fact]
    public void TransformerBlock_AdaLnZero_StartsAsIdentity()
    {
        var m = new TransformerBlock(ParamPath.Root(DType.F64, new Rng(7)), new TransformerBlockConfig(8, 2) { CondDim = 6 });
        var rng = new Rng(8);
        var x = Tensor.Randn(rng, DType.F64, 2, 5, 8);
        var y = m.Forward(x, Tensor.Randn(rng, DType.F64, 2, 6), null);
        TensorAssert.Close(x, y, 0, 0, "adaLN-Zero block at init");
        Assert.DoesNotContain(m.StateDict().Keys, k => k.StartsWith("norm1.")); // affine-free norms, as DiT
        Assert.Contains("adaLN_modulation.1.weight", m.StateDict().Keys);
    }

    [Fact]
    public void TransformerBlock_AdaLnCrossAttention_Gradcheck()
    {
        var m = UnetT(DType.F64);
        Randomise(m, 9);
        var rng = new Rng(10);
        var x = GradCheck.Leaf(rng, 2, 2, 2, 8);    // a (B, H, W, C) map: its tokens
        var cond = GradCheck.Leaf(rng, 2, 6);
        var context = GradCheck.Leaf(rng, 2, 3, 5);
        GradcheckModule(m, a => m.Forward(a[0], a[1], a[2]), x, cond, context);
    }

    [Fact]
    public void TransformerBlock_CrossAttention_MatchesExplicitFormula()
    {
        var m = new TransformerBlock(ParamPath.Root(DType.F64, new Rng(11)), new TransformerBlockConfig(8, 2) { MlpHidden = 16, ContextDim = 5 });
        Randomise(m, 12);
        var rng = new Rng(13);
        var t = Tensor.Randn(rng, DType.F64, 2, 4, 8);
        var ctx = Tensor.Randn(rng, DType.F64, 2, 3, 5);
        using var _ = Autograd.NoGrad();
        static Tensor Lin(Tensor x, Linear l) => Ops.Linear(x, l.Weight, l.Bias);
        static Tensor Heads(Tensor x, int b, int n) => x.Reshape(b, n, 2, 4).Permute(0, 2, 1, 3); // (B, NH, T, HD)
        // Self-attention from the fused qkv projection, written out: softmax(q·kᵀ/√HD)·v per head.
        var n1 = Ops.LayerNorm(t, m.Norm1.Weight, m.Norm1.Bias);
        var qkv = Lin(n1, m.Attn.Qkv!);
        Tensor Attend(Tensor q, Tensor k, Tensor v, int tq)
        {
            var p = Ops.Softmax(Ops.Mul(Ops.Matmul(q, Ops.Transpose(k, 2, 3)), 0.5));            // HD = 4: scale ½
            return Ops.Matmul(p, v).Permute(0, 2, 1, 3).Contiguous().Reshape(2, tq, 8);
        }
        var sa = Attend(Heads(Ops.Slice(qkv, 2, 0, 8), 2, 4), Heads(Ops.Slice(qkv, 2, 8, 8), 2, 4), Heads(Ops.Slice(qkv, 2, 16, 8), 2, 4), 4);
        var t1 = Ops.Add(t, Lin(sa, m.Attn.Proj));
        var nc = Ops.LayerNorm(t1, m.NormCross!.Weight, m.NormCross.Bias);
        var ca = Attend(Heads(Lin(nc, Child(m.CrossAttn!, "q")), 2, 4), Heads(Lin(ctx, Child(m.CrossAttn!, "k")), 2, 3), Heads(Lin(ctx, Child(m.CrossAttn!, "v")), 2, 3), 4);
        var t2 = Ops.Add(t1, Lin(ca, m.CrossAttn!.Proj));
        var n2 = Ops.LayerNorm(t2, m.Norm2.Weight, m.Norm2.Bias);
        var want = Ops.Add(t2, Lin(Ops.Gelu(Lin(n2, m.Mlp.Fc1)), m.Mlp.Fc2));
        TensorAssert.Close(want, m.Forward(t, null, ctx), 1e-12, 1e-12, "T block with cross-attention");
        Assert.Equal(["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
            "norm_cross.weight", "norm_cross.bias", "cross_attn.q.weight", "cross_attn.q.bias", "cross_attn.k.weight", "cross_attn.k.bias",
            "cross_attn.v.weight", "cross_attn.v.bias", "cross_attn.proj.weight", "cross_attn.proj.bias",
            "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"], m.StateDict().Keys);
    }

    private static Linear Child(Module m, string name) => (Linear)m.Children.Single(c => c.Name == name).Module;

    /// <summary>Eval mode: the fused layers (packed GEMMs, epilogues) against the same layers run plainly.</summary>
    [Fact]
    public void ConditionedBlocks_FusedEval_EqualsPlainLayers()
    {
        if (!Ops.PackedKernelsSupported) return;
        var rng = new Rng(14);
        var x = Tensor.Randn(rng, DType.F32, 2, 4, 4, 8);
        var cond = Tensor.Randn(rng, DType.F32, 2, 6);
        var ctx = Tensor.Randn(rng, DType.F32, 2, 3, 5);
        foreach (HybridBlock m in new HybridBlock[] { UnetC(DType.F32), UnetT(DType.F32) })
        {
            Randomise(m, 15);
            m.Eval();
            Tensor fused, plain;
            using (Autograd.NoGrad())
            {
                fused = m.Forward(x, cond, ctx);
                m.FusedInference = false;
                plain = m.Forward(x, cond, ctx);
                m.FusedInference = true;
            }
            double scale = plain.ToArray<double>().Max(Math.Abs);
            TensorAssert.Close(plain, fused, 0, 1e-5 * scale, m.Kind + " block");
        }
    }

    [Fact]
    public void Attention_InProjLayout_HasTorchKeys_AndEqualsLinearLayout()
    {
        var inProj = new Attention(ParamPath.Root(DType.F64, new Rng(16)), new AttentionConfig(8, 2) { Layout = QkvLayout.InProj });
        var linear = new Attention(ParamPath.Root(DType.F64, new Rng(17)), new AttentionConfig(8, 2));
        Assert.Equal(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"], inProj.StateDict().Keys);
        var s = inProj.StateDict();
        linear.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["qkv.weight"] = s["in_proj_weight"], ["qkv.bias"] = s["in_proj_bias"], ["proj.weight"] = s["out_proj.weight"], ["proj.bias"] = s["out_proj.bias"],
        });
        var x = Tensor.Randn(new Rng(18), DType.F64, 2, 5, 8);
        TensorAssert.Close(linear.Forward(x), inProj.Forward(x), 1e-13, 1e-13, "attention layouts");
    }
}
