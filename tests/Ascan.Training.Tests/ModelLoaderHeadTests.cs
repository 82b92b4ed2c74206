// eval/predict read the number of classes from the model's own classifier, for every family (not from an AsCAN key).
using Ascan.Models;
using Ascan.Nn;
using Ascan.Nn.Serialization;
using Ascan.Training.Eval;

namespace Ascan.Training.Tests;

public class ModelLoaderHeadTests
{
    [Theory]
    [InlineData("resnet50", 7)]       // torchvision's fc
    [InlineData("convnext_tiny", 5)]  // torchvision's classifier.2
    public void ModelLoader_PlainBaselineWeights_TakeClassesFromTheirOwnHead(string name, int classes)
    {
        using var dir = new TempDir();
        var m = ModelRegistry.CreateClassifier(name, new ModelOptions { NumClasses = classes, Seed = 2 });
        SafetensorsState.SaveModule(m, dir.File("w.safetensors"));
        var loaded = ModelLoader.Load(name, dir.File("w.safetensors"), imageSize: 32);
        Assert.Equal(classes, loaded.Model.NumClasses);
        Assert.Equal(classes, loaded.ClassNames.Count);
        var key = m.HeadKey + ".weight";
        Assert.Equal(m.StateDict()[key].ToArray<float>(), loaded.Model.StateDict()[key].ToArray<float>());
    }

    [Fact]
    public void ModelLoader_HeadlessWeights_SayTheyCannotClassify()
    {
        using var dir = new TempDir();
        var m = ModelRegistry.CreateClassifier("ascan_nano", new ModelOptions { NumClasses = 0 });
        SafetensorsState.SaveModule(m, dir.File("w.safetensors"));
        var e = Assert.Throws<ArgumentException>(() => ModelLoader.Load("ascan_nano", dir.File("w.safetensors")));
        Assert.Contains("head.weight", e.Message);
        Assert.Contains("w.safetensors", e.Message);
    }
}
