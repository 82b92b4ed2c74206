// `ascan bench --model …`: timm-style model benchmark (inference, or a full training step) against the measured FMA peak.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Ascan.Training;
using Ascan.Training.Eval;
using Ascan.Training.Tasks;
using Ascan.Cli.Flags;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Kernels;
using Ascan.Models;
using Ascan.Models.Segmentation;
using Ascan.Nn;
using Ascan.Nn.Optim;

[assembly: InternalsVisibleTo("Ascan.Cli.Tests")]

namespace Ascan.Cli;

/// <summary>What `bench --model` runs; defaults are the command line's.</summary>
internal sealed record ModelBenchOptions
{
    public string Model { get; init; } = "";
    public int Batch { get; init; } = 1;
    /// <summary>Input height and width; null = the registry entry's.</summary>
    public int? ImageSize { get; init; }
    public bool Train { get; init; }
    /// <summary>Kernel threads; null = every processor.</summary>
    public int? Threads { get; init; }
    public int Steps { get; init; } = 20;
    public int Warmup { get; init; } = 5;
    public int? NumClasses { get; init; }
    public bool Json { get; init; }
    public bool Profile { get; init; }
    /// <summary>A training checkpoint or a strict-loaded state dict (PyTorch keys), e.g. the weights bench/compare_torch.py shares.</summary>
    public string? Weights { get; init; }
    public bool UseEma { get; init; }
    public bool Verbose { get; init; }
    /// <summary>Step on request from stdin instead of a timed run (the protocol bench/compare_torch.py drives).</summary>
    public bool Serve { get; init; }
    public ulong Seed { get; init; }
}

/// <summary>
/// Times whole steps of a registered model on random data, as timm's benchmark.py: <c>Warmup</c> untimed steps,
/// then <c>Steps</c> timed ones, each inside its own <see cref="TensorScope"/> so buffers are recycled.
/// Inference: <c>model.Eval()</c> and <see cref="Autograd.NoGrad"/>, one forward. Training: forward,
/// cross-entropy on random labels, backward, AdamW step, zero-grad (the order of a training loop).
/// Reported: samples/s and GFLOP/s from the median step; min and max beside it.
/// GFLOP/s counts 2·MACs per sample · batch per forward (MACs of conv, linear and attention matmuls from
/// <see cref="MacCounter"/>) and, for a training step, three times that: forward + backward ≈ 3× forward
/// (the backward of every matmul-like op is two products of the forward's size), the usual convention; the
/// optimizer and element-wise work are not counted. The peak is <see cref="KernelBench.MeasurePeak"/> at the
/// same thread count, measured in the same run (before and after the steps, the higher of the two).
/// </summary>
internal static class ModelBench
{
    public static int Run(ModelBenchOptions o, TextWriter output, TextWriter log, TextReader input)
    {
        ModelEntry? entry;
        try
        {
            entry = string.IsNullOrEmpty(o.Model) ? null : ModelRegistry.Get(o.Model);
            Validate(o);
        }
        catch (ArgumentException e)
        {
            log.WriteLine($"bench: {e.Message}");
            return 2;
        }
        int threads = o.Threads ?? Environment.ProcessorCount;
        int oldThreads = KernelPool.Threads;
        try
        {
            KernelPool.Threads = threads;
            Module? loaded = null;
            int size;
            if (o.Weights != null)
            {
                // Checkpoints and plain weights through the one loader: model name, classes and size from the file when not given.
                var lo = new LoadOptions
                {
                    Model = entry?.Name, UseEma = o.UseEma, ImageSize = o.ImageSize, NumClasses = o.NumClasses, Verbose = o.Verbose,
                    AllowHeadless = true, Warnings = log,
                };
                var l = ModelLoader.LoadImageModel(o.Weights, lo);
                (loaded, size, o) = (l.Model, l.ImageSize, o with { Model = l.ModelName });
            }
            else size = ImageSize.Resolve(o.ImageSize, stored: null, entry!.Config.InputSize);
            var runner = StepRunner.Create(o, size, loaded);
            if (o.Serve) return Serve(runner, o, size, threads, output, log, input);
            return Timed(runner, o, size, threads, output);
        }
        catch (Exception e) when (e is ArgumentException or IOException or StateDictException or KeyNotFoundException or SafetensorsFormatException)
        {
            return CliRunner.Report(log, "bench", e);
        }
        finally
        {
            KernelPool.Threads = oldThreads;
        }
    }

    private static void Validate(ModelBenchOptions o)
    {
        if (o.Batch < 1) throw new ArgumentException($"--batch-size {o.Batch}: must be at least 1.");
        if (o.Steps < 1) throw new ArgumentException($"--steps {o.Steps}: must be at least 1.");
        if (o.Warmup < 0) throw new ArgumentException($"--warmup {o.Warmup}: must be 0 or more.");
        if (o.ImageSize is < 1) throw new ArgumentException($"--image-size {o.ImageSize}: must be positive.");
        if (o.NumClasses is < 1) throw new ArgumentException($"--num-classes {o.NumClasses}: must be positive.");
        if (o.Threads is { } t && (t < 1 || t > Environment.ProcessorCount))
            throw new ArgumentException($"--threads {t}: this machine has {Environment.ProcessorCount} processor(s).");
        if (o.Weights != null && !File.Exists(o.Weights)) throw new ArgumentException($"--weights {o.Weights}: file not found.");
    }

    private static int Timed(StepRunner runner, ModelBenchOptions o, int size, int threads, TextWriter output)
    {
        // The peak is a property of the hardware: the best of a measurement before and one after the model run
        // (each the best of several repetitions), since on a shared machine other load only ever lowers it.
        double peak = KernelBench.MeasurePeak(threads);
        KernelPool.Threads = threads;
        for (int i = 0; i < o.Warmup; i++) runner.Step();
        if (o.Profile) Profiler.Start();
        var seconds = new double[o.Steps];
        for (int i = 0; i < o.Steps; i++) seconds[i] = runner.Step();
        List<ProfileRow>? profile = null;
        if (o.Profile)
        {
            Profiler.Stop();
            // This thread only: the steps run here (kernel workers are covered by the op that started them); anything else
            // running in the process meanwhile (a loader, another test) is not part of the step.
            profile = ProfileReport.Rows(Profiler.Snapshot(currentThreadOnly: true), o.Steps, seconds.Sum());
        }

        peak = Math.Max(peak, KernelBench.MeasurePeak(threads));
        KernelPool.Threads = threads;
        var sorted = seconds.Order().ToArray();
        double median = Median(sorted);
        double macs = runner.MacsPerSample;
        double gflops = 2 * macs * o.Batch * (o.Train ? 3 : 1) / median / 1e9;
        var r = new BenchResult(o.Model, o.Batch, size, o.Train ? "train" : "infer", threads, runner.NumClasses,
            o.Batch / median, median * 1e3, sorted[0] * 1e3, sorted[^1] * 1e3, seconds.Average() * 1e3,
            gflops, peak, 100 * gflops / peak, runner.Parameters, macs / 1e9, PeakRssMb(), o.Steps, o.Warmup);
        if (o.Json) output.WriteLine(ToJson(r, profile));
        else
        {
            PrintTable(output, r);
            if (profile != null) ProfileReport.Print(output, profile, o.Steps, seconds.Average() * 1e3);
        }
        return 0;
    }

    private sealed record BenchResult(string Model, int Batch, int ImageSize, string Mode, int Threads, int NumClasses,
        double SamplesPerSec, double MsMedian, double MsMin, double MsMax, double MsMean,
        double Gflops, double PeakGflops, double PercentPeak, long Params, double Gmacs, double? PeakRssMb, int Steps, int Warmup);

    private static void PrintTable(TextWriter w, BenchResult r)
    {
        var c = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(c, $"{r.Model} · {(r.Mode == "train" ? "training step (forward, cross-entropy, backward, AdamW, zero-grad)" : "inference")} · batch {r.Batch} · {r.ImageSize}×{r.ImageSize} · {r.Threads} thread(s) · {r.Steps} steps after {r.Warmup} warm-up"));
        w.WriteLine(string.Create(c, $"parameters     {r.Params:N0}"));
        w.WriteLine(string.Create(c, $"GMACs/sample   {r.Gmacs:F3} (conv, linear, attention matmuls)"));
        w.WriteLine(string.Create(c, $"ms/step        {r.MsMedian:F2} median (min {r.MsMin:F2}, max {r.MsMax:F2}, mean {r.MsMean:F2})"));
        w.WriteLine(string.Create(c, $"samples/s      {r.SamplesPerSec:F2}"));
        string rule = r.Mode == "train" ? "3 × 2·MACs·batch / step time" : "2·MACs·batch / step time";
        w.WriteLine(string.Create(c, $"GFLOP/s        {r.Gflops:F1} ({rule}) = {r.PercentPeak:F1} % of the FMA peak measured now ({r.PeakGflops:F1} GFLOP/s on {r.Threads} thread(s))"));
        w.WriteLine(r.PeakRssMb is { } rss ? string.Create(c, $"peak RSS       {rss:F0} MB (VmHWM)") : "peak RSS       n/a (no /proc/self/status)");
    }

    private static string ToJson(BenchResult r, List<ProfileRow>? profile)
    {
        var d = new Dictionary<string, object?>
        {
            ["model"] = r.Model,
            ["batch"] = r.Batch,
            ["image_size"] = r.ImageSize,
            ["mode"] = r.Mode,
            ["samples_per_sec"] = Math.Round(r.SamplesPerSec, 3),
            ["ms_per_step"] = Math.Round(r.MsMedian, 3),
            ["gflops"] = Math.Round(r.Gflops, 2),
            ["peak_gflops"] = Math.Round(r.PeakGflops, 2),
            ["pct_peak"] = Math.Round(r.PercentPeak, 2),
            ["ms_min"] = Math.Round(r.MsMin, 3),
            ["ms_max"] = Math.Round(r.MsMax, 3),
            ["ms_mean"] = Math.Round(r.MsMean, 3),
            ["threads"] = r.Threads,
            ["steps"] = r.Steps,
            ["warmup"] = r.Warmup,
            ["params"] = r.Params,
            ["gmacs"] = Math.Round(r.Gmacs, 4),
            ["num_classes"] = r.NumClasses,
            ["peak_rss_mb"] = r.PeakRssMb is { } m ? Math.Round(m, 1) : null,
        };
        if (profile != null)
            d["profile"] = profile.Select(p => new Dictionary<string, object>
            {
                ["name"] = p.Name,
                ["pass"] = p.Pass,
                ["calls_per_step"] = Math.Round(p.CallsPerStep, 3),
                ["self_ms_per_step"] = Math.Round(p.SelfMsPerStep, 4),
                ["pct_of_step"] = Math.Round(p.PercentOfStep, 3),
                ["incl_ms_per_step"] = Math.Round(p.TotalMsPerStep, 4),
            }).ToList();
        return JsonSerializer.Serialize(d);
    }

    /// <summary>
    /// Step-by-step protocol on stdin/stdout for an interleaved comparison: after model set-up and the warm-up steps
    /// the tool prints one line "ready {json}", then answers each command line: "run N" → the N step times in ms,
    /// space-separated; "rss" → peak RSS in MB; "quit" (or end of input) ends. Diagnostics go to stderr only.
    /// </summary>
    private static int Serve(StepRunner runner, ModelBenchOptions o, int size, int threads, TextWriter output, TextWriter log, TextReader input)
    {
        for (int i = 0; i < o.Warmup; i++) runner.Step();
        var ready = new Dictionary<string, object>
        {
            ["model"] = o.Model, ["batch"] = o.Batch, ["image_size"] = size, ["mode"] = o.Train ? "train" : "infer",
            ["threads"] = threads, ["params"] = runner.Parameters, ["gmacs"] = Math.Round(runner.MacsPerSample / 1e9, 4),
        };
        output.WriteLine("ready " + JsonSerializer.Serialize(ready));
        output.Flush();
        string? line;
        while ((line = input.ReadLine()) != null)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (parts[0] == "quit") break;
            if (parts[0] == "rss") output.WriteLine(PeakRssMb() is { } m ? m.ToString("F1", CultureInfo.InvariantCulture) : "nan");
            else if (parts[0] == "run" && (parts.Length == 1 || int.TryParse(parts[1], CultureInfo.InvariantCulture, out _)))
            {
                int n = parts.Length == 1 ? 1 : int.Parse(parts[1], CultureInfo.InvariantCulture);
                var ms = new string[Math.Max(n, 0)];
                for (int i = 0; i < ms.Length; i++) ms[i] = (runner.Step() * 1e3).ToString("F3", CultureInfo.InvariantCulture);
                output.WriteLine(string.Join(' ', ms));
            }
            else
            {
                output.WriteLine($"error: unknown command '{line}' (expected: run N | rss | quit)");
                log.WriteLine($"bench --serve: unknown command '{line}'");
            }
            output.Flush();
        }
        return 0;
    }

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);

    /// <summary>Peak resident set (VmHWM of /proc/self/status) in MB, or null where there is no procfs.</summary>
    internal static double? PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>The model, its fixed random batch and (training) its optimizer; <see cref="Step"/> runs and times one step.</summary>
    private sealed class StepRunner
    {
        private readonly Func<Tensor, Tensor> _forward;
        private readonly Func<object> _trainForward;
        private readonly Func<object, Tensor> _loss;
        private readonly Tensor _x;
        private readonly AdamW? _optimizer;
        private bool _countMacs = true;

        public long MacsPerSample { get; private set; }
        public long Parameters { get; }
        public int NumClasses { get; }

        /// <param name="trainForward">The training forward (timed as the forward); <paramref name="loss"/> turns its output into the loss.</param>
        private StepRunner(Module model, Func<Tensor, Tensor> forward, Func<object> trainForward, Func<object, Tensor> loss, int classes, Tensor x, AdamW? optimizer)
        {
            _forward = forward; _trainForward = trainForward; _loss = loss; NumClasses = classes; _x = x; _optimizer = optimizer;
            Parameters = model.ParameterCount;
        }

        /// <param name="loaded">The model with --weights loaded (<see cref="ModelLoader"/>); null: seeded random weights.</param>
        public static StepRunner Create(ModelBenchOptions o, int size, Module? loaded)
        {
            var module = loaded ?? ModelRegistry.Create(o.Model, new ModelOptions { NumClasses = o.NumClasses, ImageSize = o.ImageSize, Seed = o.Seed });
            module.Train(o.Train);
            var rng = new Rng(o.Seed + 1);
            // Created outside any TensorScope: the batch persists across steps. NCHW, as the models' public input.
            var x = Tensor.Randn(rng, DType.F32, o.Batch, 3, size, size);
            // torch.optim.AdamW's defaults (lr 1e-3, weight decay 1e-2) on every parameter, one group.
            var optimizer = o.Train ? new AdamW(module.Parameters()) : null;
            switch (module)
            {
                case Segmenter seg:
                {
                    // A segmenter's step is its training loss (decode + 0.4 × auxiliary cross-entropy) on random label maps.
                    var masks = new int[o.Batch * size * size];
                    for (int i = 0; i < masks.Length; i++) masks[i] = rng.NextInt(seg.NumClasses);
                    return new StepRunner(seg, seg.Forward, () => seg.ForwardLogits(x, withAux: true),
                        l => SegmentationTask.Loss(seg, (SegmentationLogits)l, masks, size, size).Loss, seg.NumClasses, x, optimizer);
                }
                case ClassifierModel m:
                {
                    var labels = new int[o.Batch];
                    for (int i = 0; i < labels.Length; i++) labels[i] = rng.NextInt(m.NumClasses);
                    return new StepRunner(m, m.Forward, () => m.Forward(x), l => Ops.CrossEntropy((Tensor)l, labels), m.NumClasses, x, optimizer);
                }
                case Ascan.Models.Generation.UNetModel u:
                {
                    // One denoiser call at random timesteps and classes; the training step regresses a random target (MSE).
                    var xl = Tensor.Randn(rng, DType.F32, o.Batch, u.Config.InChannels, size, size);
                    var t = Tensor.FromArray(Enumerable.Range(0, o.Batch).Select(_ => (float)rng.NextInt(1000)).ToArray(), o.Batch);
                    var y = Enumerable.Range(0, o.Batch).Select(_ => rng.NextInt(u.Config.NumClasses + 1)).ToArray();
                    var target = Tensor.Randn(rng, DType.F32, o.Batch, u.Config.Out, size, size);
                    return new StepRunner(u, _ => u.Forward(xl, t, y), () => u.Forward(xl, t, y), l => Ops.MseLoss((Tensor)l, target),
                        u.Config.NumClasses, xl, optimizer);
                }
                case Ascan.Models.Generation.AutoencoderKL vae:
                {
                    // Inference: the decoder from latents of an image of `size` (what sampling runs); training: encode,
                    // sample the posterior, decode, L1 + KL.
                    int f = vae.Config.DownsampleFactor;
                    if (size % f != 0) throw new ArgumentException($"--image-size {size}: the VAE needs a multiple of {f}.");
                    var z = Tensor.Randn(rng, DType.F32, o.Batch, vae.Config.LatentChannels, size / f, size / f);
                    var img = Tensor.Randn(rng, DType.F32, o.Batch, vae.Config.InChannels, size, size);
                    var noiseRng = new Rng(o.Seed + 2);
                    return new StepRunner(vae, _ => vae.Decode(z), () => { var q = vae.Encode(img); return (q, vae.Decode(q.Sample(noiseRng))); },
                        l => { var (q, r) = ((Ascan.Models.Generation.DiagonalGaussianDistribution, Tensor))l; return Ascan.Models.Generation.AutoencoderKL.L1KlLoss(r, img, q); },
                        0, z, optimizer);
                }
                default:
                    throw new ArgumentException($"bench times image models, UNets and VAEs; {o.Model} is none of them.");
            }
        }

        /// <summary>One step in its own TensorScope; returns its wall-clock seconds. The first step also counts MACs.</summary>
        public double Step()
        {
            long start = Stopwatch.GetTimestamp();
            using (TensorScope.Begin())
            using (var counter = _countMacs ? MacCounter.Begin() : null)
            {
                if (_optimizer == null)
                {
                    using (Autograd.NoGrad())
                    using (Profiler.Scope(ProfileReport.Forward))
                        Forward(counter);
                }
                else
                {
                    object output;
                    using (Profiler.Scope(ProfileReport.Forward)) output = Counted(counter, _trainForward);
                    var loss = _loss(output);
                    using (Profiler.Scope(ProfileReport.Backward)) loss.Backward();
                    using (Profiler.Scope(ProfileReport.OptimizerStep)) _optimizer.Step();
                    using (Profiler.Scope(ProfileReport.ZeroGrad)) _optimizer.ZeroGrad();
                }
            }
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        private Tensor Forward(MacCounter? counter) => Counted(counter, () => _forward(_x));

        /// <summary>Runs <paramref name="f"/>; the first step's MACs per sample are what the counter saw.</summary>
        private T Counted<T>(MacCounter? counter, Func<T> f)
        {
            var y = f();
            if (counter != null)
            {
                MacsPerSample = counter.Total / _x.Dim(0);
                _countMacs = false;
            }
            return y;
        }
    }
}
