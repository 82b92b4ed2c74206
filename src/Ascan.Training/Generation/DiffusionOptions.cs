// What a diffusion run trains (objective, noise schedule, loss weighting, guidance dropout) and how its evaluation
// samples (sampler, steps, guidance, grid), with the names diffusers and DiT use.
using System.Text.Json.Serialization;
using Ascan.Models.Generation;

namespace Ascan.Training.Generation;

/// <summary>
/// The diffusion objective and the eval-time sampling of a <see cref="Tasks.DiffusionTask"/>. Objectives: "epsilon"
/// and "v_prediction" (DDPM forward process over <see cref="Scheduler"/>'s betas, timesteps uniform in
/// [0, num_train_timesteps)), "flow" (rectified flow: x_t = (1 − t)·x0 + t·ε, target ε − x0, t from
/// <see cref="FlowWeighting"/>, the model sees t·num_train_timesteps as diffusers' FlowMatchEulerDiscreteScheduler).
/// </summary>
public sealed record DiffusionOptions
{
    public static readonly string[] Objectives = ["epsilon", "v_prediction", "flow"];

    public string Objective { get; init; } = "epsilon";

    /// <summary>Betas and training timesteps; its prediction type is set from <see cref="Objective"/>.</summary>
    public SchedulerOptions Scheduler { get; init; } = new();

    /// <summary>Min-SNR-γ loss weighting (Hang et al. 2023; 5 is their choice); null = plain MSE. DDPM objectives only.</summary>
    public double? MinSnrGamma { get; init; }

    /// <summary>Probability that a training sample's class is replaced by the null class (classifier-free guidance; 0.1 as DiT).</summary>
    public double CfgDropout { get; init; } = 0.1;

    /// <summary>Flow: "logit_normal" (SD3's default, mean 0, std 1) or "uniform" t.</summary>
    public string FlowWeighting { get; init; } = "logit_normal";
    public double FlowMean { get; init; }
    public double FlowStd { get; init; } = 1.0;

    /// <summary>The sampler of the per-epoch grid (and the default of `generate sample`); its scheduler options are the training ones.</summary>
    public SampleOptions Sampling { get; init; } = new() { Sampler = "ddim", Steps = 25, Guidance = 4.0, Seed = 0 };

    /// <summary>Samples per class in the per-epoch grid (one row per class).</summary>
    public int GridColumns { get; init; } = 8;

    /// <summary>Sample a grid every N epochs (and always after the last); 0 = only after the last.</summary>
    public int SampleEvery { get; init; } = 1;

    /// <summary>Validation images (fixed noise and timesteps, so the curve is comparable across epochs) of the val loss.</summary>
    public int ValImages { get; init; } = 256;

    /// <summary>A classifier's weights that judges the grid's samples (class_acc); null = no judge.</summary>
    public string? Judge { get; init; }

    /// <summary>Latent diffusion: the VAE weights (safetensors, diffusers' AutoencoderKL keys) whose scaled latents the UNet learns; null = pixel space.</summary>
    public string? Vae { get; init; }

    /// <summary>Latent diffusion: the VAE preset of <see cref="Vae"/> (vae_sd, vae_shapes).</summary>
    public string VaeModel { get; init; } = "vae_sd";

    [JsonIgnore]
    public bool IsFlow => Objective == "flow";

    /// <summary>The scheduler options training and sampling share: the objective's prediction type.</summary>
    [JsonIgnore]
    public SchedulerOptions SchedulerFor => Scheduler with { PredictionType = IsFlow ? "epsilon" : Objective };

    /// <summary>The sampling options with the training's scheduler.</summary>
    [JsonIgnore]
    public SampleOptions SamplingFor => Sampling with { Scheduler = SchedulerFor };

    /// <summary>Throws naming the option that cannot work.</summary>
    public DiffusionOptions Validate()
    {
        if (!Objectives.Contains(Objective)) throw new ArgumentException($"--objective {Objective}: must be one of {string.Join(", ", Objectives)}.");
        if (!BetaSchedules.Names.Contains(Scheduler.BetaSchedule))
            throw new ArgumentException($"--beta-schedule {Scheduler.BetaSchedule}: must be one of {string.Join(", ", BetaSchedules.Names)}.");
        if (CfgDropout is < 0 or > 1) throw new ArgumentException($"--cfg-dropout {CfgDropout}: must be within [0, 1].");
        if (MinSnrGamma is { } g && (g <= 0 || IsFlow))
            throw new ArgumentException(IsFlow ? "--min-snr-gamma weights DDPM objectives (epsilon, v_prediction), not flow." : $"--min-snr-gamma {g}: must be positive.");
        if (FlowWeighting is not ("logit_normal" or "uniform")) throw new ArgumentException($"--flow-weighting {FlowWeighting}: must be logit_normal or uniform.");
        if (!Schedulers.Names.Contains(Sampling.Sampler)) throw new ArgumentException($"--sampler {Sampling.Sampler}: must be one of {string.Join(", ", Schedulers.Names)}.");
        if (Schedulers.IsFlow(Sampling.Sampler) != IsFlow)
            throw new ArgumentException(IsFlow ? $"--sampler {Sampling.Sampler}: a flow model samples with euler." : $"--sampler {Sampling.Sampler}: euler integrates flow models; this objective is {Objective} (use ddim, dpmpp or ddpm).");
        if (GridColumns < 1) throw new ArgumentException($"--grid-columns {GridColumns}: must be at least 1.");
        if (SampleEvery < 0) throw new ArgumentException($"--sample-every {SampleEvery}: must be 0 or more.");
        return this;
    }
}
