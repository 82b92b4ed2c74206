// Naive two-pass twins of the LayerNorm, BatchNorm and GroupNorm kernels, computed in double: the oracle.
using System.Numerics;

namespace Ascan.Kernels;

public static class NormReference
{
    /// <summary>
    /// Normalises groups of x given as index lists: for each group, mean and biased variance over its
    /// elements, then y = x̂·w[ch] + b[ch] with ch = element index mod c. Also the backward by the
    /// textbook formula. The three norms differ only in which elements form a group.
    /// </summary>
    private static void Groups<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        int c, double eps, IEnumerable<int[]> groups) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var g in groups)
        {
            var (mean, rstd) = Stats(x, g, eps);
            foreach (int i in g)
            {
                double v = (double.CreateTruncating(x[i]) - mean) * rstd;
                int ch = i % c;
                if (!weight.IsEmpty) v *= double.CreateTruncating(weight[ch]);
                if (!bias.IsEmpty) v += double.CreateTruncating(bias[ch]);
                y[i] = T.CreateTruncating(v);
            }
        }
    }

    private static (double mean, double rstd) Stats<T>(ReadOnlySpan<T> x, int[] g, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double mean = 0;
        foreach (int i in g) mean += double.CreateTruncating(x[i]);
        mean /= g.Length;
        double v = 0;
        foreach (int i in g) { double d = double.CreateTruncating(x[i]) - mean; v += d * d; }
        v /= g.Length;
        return (mean, 1.0 / Math.Sqrt(v + eps));
    }

    private static void GroupsBackward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> weight, int c, double eps, IEnumerable<int[]> groups) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dwAcc = new double[c]; var dbAcc = new double[c];
        foreach (var g in groups)
        {
            var (mean, rstd) = Stats(x, g, eps);
            double sg = 0, sgx = 0;
            foreach (int i in g)
            {
                double xh = (double.CreateTruncating(x[i]) - mean) * rstd, d = double.CreateTruncating(dy[i]);
                double gi = d * (weight.IsEmpty ? 1 : double.CreateTruncating(weight[i % c]));
                sg += gi; sgx += gi * xh;
                dwAcc[i % c] += d * xh; dbAcc[i % c] += d;
            }
            if (dx.IsEmpty) continue;
            foreach (int i in g)
            {
                double xh = (double.CreateTruncating(x[i]) - mean) * rstd;
                double gi = double.CreateTruncating(dy[i]) * (weight.IsEmpty ? 1 : double.CreateTruncating(weight[i % c]));
                dx[i] += T.CreateTruncating(rstd * (gi - sg / g.Length - xh * sgx / g.Length));
            }
        }
        for (int ch = 0; ch < c; ch++)
        {
            if (!dw.IsEmpty) dw[ch] += T.CreateTruncating(dwAcc[ch]);
            if (!db.IsEmpty) db[ch] += T.CreateTruncating(dbAcc[ch]);
        }
    }

    private static IEnumerable<int[]> LayerGroups(int rows, int n) =>
        Enumerable.Range(0, rows).Select(r => Enumerable.Range(r * n, n).ToArray());

    private static IEnumerable<int[]> BatchGroups(int m, int c) =>
        Enumerable.Range(0, c).Select(ch => Enumerable.Range(0, m).Select(r => r * c + ch).ToArray());

    private static IEnumerable<int[]> GroupGroups(int batch, int hw, int c, int groups)
    {
        int cg = c / groups;
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < groups; g++)
            {
                var list = new List<int>();
                for (int p = 0; p < hw; p++) for (int j = 0; j < cg; j++) list.Add((b * hw + p) * c + g * cg + j);
                yield return list.ToArray();
            }
    }

    /// <summary>Shapes: x, y (rows, n); weight, bias (n) or empty.</summary>
    public static void LayerNorm<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int rows, int n, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => Groups(y, x, weight, bias, n, eps, LayerGroups(rows, n));

    public static void LayerNormBackward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, int rows, int n, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => GroupsBackward(dx, dw, db, dy, x, weight, n, eps, LayerGroups(rows, n));

    /// <summary>Training-mode BatchNorm with batch statistics. Shapes: x, y (m, c); weight, bias (c) or empty.</summary>
    public static void BatchNorm<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int m, int c, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => Groups(y, x, weight, bias, c, eps, BatchGroups(m, c));

    public static void BatchNormBackward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, int m, int c, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => GroupsBackward(dx, dw, db, dy, x, weight, c, eps, BatchGroups(m, c));

    /// <summary>Shapes: x, y (batch, hw, c) channels last; weight, bias (c) or empty.</summary>
    public static void GroupNorm<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, int batch, int hw, int c, int groups, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => Groups(y, x, weight, bias, c, eps, GroupGroups(batch, hw, c, groups));

    public static void GroupNormBackward<T>(Span<T> dx, Span<T> dw, Span<T> db, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, int batch, int hw, int c, int groups, double eps)
        where T : unmanaged, IFloatingPointIeee754<T> => GroupsBackward(dx, dw, db, dy, x, weight, c, eps, GroupGroups(batch, hw, c, groups));
}
