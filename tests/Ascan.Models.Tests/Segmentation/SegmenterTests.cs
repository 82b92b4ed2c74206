// UPerNet segmenters: every registered upernet_* (parameter counts, shapes, gradients), fused == plain eval, keys, LoadBackbone.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.AsCAN;
using Ascan.Models.Baselines;
using Ascan.Models.Segmentation;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class SegmenterSweepTests
{
    public static TheoryData<string> Segmenters => new(ModelRegistry.All.Where(e => e.Kind == ModelKind.Segmenter).Select(e => e.Name).Order(StringComparer.Ordinal));

    private static readonly Dictionary<string, string> Backbones = new()
    {
        ["upernet_ascan_nano"] = "ascan_nano", ["upernet_ascan_t"] = "ascan_t", ["upernet_ascan_b"] = "ascan_b",
        ["upernet_ascan_l"] = "ascan_l", ["upernet_resnet50"] = "resnet50", ["upernet_convnext_tiny"] = "convnext_tiny",
    };

    [Fact]
    public void Registry_HasUperNetOnEveryAscanPresetAndBothBaselines()
    {
        var expected = AscanZoo.Entries.Select(e => "upernet_" + e.Name).Append("upernet_resnet50").Append("upernet_convnext_tiny").Order(StringComparer.Ordinal);
        Assert.Equal(expected, ModelRegistry.List("upernet_*").Select(e => e.Name));
        Assert.All(ModelRegistry.List("upernet_*"), e => Assert.Equal(150, e.Config.NumClasses));
        var e = Assert.Throws<ArgumentException>(() => Segmenter.Create("ascan_nano"));
        Assert.Contains("classifier, not a segmenter", e.Message);
        Assert.Throws<ArgumentException>(() => ModelRegistry.CreateClassifier("upernet_ascan_nano"));
    }

    /// <summary>
    /// The documented count of every entry = its backbone's features-only count + the heads' formula, without building
    /// the large ones (the classifier sweep builds every backbone; the tests below build the heads and check the
    /// formula). Feature channels per backbone: AsCAN widths, ResNet-50 planes·4, ConvNeXt-T dims.
    /// </summary>
    [Theory]
    [MemberData(nameof(Segmenters))]
    public void Registry_Segmenter_DocumentedParameterCount(string name)
    {
        var entry = ModelRegistry.Get(name);
        string backbone = Backbones[name];
        (long count, int[] channels) = backbone switch
        {
            "resnet50" => (TorchvisionZoo.ResNet50Parameters - (2048L * 1000 + 1000), ResNetConfig.ResNet50.Planes.Select(c => c * ResNetConfig.Expansion).ToArray()),
            "convnext_tiny" => (TorchvisionZoo.ConvNeXtTinyParameters - 2 * 768 - (768L * 1000 + 1000), ConvNeXtConfig.Tiny.Dims),
            _ => ((AscanConfig.Preset(backbone) with { FeaturesOnly = true }).ParameterCount(), AscanConfig.Preset(backbone).Widths),
        };
        bool nano = name == "upernet_ascan_nano";
        var heads = UperNetZoo.Configure(new ModelOptions(), nano ? UperNetZoo.NanoDecodeChannels : 512, nano ? UperNetZoo.NanoAuxChannels : 256);
        Assert.Equal(count + heads.HeadParameterCount(channels), entry.Parameters);
    }

    /// <summary>upernet_ascan_nano built: the documented count, mmseg's inference output (1, 150, 64, 64), finite.</summary>
    [Fact]
    public void Registry_Nano_ParameterCountAndEvalShape()
    {
        var m = Segmenter.Create("upernet_ascan_nano", new ModelOptions { Seed = 1 });
        Assert.Equal(ModelRegistry.Get("upernet_ascan_nano").Parameters, m.ParameterCount);
        Assert.Equal((AscanConfig.AscanNano with { FeaturesOnly = true }).ParameterCount(), m.Backbone.ParameterCount);
        Assert.DoesNotContain(m.StateDict().Keys, k => k.StartsWith("backbone.norm.") || k.StartsWith("backbone.head."));
        m.Eval();
        using var scope = TensorScope.Begin();
        using var _ = Autograd.NoGrad();
        var y = m.Forward(Tensor.Randn(new Rng(2), DType.F32, 1, 3, 64, 64));
        Assert.Equal([1, 150, 64, 64], y.ShapeArray());
        Assert.True(y.ToArray<float>().All(float.IsFinite), "non-finite logits");
    }

    /// <summary>Each backbone family under the heads (reduced sizes): built count = backbone + formula, eval shape.</summary>
    [Theory]
    [InlineData("ascan")]
    [InlineData("resnet")]
    [InlineData("convnext")]
    public void Segmenter_EachBackboneFamily_ParameterCountMatchesFormula_AndEvalShape(string family)
    {
        var m = SmallSegmenter(family, new UperNetConfig { NumClasses = 6, Channels = 12, AuxChannels = 8 });
        long heads = m.Config.HeadParameterCount(m.Backbone.FeatureInfo.Select(f => f.Channels).ToArray());
        Assert.Equal(m.Backbone.ParameterCount + heads, m.ParameterCount);
        m.Eval();
        var y = m.Forward(Tensor.Randn(new Rng(2), DType.F32, 1, 3, 40, 56));
        Assert.Equal([1, 6, 40, 56], y.ShapeArray());
        Assert.True(y.ToArray<float>().All(float.IsFinite), "non-finite logits");
    }

    internal static Segmenter SmallSegmenter(string family, UperNetConfig heads, ulong seed = 4) => new(ParamPath.Root(DType.F32, new Rng(seed)), family switch
    {
        "ascan" => q => new AscanModel(q, AscanConfig.AscanNano with { Widths = [16, 24, 32, 48], HeadDim = 16, FeaturesOnly = true }),
        "resnet" => q => new ResNet(q, ResNetConfig.ResNet50 with { StemWidth = 4, Planes = [2, 4, 8, 16], Layers = [2, 1, 1, 1], NumClasses = 0 }),
        _ => q => new ConvNeXt(q, ConvNeXtConfig.Tiny with { Dims = [8, 12, 16, 24], Depths = [1, 2, 1, 1], FeaturesOnly = true, NumClasses = 0 }),
    }, heads);

    [Fact]
    public void Registry_Options_ClassesAndChannels()
    {
        var nano = Segmenter.Create("upernet_ascan_nano");
        Assert.Equal((UperNetZoo.NanoDecodeChannels, UperNetZoo.NanoAuxChannels), (nano.DecodeHead.Channels, nano.AuxiliaryHead!.Channels));
        var m = Segmenter.Create("upernet_ascan_nano", new ModelOptions { NumClasses = 7, DecodeChannels = 24, AuxChannels = 0 });
        Assert.Equal(7, m.NumClasses);
        Assert.Equal(24, m.DecodeHead.Channels);
        Assert.Null(m.AuxiliaryHead);
        Assert.DoesNotContain(m.StateDict().Keys, k => k.StartsWith("auxiliary_head."));
        long heads = m.Config.HeadParameterCount(m.Backbone.FeatureInfo.Select(f => f.Channels).ToArray());
        Assert.Equal(m.Backbone.ParameterCount + heads, m.ParameterCount);
        m.Train();
        var logits = m.ForwardLogits(Tensor.Randn(new Rng(3), DType.F32, 2, 3, 64, 48));
        Assert.Equal([2, 16, 12, 7], logits.Decode.ShapeArray());
        Assert.Null(logits.Aux);
    }

    /// <summary>Train mode at 64×64, batch 2 (dropout active): shapes at strides 4 and 16, finite logits, and a backward
    /// of Σ decode·R₁ + 0.4·Σ aux·R₂ gives every parameter a finite, non-zero gradient. upernet_ascan_nano as
    /// registered, and the baselines' families at reduced sizes (the full ones take too long for the suite).</summary>
    [Theory]
    [InlineData("upernet_ascan_nano")]
    [InlineData("resnet")]
    [InlineData("convnext")]
    public void Segmenter_TrainForwardBackward_EveryParameterGetsAGradient(string name)
    {
        var m = name.StartsWith("upernet_") ? Segmenter.Create(name, new ModelOptions { Seed = 4 })
            : SmallSegmenter(name, new UperNetConfig { NumClasses = 150, Channels = 16, AuxChannels = 8 });
        m.Train();
        var logits = m.ForwardLogits(Tensor.Randn(new Rng(5), DType.F32, 2, 3, 64, 64));
        Assert.Equal([2, 16, 16, 150], logits.Decode.ShapeArray());
        Assert.Equal([2, 4, 4, 150], logits.Aux!.ShapeArray());
        Assert.True(logits.Decode.ToArray<float>().All(float.IsFinite) && logits.Aux.ToArray<float>().All(float.IsFinite), $"{name}: non-finite logits");
        var r1 = Tensor.Randn(new Rng(6), DType.F32, logits.Decode.ShapeArray());
        var r2 = Tensor.Randn(new Rng(7), DType.F32, logits.Aux.ShapeArray());
        ((logits.Decode * r1).Sum() + (logits.Aux * r2).Sum() * 0.4).Backward();
        var silent = new List<string>();
        foreach (var (key, p) in m.NamedParameters())
        {
            Assert.True(p.Grad != null, $"{name}: {key} received no gradient");
            var g = p.Grad!.ToArray<float>();
            Assert.True(g.All(float.IsFinite), $"{name}: non-finite gradient in {key}");
            if (!g.Any(v => v != 0)) silent.Add(key);
        }
        Assert.True(silent.Count == 0, $"{name}: all-zero gradient in {string.Join(", ", silent)}");
    }

    [Fact]
    public void Segmenter_Keys_FollowMmseg()
    {
        var keys = Segmenter.Create("upernet_ascan_nano").StateDict().Keys.ToHashSet();
        string[] bn = ["weight", "bias", "running_mean", "running_var"];
        var expected = new List<string>();
        void Cm(string p) { expected.Add(p + ".conv.weight"); expected.AddRange(bn.Select(b => $"{p}.bn.{b}")); }
        for (int i = 0; i < 4; i++) Cm($"decode_head.psp_modules.{i}.1");
        Cm("decode_head.bottleneck");
        for (int i = 0; i < 3; i++) { Cm($"decode_head.lateral_convs.{i}"); Cm($"decode_head.fpn_convs.{i}"); }
        Cm("decode_head.fpn_bottleneck");
        Cm("auxiliary_head.convs.0");
        expected.AddRange(["decode_head.conv_seg.weight", "decode_head.conv_seg.bias", "auxiliary_head.conv_seg.weight", "auxiliary_head.conv_seg.bias"]);
        Assert.All(expected, k => Assert.Contains(k, keys));
        var heads = keys.Where(k => !k.StartsWith("backbone.", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(expected.Order().ToList(), heads);
        var backbone = ModelRegistry.CreateBackbone("ascan_nano").StateDict().Keys.Select(k => "backbone." + k).ToHashSet();
        Assert.True(backbone.SetEquals(keys.Where(k => k.StartsWith("backbone."))));
    }

    [Fact]
    public void Segmenter_Init_FollowsMmseg()
    {
        var m = Segmenter.Create("upernet_ascan_nano", new ModelOptions { Seed = 9 });
        var convSeg = m.DecodeHead.ConvSeg.Weight.ToArray<float>();
        double std = Math.Sqrt(convSeg.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.0095, 0.0105);
        Assert.All(m.DecodeHead.ConvSeg.Bias!.ToArray<float>(), v => Assert.Equal(0f, v));
        // ConvModule: kaiming normal, fan_out, ReLU gain: std √(2 / (out·k·k)).
        var fb = m.DecodeHead.FpnBottleneck.Conv.Weight;
        double want = Math.Sqrt(2.0 / (UperNetZoo.NanoDecodeChannels * 9));
        double got = Math.Sqrt(fb.ToArray<float>().Select(v => (double)v * v).Average());
        Assert.InRange(got / want, 0.98, 1.02);
        Assert.All(m.DecodeHead.FpnBottleneck.Bn.Weight!.ToArray<float>(), v => Assert.Equal(1f, v));
        Assert.Null(m.DecodeHead.FpnBottleneck.Conv.Bias);
    }
}

public class SegmenterFusedAndLoadTests
{
    private static readonly AscanConfig TinyAscan = AscanConfig.AscanNano with { Widths = [16, 24, 32, 48], HeadDim = 16, FeaturesOnly = true, NumClasses = 0 };
    private static readonly UperNetConfig TinyHeads = new() { NumClasses = 5, Channels = 12, AuxChannels = 8 };

    private static Segmenter TinyAscanSegmenter(ulong seed = 3) =>
        Redraw(new Segmenter(ParamPath.Root(DType.F32, new Rng(seed)), q => new AscanModel(q, TinyAscan), TinyHeads), seed);

    private static readonly ResNetConfig SmallResNet = ResNetConfig.ResNet50 with { StemWidth = 4, Planes = [2, 4, 8, 16], Layers = [2, 1, 1, 1], NumClasses = 0 };

    /// <summary>Every BatchNorm statistic and affine redrawn, and conv_seg scaled up, so folding matters and logits are not tiny.</summary>
    private static Segmenter Redraw(Segmenter m, ulong seed)
    {
        var rng = new Rng(seed + 100);
        foreach (var (name, t) in m.StateDict())
        {
            var s = t.Span<float>();
            double lo, hi;
            if (name.EndsWith("running_var")) (lo, hi) = (0.5, 1.5);
            else if (name.EndsWith("running_mean") || (t.Rank == 1 && name.EndsWith("bias"))) (lo, hi) = (-0.2, 0.2);
            else if (t.Rank == 1 && name.EndsWith("weight")) (lo, hi) = (0.7, 1.3);
            else if (name.EndsWith("conv_seg.weight")) { for (int i = 0; i < s.Length; i++) s[i] *= 30; continue; }
            else continue;
            for (int i = 0; i < s.Length; i++) s[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }
        m.Eval();
        return m;
    }

    private static void AssertRelClose(Tensor want, Tensor got, string what)
    {
        Assert.Equal(want.ShapeArray(), got.ShapeArray());
        double scale = want.ToArray<double>().Max(Math.Abs);
        TensorAssert.Close(want, got, 0, 1e-5 * scale, what);
    }

    /// <summary>FusedInference on (folded BN, ReLU in the conv's output step, intermediates freed in a scope) equals off.</summary>
    [Theory]
    [InlineData("ascan", 2, 64, 64)]
    [InlineData("ascan", 1, 38, 30)]   // odd sizes: every stride rounds up, non-integer resizes
    [InlineData("resnet", 2, 70, 52)]
    public void Segmenter_FusedEqualsPlain(string backbone, int batch, int h, int w)
    {
        if (!Ops.PackedKernelsSupported) return;
        var m = backbone == "ascan" ? TinyAscanSegmenter()
            : Redraw(new Segmenter(ParamPath.Root(DType.F32, new Rng(5)), q => new ResNet(q, SmallResNet), TinyHeads), 5);
        var x = Tensor.Randn(new Rng(8), DType.F32, batch, 3, h, w);
        float[] plainOut, plainDecode;
        using (Autograd.NoGrad())
        {
            m.FusedInference = false;
            plainOut = m.Forward(x).ToArray<float>();
            plainDecode = m.ForwardLogits(x).Decode.ToArray<float>();
            m.FusedInference = true;
        }
        for (int round = 0; round < 2; round++) // buffers released early inside a scope are recycled correctly
        {
            using var scope = TensorScope.Begin();
            using var _ = Autograd.NoGrad();
            var y = m.Forward(x);
            Assert.Equal([batch, 5, h, w], y.ShapeArray());
            AssertRelClose(Tensor.FromArray(plainOut, y.ShapeArray()), y, "logits");
            var d = m.ForwardLogits(x).Decode;
            AssertRelClose(Tensor.FromArray(plainDecode, d.ShapeArray()), d, "decode logits");
        }
    }

    [Fact]
    public void LoadBackbone_FromAscanClassifier_SkipsNormAndHead_LoadsTheRest()
    {
        var classifier = new AscanModel(ParamPath.Root(DType.F32, new Rng(11)), TinyAscan with { FeaturesOnly = false, NumClasses = 7 });
        var seg = TinyAscanSegmenter();
        var skipped = seg.LoadBackbone(classifier.StateDict());
        Assert.Equal(["norm.weight", "norm.bias", "head.weight", "head.bias"], skipped);
        var mine = seg.Backbone.StateDict();
        foreach (var (k, t) in classifier.StateDict())
            if (!skipped.Contains(k)) Assert.Equal(t.ToArray<float>(), mine["backbone." + k].ToArray<float>());

        // A segmenter's own keys ("backbone." prefix) load too, heads left out.
        var other = TinyAscanSegmenter(seed: 12);
        var prefixed = other.StateDict().Where(kv => kv.Key.StartsWith("backbone.")).ToDictionary();
        Assert.Empty(seg.LoadBackbone(prefixed));
        Assert.Equal(other.Backbone.StateDict()["backbone.stem.conv1.weight"].ToArray<float>(), seg.Backbone.StateDict()["backbone.stem.conv1.weight"].ToArray<float>());
    }

    [Fact]
    public void LoadBackbone_Mismatch_NamesTheKeys_AndLoadsNothing()
    {
        var seg = TinyAscanSegmenter();
        var before = seg.Backbone.StateDict()["backbone.stem.conv1.weight"].ToArray<float>();

        var wider = new AscanModel(ParamPath.Root(DType.F32, new Rng(13)), TinyAscan with { Widths = [16, 24, 32, 64], FeaturesOnly = false });
        var e = Assert.Throws<ArgumentException>(() => seg.LoadBackbone(wider.StateDict()));
        Assert.Contains("stages.3.downsample.conv.weight", e.Message);
        Assert.Contains("skipped as classifier-only: norm.weight, norm.bias", e.Message); // what was skipped is named too

        var good = new AscanModel(ParamPath.Root(DType.F32, new Rng(14)), TinyAscan with { FeaturesOnly = false }).StateDict();
        var missing = good.Where(kv => kv.Key != "stages.1.blocks.0.bn1.running_var").ToDictionary();
        e = Assert.Throws<ArgumentException>(() => seg.LoadBackbone(missing));
        Assert.Contains("Missing keys", e.Message);
        Assert.Contains("stages.1.blocks.0.bn1.running_var", e.Message);

        var extra = new Dictionary<string, Tensor>(good) { ["stages.9.blocks.0.conv_exp.weight"] = Tensor.Zeros(1) };
        e = Assert.Throws<ArgumentException>(() => seg.LoadBackbone(extra));
        Assert.Contains("Unexpected keys", e.Message);
        Assert.Contains("stages.9.blocks.0.conv_exp.weight", e.Message);

        Assert.Equal(before, seg.Backbone.StateDict()["backbone.stem.conv1.weight"].ToArray<float>());
    }

    [Fact]
    public void LoadBackbone_Baselines_SkipTheirHeads()
    {
        var resnet = new ResNet(ParamPath.Root(DType.F32, new Rng(15)), SmallResNet with { NumClasses = 3 });
        var seg = new Segmenter(ParamPath.Root(), q => new ResNet(q, SmallResNet), TinyHeads);
        Assert.Equal(["fc.weight", "fc.bias"], seg.LoadBackbone(resnet.StateDict()));

        var cn = ConvNeXtConfig.Tiny with { Dims = [8, 12, 16, 24], Depths = [1, 1, 1, 1], NumClasses = 3 };
        var convnext = new ConvNeXt(ParamPath.Root(DType.F32, new Rng(16)), cn);
        var seg2 = new Segmenter(ParamPath.Root(), q => new ConvNeXt(q, cn with { FeaturesOnly = true, NumClasses = 0 }), TinyHeads);
        Assert.Equal(["classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"], seg2.LoadBackbone(convnext.StateDict()));
    }
}
