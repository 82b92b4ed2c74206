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
        var peek = Checkpoint.ReadInfo(path, "weights file");
        bool ema = useEma ?? (peek.IsCheckpoint && peek.HasEma);
        var o = new LoadOptions { Model = model, UseEma = ema, ImageSize = imageSize, Warnings = warnings };
        var (info, state, classes, name, entry) = ModelLoader.Open(path, o);
        if (entry.Kind != ModelKind.Generator || !name.StartsWith("unet", StringComparison.Ordinal))
            throw new ArgumentException($"'{path}' holds {name} (a {entry.Kind.ToString().ToLowerInvariant()}), not a diffusion UNet (unet_*).");
        const string table = "y_embedder.embedding_table.weight";
        int numClasses = classes?.Count ?? (state.TryGetValue(table, out var t) ? t.Dim(0) - 1
            : throw new ArgumentException($"'{path}' has no '{table}': not the weights of a class-conditional UNet."));
        int size = ImageSize.Resolve(imageSize, info.TrainedImageSize, entry.Config.InputSize, warnings, path);
        // Latent models have the VAE's channels in and out: read them from conv_in.
        int? channels = state.TryGetValue("conv_in.weight", out var convIn) && convIn.Rank == 4 ? convIn.Dim(1) : null;
        var unet = (UNetModel)ModelRegistry.Create(name, new ModelOptions { NumClasses = numClasses, ImageSize = size, InChannels = channels });
        try { unet.LoadStateDict(state, strict: true); }
        catch (StateDictException e)
        {
            throw new WeightsMismatchException(ModelLoader.Summary(e.Report, path, name, numClasses, classes != null ? "the stored class names" : "the weights' label embedding",
                null, null, info, o), e);
        }
        unet.Eval();
        var diffusion = info.Diffusion ?? info.Config?.Diffusion;
        if (diffusion == null)
            warnings?.WriteLine($"'{path}' does not store its diffusion options: sampling assumes diffusers' defaults (epsilon prediction, linear betas).");
        var names = classes ?? Enumerable.Range(0, numClasses).Select(i => $"class_{i}").ToList();
        return new LoadedGenerator(unet, name, names, size, info.Data ?? entry.Config, diffusion ?? new DiffusionOptions(), ema);
    }
}
