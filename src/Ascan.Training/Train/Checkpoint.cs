// Training checkpoints as one safetensors file: model, optimizer, EMA and pending gradients as tensors; position,
// RNG states, config, class map, meters and history as metadata (the same for every task). Written atomically.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Nn.Serialization;
using Ascan.Data;
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
    /// <summary>Generator states by owner (module path of each Dropout/DropPath; "task:" + name for the task's own).</summary>
    public Dictionary<string, ulong[]> RngStates { get; init; } = new();
    public EpochMeters Meters { get; init; } = new();
    public List<EpochRecord> History { get; init; } = new();
    public double BestMetric { get; init; } = double.NegativeInfinity;
    public int BestEpoch { get; init; } = -1;
}

public static class Checkpoint
{
    public const string Format = "ascan-train-checkpoint/1";
    private const string ModelPrefix = "model.", OptimizerPrefix = "optimizer.", EmaPrefix = "ema.", GradPrefix = "grad.";

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
            ["model_name"] = c.Config.Model,
            ["position"] = JsonSerializer.Serialize(c.Position, Json),
            ["config"] = c.Config.ToJson(),
            ["classes"] = JsonSerializer.Serialize(c.ClassNames),
            ["rng"] = JsonSerializer.Serialize(c.RngStates.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.Select(w => w.ToString("x16", CultureInfo.InvariantCulture))))),
            ["meters"] = JsonSerializer.Serialize(c.Meters, Json),
            ["history"] = JsonSerializer.Serialize(c.History, Json),
            ["best"] = JsonSerializer.Serialize(new BestEntry(c.BestMetric, c.BestEpoch), Json),
            ["has_ema"] = c.Ema != null ? "true" : "false",
        };
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
    public static TrainConfig ReadConfig(string path)
    {
        var meta = SafetensorsFile.Open(path).Metadata;
        if (!meta.TryGetValue("format", out var f) || f != Format || !meta.TryGetValue("config", out var json))
            throw new InvalidDataException($"'{path}' is not a training checkpoint; it holds no training config.");
        return TrainConfig.FromJson(json, $"{path} (metadata 'config')");
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
            ClassNames = Parse<List<string>>("classes"),
            RngStates = rng,
            Meters = Parse<EpochMeters>("meters"),
            History = Parse<List<EpochRecord>>("history"),
            BestMetric = best.Metric,
            BestEpoch = best.Epoch,
        };
    }

    /// <summary>
    /// Model weights from a training checkpoint (its model or, with <paramref name="useEma"/>, its EMA weights) or from
    /// a plain state-dict file; with the class names stored in the checkpoint or in classes.json beside the file.
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
            if (file.Metadata.TryGetValue("classes", out var cj))
            {
                var stored = JsonSerializer.Deserialize<List<string>>(cj);
                if (stored is { Count: > 0 }) classes = stored;
            }
            return (state, classes);
        }
        if (useEma) throw new InvalidDataException($"'{path}' is a plain weights file; --use-ema needs a training checkpoint.");
        return (SafetensorsState.Load(path), classes);
    }

    /// <summary>The class map (class_map.txt or class_map.json) in the folder of <paramref name="weightsPath"/>, or null.</summary>
    public static IReadOnlyList<string>? ClassMapBeside(string weightsPath)
    {
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(weightsPath))!;
        bool any = File.Exists(System.IO.Path.Combine(dir, ClassMap.FileName)) || File.Exists(System.IO.Path.Combine(dir, "class_map.json"));
        return any ? ClassMap.Read(dir) : null;
    }
}
