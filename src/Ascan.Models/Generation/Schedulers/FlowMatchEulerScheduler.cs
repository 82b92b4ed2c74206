// Flow-matching Euler, diffusers' FlowMatchEulerDiscreteScheduler (scheduling_flow_match_euler_discrete.py):
// __init__'s shifted sigma_max / sigma_min, set_timesteps, step (no dynamic shifting, no stochastic sampling).
using Ascan.Core;

namespace Ascan.Models.Generation;

/// <summary>
/// Euler integration of a rectified-flow velocity v = noise − x0 from σ = 1 to 0: x_{next} = x + (σ_{next} − σ)·v.
/// Timesteps = σ·num_train_timesteps, with σ linearly spaced between the shifted σ_max and σ_min of the training
/// grid and shifted once more by shift·σ / (1 + (shift − 1)·σ), as diffusers does; a final σ = 0 is appended.
/// </summary>
public sealed class FlowMatchEulerScheduler : DiffusionScheduler
{
    private readonly double _sigmaMax, _sigmaMin;
    private int _stepIndex = -1;

    public FlowMatchEulerScheduler(SchedulerOptions options) : base(options)
    {
        int n = options.NumTrainTimesteps;
        float shift = (float)options.Shift;
        float Shifted(float s) => shift * s / (1f + (shift - 1f) * s); // float32 tensor ops
        _sigmaMax = Shifted((float)n / n);
        _sigmaMin = Shifted(1f / n);
    }

    public override string Name => "euler";

    public override void SetTimesteps(int steps)
    {
        if (steps < 1) throw new ArgumentException($"steps {steps} must be ≥ 1");
        int n = Options.NumTrainTimesteps;
        double shift = Options.Shift;
        var ts = BetaSchedules.NumpyLinspace(_sigmaMax * n, _sigmaMin * n, steps);
        var sig = new float[steps + 1];
        var t = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            double s = ts[i] / n;
            sig[i] = (float)(shift * s / (1 + (shift - 1) * s));
            t[i] = sig[i] * (float)n; // float32 timesteps, as diffusers
        }
        Sigmas = sig;
        Timesteps = t;
        _stepIndex = -1;
    }

    public override float[] Step(ReadOnlySpan<float> modelOutput, double t, ReadOnlySpan<float> sample, Rng? rng = null,
        ReadOnlySpan<float> varianceNoise = default)
    {
        CheckReady();
        CheckSizes(modelOutput, sample);
        if (_stepIndex < 0) _stepIndex = IndexOf(t);
        var s = Sigmas!;
        float dt = s[_stepIndex + 1] - s[_stepIndex];
        var prev = new float[sample.Length];
        for (int k = 0; k < prev.Length; k++) prev[k] = sample[k] + dt * modelOutput[k];
        _stepIndex++;
        return prev;
    }
}
