// The options of every sampler, named as diffusers names them (snake_case in JSON, the CLI's flags); null means
// "the sampler's own diffusers default" where the samplers disagree (timestep_spacing, clip_sample).
namespace Ascan.Models.Generation;

/// <summary>
/// Options shared by the samplers (each reads those it has). Defaults are diffusers' defaults: 1000 training
/// steps, linear betas 0.0001 → 0.02, epsilon prediction; TimestepSpacing null = "leading" for DDPM/DDIM and
/// "linspace" for DPM-Solver++; ClipSample null = true for DDPM/DDIM.
/// </summary>
public sealed record SchedulerOptions
{
    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>"linear", "scaled_linear" or "squaredcos_cap_v2".</summary>
    public string BetaSchedule { get; init; } = "linear";
    /// <summary>"epsilon", "v_prediction" or "sample".</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>"leading", "trailing" or "linspace"; null = the sampler's default.</summary>
    public string? TimestepSpacing { get; init; }
    public int StepsOffset { get; init; }
    /// <summary>Clamp the predicted x0 to ±ClipSampleRange (DDPM, DDIM); null = true.</summary>
    public bool? ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;

    // DDPM
    /// <summary>"fixed_small" (default), "fixed_small_log" or "fixed_large".</summary>
    public string VarianceType { get; init; } = "fixed_small";

    // DDIM
    /// <summary>DDIM: alpha_prod of the step after the last is 1 (true) or alphas_cumprod[0].</summary>
    public bool SetAlphaToOne { get; init; } = true;
    /// <summary>DDIM: eta of the DDIM paper (0 deterministic, 1 DDPM-like); diffusers passes it to step().</summary>
    public double Eta { get; init; }

    // DPM-Solver++ multistep
    /// <summary>Only "dpmsolver++" is implemented.</summary>
    public string AlgorithmType { get; init; } = "dpmsolver++";
    public int SolverOrder { get; init; } = 2;
    /// <summary>"midpoint" (default) or "heun".</summary>
    public string SolverType { get; init; } = "midpoint";
    public bool LowerOrderFinal { get; init; } = true;
    public bool EulerAtFinal { get; init; }
    /// <summary>"zero" (default) or "sigma_min".</summary>
    public string FinalSigmasType { get; init; } = "zero";

    // flow-matching Euler
    /// <summary>Flow matching: sigma ← shift·σ / (1 + (shift − 1)·σ).</summary>
    public double Shift { get; init; } = 1.0;

    internal string Spacing(string samplerDefault) => TimestepSpacing ?? samplerDefault;

    internal static void CheckPrediction(string p)
    {
        if (p is not ("epsilon" or "v_prediction" or "sample"))
            throw new ArgumentException($"prediction_type '{p}' must be one of epsilon, v_prediction, sample");
    }
}
