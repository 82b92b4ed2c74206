// `ascan bench …`: model throughput (`bench --model NAME`) and kernel throughput (`bench kernels`).
using System.CommandLine;

namespace Ascan.Cli;

internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench",
            "Benchmarks. `bench --model NAME`: a model's inference or training-step throughput (timm's benchmark.py style) "
            + "against the machine's measured FMA peak; `bench kernels`: kernel throughput.");
        var model = new Option<string>("--model") { Description = "Registered model name (see `ascan info --list`)." };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 1 };
        var size = new Option<int?>("--image-size") { Description = "Input height and width (default: the model's)." };
        var train = new Option<bool>("--train") { Description = "Time a training step: forward, cross-entropy on random labels, backward, AdamW step, zero-grad." };
        var threads = new Option<int?>("--threads") { Description = "Kernel threads (default: all processors)." };
        var steps = new Option<int>("--steps") { Description = "Timed steps.", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps before the timed ones.", DefaultValueFactory = _ => 5 };
        var classes = new Option<int?>("--num-classes") { Description = "Classifier classes (default: the model's)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {model, batch, image_size, mode, samples_per_sec, ms_per_step, gflops, peak_gflops, …}." };
        var profile = new Option<bool>("--profile") { Description = "Also print the time per op type (forward and backward) over the timed steps." };
        var weights = new Option<FileInfo?>("--weights") { Description = "Load these weights (safetensors, PyTorch state-dict keys, strict) instead of the seeded random ones." };
        var serve = new Option<bool>("--serve") { Description = "Driven step by step from stdin (\"run N\" | \"rss\" | \"quit\"); used by bench/compare_torch.py." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights and batch.", DefaultValueFactory = _ => 0 };
        foreach (var opt in new Option[] { model, batch, size, train, threads, steps, warmup, classes, json, profile, weights, serve, seed })
            bench.Options.Add(opt);
        bench.SetAction(r =>
        {
            string? name = r.GetValue(model);
            var err = r.InvocationConfiguration.Error;
            if (string.IsNullOrEmpty(name))
            {
                err.WriteLine("bench: --model NAME is required (or use `ascan bench kernels`).");
                return 2;
            }
            var options = new ModelBenchOptions
            {
                Model = name,
                Batch = r.GetValue(batch),
                ImageSize = r.GetValue(size),
                Train = r.GetValue(train),
                Threads = r.GetValue(threads),
                Steps = r.GetValue(steps),
                Warmup = r.GetValue(warmup),
                NumClasses = r.GetValue(classes),
                Json = r.GetValue(json),
                Profile = r.GetValue(profile),
                Weights = r.GetValue(weights)?.FullName,
                Serve = r.GetValue(serve),
                Seed = r.GetValue(seed),
            };
            return ModelBench.Run(options, r.InvocationConfiguration.Output, err, Console.In);
        });

        var kernels = new Command("kernels", "GEMM, conv2d and element-wise kernel throughput, next to the measured FMA peak.");
        var kernelJson = new Option<bool>("--json") { Description = "Print one JSON array of {name, threads, gflops, peak_gflops}." };
        kernels.Options.Add(kernelJson);
        kernels.SetAction(r => KernelBench.Run(r.GetValue(kernelJson)));
        bench.Subcommands.Add(kernels);

        var conv = new Command("conv", "Every convolution of an AsCAN preset's training step (forward, data gradient, weight gradient) timed alone, against the FMA peak.");
        var convModel = new Option<string>("--model") { Description = "AsCAN preset (ascan_nano, ascan_t, ascan_b, ascan_l).", DefaultValueFactory = _ => "ascan_t" };
        var convBatch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 8 };
        var convSize = new Option<int?>("--image-size") { Description = "Input height and width (default: the preset's)." };
        var convThreads = new Option<int?>("--threads") { Description = "Kernel threads (default: all processors)." };
        foreach (var opt in new Option[] { convModel, convBatch, convSize, convThreads }) conv.Options.Add(opt);
        conv.SetAction(r => ConvBench.Run(r.GetValue(convModel)!, r.GetValue(convBatch), r.GetValue(convSize), r.GetValue(convThreads), r.InvocationConfiguration.Output));
        bench.Subcommands.Add(conv);

        var gemm = new Command("gemm", "Float GEMM throughput at chosen shapes (1 and 2 threads), against the FMA peak.");
        var shape = new Option<string[]>("--shape") { Description = "m,n,k[,ta][,tb]: C (m, n) = op(A) · op(B); ta: A stored (k, m), tb: B stored (n, k). Repeatable.", AllowMultipleArgumentsPerToken = true, Required = true };
        gemm.Options.Add(shape);
        gemm.SetAction(r => GemmShapeBench.Run(r.GetValue(shape)!, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        bench.Subcommands.Add(gemm);
        return bench;
    }
}
