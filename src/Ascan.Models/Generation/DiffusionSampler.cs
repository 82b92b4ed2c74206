// The sampling loop of class-conditional diffusion: x_T from fixed per-sample noise, then for every timestep of the
// sampler one (guided) denoiser call and one scheduler step, as diffusers' pipelines and DiT's sample.py run it.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Generation;

/// <summary>How a sampling run goes; the defaults are a deterministic DDIM run of 50 steps without guidance.</summary>
public sealed record SampleOptions
{
    /// <summary>"ddim", "dpmpp", "ddpm" or "euler" (flow models sample with "euler").</summary>
    public string Sampler { get; init; } = "ddim";
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale s: ε = ε_∅ + s·(ε_y − ε_∅); 1 = conditional only (no null-class pass).</summary>
    public double Guidance { get; init; } = 1.0;

    /// <summary>DiT's option: guide only the first k output channels (DiT guides 3 of its 4 latent channels); null = all.</summary>
    public int? GuidanceChannels { get; init; }

    /// <summary>Sample i's initial and step noise come from a generator seeded by (Seed, i): the same seed and index give the same image in any batch.</summary>
    public ulong Seed { get; init; }

    /// <summary>Samples per denoiser batch (doubled inside when guiding).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>The sampler's scheduler options; they must match the training objective (betas, prediction type).</summary>
    public SchedulerOptions Scheduler { get; init; } = new();
}

public static class DiffusionSampler
{
    /// <summary>
    /// Samples one image (or latent) per class id. The model runs in eval mode without gradients (its mode is restored).
    /// <paramref name="progress"/> is told (steps done, steps total) over all batches. Shapes: classes (N) ids in
    /// [0, NumClasses) (NullClass allowed) → (N, C_out, height, width) NCHW float32, in the model's data range
    /// ([−1, 1] for pixel models, scaled latents for latent ones).
    /// </summary>
    public static Tensor Sample(UNetModel model, int[] classes, int height, int width, SampleOptions o, Action<int, int>? progress = null)
    {
        if (classes.Length == 0) throw new ArgumentException("Sample: no class ids given.");
        if (o.Steps < 1) throw new ArgumentException($"Sample: steps = {o.Steps} must be at least 1.");
        if (o.BatchSize < 1) throw new ArgumentException($"Sample: batch size {o.BatchSize} must be at least 1.");
        if (o.GuidanceChannels is { } gc && (gc < 1 || gc > model.Config.Out))
            throw new ArgumentException($"Sample: guidance channels {gc} must be within 1..{model.Config.Out}.");
        foreach (int y in classes)
            if (y < 0 || y > model.NullClass)
                throw new ArgumentException($"Sample: class id {y} is outside 0..{model.NullClass - 1} (or {model.NullClass}, the null class).");
        if (model.Config.Out != model.Config.InChannels)
            throw new ArgumentException($"Sample: the model outputs {model.Config.Out} channels for {model.Config.InChannels} in; sampling needs ε or v of the input's shape.");

        int c = model.Config.InChannels, per = c * height * width;
        var result = new float[classes.Length * per];
        int batches = (classes.Length + o.BatchSize - 1) / o.BatchSize, done = 0;
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            for (int start = 0; start < classes.Length; start += o.BatchSize)
            {
                int n = Math.Min(o.BatchSize, classes.Length - start);
                var x = SampleBatch(model, classes.AsSpan(start, n).ToArray(), start, height, width, o, () => progress?.Invoke(++done, batches * o.Steps));
                x.CopyTo(result.AsSpan(start * per));
            }
        }
        finally { model.Train(wasTraining); }
        return Tensor.FromArray(result, classes.Length, c, height, width);
    }

    private static float[] SampleBatch(UNetModel model, int[] y, int firstIndex, int h, int w, SampleOptions o, Action stepDone)
    {
        var sched = Schedulers.Create(o.Sampler, o.Scheduler);
        sched.SetTimesteps(o.Steps);
        int n = y.Length, c = model.Config.InChannels, per = c * h * w;
        var rngs = Enumerable.Range(0, n).Select(i => SampleRng(o.Seed, firstIndex + i)).ToArray();
        var x = new float[n * per];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < per; k++) x[i * per + k] = (float)rngs[i].NextNormal() * sched.InitNoiseSigma;

        bool guided = o.Guidance != 1.0;
        int[] yIn = guided ? [.. y, .. Enumerable.Repeat(model.NullClass, n)] : y;
        foreach (double t in sched.Timesteps)
        {
            float[] eps;
            using (TensorScope.Begin())
            using (Autograd.NoGrad())
            {
                var xt = Tensor.FromArray(guided ? [.. x, .. x] : x, yIn.Length, c, h, w);
                var tt = Tensor.FromArray(Enumerable.Repeat((float)t, yIn.Length).ToArray(), yIn.Length);
                var output = model.Forward(xt, tt, yIn).ToArray<float>();
                eps = guided ? Guide(output, n, c, h * w, o.Guidance, o.GuidanceChannels ?? c) : output;
            }
            float[]? noise = null;
            if (sched.NeedsNoise(t))
            {
                noise = new float[n * per];
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < per; k++) noise[i * per + k] = (float)rngs[i].NextNormal();
            }
            x = sched.Step(eps, t, x, varianceNoise: noise);
            stepDone();
        }
        return x;
    }

    /// <summary>
    /// Classifier-free guidance of a doubled batch's output [cond; uncond]: ε_∅ + s·(ε_y − ε_∅) on the first
    /// <paramref name="channels"/> channels, the conditional output on the rest (DiT's forward_with_cfg). Shapes:
    /// output (2n, c, hw) flat → (n, c, hw) flat.
    /// </summary>
    public static float[] Guide(ReadOnlySpan<float> output, int n, int c, int hw, double scale, int channels)
    {
        int per = c * hw;
        if (output.Length != 2 * n * per) throw new ArgumentException($"Guide: {output.Length} values for a doubled batch of {n} × {c} × {hw}.");
        var r = new float[n * per];
        float s = (float)scale;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < per; k++)
            {
                float cond = output[i * per + k], uncond = output[(n + i) * per + k];
                r[i * per + k] = k / hw < channels ? uncond + s * (cond - uncond) : cond;
            }
        return r;
    }

    /// <summary>The generator of sample <paramref name="index"/> of a run seeded <paramref name="seed"/> (splitmix-style mixing of both).</summary>
    public static Rng SampleRng(ulong seed, long index)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return new Rng(z ^ (z >> 31));
    }
}
