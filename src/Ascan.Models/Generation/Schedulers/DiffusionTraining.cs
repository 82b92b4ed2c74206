// Training-side helpers: diffusers' add_noise / get_velocity (DDPMScheduler), compute_snr and the min-SNR-γ weights
// of its training scripts (Hang et al. 2023), rectified flow's interpolation and velocity target, and the t
// densities of compute_density_for_timestep_sampling ("uniform", "logit_normal"). Batch-first flat arrays:
// sample b occupies [b·per, (b+1)·per).
using Ascan.Core;

namespace Ascan.Models.Generation;

public static class DiffusionTraining
{
    /// <summary>x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·noise per batch element (t one per sample).</summary>
    public static float[] AddNoise(ReadOnlySpan<float> alphasCumprod, ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<int> t) =>
        Combine(alphasCumprod, x0, noise, t, velocity: false);

    /// <summary>The v target: v = √ᾱ_t·noise − √(1 − ᾱ_t)·x0.</summary>
    public static float[] GetVelocity(ReadOnlySpan<float> alphasCumprod, ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<int> t) =>
        Combine(alphasCumprod, x0, noise, t, velocity: true);

    private static float[] Combine(ReadOnlySpan<float> ac, ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<int> t, bool velocity)
    {
        int per = PerSample(x0.Length, noise.Length, t.Length);
        var r = new float[x0.Length];
        for (int b = 0; b < t.Length; b++)
        {
            float a = MathF.Sqrt(ac[t[b]]), s = MathF.Sqrt(1f - ac[t[b]]);
            for (int k = b * per; k < (b + 1) * per; k++)
                r[k] = velocity ? a * noise[k] - s * x0[k] : a * x0[k] + s * noise[k];
        }
        return r;
    }

    /// <summary>The regression target of a prediction type: noise (epsilon), v (v_prediction) or x0 (sample).</summary>
    public static float[] Target(string predictionType, ReadOnlySpan<float> alphasCumprod, ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<int> t) =>
        predictionType switch
        {
            "epsilon" => noise.ToArray(),
            "v_prediction" => GetVelocity(alphasCumprod, x0, noise, t),
            "sample" => x0.ToArray(),
            _ => throw new ArgumentException($"prediction_type '{predictionType}'"),
        };

    /// <summary>SNR(t) = (√ᾱ_t / √(1 − ᾱ_t))², diffusers' compute_snr (float32).</summary>
    public static float[] Snr(ReadOnlySpan<float> alphasCumprod, ReadOnlySpan<int> t)
    {
        var r = new float[t.Length];
        for (int i = 0; i < t.Length; i++)
        {
            float q = MathF.Sqrt(alphasCumprod[t[i]]) / MathF.Sqrt(1f - alphasCumprod[t[i]]);
            r[i] = q * q;
        }
        return r;
    }

    /// <summary>
    /// Min-SNR-γ loss weights as diffusers' train_text_to_image.py: min(SNR, γ) / SNR for epsilon,
    /// min(SNR, γ) / (SNR + 1) for v_prediction, min(SNR, γ) for sample; multiply each sample's mean loss.
    /// </summary>
    public static float[] MinSnrWeights(ReadOnlySpan<float> alphasCumprod, ReadOnlySpan<int> t, double gamma, string predictionType)
    {
        var snr = Snr(alphasCumprod, t);
        var w = new float[t.Length];
        for (int i = 0; i < w.Length; i++)
        {
            float m = MathF.Min(snr[i], (float)gamma);
            w[i] = predictionType switch
            {
                "epsilon" => m / snr[i],
                "v_prediction" => m / (snr[i] + 1f),
                "sample" => m,
                _ => throw new ArgumentException($"prediction_type '{predictionType}'"),
            };
        }
        return w;
    }

    /// <summary>Rectified flow: x_t = (1 − t)·x0 + t·noise, t ∈ [0, 1] one per sample.</summary>
    public static float[] FlowNoisy(ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<float> t)
    {
        int per = PerSample(x0.Length, noise.Length, t.Length);
        var r = new float[x0.Length];
        for (int b = 0; b < t.Length; b++)
            for (int k = b * per; k < (b + 1) * per; k++)
                r[k] = (1f - t[b]) * x0[k] + t[b] * noise[k];
        return r;
    }

    /// <summary>The rectified-flow velocity target noise − x0.</summary>
    public static float[] FlowVelocity(ReadOnlySpan<float> x0, ReadOnlySpan<float> noise)
    {
        if (x0.Length != noise.Length) throw new ArgumentException("x0 and noise differ in size");
        var r = new float[x0.Length];
        for (int k = 0; k < r.Length; k++) r[k] = noise[k] - x0[k];
        return r;
    }

    /// <summary>sigmoid(mean + std·z): logit-normal t from standard normals z.</summary>
    public static float[] LogitNormal(ReadOnlySpan<float> z, double mean, double std)
    {
        var r = new float[z.Length];
        for (int i = 0; i < r.Length; i++) r[i] = 1f / (1f + MathF.Exp(-((float)mean + (float)std * z[i])));
        return r;
    }

    /// <summary>n flow times t ∈ (0, 1): "uniform" or "logit_normal" (mean, std; SD3 uses 0, 1).</summary>
    public static float[] SampleFlowT(Rng rng, int n, string weighting = "logit_normal", double mean = 0, double std = 1)
    {
        var z = new float[n];
        for (int i = 0; i < n; i++) z[i] = weighting == "uniform" ? (float)rng.NextDouble() : (float)rng.NextNormal();
        return weighting switch
        {
            "uniform" => z,
            "logit_normal" => LogitNormal(z, mean, std),
            _ => throw new ArgumentException($"weighting '{weighting}' (uniform or logit_normal)"),
        };
    }

    /// <summary>n DDPM training timesteps uniform in [0, numTrainTimesteps).</summary>
    public static int[] SampleTimesteps(Rng rng, int n, int numTrainTimesteps = 1000)
    {
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.NextInt(numTrainTimesteps);
        return t;
    }

    private static int PerSample(int nx, int nn, int batch)
    {
        if (nx != nn) throw new ArgumentException($"x0 has {nx} values, noise {nn}");
        if (batch == 0 || nx % batch != 0) throw new ArgumentException($"{nx} values do not split into {batch} samples");
        return nx / batch;
    }
}
