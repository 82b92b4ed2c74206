// Training checkpoints as one safetensors file: model, optimizer, EMA and pending gradients as tensors; position,
// RNG states, config, class map, data config, meters and history as metadata (the same for every task). Written
// atomically. Also the plain weights export (model.safetensors) and the one metadata reader both kinds share.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Nn.Serialization;
using Ascan.Data;
using Ascan.Models;
using Ascan.Training.Reporting;

namespace Ascan.Training.Train;

/// <summary>Where a run stands: the epoch in progress (0-based), the next batch of it, and optimizer updates done.</summary>
public sealed record TrainPosition(int Epoch, int Batch, long Update);

/// <summary>
/// Running sums of the epoch in progress (so a resumed epoch reports what an uninterrupted one would): the loop's
/// loss sum, sample count and seconds, and the task's own sums (classification: correct). Stored as one flat JSON
/// object ({"loss_sum", ...sums, "samples", "seconds"}), the layout meters had before task sums became generic.
/// </summary>
[JsonConverter(typeof(EpochMetersJson))]
public sealed record EpochMeters
{
    public double LossSum { get; init; }
    public long Samples { get; init; }
    public double Seconds { get; init; }
    /// <summary>The task's running sums, by name, summed over the epoch's steps.</summary>
    public Metrics Sums { get; init; } = Metrics.Empty;

    /// <summary>Classification's count of top-1 hits (its one running sum, "correct").</summary>
    public long Correct { get => (long)Sum("correct"); init => Sums = Sums.With("correct", value); }

    public double Loss => Samples == 0 ? double.NaN : LossSum / Samples;

    /// <summary>A running sum (0 before any step adds to it).</summary>
    public double Sum(string name) => Sums.TryGet(name, out double v) ? v : 0;

    /// <summary>A running sum per sample (NaN before the first step).</summary>
    public double PerSample(string name) => Samples == 0 ? double.NaN : Sum(name) / Samples;
}

internal sealed class EpochMetersJson : JsonConverter<EpochMeters>
{
    // "loss" and "accuracy": derived figures that checkpoints written before task sums also stored; read and dropped.
    private static readonly string[] Known = ["loss_sum", "samples", "seconds", "loss", "accuracy"];

    public override EpochMeters Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var slots = new double[Known.Length];
        var sums = Metrics.ReadFlat(ref reader, Known, slots);
        return new EpochMeters { LossSum = slots[0], Samples = (long)slots[1], Seconds = slots[2], Sums = sums };
    }

    public override void Write(Utf8JsonWriter writer, EpochMeters value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        Metrics.WriteNumber(writer, "loss_sum", value.LossSum);
        foreach (var (name, v) in value.Sums) Metrics.WriteNumber(writer, name, v);
        writer.WriteNumber("samples", value.Samples);
        Metrics.WriteNumber(writer, "seconds", value.Seconds);
        writer.WriteEndObject();
    }
}

/// <summary>Everything a checkpoint holds. Tensor dictionaries are keyed without their file prefix.</summary>
public sealed class CheckpointData
{
    public required Dictionary<string, Tensor> Model { get; init; }
    public Dictionary<string, Tensor> Optimizer { get; init; } = new();
    public Dictionary<string, Tensor>? Ema { get; init; }
    /// <summary>Gradients summed so far in an unfinished accumulation group (empty at group boundaries).</summary>
    public Dictionary<string, Tensor> PendingGrads { get; init; } = new();
    public required TrainPosition Position { get; init; }
    public required TrainConfig Config { get; init; }
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    /// <summary>The data the model was trained on (image size, normalisation, crop, classes); null when the model is not registered.</summary>
    public DataConfig? Data { get; init; }
    /// <summary>Generator states by owner (module path of each Dropout/DropPath; "task:" + name for the task's own).</summary>
    public Dictionary<string, ulong[]> RngStates { get; init; } = new();
    public EpochMeters Meters { get; init; } = new();
    public List<EpochRecord> History { get; init; } = new();
    public double BestMetric { get; init; } = double.NegativeInfinity;
    public int BestEpoch { get; init; } = -1;
}

/// <summary>
/// What a weights file says about itself in its metadata (no tensors read): a training checkpoint or a plain export,
/// the model it is for, its classes and the data config it was trained with. Every field is null when the file does
/// not say (a state dict saved elsewhere).
/// </summary>
public sealed record WeightsInfo
{
    public bool IsCheckpoint { get; init; }
    public bool HasEma { get; init; }
    public string? ModelName { get; init; }
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>The stored data config: InputSize is the training image size.</summary>
    public DataConfig? Data { get; init; }
    /// <summary>Diffusion models: the objective and schedule they were trained with (what sampling must use).</summary>
    public Generation.DiffusionOptions? Diffusion { get; init; }
    /// <summary>Checkpoints only: the training config and where the run stands.</summary>
    public TrainConfig? Config { get; init; }
    public TrainPosition? Position { get; init; }
    public double BestMetric { get; init; } = double.NegativeInfinity;
    public int BestEpoch { get; init; } = -1;

    /// <summary>
    /// The image size the weights were trained at: the stored data config's, else (checkpoints written before it
    /// was stored) the training config's, whose null means the trained model's input size. Null when nothing says.
    /// </summary>
    public int? TrainedImageSize => Data?.InputSize ?? Config?.ImageSize
        ?? (Config != null && ModelRegistry.All.FirstOrDefault(e => e.Name == Config.Model) is { } e ? e.Config.InputSize : null);
}

public static class Checkpoint
{
    public const string Format = "ascan-train-checkpoint/1";
    /// <summary>The format of the plain weights export (model.safetensors): a state dict with the checkpoint's model metadata.</summary>
    public const string WeightsFormat = "ascan-weights/1";
    private const string ModelPrefix = "model.", OptimizerPrefix = "optimizer.", EmaPrefix = "ema.", GradPrefix = "grad.";
    /// <summary>The key prefixes of a checkpoint's tensor groups (a state dict whose keys carry them is a checkpoint).</summary>
    internal static readonly string[] Prefixes = [ModelPrefix, EmaPrefix, OptimizerPrefix, GradPrefix];

    /// <summary>Metadata keys that describe the model (written into checkpoints and plain exports alike).</summary>
    private const string ModelNameKey = "model_name", ClassesKey = "classes", DataKey = "data_config", DiffusionKey = "diffusion";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Test hook: runs after the complete temporary file is written, before it replaces the target.</summary>
    internal static Action<string>? BeforeCommit;

    /// <summary>
    /// Writes <paramref name="c"/> to <paramref name="path"/> atomically: the file is written under a temporary name in
    /// the same folder and renamed over the target only when complete, so a failure leaves the previous file intact
    /// and no partial file behind.
    /// </summary>
    public static void Save(string path, CheckpointData c)
    {
        var tensors = new Dictionary<string, Tensor>();
        void Add(string prefix, Dictionary<string, Tensor>? d) { if (d != null) foreach (var (k, t) in d) tensors[prefix + k] = t; }
        Add(ModelPrefix, c.Model); Add(OptimizerPrefix, c.Optimizer); Add(EmaPrefix, c.Ema); Add(GradPrefix, c.PendingGrads);
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            [ModelNameKey] = c.Config.Model,
            ["position"] = JsonSerializer.Serialize(c.Position, Json),
            ["config"] = c.Config.ToJson(),
            [ClassesKey] = JsonSerializer.Serialize(c.ClassNames),
            ["rng"] = JsonSerializer.Serialize(c.RngStates.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.Select(w => w.ToString("x16", CultureInfo.InvariantCulture))))),
            ["meters"] = JsonSerializer.Serialize(c.Meters, Json),
            ["history"] = JsonSerializer.Serialize(c.History, Json),
            ["best"] = JsonSerializer.Serialize(new BestEntry(c.BestMetric, c.BestEpoch), Json),
            ["has_ema"] = c.Ema != null ? "true" : "false",
        };
        if (c.Data != null) meta[DataKey] = JsonSerializer.Serialize(c.Data, Json);
        if (c.Config.Diffusion != null) meta[DiffusionKey] = JsonSerializer.Serialize(c.Config.Diffusion, Json);
        string full = System.IO.Path.GetFullPath(path);
        string temp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            SafetensorsState.Save(temp, tensors, meta);
            BeforeCommit?.Invoke(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { /* the original error matters more */ }
            throw;
        }
    }

    /// <summary>Copies a finished checkpoint to another name, atomically (used for best.safetensors).</summary>
    public static void CopyAtomic(string from, string to)
    {
        string full = System.IO.Path.GetFullPath(to);
        string temp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            File.Copy(from, temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { /* keep the original error */ }
            throw;
        }
    }

    private sealed record BestEntry(double Metric, int Epoch);

    /// <summary>True when <paramref name="path"/> is a training checkpoint (not a plain model state dict).</summary>
    public static bool IsCheckpoint(string path) =>
        SafetensorsFile.Open(path).Metadata.TryGetValue("format", out var f) && f == Format;

    /// <summary>The training config stored in a checkpoint (metadata only, no tensors read).</summary>
    public static TrainConfig ReadConfig(string path) =>
        ReadInfo(path).Config ?? throw new InvalidDataException($"'{path}' is not a training checkpoint; it holds no training config.");

    /// <summary>
    /// What the metadata of a checkpoint or weights file says (no tensors read); see <see cref="WeightsInfo"/>. A path
    /// that is no file is reported as not being <paramref name="what"/>.
    /// </summary>
    public static WeightsInfo ReadInfo(string path, string what = "safetensors file")
    {
        SafetensorsFile.RequireFile(path, what);
        var meta = SafetensorsFile.Open(path).Metadata;
        T? Parse<T>(string key) where T : class
        {
            if (!meta.TryGetValue(key, out var v)) return null;
            try { return JsonSerializer.Deserialize<T>(v, Json); }
            catch (JsonException e) { throw new InvalidDataException($"'{path}': metadata '{key}' is malformed ({e.Message}).", e); }
        }
        bool checkpoint = meta.GetValueOrDefault("format") == Format;
        var best = checkpoint ? Parse<BestEntry>("best") : null;
        return new WeightsInfo
        {
            IsCheckpoint = checkpoint,
            HasEma = checkpoint && meta.GetValueOrDefault("has_ema") == "true",
            ModelName = meta.GetValueOrDefault(ModelNameKey),
            ClassNames = Parse<List<string>>(ClassesKey) is { Count: > 0 } names ? names : null,
            Data = Parse<DataConfig>(DataKey),
            Diffusion = Parse<Generation.DiffusionOptions>(DiffusionKey),
            Config = checkpoint && meta.TryGetValue("config", out var json) ? TrainConfig.FromJson(json, $"{path} (metadata 'config')") : null,
            Position = checkpoint ? Parse<TrainPosition>("position") : null,
            BestMetric = best?.Metric ?? double.NegativeInfinity,
            BestEpoch = best?.Epoch ?? -1,
        };
    }

    /// <summary>
    /// Writes the plain weights of checkpoint <paramref name="from"/> (its EMA weights with <paramref name="useEma"/>,
    /// else its model's) to <paramref name="to"/>, atomically, as a state dict any loader takes, with the
    /// checkpoint's model name, classes and data config in its metadata so eval and predict need no flags.
    /// </summary>
    public static void ExportWeights(string from, string to, bool useEma)
    {
        var (state, _) = LoadWeights(from, useEma);
        var source = SafetensorsFile.Open(from).Metadata;
        var meta = new Dictionary<string, string> { ["format"] = WeightsFormat, ["weights"] = useEma ? "ema" : "model" };
        foreach (var key in new[] { ModelNameKey, ClassesKey, DataKey, DiffusionKey, "best" })
            if (source.TryGetValue(key, out var v)) meta[key] = v;
        SafetensorsState.Save(to, state, meta); // the IO layer writes a temporary file and renames it
    }

    public static CheckpointData Load(string path)
    {
        SafetensorsFile.RequireFile(path, "checkpoint");
        var file = SafetensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataException($"'{path}' is not a training checkpoint (metadata 'format' is '{format ?? "missing"}', expected '{Format}'); a plain weights file can be evaluated but not resumed.");
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"Checkpoint '{path}' lacks metadata '{key}'.");
        T Parse<T>(string key)
        {
            try { return JsonSerializer.Deserialize<T>(Meta(key), Json) ?? throw new InvalidDataException("null"); }
            catch (JsonException e) { throw new InvalidDataException($"Checkpoint '{path}': metadata '{key}' is malformed ({e.Message}).", e); }
        }

        var all = SafetensorsState.Load(path);
        Dictionary<string, Tensor> Strip(string prefix) =>
            all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        var rng = Parse<Dictionary<string, string>>("rng").ToDictionary(kv => kv.Key, kv =>
            kv.Value.Split(',').Select(h => ulong.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray());
        var best = Parse<BestEntry>("best");
        return new CheckpointData
        {
            Model = Strip(ModelPrefix),
            Optimizer = Strip(OptimizerPrefix),
            Ema = Meta("has_ema") == "true" ? Strip(EmaPrefix) : null,
            PendingGrads = Strip(GradPrefix),
            Position = Parse<TrainPosition>("position"),
            Config = TrainConfig.FromJson(Meta("config"), $"{path} (metadata 'config')"),
            ClassNames = Parse<List<string>>(ClassesKey),
            Data = meta.ContainsKey(DataKey) ? Parse<DataConfig>(DataKey) : null,
            RngStates = rng,
            Meters = Parse<EpochMeters>("meters"),
            History = Parse<List<EpochRecord>>("history"),
            BestMetric = best.Metric,
            BestEpoch = best.Epoch,
        };
    }

    /// <summary>
    /// Model weights from a training checkpoint (its model or, with <paramref name="useEma"/>, its EMA weights) or from
    /// a plain state-dict file; with the class names stored in the file's metadata, else in the class map beside it.
    /// </summary>
    public static (Dictionary<string, Tensor> State, IReadOnlyList<string>? ClassNames) LoadWeights(string path, bool useEma = false)
    {
        SafetensorsFile.RequireFile(path, "weights file");
        var file = SafetensorsFile.Open(path);
        IReadOnlyList<string>? classes = ClassMapBeside(path);
        if (file.Metadata.TryGetValue("format", out var f) && f == Format)
        {
            if (useEma && file.Metadata.GetValueOrDefault("has_ema") != "true")
                throw new InvalidDataException($"Checkpoint '{path}' holds no EMA weights (the run was trained without --ema).");
            string prefix = useEma ? EmaPrefix : ModelPrefix;
            var state = SafetensorsState.Load(path).Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
            return (state, StoredClasses(file) ?? classes);
        }
        if (useEma) throw new InvalidDataException($"'{path}' is a plain weights file; --use-ema needs a training checkpoint.");
        return (SafetensorsState.Load(path), StoredClasses(file) ?? classes);
    }

    private static List<string>? StoredClasses(SafetensorsFile file) =>
        file.Metadata.TryGetValue(ClassesKey, out var cj) && JsonSerializer.Deserialize<List<string>>(cj) is { Count: > 0 } stored ? stored : null;

    /// <summary>The class map (class_map.txt or class_map.json) in the folder of <paramref name="weightsPath"/>, or null.</summary>
    public static IReadOnlyList<string>? ClassMapBeside(string weightsPath)
    {
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(weightsPath))!;
        bool any = File.Exists(System.IO.Path.Combine(dir, ClassMap.FileName)) || File.Exists(System.IO.Path.Combine(dir, "class_map.json"));
        return any ? ClassMap.Read(dir) : null;
    }
}
