// TEMPORARY stubs for Ops.Relu/Gelu/Silu until branch `elementwise` commits its Core activations; delete then.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>
/// TEMPORARY (see file header): scalar activations with a backward, used by the activation modules only
/// until <c>Ops.Relu/Gelu/Silu</c> exist on main. GELU's erf here is Abramowitz–Stegun 7.1.26 (|err| ≤ 1.5e-7),
/// not exact; the real op is the reference.
/// </summary>
internal static class PendingOps
{
    private enum Kind { Relu, Gelu, Silu }

    public static Tensor Relu(Tensor x) => Apply(x, Kind.Relu);
    public static Tensor Gelu(Tensor x) => Apply(x, Kind.Gelu);
    public static Tensor Silu(Tensor x) => Apply(x, Kind.Silu);

    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }

    private static double F(Kind k, double v) => k switch
    {
        Kind.Relu => v > 0 ? v : 0,
        Kind.Gelu => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
        _ => v / (1 + Math.Exp(-v)),
    };

    private static double DF(Kind k, double v)
    {
        switch (k)
        {
            case Kind.Relu: return v > 0 ? 1 : 0;
            case Kind.Gelu: return 0.5 * (1 + Erf(v / Math.Sqrt(2))) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
            default: { double s = 1 / (1 + Math.Exp(-v)); return s * (1 + v * (1 - s)); }
        }
    }

    private static Tensor Apply(Tensor x, Kind k)
    {
        var xs = x.ToArray<double>();
        var ys = xs.Select(v => F(k, v)).ToArray();
        var y = x.DType == DType.F32 ? Tensor.FromArray(ys.Select(v => (float)v).ToArray(), x.ShapeArray()) : Tensor.FromArray(ys, x.ShapeArray());
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new ActNode(x, xs, k));
        return y;
    }

    private sealed class ActNode(Tensor x, double[] xs, Kind k) : Node(x)
    {
        protected override void Backward(Tensor g)
        {
            var d = GradOf(0); if (d == null) return;
            var gs = g.ToArray<double>();
            var dv = new double[gs.Length];
            for (int i = 0; i < gs.Length; i++) dv[i] = gs[i] * DF(k, xs[i]);
            var dt = d.DType == DType.F32 ? Tensor.FromArray(dv.Select(v => (float)v).ToArray(), d.ShapeArray()) : Tensor.FromArray(dv, d.ShapeArray());
            Ops.AddInPlace(d, dt);
        }
    }
}
