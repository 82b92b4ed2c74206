// `ascan bench …`: model throughput (`bench --model NAME`) and kernel throughput (`bench kernels`, `conv`, `gemm`).
using System.CommandLine;
using Ascan.Cli.Flags;

namespace Ascan.Cli;

/// <summary>What `bench conv` runs with.</summary>
internal sealed record ConvBenchOptions
{
    public string Model { get; init; } = "ascan_t";
    public int Batch { get; init; } = 8;
    /// <summary>Null: the preset's input size.</summary>
    public int? ImageSize { get; init; }
    public int? Threads { get; init; }
}

/// <summary>What `bench gemm` runs with: "m,n,k[,ta][,tb]" shapes.</summary>
internal sealed record GemmBenchOptions
{
    public string[] Shapes { get; init; } = [];
}

/// <summary>What `bench kernels` runs with.</summary>
internal sealed record KernelBenchOptions
{
    public bool Json { get; init; }
}

internal static class BenchCommand
{
    internal static ConfigBinder<ModelBenchOptions> ModelFlags() => new ConfigBinder<ModelBenchOptions>(new ModelBenchOptions())
        .Add(SharedFlags.Model.WithHelp("Registered model name (ascan info --list); optional with --weights that store it."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.BatchSize.WithHelp("Batch size."), o => o.Batch, (o, v) => o with { Batch = v })
        .Add(SharedFlags.ImageSize.WithHelp("Input height and width (default: the size --weights were trained at, else the model's)."), o => o.ImageSize, (o, v) => o with { ImageSize = v })
        .Add(new FlagName("--train", "Time a training step: forward, cross-entropy on random labels, backward, AdamW step, zero-grad."), o => o.Train, (o, v) => o with { Train = v })
        .Add(SharedFlags.Threads, o => o.Threads, (o, v) => o with { Threads = v })
        .Add(new FlagName("--steps", "Timed steps."), o => o.Steps, (o, v) => o with { Steps = v })
        .Add(new FlagName("--warmup", "Untimed warm-up steps before the timed ones."), o => o.Warmup, (o, v) => o with { Warmup = v })
        .Add(SharedFlags.NumClasses, o => o.NumClasses, (o, v) => o with { NumClasses = v })
        .Add(SharedFlags.Json.WithHelp("Print one JSON object {model, batch, image_size, mode, samples_per_sec, ms_per_step, gflops, peak_gflops, …}."), o => o.Json, (o, v) => o with { Json = v })
        .Add(new FlagName("--profile", "Also print the time per op type (forward and backward) over the timed steps."), o => o.Profile, (o, v) => o with { Profile = v })
        .Add(SharedFlags.Weights.WithHelp("Load these weights (a training checkpoint, or safetensors with PyTorch state-dict keys, strict) instead of the seeded random ones."),
            o => o.Weights, (o, v) => o with { Weights = v == null ? null : Path.GetFullPath(v) })
        .Add(SharedFlags.UseEma, o => o.UseEma, (o, v) => o with { UseEma = v })
        .Add(SharedFlags.Verbose, o => o.Verbose, (o, v) => o with { Verbose = v })
        .Add(new FlagName("--serve", "Driven step by step from stdin (\"run N\" | \"rss\" | \"quit\"); used by bench/compare_torch.py."), o => o.Serve, (o, v) => o with { Serve = v })
        .Add(SharedFlags.Seed.WithHelp("Seed of the random weights and batch."), o => o.Seed, (o, v) => o with { Seed = v });

    internal static ConfigBinder<ConvBenchOptions> ConvFlags() => new ConfigBinder<ConvBenchOptions>(new ConvBenchOptions())
        .Add(SharedFlags.Model.WithHelp("AsCAN preset (ascan_nano, ascan_t, ascan_b, ascan_l)."), o => o.Model, (o, v) => o with { Model = v })
        .Add(SharedFlags.BatchSize.WithHelp("Batch size."), o => o.Batch, (o, v) => o with { Batch = v }, check: SharedFlags.AtLeast(1))
        .Add(SharedFlags.ImageSize.WithHelp("Input height and width (default: the preset's)."), o => o.ImageSize, (o, v) => o with { ImageSize = v },
            check: v => v is null or >= 8 ? null : "must be at least 8")
        .Add(SharedFlags.Threads, o => o.Threads, (o, v) => o with { Threads = v }, check: v => v is null or >= 1 ? null : "must be at least 1");

    internal static ConfigBinder<GemmBenchOptions> GemmFlags() => new ConfigBinder<GemmBenchOptions>(new GemmBenchOptions())
        .Add(new FlagName("--shape", "m,n,k[,ta][,tb]: C (m, n) = op(A) · op(B); ta: A stored (k, m), tb: B stored (n, k). Repeatable."),
            o => o.Shapes, (o, v) => o with { Shapes = v }, required: true, configure: opt => opt.AllowMultipleArgumentsPerToken = true);

    internal static ConfigBinder<KernelBenchOptions> KernelFlags() => new ConfigBinder<KernelBenchOptions>(new KernelBenchOptions())
        .Add(SharedFlags.Json.WithHelp("Print one JSON array of {name, threads, gflops, peak_gflops}."), o => o.Json, (o, v) => o with { Json = v });

    /// <summary>The bench verbs; <paramref name="run"/> replaces `bench --model`'s run (tests capture the options with it).</summary>
    public static Command Create(Func<ModelBenchOptions, ParseResult, int>? run = null)
    {
        var bench = new Command("bench",
            "Benchmarks. `bench --model NAME`: a model's inference or training-step throughput (timm's benchmark.py style) "
            + "against the machine's measured FMA peak; `bench kernels`: kernel throughput.");
        var flags = ModelFlags();
        flags.AddTo(bench);
        run ??= (o, r) =>
        {
            var err = r.InvocationConfiguration.Error;
            if (string.IsNullOrEmpty(o.Model) && o.Weights == null)
            {
                err.WriteLine("bench: --model NAME (or --weights FILE that names its model) is required (or use `ascan bench kernels`).");
                return 2;
            }
            return ModelBench.Run(o, r.InvocationConfiguration.Output, err, Console.In);
        };
        bench.SetAction(r => run(flags.Bind(r, flags.Defaults), r));

        var kernels = new Command("kernels", "GEMM, conv2d and element-wise kernel throughput, next to the measured FMA peak.");
        var kernelFlags = KernelFlags();
        kernelFlags.AddTo(kernels);
        kernels.SetAction(r => KernelBench.Run(kernelFlags.Bind(r, kernelFlags.Defaults).Json));
        bench.Subcommands.Add(kernels);

        var conv = new Command("conv", "Every convolution of an AsCAN preset's training step (forward, data gradient, weight gradient) timed alone, against the FMA peak.");
        var convFlags = ConvFlags();
        convFlags.AddTo(conv);
        conv.SetAction(r =>
        {
            var o = convFlags.Bind(r, convFlags.Defaults);
            return ConvBench.Run(o.Model, o.Batch, o.ImageSize, o.Threads, r.InvocationConfiguration.Output);
        });
        bench.Subcommands.Add(conv);

        var gemm = new Command("gemm", "Float GEMM throughput at chosen shapes (1 and 2 threads), against the FMA peak.");
        var gemmFlags = GemmFlags();
        gemmFlags.AddTo(gemm);
        gemm.SetAction(r => GemmShapeBench.Run(gemmFlags.Bind(r, gemmFlags.Defaults).Shapes, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        bench.Subcommands.Add(gemm);
        return bench;
    }
}
