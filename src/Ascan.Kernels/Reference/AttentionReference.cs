// Naive attention twin: the explicit softmax(q·kᵀ·scale + mask)·v with the full score matrix, in double.
using System.Numerics;

namespace Ascan.Kernels;

public static class AttentionReference
{
    /// <summary>Shapes as <see cref="AttentionKernel.Forward{T}"/>; the probabilities go through <see cref="SoftmaxReference"/>.</summary>
    public static void Forward<T>(Span<T> o, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        ReadOnlySpan<T> mask, MaskLayout maskLayout, int bh, int tq, int tk, int hd, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new double[tq * tk]; var p = new double[tq * tk];
        for (int b = 0; b < bh; b++)
        {
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                {
                    double acc = 0;
                    for (int d = 0; d < hd; d++) acc += double.CreateTruncating(q[(b * tq + i) * hd + d]) * double.CreateTruncating(k[(b * tk + j) * hd + d]);
                    s[i * tk + j] = acc * scale + (mask.IsEmpty ? 0 : double.CreateTruncating(mask[maskLayout.Offset(b) + i * tk + j]));
                }
            SoftmaxReference.Forward<double>(p, s, tq, tk, log: false);
            for (int i = 0; i < tq; i++)
                for (int d = 0; d < hd; d++)
                {
                    double acc = 0;
                    for (int j = 0; j < tk; j++) acc += p[i * tk + j] * double.CreateTruncating(v[(b * tk + j) * hd + d]);
                    o[(b * tq + i) * hd + d] = T.CreateTruncating(acc);
                }
        }
    }

    /// <summary>dq, dk, dv, dMask (full (BH, Tq, Tk) or empty) += the gradients, through the explicit P and the softmax Jacobian.</summary>
    public static void Backward<T>(Span<T> dq, Span<T> dk, Span<T> dv, Span<T> dMask, ReadOnlySpan<T> dO, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        ReadOnlySpan<T> mask, MaskLayout maskLayout, int bh, int tq, int tk, int hd, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = new double[tq * tk]; var p = new double[tq * tk]; var dp = new double[tq * tk]; var ds = new double[tq * tk];
        double D(ReadOnlySpan<T> t, int i) => double.CreateTruncating(t[i]);
        for (int b = 0; b < bh; b++)
        {
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                {
                    double acc = 0;
                    for (int d = 0; d < hd; d++) acc += D(q, (b * tq + i) * hd + d) * D(k, (b * tk + j) * hd + d);
                    s[i * tk + j] = acc * scale + (mask.IsEmpty ? 0 : D(mask, maskLayout.Offset(b) + i * tk + j));
                }
            SoftmaxReference.Forward<double>(p, s, tq, tk, log: false);
            // dP = dO·Vᵀ, dS = softmax backward of dP, then the three products.
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                {
                    double acc = 0;
                    for (int d = 0; d < hd; d++) acc += D(dO, (b * tq + i) * hd + d) * D(v, (b * tk + j) * hd + d);
                    dp[i * tk + j] = acc;
                }
            Array.Clear(ds);
            SoftmaxReference.Backward<double>(ds, dp, p, tq, tk, log: false);
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                {
                    double g = ds[i * tk + j];
                    if (!dMask.IsEmpty) dMask[(b * tq + i) * tk + j] += T.CreateTruncating(g);
                    for (int d = 0; d < hd; d++)
                    {
                        if (!dq.IsEmpty) dq[(b * tq + i) * hd + d] += T.CreateTruncating(g * scale * D(k, (b * tk + j) * hd + d));
                        if (!dk.IsEmpty) dk[(b * tk + j) * hd + d] += T.CreateTruncating(g * scale * D(q, (b * tq + i) * hd + d));
                        if (!dv.IsEmpty) dv[(b * tk + j) * hd + d] += T.CreateTruncating(p[i * tk + j] * D(dO, (b * tq + i) * hd + d));
                    }
                }
        }
    }
}
