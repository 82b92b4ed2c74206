// Beta schedules and alphas_cumprod as diffusers builds them (scheduling_ddpm.py et al.): torch float32 linspace,
// betas_for_alpha_bar("cosine") in float64 rounded to float32, cumprod in float32.
namespace Ascan.Models.Generation;

/// <summary>The noise schedules every DDPM-family sampler shares ("linear", "scaled_linear", "squaredcos_cap_v2").</summary>
public static class BetaSchedules
{
    public static readonly string[] Names = ["linear", "scaled_linear", "squaredcos_cap_v2"];

    /// <summary>betas (float32, length n) of a named schedule.</summary>
    public static float[] Betas(string schedule, int n = 1000, double betaStart = 0.0001, double betaEnd = 0.02) => schedule switch
    {
        "linear" => TorchLinspace((float)betaStart, (float)betaEnd, n),
        "scaled_linear" => Array.ConvertAll(TorchLinspace((float)Math.Sqrt(betaStart), (float)Math.Sqrt(betaEnd), n), b => b * b),
        "squaredcos_cap_v2" => BetasForAlphaBar(n),
        _ => throw new ArgumentException($"unknown beta_schedule '{schedule}' (expected {string.Join(", ", Names)})", nameof(schedule)),
    };

    /// <summary>diffusers' betas_for_alpha_bar with the cosine alpha_bar (Nichol and Dhariwal), capped at max_beta.</summary>
    public static float[] BetasForAlphaBar(int n, double maxBeta = 0.999)
    {
        static double AlphaBar(double t) { double c = Math.Cos((t + 0.008) / 1.008 * Math.PI / 2); return c * c; }
        var b = new float[n];
        for (int i = 0; i < n; i++)
            b[i] = (float)Math.Min(1 - AlphaBar((i + 1) / (double)n) / AlphaBar(i / (double)n), maxBeta);
        return b;
    }

    /// <summary>cumprod(1 − betas) in float32, sequentially as torch.cumprod.</summary>
    public static float[] AlphasCumprod(ReadOnlySpan<float> betas)
    {
        var a = new float[betas.Length];
        float p = 1f;
        for (int i = 0; i < betas.Length; i++) { p *= 1f - betas[i]; a[i] = p; }
        return a;
    }

    /// <summary>torch.linspace(start, end, steps, dtype=float32): step in float32, the first half from start, the rest from end.</summary>
    public static float[] TorchLinspace(float start, float end, int steps)
    {
        var r = new float[steps];
        if (steps == 1) { r[0] = start; return r; }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++)
            r[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return r;
    }

    /// <summary>numpy.linspace(start, stop, num) in float64 (i·step + start, the last value exactly stop).</summary>
    public static double[] NumpyLinspace(double start, double stop, int num)
    {
        var r = new double[num];
        if (num == 0) return r;
        if (num == 1) { r[0] = start; return r; }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) r[i] = i * step + start;
        r[^1] = stop;
        return r;
    }

    /// <summary>numpy.arange(start, stop, step) for floats: ceil((stop − start) / step) values start + i·step.</summary>
    public static double[] NumpyArange(double start, double stop, double step)
    {
        int n = Math.Max(0, (int)Math.Ceiling((stop - start) / step));
        var r = new double[n];
        for (int i = 0; i < n; i++) r[i] = start + i * step;
        return r;
    }
}
