// The common shape of the samplers (diffusers' SchedulerMixin): SetTimesteps(steps), then for each t in Timesteps
// x = Step(model(x, t), t, x). State is float32 like diffusers; samples are flat float spans (any layout, the
// schedulers are element-wise). The registry maps the CLI's names to samplers.
using Ascan.Core;

namespace Ascan.Models.Generation;

/// <summary>A diffusion sampler: a timestep grid and the update x_t → x_{t−1} from the model's output.</summary>
public abstract class DiffusionScheduler(SchedulerOptions options)
{
    public SchedulerOptions Options { get; } = options;

    /// <summary>The registry name ("ddpm", "ddim", "dpmpp", "euler").</summary>
    public abstract string Name { get; }

    /// <summary>The timesteps the model is called with, in sampling order (after <see cref="SetTimesteps"/>).</summary>
    public double[] Timesteps { get; protected set; } = [];

    /// <summary>The sampler's sigmas (one more than Timesteps, the last the final sigma), or null where it has none.</summary>
    public float[]? Sigmas { get; protected set; }

    /// <summary>What x_T is scaled by (1 for all of these samplers).</summary>
    public virtual float InitNoiseSigma => 1f;

    /// <summary>Builds the timestep grid for a sampling run of <paramref name="steps"/> steps and resets the state.</summary>
    public abstract void SetTimesteps(int steps);

    /// <summary>Whether <see cref="Step(ReadOnlySpan{float}, double, ReadOnlySpan{float}, Rng?, ReadOnlySpan{float})"/> at t draws noise.</summary>
    public virtual bool NeedsNoise(double t) => false;

    /// <summary>
    /// One sampling step: the previous sample x_{t−1} from the model output at t and x_t. Stochastic steps take
    /// <paramref name="varianceNoise"/> (same length as the sample) if given, otherwise standard normals from
    /// <paramref name="rng"/>.
    /// </summary>
    public abstract float[] Step(ReadOnlySpan<float> modelOutput, double t, ReadOnlySpan<float> sample, Rng? rng = null,
        ReadOnlySpan<float> varianceNoise = default);

    /// <summary>The same on tensors of any shape (float32 in, float32 out, same shape).</summary>
    public Tensor Step(Tensor modelOutput, double t, Tensor sample, Rng? rng = null)
    {
        var r = Step(modelOutput.ToArray<float>(), t, sample.ToArray<float>(), rng);
        return Tensor.FromArray(r, sample.ShapeArray());
    }

    /// <summary>The noise of a stochastic step: the given one, or fresh standard normals from rng.</summary>
    protected static float[] Noise(int n, Rng? rng, ReadOnlySpan<float> given, string who)
    {
        if (!given.IsEmpty)
        {
            if (given.Length != n) throw new ArgumentException($"{who}: variance noise has {given.Length} values, the sample {n}");
            return given.ToArray();
        }
        if (rng is null) throw new ArgumentException($"{who}: this step is stochastic; pass an Rng (or the variance noise)");
        var z = new float[n];
        for (int i = 0; i < n; i++) z[i] = (float)rng.NextNormal();
        return z;
    }

    protected static void CheckSizes(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample)
    {
        if (modelOutput.Length != sample.Length)
            throw new ArgumentException($"model output has {modelOutput.Length} values, the sample {sample.Length}");
    }

    /// <summary>diffusers' index_for_timestep: the first match (the second when the grid repeats t), else the last index.</summary>
    protected int IndexOf(double t)
    {
        int first = -1;
        for (int i = 0; i < Timesteps.Length; i++)
        {
            if (Timesteps[i] != t) continue;
            if (first >= 0) return i;
            first = i;
        }
        return first >= 0 ? first : Timesteps.Length - 1;
    }

    /// <summary>Throws unless SetTimesteps ran.</summary>
    protected void CheckReady()
    {
        if (Timesteps.Length == 0) throw new InvalidOperationException($"{Name}: call SetTimesteps before Step");
    }
}

/// <summary>The samplers by name, for the CLI (<c>generate schedule --sampler NAME</c>) and sampling.</summary>
public static class Schedulers
{
    public static readonly string[] Names = ["ddpm", "ddim", "dpmpp", "euler"];

    /// <summary>A sampler by registry name ("ddpm", "ddim", "dpmpp" (alias "dpmsolver++"), "euler" (alias "flow_euler")).</summary>
    public static DiffusionScheduler Create(string name, SchedulerOptions? options = null)
    {
        options ??= new SchedulerOptions();
        return name.ToLowerInvariant() switch
        {
            "ddpm" => new DdpmScheduler(options),
            "ddim" => new DdimScheduler(options),
            "dpmpp" or "dpmsolver++" or "dpm++" => new DpmSolverMultistepScheduler(options),
            "euler" or "flow_euler" or "flowmatch_euler" => new FlowMatchEulerScheduler(options),
            _ => throw new ArgumentException($"unknown sampler '{name}' (expected {string.Join(", ", Names)})", nameof(name)),
        };
    }

    /// <summary>Whether the sampler integrates a rectified-flow (velocity) model rather than a DDPM-family one.</summary>
    public static bool IsFlow(string name) => name.ToLowerInvariant() is "euler" or "flow_euler" or "flowmatch_euler";
}
