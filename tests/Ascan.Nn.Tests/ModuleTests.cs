// Module tests: parameter paths, train/eval propagation, To(F64), state-dict round trips and load reports, init.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Nn;
using Ascan.Nn.Serialization;

namespace Ascan.Nn.Tests;

/// <summary>A small tree shaped like an AsCAN stage: stages.{i}.blocks.{j}.{attn.qkv, norm1, drop_path}.</summary>
internal sealed class ToyBlock : Module, ILayer
{
    public readonly LayerNorm Norm1; public readonly Linear Qkv; public readonly DropPath DropPath; public readonly BatchNorm2d Bn;
    public ToyBlock(Path p, int dim) : base(p)
    {
        Norm1 = new LayerNorm(p.Sub("norm1"), dim);
        Qkv = new Linear(p.Sub("attn").Sub("qkv"), dim, 3 * dim);
        Bn = new BatchNorm2d(p.Sub("bn1"), 3 * dim);
        DropPath = new DropPath(p.Sub("drop_path"), 0.1);
    }
    public Tensor Forward(Tensor x) => Bn.Forward(Qkv.Forward(Norm1.Forward(x)));
}

internal sealed class ToyNet : Module
{
    public readonly ModuleList<ModuleList<ToyBlock>> Stages;
    public readonly Linear Head;
    public ToyNet(Path p, int dim = 4) : base(p)
    {
        Stages = new ModuleList<ModuleList<ToyBlock>>(p.Sub("stages"));
        for (int i = 0; i < 2; i++)
        {
            var stage = Stages.Add(q => new ModuleList<ToyBlock>(q));
            // Blocks live one level deeper ("stages.i.blocks.j"): a plain path segment without a module.
            for (int j = 0; j < 2; j++) new ToyBlock(stage.Path.Sub("blocks").Sub(j), dim);
        }
        Head = new Linear(p.Sub("head"), 3 * dim, 2);
    }
}

public class ModuleTests
{
    [Fact]
    public void Module_ParameterNames_AreStateDictKeys()
    {
        var net = new ToyNet(Path.Root());
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("stages.0.blocks.1.attn.qkv.weight", names);
        Assert.Contains("stages.1.blocks.0.norm1.bias", names);
        Assert.Equal(["head.weight", "head.bias"], names.TakeLast(2));
        Assert.Equal(["stages.0.blocks.0.norm1.weight", "stages.0.blocks.0.norm1.bias", "stages.0.blocks.0.attn.qkv.weight"], names.Take(3));
        var buffers = net.NamedBuffers().Select(b => b.Name).ToList();
        Assert.Contains("stages.1.blocks.1.bn1.running_var", buffers);
        Assert.All(net.NamedParameters(), p => { Assert.Equal(p.Name, p.Value.Name); Assert.True(p.Value.RequiresGrad); });
        Assert.All(net.NamedBuffers(), b => Assert.False(b.Value.RequiresGrad));
        // State dict: per module parameters then buffers, children after, as PyTorch.
        var keys = net.StateDict().Keys.ToList();
        int w = keys.IndexOf("stages.0.blocks.0.bn1.weight"), rm = keys.IndexOf("stages.0.blocks.0.bn1.running_mean");
        Assert.True(w >= 0 && rm == w + 2);
        Assert.Equal(4 * (4 + 4 + 12 * 4 + 12 + 12 + 12) + 12 * 2 + 2, net.ParameterCount);
    }

    [Fact]
    public void Module_DuplicateName_Throws()
    {
        var root = Path.Root();
        _ = new Linear(root.Sub("fc"), 2, 2);
        Assert.Throws<InvalidOperationException>(() => new Linear(root.Sub("fc"), 2, 2));
        Assert.Throws<ArgumentException>(() => root.Sub("a.b"));
    }

    [Fact]
    public void Module_TrainEval_PropagatesToChildren()
    {
        var net = new ToyNet(Path.Root());
        Assert.All(net.Modules(), m => Assert.True(m.Training));
        net.Eval();
        Assert.All(net.Modules(), m => Assert.False(m.Training));
        var block = net.Stages[1].Children[0].Module;
        Assert.IsType<ToyBlock>(block);
        Assert.False(((ToyBlock)block).DropPath.Training);
        net.Train();
        Assert.True(((ToyBlock)block).DropPath.Training);
    }

    [Fact]
    public void Module_SameSeed_SameInit()
    {
        var a = new ToyNet(Path.Root(rng: new Rng(5))).StateDict();
        var b = new ToyNet(Path.Root(rng: new Rng(5))).StateDict();
        var c = new ToyNet(Path.Root(rng: new Rng(6))).StateDict();
        foreach (var k in a.Keys) Assert.Equal(a[k].ToArray<float>(), b[k].ToArray<float>());
        Assert.NotEqual(a["head.weight"].ToArray<float>(), c["head.weight"].ToArray<float>());
    }

    [Fact]
    public void Module_ToF64_ConvertsAndGradchecks()
    {
        var root = Path.Root();
        var seq = new Sequential(root.Sub("mlp"));
        seq.Add(q => new Linear(q, 3, 5));
        seq.Add(q => new LayerNorm(q, 5));
        seq.Add(q => new Gelu(q));
        seq.Add(q => new Linear(q, 5, 4));
        seq.Add(q => new Silu(q));
        Assert.Equal(["mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias", "mlp.3.weight", "mlp.3.bias"], seq.NamedParameters().Select(p => p.Name));
        var before = seq.StateDict()["mlp.3.weight"].ToArray<double>();
        seq.To(DType.F64);
        Assert.All(seq.Parameters(), p => { Assert.Equal(DType.F64, p.DType); Assert.True(p.RequiresGrad); Assert.NotNull(p.Name); });
        Assert.Equal(before, seq.StateDict()["mlp.3.weight"].ToArray<double>());
        // Gradient check through the whole module in float64, w.r.t. the input and every parameter.
        var x = GradCheck.Leaf(new Rng(1), 4, 3);
        var ps = seq.Parameters().ToArray();
        GradCheck.Check(v => seq.Forward(v[0]), [x, .. ps]);
    }

    [Fact]
    public void Module_StateDict_RoundTrip_ThroughSafetensors()
    {
        var a = new ToyNet(Path.Root(rng: new Rng(1)));
        // Move the running statistics away from their initial values.
        using (Autograd.NoGrad()) ((ToyBlock)a.Stages[0].Children[0].Module).Forward(Tensor.Randn(new Rng(2), DType.F32, 3, 4));
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ascan-nn-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafetensorsState.SaveModule(a, file);
            var b = new ToyNet(Path.Root(rng: new Rng(99)));
            var report = SafetensorsState.LoadModule(b, file);
            Assert.True(report.IsClean, report.ToString());
            var sa = a.StateDict(); var sb = b.StateDict();
            Assert.Equal(sa.Keys, sb.Keys);
            foreach (var k in sa.Keys) Assert.Equal(sa[k].ToArray<float>(), sb[k].ToArray<float>());
            Assert.NotEqual(new float[12], sb["stages.0.blocks.0.bn1.running_mean"].ToArray<float>());
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Module_LoadStateDict_ReportsMissingUnexpectedAndMismatched()
    {
        var net = new ToyNet(Path.Root());
        var state = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        state.Remove("head.bias");
        state["extra.weight"] = Tensor.Zeros(3);
        state["head.weight"] = Tensor.Zeros(2, 5);
        state["stages.0.blocks.0.bn1.num_batches_tracked"] = Tensor.Scalar(7);
        var headBefore = net.Head.Weight.ToArray<float>();

        var ex = Assert.Throws<StateDictException>(() => net.LoadStateDict(state, strict: true));
        Assert.Contains("head.bias", ex.Message);
        Assert.Contains("extra.weight", ex.Message);
        Assert.Contains("head.weight: expected [2, 12], found [2, 5]", ex.Message);
        Assert.DoesNotContain("num_batches_tracked", ex.Message);
        Assert.Empty(ex.Report.Loaded); // strict loads nothing

        state["stages.0.blocks.0.norm1.weight"] = Tensor.Full(3, DType.F32, 4);
        var report = net.LoadStateDict(state, strict: false);
        Assert.Equal(["head.bias"], report.Missing.Select(e => e.Key));
        Assert.Equal([2], report.Missing[0].Expected!);
        Assert.Equal(["extra.weight"], report.Unexpected.Select(e => e.Key));
        Assert.Equal([3], report.Unexpected[0].Found!);
        var mm = Assert.Single(report.ShapeMismatches);
        Assert.Equal("head.weight", mm.Key);
        Assert.Equal([2, 12], mm.Expected!);
        Assert.Equal([2, 5], mm.Found!);
        Assert.Equal(headBefore, net.Head.Weight.ToArray<float>()); // mismatched tensor left alone
        Assert.All(((ToyBlock)net.Stages[0].Children[0].Module).Norm1.Weight!.ToArray<float>(), v => Assert.Equal(3f, v));
    }

    [Fact]
    public void Module_LoadStateDict_ConvertsElementType_InPlace()
    {
        var lin = new Linear(Path.Root().Sub("fc"), 2, 3);
        var w = lin.Weight;
        lin.LoadStateDict(new Dictionary<string, Tensor> { ["fc.weight"] = Tensor.Full(0.5, DType.F64, 3, 2), ["fc.bias"] = Tensor.Zeros(DType.F64, 3) });
        Assert.Same(w, lin.Weight);
        Assert.All(lin.Weight.ToArray<float>(), v => Assert.Equal(0.5f, v));
    }

    [Fact]
    public void Layers_Forward_Shapes_ChannelsLast()
    {
        var root = Path.Root();
        var conv = new Conv2d(root.Sub("conv"), new Conv2dConfig(3, 8, 3) { Stride = 2, Padding = 1, Bias = false });
        Assert.Equal([8, 3, 3, 3], conv.Weight.ShapeArray());
        Assert.Null(conv.Bias);
        var x = Tensor.Randn(new Rng(1), DType.F32, 2, 9, 9, 3);
        Assert.Equal([2, 5, 5, 8], conv.Forward(x).ShapeArray());
        var gn = new GroupNorm(root.Sub("gn"), 2, 8);
        Assert.Equal([2, 5, 5, 8], gn.Forward(conv.Forward(x)).ShapeArray());
        var emb = new Embedding(root.Sub("emb"), new EmbeddingConfig(10, 4) { PaddingIdx = 0 });
        Assert.All(emb.Weight.ToArray<float>().Take(4), v => Assert.Equal(0f, v));
        Assert.Equal([2, 3, 4], emb.Forward([1, 2, 3, 0, 5, 9], [2, 3]).ShapeArray());
        Assert.Equal(["conv.weight", "gn.weight", "gn.bias", "emb.weight"], new[] { conv, gn, (Module)emb }.SelectMany(m => m.NamedParameters()).Select(p => p.Name));
    }

    [Fact]
    public void BatchNorm2d_TrainUpdatesRunningStats_EvalUsesThem()
    {
        var bn = new BatchNorm2d(Path.Root().Sub("bn"), 3);
        var x = Tensor.Randn(new Rng(3), DType.F32, 4, 2, 2, 3) * 2.0 + 1.0;
        using (Autograd.NoGrad()) bn.Forward(x);
        Assert.Equal(1, bn.NumBatchesTracked);
        Assert.All(bn.RunningMean!.ToArray<float>(), v => Assert.NotEqual(0f, v));
        bn.Eval();
        var before = bn.RunningMean!.ToArray<float>();
        using (Autograd.NoGrad()) bn.Forward(x);
        Assert.Equal(before, bn.RunningMean!.ToArray<float>());
        Assert.Equal(1, bn.NumBatchesTracked);
        Assert.DoesNotContain(bn.StateDict().Keys, k => k.EndsWith("num_batches_tracked"));
    }

    [Fact]
    public void Dropout_Module_IdentityInEval_AndDeterministicPerSeed()
    {
        var d1 = new Dropout(Path.Root(rng: new Rng(4)).Sub("drop"), 0.5);
        var d2 = new Dropout(Path.Root(rng: new Rng(4)).Sub("drop"), 0.5);
        var x = Tensor.Ones(DType.F32, 6, 7);
        Assert.Equal(d1.Forward(x).ToArray<float>(), d2.Forward(x).ToArray<float>());
        d1.Eval();
        Assert.Same(x, d1.Forward(x));
    }
}

public class InitTests
{
    private static double[] Sample(Initializer init, params int[] shape)
    {
        var v = new double[shape.Aggregate(1, (a, b) => a * b)];
        init(v, shape, new Rng(1));
        return v;
    }

    private static double Std(double[] v) { double m = v.Average(); return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / v.Length); }

    [Fact]
    public void TruncNormal_UsesAbsoluteBounds()
    {
        var v = Sample(Init.TruncNormal(std: 1.0), 20000);
        Assert.All(v, x => Assert.InRange(x, -2, 2));
        Assert.InRange(Std(v), 0.85, 0.90); // std of N(0,1) truncated to ±2 is 0.8796
        var small = Sample(Init.TruncNormal(std: 0.02), 20000);
        Assert.InRange(Std(small), 0.0195, 0.0205); // ±2 absolute never clips std 0.02
    }

    [Fact]
    public void Kaiming_And_Xavier_HaveTheirScales()
    {
        // Conv weight (O=64, I=32, 3, 3): fan_in 288, fan_out 576.
        Assert.InRange(Std(Sample(Init.KaimingNormal(), 64, 32, 3, 3)), Math.Sqrt(2.0 / 288) * 0.97, Math.Sqrt(2.0 / 288) * 1.03);
        Assert.InRange(Std(Sample(Init.KaimingNormal(FanMode.FanOut), 64, 32, 3, 3)), Math.Sqrt(2.0 / 576) * 0.97, Math.Sqrt(2.0 / 576) * 1.03);
        var ku = Sample(Init.KaimingUniform(nl: Nonlinearity.Linear), 64, 32, 3, 3);
        Assert.True(ku.Max() <= Math.Sqrt(3.0 / 288) && ku.Max() > 0.98 * Math.Sqrt(3.0 / 288));
        var xu = Sample(Init.XavierUniform(), 100, 50);
        Assert.True(xu.Max() <= Math.Sqrt(6.0 / 150) && xu.Max() > 0.98 * Math.Sqrt(6.0 / 150));
        var td = Sample(Init.TorchDefaultWeight, 10, 25);
        Assert.True(td.Max() <= 0.2 && td.Max() > 0.19 && td.Min() >= -0.2); // 1/√25
        Assert.Equal((288, 576), Init.Fans([64, 32, 3, 3]));
    }
}
