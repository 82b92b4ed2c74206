// DDPM ancestral sampling, diffusers' DDPMScheduler (scheduling_ddpm.py): set_timesteps, step, _get_variance.
using Ascan.Core;

namespace Ascan.Models.Generation;

/// <summary>
/// DDPM (Ho et al.): x_{t−1} = c0·x̂0 + c1·x_t + σ_t·z with the posterior q(x_{t−1} | x_t, x̂0); variance_type
/// fixed_small (posterior variance, default), fixed_small_log, fixed_large (β_t); clip_sample (default true).
/// Timestep spacing "leading" by default.
/// </summary>
public sealed class DdpmScheduler : DiffusionScheduler
{
    private readonly float[] _alphasCumprod;

    public DdpmScheduler(SchedulerOptions options) : base(options)
    {
        SchedulerOptions.CheckPrediction(options.PredictionType);
        if (options.VarianceType is not ("fixed_small" or "fixed_small_log" or "fixed_large"))
            throw new ArgumentException($"ddpm: variance_type '{options.VarianceType}' (expected fixed_small, fixed_small_log, fixed_large)");
        _alphasCumprod = BetaSchedules.AlphasCumprod(BetaSchedules.Betas(options.BetaSchedule, options.NumTrainTimesteps, options.BetaStart, options.BetaEnd));
    }

    public override string Name => "ddpm";

    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    public override void SetTimesteps(int steps) =>
        Timesteps = Spacing.Ddpm(Options.Spacing("leading"), Options.NumTrainTimesteps, steps, Options.StepsOffset);

    public override bool NeedsNoise(double t) => t > 0;

    private int PrevT(double t)
    {
        int i = Array.IndexOf(Timesteps, t);
        if (i < 0) throw new ArgumentException($"ddpm: timestep {t} is not in the schedule");
        return i == Timesteps.Length - 1 ? -1 : (int)Timesteps[i + 1];
    }

    public override float[] Step(ReadOnlySpan<float> modelOutput, double t, ReadOnlySpan<float> sample, Rng? rng = null,
        ReadOnlySpan<float> varianceNoise = default)
    {
        CheckReady();
        CheckSizes(modelOutput, sample);
        int ti = (int)t, prevT = PrevT(t);
        float aT = _alphasCumprod[ti], aPrev = prevT >= 0 ? _alphasCumprod[prevT] : 1f;
        float bT = 1f - aT, bPrev = 1f - aPrev;
        float curAlpha = aT / aPrev, curBeta = 1f - curAlpha;
        float sqA = MathF.Sqrt(aT), sqB = MathF.Sqrt(bT);
        bool clip = Options.ClipSample ?? true;
        float range = (float)Options.ClipSampleRange;
        float cX0 = MathF.Sqrt(aPrev) * curBeta / bT, cX = MathF.Sqrt(curAlpha) * bPrev / bT;
        var prev = new float[sample.Length];
        for (int i = 0; i < prev.Length; i++)
        {
            float x0 = Prediction.X0(Options.PredictionType, modelOutput[i], sample[i], sqA, sqB);
            if (clip) x0 = Math.Clamp(x0, -range, range);
            prev[i] = cX0 * x0 + cX * sample[i];
        }
        if (ti > 0)
        {
            float variance = MathF.Max((1f - aPrev) / (1f - aT) * curBeta, 1e-20f);
            float std = Options.VarianceType switch
            {
                "fixed_small" => MathF.Sqrt(variance),
                "fixed_small_log" => MathF.Exp(0.5f * MathF.Log(variance)),
                _ => MathF.Sqrt(curBeta), // fixed_large
            };
            var z = Noise(prev.Length, rng, varianceNoise, Name);
            for (int i = 0; i < prev.Length; i++) prev[i] += std * z[i];
        }
        return prev;
    }
}

/// <summary>The x0 / epsilon a DDPM-family model output means, given √ᾱ_t and √(1 − ᾱ_t).</summary>
internal static class Prediction
{
    public static float X0(string type, float m, float x, float sqrtA, float sqrtB) => type switch
    {
        "epsilon" => (x - sqrtB * m) / sqrtA,
        "sample" => m,
        _ => sqrtA * x - sqrtB * m, // v_prediction
    };

    public static float Eps(string type, float m, float x, float x0, float sqrtA, float sqrtB) => type switch
    {
        "epsilon" => m,
        "sample" => (x - sqrtA * x0) / sqrtB,
        _ => sqrtA * m + sqrtB * x, // v_prediction
    };
}

/// <summary>DDPM/DDIM set_timesteps spacings (numpy float64 arithmetic, round half to even as numpy).</summary>
internal static class Spacing
{
    public static double[] Ddpm(string spacing, int nTrain, int steps, int stepsOffset)
    {
        if (steps < 1 || steps > nTrain) throw new ArgumentException($"steps {steps} must be in 1..{nTrain}");
        switch (spacing)
        {
            case "linspace":
            {
                var l = BetaSchedules.NumpyLinspace(0, nTrain - 1, steps);
                var r = new double[steps];
                for (int i = 0; i < steps; i++) r[i] = Math.Round(l[steps - 1 - i], MidpointRounding.ToEven);
                return r;
            }
            case "leading":
            {
                int ratio = nTrain / steps;
                var r = new double[steps];
                for (int i = 0; i < steps; i++) r[i] = (long)(steps - 1 - i) * ratio + stepsOffset;
                return r;
            }
            case "trailing":
            {
                double ratio = nTrain / (double)steps;
                var a = BetaSchedules.NumpyArange(nTrain, 0, -ratio);
                return Array.ConvertAll(a, v => Math.Round(v, MidpointRounding.ToEven) - 1);
            }
            default:
                throw new ArgumentException($"timestep_spacing '{spacing}' (expected leading, trailing, linspace)");
        }
    }
}
