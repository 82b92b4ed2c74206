// `ascan generate train`: a class-conditional diffusion UNet on an ImageFolder (one class per folder), DiT's recipe
// in the shared training loop, a sample grid per eval; in pixel space or on a VAE's cached latents; or the VAE itself.
using Ascan.Cli.Flags;
using Ascan.Data;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Training.Eval;
using Ascan.Training.Generation;
using Ascan.Training.Tasks;
using Ascan.Training.Train;

namespace Ascan.Cli;

internal static class GenerateTrainCommand
{
    /// <summary>
    /// DiT's recipe (AdamW, lr 1e-4, no weight decay, constant rate, EMA 0.9999, batch 256, class dropout 0.1) at a
    /// CPU batch of 32; random horizontal flips, no crops or colour changes.
    /// </summary>
    public static TrainConfig Defaults => new()
    {
        Model = "unet_shapes",
        Output = "runs/generate",
        Epochs = 20,
        BatchSize = 32,
        Lr = 1e-4,
        WeightDecay = 0,
        Sched = "constant",
        WarmupEpochs = 0,
        MinLr = 0,
        Smoothing = 0,
        ColorJitter = 0,
        Hflip = 0.5,
        Ema = true,
        EmaDecay = 0.9999,
        Diffusion = new DiffusionOptions(),
    };

    /// <param name="run">What runs with the resolved config (default: training; tests pass their own).</param>
    public static System.CommandLine.Command Create(Func<TrainConfig, int>? run = null) =>
        TrainCommand.Verb("train", "Train a class-conditional diffusion UNet on DIR/train (one folder per class; DIR/val for the val loss), " +
            "sampling a grid (one row per class) into OUT/samples/ every --sample-every epochs with the EMA weights.",
            Defaults, run ?? (c => Run(c, Console.Out, out _)), TaskFlags);

    private static DiffusionOptions D(TrainConfig c) => c.Diffusion ?? new DiffusionOptions();
    private static TrainConfig With(TrainConfig c, Func<DiffusionOptions, DiffusionOptions> f) => c with { Diffusion = f(D(c)) };
    private static TrainConfig WithScheduler(TrainConfig c, Func<SchedulerOptions, SchedulerOptions> f) => With(c, d => d with { Scheduler = f(d.Scheduler) });
    private static TrainConfig WithSampling(TrainConfig c, Func<SampleOptions, SampleOptions> f) => With(c, d => d with { Sampling = f(d.Sampling) });

    /// <summary>The flags generate train adds to train's.</summary>
    internal static ConfigBinder<TrainConfig> TaskFlags(ConfigBinder<TrainConfig> b) => b
        .Add(new FlagName("--objective", "epsilon, v_prediction (DDPM forward process) or flow (rectified flow, velocity target)."),
            c => D(c).Objective, (c, v) => With(c, d => d with { Objective = v }), check: v => DiffusionOptions.Objectives.Contains(v) ? null : $"must be one of {string.Join(", ", DiffusionOptions.Objectives)}")
        .Add(new FlagName("--beta-schedule", "linear, scaled_linear or squaredcos_cap_v2 (DDPM objectives)."), c => D(c).Scheduler.BetaSchedule,
            (c, v) => WithScheduler(c, s => s with { BetaSchedule = v }), check: v => BetaSchedules.Names.Contains(v) ? null : $"must be one of {string.Join(", ", BetaSchedules.Names)}")
        .Add(new FlagName("--num-train-timesteps", "Diffusion timesteps of training (diffusers' num_train_timesteps)."), c => D(c).Scheduler.NumTrainTimesteps,
            (c, v) => WithScheduler(c, s => s with { NumTrainTimesteps = v }), check: SharedFlags.AtLeast(2))
        .Add(new FlagName("--min-snr-gamma", "Min-SNR-γ loss weighting (5 in the paper; default: off)."), c => D(c).MinSnrGamma, (c, v) => With(c, d => d with { MinSnrGamma = v }))
        .Add(new FlagName("--cfg-dropout", "Probability of training a sample with the null class (classifier-free guidance)."), c => D(c).CfgDropout,
            (c, v) => With(c, d => d with { CfgDropout = v }))
        .Add(new FlagName("--flow-weighting", "Flow: logit_normal or uniform t."), c => D(c).FlowWeighting, (c, v) => With(c, d => d with { FlowWeighting = v }))
        .Add(new FlagName("--sampler", $"Sampler of the eval grid: {string.Join(", ", Schedulers.Names)} (euler for flow)."), c => D(c).Sampling.Sampler,
            (c, v) => WithSampling(c, s => s with { Sampler = v }))
        .Add(new FlagName("--sample-steps", "Sampler steps of the eval grid."), c => D(c).Sampling.Steps, (c, v) => WithSampling(c, s => s with { Steps = v }), check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--cfg", "Guidance scale of the eval grid (1 = no guidance)."), c => D(c).Sampling.Guidance, (c, v) => WithSampling(c, s => s with { Guidance = v }))
        .Add(new FlagName("--grid-columns", "Samples per class in the eval grid."), c => D(c).GridColumns, (c, v) => With(c, d => d with { GridColumns = v }), check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--sample-every", "Sample the grid every N epochs (0: only after the last)."), c => D(c).SampleEvery, (c, v) => With(c, d => d with { SampleEvery = v }))
        .Add(new FlagName("--judge", "A classifier's weights (train's model.safetensors on the same classes) that scores the grid: class_acc, the fraction it assigns to the requested class."),
            c => D(c).Judge, (c, v) => With(c, d => d with { Judge = v == null ? null : Path.GetFullPath(v) }))
        .Add(new FlagName("--vae", "Latent diffusion: the VAE weights (a generate train run of vae_*, or an SD VAE as safetensors); the data is encoded once into OUT/latents_*.safetensors."),
            c => D(c).Vae, (c, v) => With(c, d => d with { Vae = v == null ? null : Path.GetFullPath(v) }))
        .Add(new FlagName("--vae-model", "The VAE preset of --vae when its file does not name it."), c => D(c).VaeModel, (c, v) => With(c, d => d with { VaeModel = v }));

    /// <summary>Trains <paramref name="c"/>; returns 0 when done, 130/143 when interrupted, 3 when training diverged.</summary>
    internal static int Run(TrainConfig c, TextWriter stdout, out TrainResult? result)
    {
        result = null;
        var entry = ModelRegistry.Get(c.Model);
        if (entry.Kind != ModelKind.Generator)
            throw new ArgumentException($"--model {c.Model} is a {entry.Kind.ToString().ToLowerInvariant()}; generate train trains a diffusion UNet or a VAE: {string.Join(", ", Generators())}.");
        var (trainSet, valSet) = TrainData.OpenFolder(c.Data, Console.Error);
        int size = c.ImageSize ?? TrainData.SizeFromData(trainSet, entry.Config.InputSize) ?? entry.Config.InputSize;
        c = c with { ImageSize = size };
        // The whole image at the model's size, flipped at random: no crops, no colour changes (DiT's center crop + flip).
        var transform = TrainData.FromModel(entry.Config, size) with
        {
            ScaleMin = 1, ScaleMax = 1, RatioMin = 1, RatioMax = 1, HFlip = c.Hflip, ColorJitter = 0, TrainInterpolation = "bilinear", CropFraction = 1,
        };
        var loader = new LoaderOptions { BatchSize = c.BatchSize, Seed = c.Seed, Workers = c.Workers, Log = Console.Error };
        IBatchSource train = DataLoader.ForTraining(trainSet, transform, loader);
        IBatchSource? val = valSet == null ? null : DataLoader.ForEvaluation(valSet, transform, loader with { BatchSize = Math.Min(c.BatchSize, 64) });
        if (VaeZoo.Entries.Any(e => e.Name == c.Model))
        {
            // The autoencoder itself: L1 + KL on the images (the latent space a later latent diffusion run uses).
            var vaeTask = new AutoencoderTask(() => (AutoencoderKL)ModelRegistry.Create(c.Model, new ModelOptions { ImageSize = size, Seed = c.Seed }),
                train, val, entry.Config with { InputSize = size }, seed: c.Seed);
            int vc = TrainCommand.RunTrainer(new Trainer(c with { Diffusion = null }, vaeTask, train) { Log = stdout }, "generate train", out result);
            if (vc == 0) stdout.WriteLine($"done: best epoch {result!.BestEpoch}; weights {Trainer.WeightsPath(c.Output)}, reconstructions in {Path.Combine(c.Output, "recon")}");
            return vc;
        }

        var d = D(c);
        c = c with { Diffusion = d.Validate() };
        SampleJudge? judge = null;
        if (d.Judge != null)
        {
            judge = SampleJudge.Load(d.Judge, Console.Error);
            Console.Error.WriteLine($"generate train: samples judged by the classifier {d.Judge} ({judge.Classifier.NumClasses} classes at {judge.Data.InputSize} px)");
        }
        int classes = trainSet.ClassNames.Count, modelSize = size;
        int? channels = null;
        Func<Ascan.Core.Tensor, Ascan.Core.Tensor>? decode = null;
        if (d.Vae != null)
        {
            var vae = GenerateLatents.LoadVae(d.Vae, d.VaeModel, Console.Error);
            var trainCache = GenerateLatents.Cache(vae, d.Vae, trainSet, c.Data, "train", size, c, stdout);
            train = new LatentBatchSource(trainCache, c.BatchSize, c.Seed);
            val = valSet == null ? null : new LatentBatchSource(GenerateLatents.Cache(vae, d.Vae, valSet, c.Data, "val", size, c, stdout), Math.Min(c.BatchSize, 64), c.Seed, shuffle: false, dropLast: false);
            (modelSize, channels, decode) = (trainCache.LatentHeight, trainCache.LatentChannels, GenerateLatents.Decoder(vae));
        }
        var data = entry.Config with { InputSize = modelSize, NumClasses = classes };
        var task = new DiffusionTask(() => (UNetModel)ModelRegistry.Create(c.Model, new ModelOptions { NumClasses = classes, ImageSize = modelSize, InChannels = channels, Seed = c.Seed }),
            train, val, data, c.Diffusion!, judge, decode, seed: c.Seed) { FinalEpoch = c.Epochs };
        var trainer = new Trainer(c with { ImageSize = modelSize }, task, train) { Log = stdout };
        int code = TrainCommand.RunTrainer(trainer, "generate train", out result);
        if (code != 0) return code;
        var last = result!.History[^1].Metrics;
        stdout.WriteLine(FormattableString.Invariant($"done: best epoch {result.BestEpoch}; checkpoints in {c.Output} ({Trainer.LastFile}, {Trainer.BestFile}, {Trainer.WeightsFile}); ") +
            (double.IsNaN(last[DiffusionTask.ClassAcc]) ? "" : FormattableString.Invariant($"last class_acc {last[DiffusionTask.ClassAcc]:F3}; ")) +
            $"grids in {Path.Combine(c.Output, "samples")}");
        return 0;
    }

    internal static IEnumerable<string> Generators() => ModelRegistry.List().Where(e => e.Kind == ModelKind.Generator).Select(e => e.Name);
}
