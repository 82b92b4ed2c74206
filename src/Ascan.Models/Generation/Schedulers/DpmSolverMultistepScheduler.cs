// DPM-Solver++ multistep, diffusers' DPMSolverMultistepScheduler (scheduling_dpmsolver_multistep.py) with
// algorithm_type "dpmsolver++": set_timesteps (spacings, final_sigmas_type), convert_model_output, the first-order
// and second-order (midpoint / heun) multistep updates, lower_order_final.
using Ascan.Core;

namespace Ascan.Models.Generation;

/// <summary>
/// DPM-Solver++ (Lu et al.) in data prediction, order 1 or 2. σ_t = √((1 − ᾱ_t)/ᾱ_t); α = 1/√(σ² + 1), σ_t·α
/// the noise level, λ = log α − log σ. Spacing "linspace" by default; final_sigmas_type "zero" (default; the
/// last step is then first order) or "sigma_min"; lower_order_final uses order 1 (and 2) at the end for grids
/// under 15 steps.
/// </summary>
public sealed class DpmSolverMultistepScheduler : DiffusionScheduler
{
    private readonly float[] _alphasCumprod;
    private float[]? _m0, _m1; // the last two data predictions (m0 the newest)
    private int _lowerOrderNums;
    private int _stepIndex = -1;

    public DpmSolverMultistepScheduler(SchedulerOptions options) : base(options)
    {
        SchedulerOptions.CheckPrediction(options.PredictionType);
        if (options.AlgorithmType != "dpmsolver++") throw new ArgumentException($"dpmpp: algorithm_type '{options.AlgorithmType}' (only dpmsolver++)");
        if (options.SolverOrder is < 1 or > 2) throw new ArgumentException($"dpmpp: solver_order {options.SolverOrder} (1 or 2)");
        if (options.SolverType is not ("midpoint" or "heun")) throw new ArgumentException($"dpmpp: solver_type '{options.SolverType}' (midpoint or heun)");
        if (options.FinalSigmasType is not ("zero" or "sigma_min")) throw new ArgumentException($"dpmpp: final_sigmas_type '{options.FinalSigmasType}' (zero or sigma_min)");
        _alphasCumprod = BetaSchedules.AlphasCumprod(BetaSchedules.Betas(options.BetaSchedule, options.NumTrainTimesteps, options.BetaStart, options.BetaEnd));
    }

    public override string Name => "dpmpp";

    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    private float SigmaOf(int t) => MathF.Sqrt((1f - _alphasCumprod[t]) / _alphasCumprod[t]);

    public override void SetTimesteps(int steps)
    {
        int n = Options.NumTrainTimesteps, last = n; // lambda_min_clipped = −inf
        if (steps < 1 || steps > n) throw new ArgumentException($"steps {steps} must be in 1..{n}");
        double[] ts;
        switch (Options.Spacing("linspace"))
        {
            case "linspace":
            {
                var l = BetaSchedules.NumpyLinspace(0, last - 1, steps + 1);
                ts = new double[steps];
                for (int i = 0; i < steps; i++) ts[i] = Math.Round(l[steps - i], MidpointRounding.ToEven);
                break;
            }
            case "leading":
            {
                int ratio = last / (steps + 1);
                ts = new double[steps];
                for (int i = 0; i < steps; i++) ts[i] = (long)(steps - i) * ratio + Options.StepsOffset;
                break;
            }
            case "trailing":
                ts = Array.ConvertAll(BetaSchedules.NumpyArange(last, 0, -(n / (double)steps)), v => Math.Round(v, MidpointRounding.ToEven) - 1);
                break;
            default:
                throw new ArgumentException($"timestep_spacing '{Options.TimestepSpacing}' (expected leading, trailing, linspace)");
        }
        var sig = new float[ts.Length + 1];
        for (int i = 0; i < ts.Length; i++) sig[i] = SigmaOf((int)ts[i]); // np.interp at integer timesteps
        sig[^1] = Options.FinalSigmasType == "sigma_min" ? SigmaOf(0) : 0f;
        Timesteps = ts;
        Sigmas = sig;
        _m0 = _m1 = null;
        _lowerOrderNums = 0;
        _stepIndex = -1;
    }

    private static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float a = 1f / MathF.Sqrt(sigma * sigma + 1f);
        return (a, sigma * a);
    }

    public override float[] Step(ReadOnlySpan<float> modelOutput, double t, ReadOnlySpan<float> sample, Rng? rng = null,
        ReadOnlySpan<float> varianceNoise = default)
    {
        CheckReady();
        CheckSizes(modelOutput, sample);
        if (_stepIndex < 0) _stepIndex = IndexOf(t);
        int i = _stepIndex, n = Timesteps.Length;
        var s = Sigmas!;
        bool lowerFinal = i == n - 1 && (Options.EulerAtFinal || (Options.LowerOrderFinal && n < 15) || Options.FinalSigmasType == "zero");

        // convert_model_output: the data prediction x̂0.
        var (aS, sS) = AlphaSigma(s[i]);
        var x0 = new float[sample.Length];
        for (int k = 0; k < x0.Length; k++)
            x0[k] = Options.PredictionType switch
            {
                "epsilon" => (sample[k] - sS * modelOutput[k]) / aS,
                "sample" => modelOutput[k],
                _ => aS * sample[k] - sS * modelOutput[k], // v_prediction
            };
        _m1 = _m0;
        _m0 = x0;

        var (aT, sT) = AlphaSigma(s[i + 1]);
        float lamT = MathF.Log(aT) - MathF.Log(sT), lamS0 = MathF.Log(aS) - MathF.Log(sS);
        float h = lamT - lamS0;
        float ratio = sT / sS, c0 = aT * (MathF.Exp(-h) - 1f);
        var prev = new float[sample.Length];
        if (Options.SolverOrder == 1 || _lowerOrderNums < 1 || lowerFinal)
        {
            for (int k = 0; k < prev.Length; k++) prev[k] = ratio * sample[k] - c0 * x0[k];
        }
        else
        {
            var (aS1, sS1) = AlphaSigma(s[i - 1]);
            float lamS1 = MathF.Log(aS1) - MathF.Log(sS1);
            float r0 = (lamS0 - lamS1) / h, invR0 = 1f / r0;
            // midpoint: − ½·α_t(e^{−h} − 1)·D1; heun: + α_t((e^{−h} − 1)/h + 1)·D1
            float c1 = Options.SolverType == "midpoint" ? -(0.5f * c0) : aT * ((MathF.Exp(-h) - 1f) / h + 1f);
            var m1 = _m1!;
            for (int k = 0; k < prev.Length; k++)
            {
                float d1 = invR0 * (x0[k] - m1[k]);
                prev[k] = ratio * sample[k] - c0 * x0[k] + c1 * d1;
            }
        }
        if (_lowerOrderNums < Options.SolverOrder) _lowerOrderNums++;
        _stepIndex++;
        return prev;
    }
}
