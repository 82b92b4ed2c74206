// `ascan info` and `ascan infer`: what a model is, and running it on a tensor file for parity checks.
using System.CommandLine;
using System.Text.Json;
using Ascan.Training;
using Ascan.Cli.Flags;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Models.Segmentation;
using Ascan.Training.Eval;

namespace Ascan.Cli;

/// <summary>What `ascan info` runs with.</summary>
internal sealed record InfoOptions
{
    public string? Model { get; init; }
    /// <summary>A wildcard pattern: list the matching models instead of describing one; null = describe --model.</summary>
    public string? List { get; init; }
    /// <summary>Null: the model's input size (<see cref="ImageSize.Resolve"/> with no checkpoint).</summary>
    public int? ImageSize { get; init; }
    public bool Json { get; init; }
}

/// <summary>What `ascan infer` runs with.</summary>
internal sealed record InferOptions
{
    /// <summary>Null: the name stored in the weights.</summary>
    public string? Model { get; init; }
    public int? NumClasses { get; init; }
    public bool UseEma { get; init; }
    public bool Verbose { get; init; }
    public string Weights { get; init; } = "";
    public string Input { get; init; } = "";
    public string Output { get; init; } = "";
}

internal static class ModelCommands
{
    internal static ConfigBinder<InfoOptions> InfoFlags() => new ConfigBinder<InfoOptions>(new InfoOptions())
        .Add(SharedFlags.Model.WithHelp("Registered model name (see --list)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(new FlagName("--list", "List registered models matching a wildcard pattern, e.g. 'ascan_*' (no pattern: all)."), o => o.List,
            (o, v) => o with { List = v ?? "*" }, configure: opt => opt.Arity = ArgumentArity.ZeroOrOne)
        .Add(SharedFlags.ImageSize.WithHelp("Input size for GMACs and shapes (default: the model's)."), o => o.ImageSize, (o, v) => o with { ImageSize = v },
            check: v => v is null or >= 8 ? null : "must be at least 8")
        .Add(SharedFlags.Json.WithHelp("Print {model, params, gmacs, stages:[…]} as JSON."), o => o.Json, (o, v) => o with { Json = v });

    /// <param name="run">What runs with the parsed options (default: the report; tests pass their own).</param>
    public static Command Info(Func<InfoOptions, ParseResult, int>? run = null)
    {
        var cmd = new Command("info", "Parameters, GMACs at the default input size, and a per-stage table of a registered model.");
        var flags = InfoFlags();
        flags.AddTo(cmd);
        run ??= RunInfo;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults), r));
        return cmd;
    }

    private static int RunInfo(InfoOptions o, ParseResult r)
    {
        if (o.List != null) return ListModels(o.List, o.Json, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error);
        if (string.IsNullOrEmpty(o.Model)) { r.InvocationConfiguration.Error.WriteLine("info: --model NAME is required (or --list)."); return 2; }
        return RunInfo(o.Model, o.ImageSize, o.Json, r.InvocationConfiguration.Output);
    }

    private static int ListModels(string pattern, bool json, TextWriter stdout, TextWriter stderr)
    {
        var entries = ModelRegistry.List(pattern).ToList();
        if (entries.Count == 0)
        {
            stderr.WriteLine($"info: no registered model matches '{pattern}'. Registered: {string.Join(", ", ModelRegistry.List().Select(e => e.Name))}.");
            return 2;
        }
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(entries.Select(e => new { model = e.Name, kind = Kind(e), @params = e.Parameters, image_size = e.Config.InputSize, description = e.Description }), Json));
            return 0;
        }
        foreach (var e in entries) stdout.WriteLine($"{e.Name,-16} {Kind(e),-12} {e.Parameters,14:N0}  {e.Config.InputSize}px  {e.Description}");
        return 0;
    }

    /// <summary>JSON as people read it: "·" and "×" written as they are, not as \u escapes.</summary>
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"classifier", "segmenter", "generator" or "text_encoder".</summary>
    private static string Kind(ModelEntry e) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(e.Kind.ToString());

    /// <summary>
    /// Parameters, GMACs of one image at <paramref name="imageSize"/> (default: the model's input size; 512 for the
    /// UPerNet segmenters) and the stage table of the model's backbone; a segmenter's output is its logits at input size.
    /// </summary>
    private static int RunInfo(string name, int? imageSize, bool json, TextWriter stdout)
    {
        var entry = ModelRegistry.Get(name);
        int size = ImageSize.Resolve(imageSize, stored: null, entry.Config.InputSize);
        // Built for the size asked (ViT's position embeddings depend on it), as bench builds it.
        var module = ModelRegistry.Create(name, new ModelOptions { ImageSize = imageSize });
        module.Eval();
        var (backbone, forward, channels) = module switch
        {
            Segmenter s => ((Backbone?)s.Backbone, (Func<Tensor, Tensor>)s.Forward, 3),
            ClassifierModel c => (c, c.Forward, 3),
            // A denoiser's cost is one step: timestep 0, class 0 (the null class costs the same).
            UNetModel u => (null, x => u.Forward(x, Tensor.Zeros(x.Dim(0)), new int[x.Dim(0)]), u.Config.InChannels),
            AutoencoderKL v => (null, x => v.Forward(x), v.Config.InChannels),
            _ => throw new ArgumentException($"info describes image models; {name} is a {entry.Kind.ToString().ToLowerInvariant()}."),
        };
        List<int[]> stageShapes;
        long macs;
        int[] outputShape;
        using (Autograd.NoGrad())
        {
            using (TensorScope.Begin())
                stageShapes = backbone?.ForwardStages(Tensor.Zeros(1, channels, size, size)).Select(t => t.ShapeArray()).ToList() ?? [];
            using (TensorScope.Begin())
            using (var counter = MacCounter.Begin())
            {
                outputShape = forward(Tensor.Zeros(1, channels, size, size)).ShapeArray();
                macs = counter.Total;
            }
        }
        var rows = (backbone?.FeatureInfo ?? []).Select((f, i) => new
        {
            stage = f.Name,
            blocks = f.Blocks ?? "",
            width = f.Channels,
            stride = f.Reduction,
            output_shape = stageShapes[i],
        }).ToList();
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new { model = name, kind = Kind(entry), @params = module.ParameterCount, gmacs = Math.Round(macs / 1e9, 3),
                image_size = size, output_shape = outputShape, stages = rows }, Json));
            return 0;
        }
        stdout.WriteLine($"{name}: {entry.Description}");
        stdout.WriteLine($"parameters: {module.ParameterCount:N0}");
        stdout.WriteLine($"GMACs:      {macs / 1e9:F3} at {size}×{size} (conv, linear and attention matmuls{(module is Segmenter ? "; decode head, as mmseg's inference" : "")})");
        stdout.WriteLine($"data:       {entry.Config.InputSize}px, crop {entry.Config.CropFraction}, {entry.Config.Interpolation}, mean [{string.Join(", ", entry.Config.Mean)}], std [{string.Join(", ", entry.Config.Std)}]");
        stdout.WriteLine($"output:     {ShapeUtil.Format(outputShape)}");
        if (rows.Count == 0) return 0;
        stdout.WriteLine();
        stdout.WriteLine($"{"stage",-10} {"blocks",-16} {"width",6} {"stride",7}  output (B, H, W, C)");
        foreach (var r in rows) stdout.WriteLine($"{r.stage,-10} {r.blocks,-16} {r.width,6} {r.stride,7}  {ShapeUtil.Format(r.output_shape)}");
        return 0;
    }

    internal static ConfigBinder<InferOptions> InferFlags() => new ConfigBinder<InferOptions>(new InferOptions())
        .Add(SharedFlags.Model.WithHelp("Registered model name (optional for weights train wrote, which store it)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.NumClasses.WithHelp("Number of classes of the weights (default: read from the weights' classifier)."), o => o.NumClasses, (o, v) => o with { NumClasses = v },
            check: v => v is null or >= 1 ? null : "must be at least 1")
        .Add(SharedFlags.Weights.WithHelp("Training checkpoint or model weights (safetensors, PyTorch state-dict keys)."), o => o.Weights, (o, v) => o with { Weights = v }, required: true)
        .Add(SharedFlags.UseEma, o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.Verbose, o => o.Verbose, (o, v) => o with { Verbose = v })
        .Add(new FlagName("--input", "safetensors file holding a tensor named 'input' (B, 3, H, W)."), o => o.Input, (o, v) => o with { Input = v }, required: true)
        .Add(SharedFlags.Output.WithHelp("safetensors file to write; the result is named 'output'."), o => o.Output, (o, v) => o with { Output = v }, required: true);

    /// <param name="run">What runs with the parsed options (default: the forward pass; tests pass their own).</param>
    public static Command Infer(Func<InferOptions, int>? run = null)
    {
        var cmd = new Command("infer", "Run a model in eval mode on the tensor 'input' (NCHW) of a safetensors file and write 'output' " +
            "(a classifier's logits (B, K); a segmenter's logits at the input size (B, K, H, W), as mmseg's inference).");
        var flags = InferFlags();
        flags.AddTo(cmd);
        run ??= RunInfer;
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    private static int RunInfer(InferOptions o)
    {
        var inFile = SafetensorsFile.Open(Path.GetFullPath(o.Input));
        if (!inFile.Contains("input"))
            throw new ArgumentException($"{inFile.Path}: no tensor named 'input' (found: {string.Join(", ", inFile.Names.Take(8))}).");
        var x = TensorFile.Read(inFile, "input");
        // The input gives the image size; without --num-classes the classes are the weights' (0: a headless backbone).
        var options = new LoadOptions
        {
            Model = string.IsNullOrEmpty(o.Model) ? null : o.Model, NumClasses = o.NumClasses, UseEma = o.UseEma, Verbose = o.Verbose,
            ImageSize = x.Rank == 4 ? x.Dim(2) : null, AllowHeadless = true, Warnings = Console.Error,
        };
        // A segmenter writes mmseg's inference output: the decode head's logits resized to the input, (B, K, H, W).
        var forward = ModelLoader.LoadImageModel(o.Weights, options).Forward;
        Tensor y;
        using (Autograd.NoGrad()) y = forward(x);
        string output = Path.GetFullPath(o.Output);
        TensorFile.Save(output, new Dictionary<string, Tensor> { ["output"] = y });
        Console.WriteLine($"output {ShapeUtil.Format(y.Shape)} written to {output}");
        return 0;
    }
}
