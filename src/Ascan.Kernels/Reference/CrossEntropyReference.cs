// Naive twin of CrossEntropyKernel: explicit log-softmax then NLL, one scalar loop per step (test oracle).
using System.Numerics;

namespace Ascan.Kernels.Reference;

public static class CrossEntropyReference
{
    public static void ForwardHard<T>(Span<T> nll, Span<T> smooth, Span<T> lse, ReadOnlySpan<T> logits, ReadOnlySpan<int> targets,
        ReadOnlySpan<T> weight, int ignoreIndex, int n, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var lp = new T[c];
        for (int i = 0; i < n; i++)
        {
            var row = logits.Slice(i * c, c);
            T m = T.NegativeInfinity;
            for (int k = 0; k < c; k++) m = T.Max(m, row[k]);
            T s = T.Zero;
            for (int k = 0; k < c; k++) s += T.Exp(row[k] - m);
            T l = m + T.Log(s);
            lse[i] = l;
            for (int k = 0; k < c; k++) lp[k] = row[k] - l;
            int t = targets[i];
            if (t == ignoreIndex) { nll[i] = T.Zero; smooth[i] = T.Zero; continue; }
            var wArr = weight.IsEmpty ? null : weight.ToArray();
            T W(int k) => wArr == null ? T.One : wArr[k];
            nll[i] = -W(t) * lp[t];
            T sm = T.Zero;
            for (int k = 0; k < c; k++) sm -= W(k) * lp[k];
            smooth[i] = sm;
        }
    }

    public static void BackwardHard<T>(Span<T> dx, ReadOnlySpan<T> logits, ReadOnlySpan<T> lse, ReadOnlySpan<int> targets,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> coefNll, ReadOnlySpan<T> coefSmooth, int ignoreIndex, int n, int c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            int t = targets[i];
            if (t == ignoreIndex) continue;
            var wArr = weight.IsEmpty ? null : weight.ToArray();
            T W(int k) => wArr == null ? T.One : wArr[k];
            T wSum = T.Zero;
            for (int k = 0; k < c; k++) wSum += W(k);
            for (int k = 0; k < c; k++)
            {
                T p = T.Exp(logits[i * c + k] - lse[i]);
                T delta = k == t ? T.One : T.Zero;
                dx[i * c + k] += coefNll[i] * W(t) * (p - delta) + coefSmooth[i] * (wSum * p - W(k));
            }
        }
    }
}
