// Builds a registered classifier from a weights file (training checkpoint or plain state dict) for infer, bench, eval
// and predict: the one place weights are loaded, with what the file's metadata says filling in what flags leave out.
using Ascan.Core;
using Ascan.Models;
using Ascan.Nn;
using Ascan.Training.Train;

namespace Ascan.Training.Eval;

/// <summary>A model ready for inference with what it needs around it: class names and the input size it was trained at.</summary>
public sealed record LoadedClassifier(ClassifierModel Model, string ModelName, IReadOnlyList<string> ClassNames, int ImageSize, DataConfig Data);

/// <summary>What the verbs' flags say about the model to load; null fields are taken from the file (see <see cref="ModelLoader.Load(string, LoadOptions)"/>).</summary>
/// <summary>A segmenter ready for inference, with the settings it was trained with.</summary>
public sealed record LoadedSegmenter(Ascan.Models.Segmentation.Segmenter Model, string ModelName, IReadOnlyList<string> ClassNames, int ImageSize, DataConfig Data);

/// <summary>Any image model from weights (classifier, segmenter or generator), with the forward its verbs run on images (B, 3, H, W).</summary>
public sealed record LoadedModel(Module Model, string ModelName, int ImageSize, Func<Tensor, Tensor> Forward);

public sealed record LoadOptions
{
    /// <summary>--model; null: the name stored in the file.</summary>
    public string? Model { get; init; }
    /// <summary>--use-ema: a checkpoint's EMA weights instead of its model's.</summary>
    public bool UseEma { get; init; }
    /// <summary>--image-size; null: <see cref="Training.ImageSize.Resolve"/>'s order.</summary>
    public int? ImageSize { get; init; }
    /// <summary>--num-classes; null: the class names, else the weights' own classifier.</summary>
    public int? NumClasses { get; init; }
    /// <summary>--verbose: a key mismatch lists every key, not the first few.</summary>
    public bool Verbose { get; init; }
    /// <summary>A backbone without classifier is fine (infer, bench); eval and predict need one.</summary>
    public bool AllowHeadless { get; init; }
    /// <summary>Where a guessed image size is said (stderr in the CLI); null: nowhere.</summary>
    public TextWriter? Warnings { get; init; }
}

/// <summary>Weights that do not fit the model: the message is the summary <see cref="ModelLoader"/> builds (counts, first keys, likely cause).</summary>
public sealed class WeightsMismatchException(string message, StateDictException inner) : IOException(message, inner)
{
    public StateDictReport Report => ((StateDictException)InnerException!).Report;
}

public static class ModelLoader
{
    /// <summary>Keys of each kind a mismatch summary names without --verbose.</summary>
    public const int KeysShown = 3;

    /// <summary>Loads with only a model name, EMA choice and image size given (the demo and tests).</summary>
    public static LoadedClassifier Load(string? modelName, string weightsPath, bool useEma = false, int? imageSize = null) =>
        Load(weightsPath, new LoadOptions { Model = modelName, UseEma = useEma, ImageSize = imageSize });

    /// <summary>
    /// Loads <paramref name="weightsPath"/>, a training checkpoint (its model or EMA weights) or a plain state dict.
    /// Each setting comes from its flag in <paramref name="o"/>, else from the file's metadata (checkpoints and
    /// train's model.safetensors store them), else from the registry: the model name (required from one of the two),
    /// the classes (--num-classes, else the stored class names or the class map beside the file, else the width of
    /// the weights' classifier, <see cref="ClassifierModel.HeadKey"/>), the image size (<see cref="ImageSize.Resolve"/>,
    /// warning when it guesses) and the normalisation (the stored data config, else the model's). Weights must fit
    /// the model exactly; a mismatch throws <see cref="WeightsMismatchException"/> with a summary and its likely cause.
    /// </summary>
    public static LoadedClassifier Load(string weightsPath, LoadOptions o)
    {
        var (info, state, classes, modelName, entry) = Open(weightsPath, o);
        int size = ImageSize.Resolve(o.ImageSize, info.TrainedImageSize, entry.Config.InputSize, o.Warnings, weightsPath);
        var model = ModelRegistry.CreateClassifier(modelName, new ModelOptions { ImageSize = size });
        int? inHead = model.NumClassesIn(state);
        string classesFrom = o.NumClasses != null ? "--num-classes" : classes != null ? "the stored class names" : "the weights' classifier";
        int numClasses = o.NumClasses ?? classes?.Count ?? inHead switch
        {
            null => throw new ArgumentException($"Cannot tell the number of classes of '{weightsPath}': no class names in it or class map (class_map.txt) beside it, and model '{modelName}' does not name its classifier; pass --num-classes N."),
            0 when !o.AllowHeadless => throw new ArgumentException($"'{weightsPath}' holds no classifier for model '{modelName}' (no '{model.HeadKey}.weight'): a headless backbone cannot classify."),
            int n => n,
        };
        if (numClasses != model.NumClasses) model.ResetClassifier(numClasses);
        try { model.LoadStateDict(state, strict: true); }
        catch (StateDictException e)
        {
            throw new WeightsMismatchException(Summary(e.Report, weightsPath, modelName, numClasses, classesFrom, inHead, model.HeadKey, info, o), e);
        }
        model.Eval();
        if (classes != null && classes.Count != numClasses)
            throw new ArgumentException($"--num-classes {numClasses} does not match the {classes.Count} class names stored in or beside '{weightsPath}'.");
        var names = classes ?? Enumerable.Range(0, numClasses).Select(i => $"class_{i}").ToList();
        return new LoadedClassifier(model, modelName, names, size, info.Data ?? entry.Config);
    }

    /// <summary>
    /// <see cref="Load(string, LoadOptions)"/> for segmenters: a segment train checkpoint (model or EMA weights) or
    /// plain weights; the model name, classes and training crop from the file unless flags say; the class count from
    /// the decode head's classifier when nothing names the classes.
    /// </summary>
    public static LoadedSegmenter LoadSegmenter(string weightsPath, LoadOptions o)
    {
        var (info, state, classes, modelName, entry) = Open(weightsPath, o);
        if (entry.Kind != ModelKind.Segmenter)
            throw new ArgumentException($"--model {modelName} is a {entry.Kind.ToString().ToLowerInvariant()}, not a segmenter (upernet_*).");
        int size = ImageSize.Resolve(o.ImageSize, info.TrainedImageSize, entry.Config.InputSize, o.Warnings, weightsPath);
        const string seg = "decode_head.conv_seg.weight";
        int numClasses = o.NumClasses ?? classes?.Count ?? (state.TryGetValue(seg, out var w) ? w.Dim(0)
            : throw new ArgumentException($"'{weightsPath}' has no '{seg}': not the weights of a segmenter."));
        var model = Ascan.Models.Segmentation.Segmenter.Create(modelName, new ModelOptions { NumClasses = numClasses });
        try { model.LoadStateDict(state, strict: true); }
        catch (StateDictException e)
        {
            throw new WeightsMismatchException(Summary(e.Report, weightsPath, modelName, numClasses, o.NumClasses != null ? "--num-classes" : "the stored class names",
                state.TryGetValue(seg, out var sw) ? sw.Dim(0) : null, "decode_head.conv_seg", info, o), e);
        }
        model.Eval();
        var names = classes ?? Enumerable.Range(0, numClasses).Select(i => $"class_{i}").ToList();
        return new LoadedSegmenter(model, modelName, names, size, info.Data ?? entry.Config);
    }

    /// <summary>
    /// A classifier or a segmenter, whichever the model (--model, else the stored name) is: <see cref="LoadSegmenter"/>
    /// for segmenters (their forward: logits at the input size, (B, K, H, W)), else <see cref="Load(string, LoadOptions)"/>.
    /// </summary>
    public static LoadedModel LoadImageModel(string weightsPath, LoadOptions o)
    {
        string? name = o.Model ?? Checkpoint.ReadInfo(weightsPath, "weights file").ModelName;
        if (name != null && ModelRegistry.Get(name).Kind == ModelKind.Generator) return LoadGenerator(weightsPath, o);
        if (name != null && ModelRegistry.Get(name).Kind == ModelKind.Segmenter)
        {
            var s = LoadSegmenter(weightsPath, o);
            return new LoadedModel(s.Model, s.ModelName, s.ImageSize, s.Model.Forward);
        }
        var c = Load(weightsPath, o);
        return new LoadedModel(c.Model, c.ModelName, c.ImageSize, c.Model.Forward);
    }

    /// <summary>
    /// A generator (a diffusion UNet or a VAE) from a checkpoint or a plain state dict of its keys, loaded strictly (what
    /// bench --weights times). A UNet's classes: --num-classes, else the rows of y_embedder.embedding_table less the null
    /// row. Its <see cref="LoadedModel.Forward"/> throws: a generator does not map an image batch to logits.
    /// </summary>
    private static LoadedModel LoadGenerator(string weightsPath, LoadOptions o)
    {
        static Tensor NotImages(string name, Tensor _) =>
            throw new ArgumentException($"{name} is a generator: it does not map images to logits (use generate, or bench --model {name}).");
        // UNets through the sampling loader (classes from the stored names or the label table, channels from conv_in),
        // unless --num-classes overrides the class count.
        string? named = o.Model ?? Checkpoint.ReadInfo(weightsPath, "weights file").ModelName;
        if (named != null && named.StartsWith("unet", StringComparison.Ordinal) && o.NumClasses == null)
        {
            var g = GeneratorLoader.Load(weightsPath, named, o.UseEma, o.ImageSize, o.Warnings);
            return new LoadedModel(g.Model, g.ModelName, g.ImageSize, x => NotImages(named, x));
        }
        var (info, state, _, modelName, entry) = Open(weightsPath, o);
        int size = ImageSize.Resolve(o.ImageSize, info.TrainedImageSize, entry.Config.InputSize, o.Warnings, weightsPath);
        const string table = "y_embedder.embedding_table.weight";
        int? classes = o.NumClasses ?? (state.TryGetValue(table, out var emb) ? emb.Dim(0) - 1 : null);
        var model = ModelRegistry.Create(modelName, new ModelOptions { NumClasses = classes, ImageSize = size });
        try { model.LoadStateDict(state, strict: true); }
        catch (StateDictException e)
        {
            throw new WeightsMismatchException(Summary(e.Report, weightsPath, modelName, classes ?? 0, o.NumClasses != null ? "--num-classes" : "the weights' label embedding",
                null, null, info, o), e);
        }
        model.Eval();
        return new LoadedModel(model, modelName, size, x => NotImages(modelName, x));
    }

    /// <summary>What every loader reads first: the file's metadata, its model (or EMA) weights and class names, and the model's entry (--model, else the stored name).</summary>
    internal static (WeightsInfo Info, Dictionary<string, Tensor> State, IReadOnlyList<string>? Classes, string ModelName, ModelEntry Entry) Open(string weightsPath, LoadOptions o)
    {
        var info = Checkpoint.ReadInfo(weightsPath, "weights file");
        var (state, classes) = Checkpoint.LoadWeights(weightsPath, o.UseEma);
        string modelName = o.Model ?? info.ModelName
            ?? throw new ArgumentException($"'{weightsPath}' does not name its model (a plain weights file without metadata): pass --model NAME.");
        return (info, state, classes, modelName, ModelRegistry.Get(modelName));
    }

    /// <summary>
    /// The mismatch message: counts of missing, unexpected and shape-mismatched keys, the likely cause, the first
    /// <see cref="KeysShown"/> keys of each kind (every key with --verbose).
    /// </summary>
    internal static string Summary(StateDictReport r, string path, string modelName, int numClasses, string classesFrom, int? inHead,
        string? headKey, WeightsInfo info, LoadOptions o)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"Weights '{path}' do not fit model '{modelName}' with {numClasses} classes: ")
          .Append($"{r.Missing.Count} missing, {r.Unexpected.Count} unexpected, {r.ShapeMismatches.Count} shape-mismatched keys.");
        sb.AppendLine().Append("Likely cause: ").Append(Cause(r, modelName, numClasses, classesFrom, inHead, headKey, info, o)).Append('.');
        if (o.Verbose) { sb.AppendLine().Append(r.ToString()); return sb.ToString(); }
        void Some(string title, List<StateDictReport.Entry> list)
        {
            if (list.Count == 0) return;
            sb.AppendLine().Append($"  {title}: {string.Join("; ", list.Take(KeysShown))}{(list.Count > KeysShown ? $"; … {list.Count - KeysShown} more" : "")}");
        }
        Some("missing", r.Missing);
        Some("unexpected", r.Unexpected);
        Some("shape-mismatched", r.ShapeMismatches);
        if (r.Missing.Count > KeysShown || r.Unexpected.Count > KeysShown || r.ShapeMismatches.Count > KeysShown)
            sb.AppendLine().Append("  (--verbose lists every key)");
        return sb.ToString();
    }

    private static string Cause(StateDictReport r, string modelName, int numClasses, string classesFrom, int? inHead, string? headKey,
        WeightsInfo info, LoadOptions o)
    {
        // A training checkpoint whose metadata was lost (renamed or re-saved): its keys carry the group prefixes.
        int prefixed = r.Unexpected.Count(e => Checkpoint.Prefixes.Any(p => e.Key.StartsWith(p, StringComparison.Ordinal)));
        if (r.Unexpected.Count > 0 && prefixed * 2 > r.Unexpected.Count)
            return $"this is a training checkpoint{(info.ModelName != null ? $" of {info.ModelName}" : "")} (its keys carry the prefixes model., ema., optimizer.) " +
                "without the metadata that marks it as one; load it with the trainer's own files (last/best.safetensors) or its model.safetensors export";
        if (info.ModelName != null && info.ModelName != modelName)
            return $"the weights are for {info.ModelName}, not {modelName} (drop --model to use the stored name)";
        if (headKey != null && r.Missing.Count == 0 && r.Unexpected.Count == 0 && r.ShapeMismatches.Count > 0
            && r.ShapeMismatches.All(e => e.Key.StartsWith(headKey + ".", StringComparison.Ordinal)))
            return $"a wrong class count: the weights' classifier has {inHead} classes, the model was built with {numClasses} (from {classesFrom})";
        return $"the weights were saved from another model than {modelName} (or another version of it); check --model";
    }
}
