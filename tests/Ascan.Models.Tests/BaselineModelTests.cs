// The torchvision baselines at full size (state-dict keys/shapes = torchvision's, parameter counts, data configs) and their backbone API.
using System.Text.Json;
using Ascan.Core;
using Ascan.Models.Baselines;
using Ascan.Nn;

namespace Ascan.Models.Tests;

public class BaselineModelTests
{
    /// <summary>
    /// tests/fixtures/torchvision/&lt;model&gt;_keys.json: [[key, shape], …] in torchvision 0.14's state_dict() order
    /// (regenerate: /usr/bin/python3 tools/fixtures/torchvision_models.py). JSON fixtures are not copied next to the
    /// test binaries (only *.safetensors are), so the file is found by walking up to the repository's tests/fixtures.
    /// </summary>
    private static List<(string Key, int[] Shape)> TorchvisionKeys(string model)
    {
        string rel = System.IO.Path.Combine("tests", "fixtures", "torchvision", model + "_keys.json");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string path = System.IO.Path.Combine(dir.FullName, rel);
            if (!File.Exists(path)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.EnumerateArray()
                .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt32()).ToArray()))
                .ToList();
        }
        throw new FileNotFoundException($"{rel} not found above {AppContext.BaseDirectory}; regenerate with `/usr/bin/python3 tools/fixtures/torchvision_models.py`.");
    }

    [Theory]
    [InlineData("resnet50", TorchvisionZoo.ResNet50Parameters)]
    [InlineData("convnext_tiny", TorchvisionZoo.ConvNeXtTinyParameters)]
    [InlineData("vit_b_16", TorchvisionZoo.VitB16Parameters)]
    public void FullSize_KeysShapesAndParameterCount_EqualTorchvision(string name, long parameters)
    {
        var model = ModelRegistry.CreateClassifier(name);
        Assert.Equal(parameters, model.ParameterCount);
        Assert.Equal(parameters, ModelRegistry.Get(name).Parameters);
        // torchvision's BatchNorm also writes num_batches_tracked; Ascan keeps that counter out of the state dict
        // and accepts and ignores the key when loading.
        var expected = TorchvisionKeys(name).Where(k => !k.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            .Select(k => $"{k.Key} {ShapeUtil.Format(k.Shape)}").ToList();
        var actual = model.StateDict().Select(kv => $"{kv.Key} {ShapeUtil.Format(kv.Value.Shape)}").ToList();
        Assert.Equal(expected, actual); // same keys, same shapes, same order
        Assert.Equal(1000, model.NumClasses);
    }

    [Fact]
    public void Registry_DataConfigs_FollowTorchvisionWeights()
    {
        foreach (var e in ModelRegistry.List("*"))
        {
            if (e.Name is not ("resnet50" or "convnext_tiny" or "vit_b_16")) continue;
            Assert.Equal(224, e.Config.InputSize);
            Assert.Equal("bilinear", e.Config.Interpolation);
            Assert.Equal([0.485, 0.456, 0.406], e.Config.Mean);
            Assert.Equal([0.229, 0.224, 0.225], e.Config.Std);
        }
        Assert.Equal(0.875, ModelRegistry.Get("resnet50").Config.CropFraction);
        Assert.Equal(224.0 / 236, ModelRegistry.Get("convnext_tiny").Config.CropFraction, 12); // resize 236 → crop 224
        Assert.Equal(0.875, ModelRegistry.Get("vit_b_16").Config.CropFraction);
        Assert.Equal(["convnext_tiny", "resnet50", "vit_b_16"],
            ModelRegistry.List("*").Select(e => e.Name).Where(n => n is "resnet50" or "convnext_tiny" or "vit_b_16"));
    }

    // ------------------------------------------------------------------ reduced models: backbone API

    private static ResNet SmallResNet(int classes = 7) => new(ParamPath.Root(rng: new Rng(1)),
        ResNetConfig.ResNet50 with { StemWidth = 4, Planes = [2, 4, 8, 16], Layers = [2, 1, 1, 1], NumClasses = classes });

    private static ConvNeXt SmallConvNeXt(double stochasticDepth = 0) => new(ParamPath.Root(rng: new Rng(2)),
        ConvNeXtConfig.Tiny with { Dims = [8, 12, 16, 24], Depths = [1, 2, 1, 1], NumClasses = 7, StochasticDepthProb = stochasticDepth });

    private static VisionTransformer SmallVit(int classes = 7) => new(ParamPath.Root(rng: new Rng(3)),
        VisionTransformerConfig.B16 with { ImageSize = 32, PatchSize = 16, NumLayers = 2, NumHeads = 2, HiddenDim = 16, MlpDim = 32, NumClasses = classes });

    private static Tensor Images(int b, int size) => Tensor.Randn(new Rng(9), DType.F32, b, 3, size, size);

    [Fact]
    public void ResNet_Stages_AreStrides4To32WithExpandedWidths()
    {
        var m = SmallResNet();
        m.Eval();
        var stages = m.ForwardStages(Images(2, 64));
        Assert.Equal([(8, 4), (16, 8), (32, 16), (64, 32)], m.FeatureInfo.Select(f => (f.Channels, f.Reduction)));
        for (int i = 0; i < 4; i++)
            Assert.Equal([2, 64 / m.FeatureInfo[i].Reduction, 64 / m.FeatureInfo[i].Reduction, m.FeatureInfo[i].Channels], stages[i].ShapeArray());
        Assert.Equal(64, m.NumFeatures);
        var features = m.ForwardFeatures(Images(2, 64));
        Assert.Equal(stages[^1].ToArray<float>(), features.ToArray<float>());
        Assert.Equal([2, 64], m.ForwardHead(features, preLogits: true).ShapeArray());
        Assert.Equal([2, 7], m.ForwardHead(features).ShapeArray());
    }

    [Fact]
    public void ConvNeXt_Stages_AreStrides4To32()
    {
        var m = SmallConvNeXt();
        m.Eval();
        var stages = m.ForwardStages(Images(1, 64));
        Assert.Equal([(8, 4), (12, 8), (16, 16), (24, 32)], m.FeatureInfo.Select(f => (f.Channels, f.Reduction)));
        for (int i = 0; i < 4; i++)
            Assert.Equal([1, 64 >> (i + 2), 64 >> (i + 2), m.FeatureInfo[i].Channels], stages[i].ShapeArray());
        var pre = m.ForwardHead(stages[^1], preLogits: true);
        Assert.Equal([1, 24], pre.ShapeArray());
        Assert.Equal([1, 7], m.Forward(Images(1, 64)).ShapeArray());
    }

    [Fact]
    public void ConvNeXt_StochasticDepth_IsLinearOverBlocksAndOffInEval()
    {
        var m = SmallConvNeXt(stochasticDepth: 0.2);
        var x = Images(4, 32);
        m.Eval();
        Assert.Equal(m.Forward(x).ToArray<float>(), m.Forward(x).ToArray<float>());
        var rates = m.Modules().OfType<DropPath>().Select(d => d.P).ToArray();
        Assert.Equal(5, rates.Length);
        for (int k = 0; k < 5; k++) Assert.Equal(0.2 * k / 4, rates[k], 12);
    }

    [Fact]
    public void Vit_TokensAndFeatureMap_AtStrideOfThePatch()
    {
        var m = SmallVit();
        m.Eval();
        var tokens = m.ForwardFeatures(Images(2, 32));
        Assert.Equal([2, 5, 16], tokens.ShapeArray()); // 2×2 patches + class token
        var map = Assert.Single(m.ForwardStages(Images(2, 32)));
        Assert.Equal([2, 2, 2, 16], map.ShapeArray());
        Assert.Equal(new FeatureInfo("encoder", 16, 16), Assert.Single(m.FeatureInfo));
        // The map is the patch tokens (class token dropped) in row-major order.
        var t = tokens.ToArray<float>();
        var f = map.ToArray<float>();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 4 * 16; i++) Assert.Equal(t[b * 5 * 16 + 16 + i], f[b * 4 * 16 + i]);
        Assert.Equal(t.AsSpan(0, 16).ToArray(), m.ForwardHead(tokens, preLogits: true).ToArray<float>().AsSpan(0, 16).ToArray());
    }

    [Fact]
    public void Vit_WrongImageSize_SaysWhichSizeItWasBuiltFor()
    {
        var m = SmallVit();
        var e = Assert.Throws<ArgumentException>(() => m.Forward(Images(1, 48)));
        Assert.Contains("32", e.Message);
        Assert.Contains("48", e.Message);
    }

    [Fact]
    public void Vit_FromRegistry_ImageSizeOptionSetsThePositionTable()
    {
        var m = (VisionTransformer)ModelRegistry.CreateClassifier("vit_b_16", new ModelOptions { ImageSize = 32, NumClasses = 3 });
        Assert.Equal([1, 5, 768], m.PosEmbedding.ShapeArray());
        Assert.Equal(3, m.NumClasses);
        Assert.Equal(TorchvisionZoo.VitB16Parameters - (197 - 5) * 768 - 997 * 769, m.ParameterCount);
    }

    [Fact]
    public void Vit_LegacyMlpKeys_LoadAfterUpgrade()
    {
        // torchvision's published ViT checkpoints name the MLP Linears linear_1/linear_2 (MLPBlock version 1).
        var source = SmallVit();
        var legacy = source.StateDict().ToDictionary(
            kv => kv.Key.Replace(".mlp.0.", ".mlp.linear_1.").Replace(".mlp.3.", ".mlp.linear_2."), kv => kv.Value);
        Assert.Contains("encoder.layers.encoder_layer_1.mlp.linear_2.bias", legacy.Keys);
        var m = SmallVit();
        Assert.Throws<StateDictException>(() => m.LoadStateDict(legacy));
        var report = m.LoadStateDict(VisionTransformer.UpgradeLegacyKeys(legacy));
        Assert.True(report.IsClean);
        Assert.Equal(source.StateDict()["encoder.layers.encoder_layer_1.mlp.3.weight"].ToArray<float>(),
                     m.StateDict()["encoder.layers.encoder_layer_1.mlp.3.weight"].ToArray<float>());
    }

    [Fact]
    public void Registry_DropPathOnResNetOrVit_IsAnError()
    {
        Assert.Contains("stochastic depth", Assert.Throws<ArgumentException>(() => ModelRegistry.CreateClassifier("resnet50", new ModelOptions { DropPath = 0.1 })).Message);
        Assert.Contains("stochastic depth", Assert.Throws<ArgumentException>(() => ModelRegistry.CreateClassifier("vit_b_16", new ModelOptions { DropPath = 0.1 })).Message);
    }

    public static TheoryData<string> Small => ["resnet", "convnext", "vit"];

    private static TorchvisionClassifier MakeSmall(string kind) => kind switch
    {
        "resnet" => SmallResNet(),
        "convnext" => SmallConvNeXt(),
        _ => SmallVit(),
    };

    [Theory]
    [MemberData(nameof(Small))]
    public void ResetClassifier_NewCount_KeepsKeyOrderAndBackbone(string kind)
    {
        var m = MakeSmall(kind);
        m.Eval();
        var x = Images(2, 32);
        var pre = m.ForwardHead(m.ForwardFeatures(x), preLogits: true).ToArray<float>();
        var keys = m.StateDict().Keys.ToList();
        string head = keys[^1][..keys[^1].LastIndexOf('.')];

        m.ResetClassifier(5);
        Assert.Equal(5, m.NumClasses);
        Assert.Equal([2, 5], m.Forward(x).ShapeArray());
        Assert.Equal(keys, m.StateDict().Keys.ToList());
        Assert.Equal([5, m.NumFeatures], m.StateDict()[head + ".weight"].ShapeArray());
        Assert.Equal(pre, m.ForwardHead(m.ForwardFeatures(x), preLogits: true).ToArray<float>());

        m.ResetClassifier(0); // no classifier: Forward gives the pre-logits
        Assert.Equal(0, m.NumClasses);
        Assert.DoesNotContain(m.StateDict().Keys, k => k.StartsWith(head + ".", StringComparison.Ordinal));
        Assert.Equal(pre, m.Forward(x).ToArray<float>());

        m.ResetClassifier(3); // back again, at the end of the state dict where torchvision has it
        Assert.Equal(head + ".bias", m.StateDict().Keys.Last());
        Assert.Equal([2, 3], m.Forward(x).ShapeArray());
    }

    [Theory]
    [MemberData(nameof(Small))]
    public void LoadStateDict_WrongShapeOrMissingKey_NamesTheKey(string kind)
    {
        var m = MakeSmall(kind);
        var state = MakeSmall(kind).StateDict();
        string victim = state.Keys.First(k => k.EndsWith(".weight", StringComparison.Ordinal) && state[k].Rank >= 2);
        state[victim] = Tensor.Zeros(3, 3);
        var e = Assert.Throws<StateDictException>(() => m.LoadStateDict(state));
        Assert.Contains(victim, e.Message);
        state.Remove(victim);
        e = Assert.Throws<StateDictException>(() => m.LoadStateDict(state));
        Assert.Contains(victim, e.Message);
    }

    [Theory]
    [MemberData(nameof(Small))]
    public void Backward_EveryParameterGetsAFiniteGradient(string kind)
    {
        var m = MakeSmall(kind);
        m.Train();
        if (m is VisionTransformer vit) Init.Apply(vit.StateDict()["heads.head.weight"], Init.Normal(0, 0.1), new Rng(4)); // torchvision zero-inits the head
        var logits = m.Forward(Images(2, 32));
        var loss = Ops.CrossEntropy(logits, [1, 4]);
        loss.Backward();
        foreach (var (name, p) in m.NamedParameters())
        {
            var g = p.Grad ?? throw new Xunit.Sdk.XunitException($"{kind}: {name} got no gradient.");
            var values = g.ToArray<float>();
            Assert.All(values, v => Assert.True(float.IsFinite(v), $"{kind}: {name} has a non-finite gradient."));
            Assert.True(values.Any(v => v != 0), $"{kind}: {name} has an all-zero gradient.");
        }
    }
}
