// The model registry: create by name, list with wildcards, each entry with timm-style default data config.
using System.Text.RegularExpressions;
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary>Data settings a model was designed (or pre-trained) with, as timm's pretrained_cfg.</summary>
public sealed record DataConfig
{
    public int InputSize { get; init; } = 224;
    public double[] Mean { get; init; } = [0.485, 0.456, 0.406];
    public double[] Std { get; init; } = [0.229, 0.224, 0.225];
    public double CropFraction { get; init; } = 0.875;
    public string Interpolation { get; init; } = "bicubic";
    public int NumClasses { get; init; } = 1000;
}

/// <summary>What a caller may change when creating a registered model.</summary>
public sealed record ModelOptions
{
    public int? NumClasses { get; init; }
    public double DropPath { get; init; }
    public int? ImageSize { get; init; }
    public DType DType { get; init; } = DType.F32;
    public ulong Seed { get; init; }
}

/// <summary>A registered model: its factory, documented parameter count (at the default classes) and data config.</summary>
public sealed record ModelEntry(string Name, string Description, long Parameters, DataConfig Config, Func<ParamPath, ModelOptions, ClassifierModel> Factory);

public static class ModelRegistry
{
    private static readonly Lazy<Dictionary<string, ModelEntry>> Entries = new(() =>
    {
        var d = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (var e in AscanZoo.Entries.Concat(TorchvisionZoo.Entries))
            if (!d.TryAdd(e.Name, e)) throw new InvalidOperationException($"Model '{e.Name}' is registered twice.");
        return d;
    });

    public static IReadOnlyCollection<ModelEntry> All => Entries.Value.Values;

    /// <summary>Entries whose name matches a wildcard pattern ('*' any run, '?' one character), sorted by name.</summary>
    public static IEnumerable<ModelEntry> List(string pattern = "*")
    {
        var re = new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$");
        return Entries.Value.Values.Where(e => re.IsMatch(e.Name)).OrderBy(e => e.Name, StringComparer.Ordinal);
    }

    public static ModelEntry Get(string name) =>
        Entries.Value.TryGetValue(name, out var e) ? e
        : throw new ArgumentException($"Unknown model '{name}'. Registered: {string.Join(", ", Entries.Value.Keys.Order())}.");

    /// <summary>Builds a registered model with fresh, seeded weights.</summary>
    public static ClassifierModel Create(string name, ModelOptions? options = null)
    {
        var e = Get(name);
        options ??= new ModelOptions();
        try { return e.Factory(ParamPath.Root(options.DType, new Rng(options.Seed)), options); }
        finally { Module.ReleaseInitScratch(); }
    }
}
