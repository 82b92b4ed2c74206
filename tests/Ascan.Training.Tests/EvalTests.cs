// Evaluation: top-1/top-5, loss, confusion matrix and per-class accuracy from known logits; the --json shape.
using System.Text.Json;
using Ascan.Core;
using Ascan.Nn;
using Ascan.Models;
using Ascan.Nn.Serialization;
using Ascan.Data;
using Ascan.Training.Eval;

namespace Ascan.Training.Tests;

public class EvalTests
{
    /// <summary>Logits read from the image: the (B, 6, 1, 1) "pixels" of sample i are its 6 class scores.</summary>
    private sealed class PixelLogits() : Module(ParamPath.Root()), ILayer
    {
        public Tensor Forward(Tensor x) => x.Reshape(x.Dim(0), 6).Contiguous();
    }

    private static InMemorySource Source(float[][] logits, int[] labels) =>
        new(logits.SelectMany(r => r).ToArray(), labels, 6, 1, ["a", "b", "c", "d", "e", "f"], batchSize: 2, shuffle: false);

    [Fact]
    public void Eval_KnownLogits_GivesTopKLossAndConfusion()
    {
        float[][] logits =
        [
            [5, 1, 0, 0, 0, 0],  // true a → a (top-1)
            [1, 0, 5, 4, 3, 2],  // true b → c; b ranks 6th → not in top-5
            [0, 9, 5, 4, 3, 2],  // true c → b; c ranks 2nd → top-5
            [1, 1, 1, 1, 1, 1],  // true f → a (tie goes to the lowest index); f ranks 6th
        ];
        int[] labels = [0, 1, 2, 5];
        // PixelLogits reads (B, 6, 1, 1) images: channels = classes.
        var r = Evaluator.Evaluate(new PixelLogits(), Source(logits, labels));
        Assert.Equal(4, r.Images);
        Assert.Equal(0.25, r.Top1);
        Assert.Equal(0.5, r.Top5);
        double expectedLoss = logits.Zip(labels).Average(p =>
        {
            double max = p.First.Max(), lse = max + Math.Log(p.First.Sum(v => Math.Exp(v - max)));
            return lse - p.First[p.Second];
        });
        Assert.Equal(expectedLoss, r.Loss, 5);
        Assert.Equal(1, r.Confusion[0, 0]);
        Assert.Equal(1, r.Confusion[1, 2]);
        Assert.Equal(1, r.Confusion[2, 1]);
        Assert.Equal(1, r.Confusion[5, 0]);
        Assert.Equal(1.0, r.ClassAccuracy(0));
        Assert.Equal(0.0, r.ClassAccuracy(1));
        Assert.True(double.IsNaN(r.ClassAccuracy(3))); // no images of d
    }

    [Fact]
    public void Eval_Json_HasExactlyTop1Top5LossImages()
    {
        var r = Evaluator.Evaluate(new PixelLogits(), Source([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], [5, 1]));
        using var doc = JsonDocument.Parse(r.ToJson());
        Assert.Equal(["top1", "top5", "loss", "images"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0.5, doc.RootElement.GetProperty("top1").GetDouble());
        Assert.Equal(1.0, doc.RootElement.GetProperty("top5").GetDouble());
        Assert.Equal(2, doc.RootElement.GetProperty("images").GetInt32());
        Assert.True(doc.RootElement.GetProperty("loss").GetDouble() > 0);
    }

    [Fact]
    public void Eval_TopKIndices_BestFirst()
    {
        Assert.Equal([2, 0, 1], TopK.Indices([0.5f, 0.1f, 0.9f, 0.1f], 3));
        Assert.Equal(1, TopK.Rank([0.5f, 0.5f, 0.1f], 1)); // tie with a lower index counts ahead
    }

    [Fact]
    public void ModelLoader_PlainWeights_TakesClassesFromTheMapBesideThem()
    {
        using var dir = new TempDir();
        var m = ModelRegistry.CreateClassifier("ascan_nano", new ModelOptions { NumClasses = 3, Seed = 4 });
        SafetensorsState.SaveModule(m, dir.File("w.safetensors"));

        // Without a class map the head's width gives the class count.
        var loaded = ModelLoader.Load("ascan_nano", dir.File("w.safetensors"), imageSize: 32);
        Assert.Equal(3, loaded.Model.NumClasses);
        Assert.Equal(["class_0", "class_1", "class_2"], loaded.ClassNames);
        Assert.Equal(32, loaded.ImageSize);
        Assert.False(loaded.Model.Training);
        Assert.Equal(m.StateDict()["head.weight"].ToArray<float>(), loaded.Model.StateDict()["head.weight"].ToArray<float>());

        ClassMap.Write(dir.Path, ["cat", "dog", "emu"]);
        Assert.Equal(["cat", "dog", "emu"], ModelLoader.Load("ascan_nano", dir.File("w.safetensors")).ClassNames);

        var e = Assert.Throws<ArgumentException>(() => ModelLoader.Load(null, dir.File("w.safetensors")));
        Assert.Contains("--model", e.Message);
        ClassMap.Write(dir.Path, ["cat", "dog"]);
        var mismatch = Assert.Throws<WeightsMismatchException>(() => ModelLoader.Load("ascan_nano", dir.File("w.safetensors")));
        Assert.Contains("w.safetensors", mismatch.Message);
    }
}
