// Parameter initialisers (timm/PyTorch semantics), all drawing from a seeded Rng.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>Fills <paramref name="values"/> (row-major, for a tensor of <paramref name="shape"/>) from <paramref name="rng"/>.</summary>
public delegate void Initializer(Span<double> values, ReadOnlySpan<int> shape, Rng rng);

public enum FanMode { FanIn, FanOut }

public enum Nonlinearity { Linear, Relu, LeakyRelu, Gelu, Tanh, Sigmoid }

public static class Init
{
    public static Initializer Zeros => (v, _, _) => v.Clear();
    public static Initializer Ones => (v, _, _) => v.Fill(1);
    public static Initializer Constant(double c) => (v, _, _) => v.Fill(c);

    public static Initializer Uniform(double lo, double hi) => (v, _, rng) =>
    {
        for (int i = 0; i < v.Length; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
    };

    public static Initializer Normal(double mean = 0, double std = 1) => (v, _, rng) =>
    {
        for (int i = 0; i < v.Length; i++) v[i] = mean + std * rng.NextNormal();
    };

    /// <summary>
    /// timm's trunc_normal_: normal(mean, std) restricted to the ABSOLUTE interval [a, b] (not a·std).
    /// Sampled by rejection, which gives exactly the truncated distribution.
    /// </summary>
    public static Initializer TruncNormal(double std = 1, double mean = 0, double a = -2, double b = 2)
    {
        if (!(a < b)) throw new ArgumentException("TruncNormal: need a < b.");
        return (v, _, rng) =>
        {
            for (int i = 0; i < v.Length; i++)
            {
                double x;
                int tries = 0;
                do
                {
                    x = mean + std * rng.NextNormal();
                    if (++tries > 10_000) { x = Math.Clamp(x, a, b); break; } // interval far in a tail
                } while (x < a || x > b);
                v[i] = x;
            }
        };
    }

    /// <summary>(fan_in, fan_out) of a weight: Linear (out, in), Conv (out, in/g, kh, kw) → in·kh·kw, out·kh·kw.</summary>
    public static (int FanIn, int FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2) throw new ArgumentException($"Fan in/out needs a weight of rank ≥ 2, got {ShapeUtil.Format(shape)}.");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>torch.nn.init.calculate_gain.</summary>
    public static double Gain(Nonlinearity nl, double negativeSlope = 0.01) => nl switch
    {
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + negativeSlope * negativeSlope)),
        Nonlinearity.Tanh => 5.0 / 3,
        _ => 1.0, // linear, sigmoid; GELU has no gain in torch: ASSUMPTION 1 as for linear
    };

    private static int Fan(ReadOnlySpan<int> shape, FanMode mode) { var (i, o) = Fans(shape); return mode == FanMode.FanIn ? i : o; }

    /// <summary>kaiming_normal_: N(0, gain/√fan).</summary>
    public static Initializer KaimingNormal(FanMode mode = FanMode.FanIn, Nonlinearity nl = Nonlinearity.Relu, double negativeSlope = 0.01) => (v, shape, rng) =>
    {
        double std = Gain(nl, negativeSlope) / Math.Sqrt(Fan(shape, mode));
        for (int i = 0; i < v.Length; i++) v[i] = std * rng.NextNormal();
    };

    /// <summary>kaiming_uniform_: U(−b, b) with b = gain·√(3/fan).</summary>
    public static Initializer KaimingUniform(FanMode mode = FanMode.FanIn, Nonlinearity nl = Nonlinearity.Relu, double negativeSlope = 0.01) => (v, shape, rng) =>
    {
        double bound = Gain(nl, negativeSlope) * Math.Sqrt(3.0 / Fan(shape, mode));
        for (int i = 0; i < v.Length; i++) v[i] = bound * (2 * rng.NextDouble() - 1);
    };

    /// <summary>xavier_uniform_: U(−b, b) with b = gain·√(6/(fan_in + fan_out)).</summary>
    public static Initializer XavierUniform(double gain = 1.0) => (v, shape, rng) =>
    {
        var (fi, fo) = Fans(shape);
        double bound = gain * Math.Sqrt(6.0 / (fi + fo));
        for (int i = 0; i < v.Length; i++) v[i] = bound * (2 * rng.NextDouble() - 1);
    };

    /// <summary>
    /// PyTorch's default Linear/Conv weight init, kaiming_uniform_(a=√5): U(−1/√fan_in, 1/√fan_in).
    /// </summary>
    public static Initializer TorchDefaultWeight => KaimingUniform(FanMode.FanIn, Nonlinearity.LeakyRelu, Math.Sqrt(5));

    /// <summary>PyTorch's default Linear/Conv bias init: U(−1/√fan_in, 1/√fan_in) with the weight's fan_in.</summary>
    public static Initializer TorchDefaultBias(int fanIn)
    {
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        return Uniform(-bound, bound);
    }

    /// <summary>Applies an initialiser to an existing contiguous tensor in place.</summary>
    public static void Apply(Tensor t, Initializer init, Rng rng)
    {
        var values = new double[t.Numel];
        init(values, t.Shape, rng);
        if (t.DType == DType.F32) { var s = t.Span<float>(); for (int i = 0; i < s.Length; i++) s[i] = (float)values[i]; }
        else values.CopyTo(t.Span<double>());
    }
}
