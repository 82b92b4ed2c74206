// DDIM, diffusers' DDIMScheduler (scheduling_ddim.py): set_timesteps, step (eta, clip_sample, set_alpha_to_one).
using Ascan.Core;

namespace Ascan.Models.Generation;

/// <summary>
/// DDIM (Song et al.): x_{t−1} = √ᾱ_{prev}·x̂0 + √(1 − ᾱ_{prev} − σ²)·ε̂ + σ·z, σ = eta·√(posterior variance).
/// As diffusers, the previous timestep is t − num_train_timesteps / steps for every spacing; set_alpha_to_one
/// (default true) sets ᾱ after the last step to 1, else ᾱ_0. clip_sample default true, spacing "leading".
/// </summary>
public sealed class DdimScheduler : DiffusionScheduler
{
    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private int _steps;

    public DdimScheduler(SchedulerOptions options) : base(options)
    {
        SchedulerOptions.CheckPrediction(options.PredictionType);
        _alphasCumprod = BetaSchedules.AlphasCumprod(BetaSchedules.Betas(options.BetaSchedule, options.NumTrainTimesteps, options.BetaStart, options.BetaEnd));
        _finalAlphaCumprod = options.SetAlphaToOne ? 1f : _alphasCumprod[0];
    }

    public override string Name => "ddim";

    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    public override void SetTimesteps(int steps)
    {
        Timesteps = Spacing.Ddpm(Options.Spacing("leading"), Options.NumTrainTimesteps, steps, Options.StepsOffset);
        _steps = steps;
    }

    public override bool NeedsNoise(double t) => Options.Eta > 0;

    public override float[] Step(ReadOnlySpan<float> modelOutput, double t, ReadOnlySpan<float> sample, Rng? rng = null,
        ReadOnlySpan<float> varianceNoise = default)
    {
        CheckReady();
        CheckSizes(modelOutput, sample);
        int ti = (int)t, prevT = ti - Options.NumTrainTimesteps / _steps;
        float aT = _alphasCumprod[ti], aPrev = prevT >= 0 ? _alphasCumprod[prevT] : _finalAlphaCumprod;
        float bT = 1f - aT, bPrev = 1f - aPrev;
        float sqA = MathF.Sqrt(aT), sqB = MathF.Sqrt(bT);
        float variance = bPrev / bT * (1f - aT / aPrev);
        float eta = (float)Options.Eta;
        float std = eta * MathF.Sqrt(variance);
        float cX0 = MathF.Sqrt(aPrev), cEps = MathF.Sqrt(1f - aPrev - std * std);
        bool clip = Options.ClipSample ?? true;
        float range = (float)Options.ClipSampleRange;
        string p = Options.PredictionType;
        var prev = new float[sample.Length];
        for (int i = 0; i < prev.Length; i++)
        {
            float x0 = Prediction.X0(p, modelOutput[i], sample[i], sqA, sqB);
            float eps = Prediction.Eps(p, modelOutput[i], sample[i], x0, sqA, sqB); // ε̂ from the unclipped x̂0
            if (clip) x0 = Math.Clamp(x0, -range, range);
            prev[i] = cX0 * x0 + cEps * eps;
        }
        if (Options.Eta > 0)
        {
            var z = Noise(prev.Length, rng, varianceNoise, Name);
            for (int i = 0; i < prev.Length; i++) prev[i] += std * z[i];
        }
        return prev;
    }
}
