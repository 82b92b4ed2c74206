// `ascan info` and `ascan infer`: what a model is, and running it on a tensor file for parity checks.
using System.CommandLine;
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Models;

namespace Ascan.Cli;

internal static class ModelCommands
{
    public static Command Info()
    {
        var cmd = new Command("info", "Parameters, GMACs at the default input size, and a per-stage table of a registered model.");
        var model = new Option<string>("--model") { Description = "Registered model name (see --list).", };
        var list = new Option<string?>("--list") { Description = "List registered models matching a wildcard pattern, e.g. 'ascan_*'.", Arity = ArgumentArity.ZeroOrOne };
        var size = new Option<int?>("--image-size") { Description = "Input size for GMACs and shapes (default: the model's)." };
        var json = new Option<bool>("--json") { Description = "Print {model, params, gmacs, stages:[…]} as JSON." };
        cmd.Options.Add(model); cmd.Options.Add(list); cmd.Options.Add(size); cmd.Options.Add(json);
        cmd.SetAction(r =>
        {
            if (r.GetResult(list) != null) return ListModels(r.GetValue(list) ?? "*", r.GetValue(json));
            string? name = r.GetValue(model);
            if (string.IsNullOrEmpty(name)) { Console.Error.WriteLine("info: --model NAME is required (or --list)."); return 2; }
            return RunInfo(name, r.GetValue(size), r.GetValue(json));
        });
        return cmd;
    }

    private static int ListModels(string pattern, bool json)
    {
        var entries = ModelRegistry.List(pattern).ToList();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(entries.Select(e => new { model = e.Name, @params = e.Parameters, input_size = e.Config.InputSize, description = e.Description })));
            return 0;
        }
        foreach (var e in entries) Console.WriteLine($"{e.Name,-16} {e.Parameters,14:N0}  {e.Config.InputSize}px  {e.Description}");
        return 0;
    }

    private static int RunInfo(string name, int? imageSize, bool json)
    {
        var entry = ModelRegistry.Get(name);
        var m = ModelRegistry.CreateClassifier(name);
        m.Eval();
        int size = imageSize ?? entry.Config.InputSize;
        List<int[]> stageShapes;
        long macs;
        using (Autograd.NoGrad())
        {
            using (TensorScope.Begin())
                stageShapes = m.ForwardStages(Tensor.Zeros(1, 3, size, size)).Select(t => t.ShapeArray()).ToList();
            using (TensorScope.Begin())
            using (var counter = MacCounter.Begin())
            {
                m.Forward(Tensor.Zeros(1, 3, size, size));
                macs = counter.Total;
            }
        }
        var rows = m.FeatureInfo.Select((f, i) => new
        {
            stage = f.Name,
            blocks = f.Blocks ?? "",
            width = f.Channels,
            stride = f.Reduction,
            output_shape = stageShapes[i],
        }).ToList();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { model = name, @params = m.ParameterCount, gmacs = Math.Round(macs / 1e9, 3), image_size = size, stages = rows }));
            return 0;
        }
        Console.WriteLine($"{name}: {entry.Description}");
        Console.WriteLine($"parameters: {m.ParameterCount:N0}");
        Console.WriteLine($"GMACs:      {macs / 1e9:F3} at {size}×{size} (conv, linear and attention matmuls)");
        Console.WriteLine($"data:       {entry.Config.InputSize}px, crop {entry.Config.CropFraction}, {entry.Config.Interpolation}, mean [{string.Join(", ", entry.Config.Mean)}], std [{string.Join(", ", entry.Config.Std)}]");
        Console.WriteLine();
        Console.WriteLine($"{"stage",-10} {"blocks",-16} {"width",6} {"stride",7}  output (B, H, W, C)");
        foreach (var r in rows) Console.WriteLine($"{r.stage,-10} {r.blocks,-16} {r.width,6} {r.stride,7}  {ShapeUtil.Format(r.output_shape)}");
        return 0;
    }

    public static Command Infer()
    {
        var cmd = new Command("infer", "Run a model in eval mode on the tensor 'input' (NCHW) of a safetensors file and write 'output'.");
        var model = new Option<string>("--model") { Description = "Registered model name.", Required = true };
        var classes = new Option<int?>("--num-classes") { Description = "Number of classes of the weights (default: read from the weights' classifier)." };
        var weights = new Option<FileInfo>("--weights") { Description = "Model weights (safetensors, PyTorch state-dict keys).", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "safetensors file holding a tensor named 'input' (B, 3, H, W).", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "safetensors file to write; the result is named 'output'.", Required = true };
        cmd.Options.Add(model); cmd.Options.Add(classes); cmd.Options.Add(weights); cmd.Options.Add(input); cmd.Options.Add(output);
        cmd.SetAction(r =>
        {
            try
            {
                var m = ModelRegistry.CreateClassifier(r.GetValue(model)!, new ModelOptions { NumClasses = r.GetValue(classes) });
                var w = r.GetValue(weights)!.FullName;
                var state = TensorFile.Load(w);
                // Without --num-classes the classes are those of the weights' own classifier (0: a headless backbone).
                if (r.GetValue(classes) == null && m.NumClassesIn(state) is int n && n != m.NumClasses) m.ResetClassifier(n);
                m.LoadStateDict(state, strict: true);
                m.Eval();
                var inFile = SafetensorsFile.Open(r.GetValue(input)!.FullName);
                if (!inFile.Contains("input"))
                    throw new ArgumentException($"{inFile.Path}: no tensor named 'input' (found: {string.Join(", ", inFile.Names.Take(8))}).");
                var x = TensorFile.Read(inFile, "input");
                Tensor y;
                using (Autograd.NoGrad()) y = m.Forward(x);
                TensorFile.Save(r.GetValue(output)!.FullName, new Dictionary<string, Tensor> { ["output"] = y });
                Console.WriteLine($"output {ShapeUtil.Format(y.Shape)} written to {r.GetValue(output)!.FullName}");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or Ascan.Nn.StateDictException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"infer: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
