// DiT's conditioning: sinusoidal timestep features → MLP (TimestepEmbedder), and a class table with a null row for
// classifier-free guidance (LabelEmbedder). Keys: t_embedder.mlp.0/2, y_embedder.embedding_table.
using Ascan.Core;
using Ascan.Kernels;
using Ascan.Nn;

namespace Ascan.Models.Generation;

/// <summary>
/// t → [cos(t·f_i), sin(t·f_i)] with f_i = exp(−ln(max_period)·i/half), i &lt; half (DiT's timestep_embedding, cos
/// half first) → mlp.0 (F → D) → SiLU → mlp.2 (D → D). Weights N(0, 0.02), biases 0 as DiT initialises them.
/// </summary>
public sealed class TimestepEmbedder : Module
{
    public readonly Linear Fc1, Fc2;
    public int FrequencySize { get; }
    public double MaxPeriod { get; }

    public TimestepEmbedder(ParamPath p, int dim, int frequencySize = 256, double maxPeriod = 10000) : base(p)
    {
        FrequencySize = frequencySize;
        MaxPeriod = maxPeriod;
        var mlp = p.Sub("mlp");
        Fc1 = new Linear(mlp.Sub(0), new LinearConfig(frequencySize, dim) { WeightInit = Init.Normal(0, 0.02), BiasInit = Init.Zeros });
        Fc2 = new Linear(mlp.Sub(2), new LinearConfig(dim, dim) { WeightInit = Init.Normal(0, 0.02), BiasInit = Init.Zeros });
    }

    /// <summary>The sinusoidal features, computed in float64 (timesteps need no gradient). Shapes: t (B) → (B, F).</summary>
    public static Tensor Frequencies(Tensor t, int dim, double maxPeriod)
    {
        if (t.Rank != 1) throw new ArgumentException($"TimestepEmbedder: timesteps must be (B), got {ShapeUtil.Format(t.Shape)}.");
        var ts = t.ToArray<double>();
        int half = dim / 2;
        var f = new double[half];
        for (int i = 0; i < half; i++) f[i] = Math.Exp(-Math.Log(maxPeriod) * i / half);
        var e = new float[ts.Length * dim];
        for (int b = 0; b < ts.Length; b++)
            for (int i = 0; i < half; i++)
            {
                double a = ts[b] * f[i];
                e[b * dim + i] = (float)Math.Cos(a);
                e[b * dim + half + i] = (float)Math.Sin(a);
            }
        return Tensor.FromArray(e, ts.Length, dim); // (B, F); an odd F leaves its last column 0, as DiT pads
    }

    /// <summary>Shapes: t (B) float timesteps → (B, D).</summary>
    public Tensor Forward(Tensor t)
    {
        var freq = Frequencies(t, FrequencySize, MaxPeriod);           // (B, F)
        var dtype = Fc1.Weight.DType;
        if (freq.DType != dtype) freq = freq.To(dtype);
        return Fc2.Forward(Fc1.Forward(freq, Activation.Silu));       // (B, D)
    }
}

/// <summary>Class table of NumClasses + 1 rows, N(0, 0.02); row NumClasses is the null class of classifier-free guidance.</summary>
public sealed class LabelEmbedder : Module
{
    public readonly Embedding Table;
    public int NumClasses { get; }

    public LabelEmbedder(ParamPath p, int numClasses, int dim) : base(p)
    {
        NumClasses = numClasses;
        Table = new Embedding(p.Sub("embedding_table"), new EmbeddingConfig(numClasses + 1, dim) { WeightInit = Init.Normal(0, 0.02) });
    }

    /// <summary>The id that selects the null (unconditional) row.</summary>
    public int NullClass => NumClasses;

    /// <summary>Shapes: y (B) class ids in [0, NumClasses] → (B, D).</summary>
    public Tensor Forward(int[] y)
    {
        foreach (int c in y)
            if ((uint)c > (uint)NumClasses)
                throw new ArgumentException($"LabelEmbedder {Path}: class {c} is outside [0, {NumClasses}] ({NumClasses} = the null class).");
        return Table.Forward(y, [y.Length]);
    }
}
