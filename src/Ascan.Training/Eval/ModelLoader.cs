// Builds a registered classifier from a weights file (training checkpoint or plain state dict) for eval and predict.
using Ascan.Models;
using Ascan.Nn;
using Ascan.Training.Train;

namespace Ascan.Training.Eval;

/// <summary>A model ready for inference with what it needs around it: class names and the input size it was trained at.</summary>
public sealed record LoadedClassifier(ClassifierModel Model, string ModelName, IReadOnlyList<string> ClassNames, int ImageSize, DataConfig Data);

public static class ModelLoader
{
    /// <summary>
    /// Loads <paramref name="weightsPath"/> into model <paramref name="modelName"/> (null: the name stored in a training
    /// checkpoint). Classes come from the checkpoint or the class map beside the file, else from the model's own
    /// classifier in the weights (<see cref="ClassifierModel.HeadKey"/>, for every family); the image size from
    /// <paramref name="imageSize"/>, else the training config, else the model's default.
    /// Weights must match the model exactly; a mismatch names the file and every differing key.
    /// </summary>
    public static LoadedClassifier Load(string? modelName, string weightsPath, bool useEma = false, int? imageSize = null)
    {
        var (state, classes) = Checkpoint.LoadWeights(weightsPath, useEma);
        TrainConfig? trained = Checkpoint.IsCheckpoint(weightsPath) ? Checkpoint.ReadConfig(weightsPath) : null;
        modelName ??= trained?.Model ?? throw new ArgumentException($"'{weightsPath}' is a plain weights file: pass --model NAME.");
        var entry = ModelRegistry.Get(modelName);
        int size = ImageSize.Resolve(imageSize, trained, entry.Config.InputSize);
        var model = ModelRegistry.CreateClassifier(modelName, new ModelOptions { ImageSize = size });
        int numClasses = classes?.Count ?? model.NumClassesIn(state) switch
        {
            null => throw new ArgumentException($"Cannot tell the number of classes of '{weightsPath}': no class map (class_map.txt) beside it, and model '{modelName}' does not name its classifier."),
            0 => throw new ArgumentException($"'{weightsPath}' holds no classifier for model '{modelName}' (no '{model.HeadKey}.weight'): a headless backbone cannot classify."),
            int n => n,
        };
        if (numClasses != model.NumClasses) model.ResetClassifier(numClasses);
        try { model.LoadStateDict(state, strict: true); }
        catch (StateDictException e) { throw new InvalidDataException($"Weights '{weightsPath}' do not fit model '{modelName}' with {numClasses} classes:\n{e.Report}", e); }
        model.Eval();
        var names = classes ?? Enumerable.Range(0, numClasses).Select(i => $"class_{i}").ToList();
        if (names.Count != numClasses) throw new InvalidDataException($"The class map beside '{weightsPath}' names {names.Count} classes, the model has {numClasses}.");
        return new LoadedClassifier(model, modelName, names, size, entry.Config);
    }
}
