// The model registry: every entry says what it is (classifier, segmenter, generator, text encoder) and how to build
// it; create by name, list with wildcards, each with a timm-style default data config.
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

    /// <summary>Build a classifier as a backbone for a dense head (timm's features_only): no classifier and no final norm.</summary>
    public bool FeaturesOnly { get; init; }

    /// <summary>Segmenters: width of the decode head's convs (mmseg's decode_head.channels); null keeps the preset's.</summary>
    public int? DecodeChannels { get; init; }

    /// <summary>Segmenters: width of the auxiliary FCN head, 0 for none; null keeps the preset's.</summary>
    public int? AuxChannels { get; init; }

    /// <summary>UNets: image or latent channels in (and out); null keeps the preset's (3 for pixel models).</summary>
    public int? InChannels { get; init; }
}

/// <summary>What a registered model is, and so which verbs and tasks can use it.</summary>
public enum ModelKind
{
    /// <summary>An image classifier (<see cref="ClassifierModel"/>), also a backbone for dense heads.</summary>
    Classifier,
    /// <summary>A semantic segmenter (backbone + decode head).</summary>
    Segmenter,
    /// <summary>An image generator (diffusion UNet, autoencoder).</summary>
    Generator,
    /// <summary>A text encoder for conditioning.</summary>
    TextEncoder,
}

/// <summary>A registered model: what it is, its factory, documented parameter count (at the default classes) and data config.</summary>
public sealed record ModelEntry(string Name, ModelKind Kind, string Description, long Parameters, DataConfig Config, Func<ParamPath, ModelOptions, Module> Factory)
{
    /// <summary>A classifier entry (a factory typed as returning one).</summary>
    public static ModelEntry Classifier(string name, string description, long parameters, DataConfig config, Func<ParamPath, ModelOptions, ClassifierModel> factory) =>
        new(name, ModelKind.Classifier, description, parameters, config, factory);
}

public static class ModelRegistry
{
    private static readonly Lazy<Dictionary<string, ModelEntry>> Entries = new(() =>
    {
        var d = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (var e in AscanZoo.Entries.Concat(TorchvisionZoo.Entries).Concat(UperNetZoo.Entries).Concat(UNetZoo.Entries).Concat(VaeZoo.Entries))
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
    public static Module Create(string name, ModelOptions? options = null)
    {
        var e = Get(name);
        options ??= new ModelOptions();
        try { return e.Factory(ParamPath.Root(options.DType, new Rng(options.Seed)), options); }
        finally { Module.ReleaseInitScratch(); }
    }

    /// <summary>Builds a registered classifier; names the entry's kind when it is not one.</summary>
    public static ClassifierModel CreateClassifier(string name, ModelOptions? options = null)
    {
        var e = Get(name);
        if (e.Kind != ModelKind.Classifier)
            throw new ArgumentException($"Model '{name}' is a {e.Kind.ToString().ToLowerInvariant()}, not a classifier. Classifiers: {string.Join(", ", List().Where(x => x.Kind == ModelKind.Classifier).Select(x => x.Name))}.");
        return (ClassifierModel)Create(name, options);
    }

    /// <summary>Builds a registered classifier as a backbone (features-only: its stage outputs, no classifier or final norm).</summary>
    public static ClassifierModel CreateBackbone(string name, ModelOptions? options = null) =>
        CreateClassifier(name, (options ?? new ModelOptions()) with { FeaturesOnly = true, NumClasses = 0 });
}
