// Naive twins of the optimizer kernels: the torch.optim update rules written as plain scalar loops.
using System.Numerics;

namespace Ascan.Kernels.Reference;

public static class OptimizerReference
{
    public static void AdamW<T>(Span<T> p, Span<T> m, Span<T> v, Span<T> vMax, ReadOnlySpan<T> g, AdamWStep s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < p.Length; i++)
        {
            T gi = g[i];
            p[i] *= T.CreateTruncating(1 - s.Lr * s.WeightDecay);
            m[i] = m[i] * T.CreateTruncating(s.Beta1) + gi * T.CreateTruncating(1 - s.Beta1);
            v[i] = v[i] * T.CreateTruncating(s.Beta2) + gi * gi * T.CreateTruncating(1 - s.Beta2);
            T vv = v[i];
            if (!vMax.IsEmpty) { vMax[i] = T.Max(vMax[i], v[i]); vv = vMax[i]; }
            T denom = T.Sqrt(vv) / T.CreateTruncating(Math.Sqrt(s.BiasCorrection2)) + T.CreateTruncating(s.Eps);
            p[i] -= T.CreateTruncating(s.Lr / s.BiasCorrection1) * (m[i] / denom);
        }
    }

    public static void Sgd<T>(Span<T> p, Span<T> buf, ReadOnlySpan<T> g, SgdStep s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < p.Length; i++)
        {
            T d = g[i] + T.CreateTruncating(s.WeightDecay) * p[i];
            if (s.Momentum != 0)
            {
                buf[i] = s.FirstStep ? d : buf[i] * T.CreateTruncating(s.Momentum) + T.CreateTruncating(1 - s.Dampening) * d;
                d = s.Nesterov ? d + T.CreateTruncating(s.Momentum) * buf[i] : buf[i];
            }
            p[i] -= T.CreateTruncating(s.Lr) * d;
        }
    }
}
