// Loads a diffusion UNet for sampling: from a generate-train checkpoint (its EMA weights when it has them, as DiT
// samples) or a plain export, with the classes, size and diffusion options the run stored.
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Nn;
using Ascan.Training.Generation;
using Ascan.Training.Train;

namespace Ascan.Training.Eval;

/// <summary>A loaded UNet with what sampling needs: class names, image (or latent) size, data config and the training's diffusion options.</summary>
public sealed record LoadedGenerator(UNetModel Model, string ModelName, IReadOnlyList<string> ClassNames, int ImageSize, DataConfig Data,
    DiffusionOptions Diffusion, bool UsedEma);

public static class GeneratorLoader
{
    /// <summary>
    /// Loads <paramref name="path"/> strictly. <paramref name="useEma"/> null takes a checkpoint's EMA weights when it has
    /// them; the model name from <paramref name="model"/>, else the file; the diffusion options (objective, betas) from the
    /// file, else diffusers' defaults (epsilon, linear betas) with a warning.
    /// </summary>
    public static LoadedGenerator Load(string path, string? model = null, bool? useEma = null, int? imageSize = null, TextWriter? warnings = null)
    {
        var info = Checkpoint.ReadInfo(path, "weights file");
        bool ema = useEma ?? (info.IsCheckpoint && info.HasEma);
        var (state, classes) = Checkpoint.LoadWeights(path, ema);
        string name = model ?? info.ModelName ?? throw new ArgumentException($"'{path}' does not name its model (a plain weights file without metadata): pass --model NAME.");
        var entry = ModelRegistry.Get(name);
        if (entry.Kind != ModelKind.Generator)
            throw new ArgumentException($"'{path}' holds a {entry.Kind.ToString().ToLowerInvariant()} ({name}), not a diffusion UNet (unet_*).");
        const string table = "y_embedder.embedding_table.weight";
        int numClasses = classes?.Count ?? (state.TryGetValue(table, out var t) ? t.Dim(0) - 1
            : throw new ArgumentException($"'{path}' has no '{table}': not the weights of a class-conditional UNet."));
        int size = ImageSize.Resolve(imageSize, info.TrainedImageSize, entry.Config.InputSize, warnings, path);
        var unet = (UNetModel)ModelRegistry.Create(name, new ModelOptions { NumClasses = numClasses, ImageSize = size });
        try { unet.LoadStateDict(state, strict: true); }
        catch (StateDictException e)
        {
            var r = e.Report;
            throw new WeightsMismatchException($"'{path}' does not fit {name} with {numClasses} classes: {r.Missing.Count} missing, " +
                $"{r.Unexpected.Count} unexpected, {r.ShapeMismatches.Count} mismatched keys (first: {string.Join("; ", r.Missing.Concat(r.Unexpected).Concat(r.ShapeMismatches).Take(ModelLoader.KeysShown))}).", e);
        }
        unet.Eval();
        var diffusion = info.Diffusion ?? info.Config?.Diffusion;
        if (diffusion == null)
            warnings?.WriteLine($"'{path}' does not store its diffusion options: sampling assumes diffusers' defaults (epsilon prediction, linear betas).");
        var names = classes ?? Enumerable.Range(0, numClasses).Select(i => $"class_{i}").ToList();
        return new LoadedGenerator(unet, name, names, size, info.Data ?? entry.Config, diffusion ?? new DiffusionOptions(), ema);
    }
}
