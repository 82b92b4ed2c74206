// Eigen-decomposition of a real symmetric matrix in float64: Householder tridiagonalisation then the implicit QL
// algorithm with Wilkinson-style shifts (EISPACK's tred2/tql2). No native library; FID's matrix square root uses it.
using System.Numerics;

namespace Ascan.Training.Eval;

/// <summary>
/// A = V·diag(λ)·Vᵀ for a symmetric n×n A (row-major, only symmetric input is meaningful). Eigenvalues ascending;
/// eigenvector j is row j of <see cref="Vectors"/> (n×n row-major), orthonormal.
/// </summary>
public sealed class SymmetricEigen
{
    public int N { get; }

    /// <summary>λ ascending.</summary>
    public double[] Values { get; }

    /// <summary>Row j is the unit eigenvector of Values[j]; null when decomposed with vectors: false.</summary>
    public double[]? Vectors { get; }

    private SymmetricEigen(int n, double[] values, double[]? vectors) { N = n; Values = values; Vectors = vectors; }

    /// <summary>Decomposes a (n×n row-major, read only); <paramref name="vectors"/> false skips the eigenvector work (about 3× faster).</summary>
    public static SymmetricEigen Decompose(ReadOnlySpan<double> a, int n, bool vectors = true)
    {
        if (n < 1 || a.Length != (long)n * n) throw new ArgumentException($"SymmetricEigen: need an n×n matrix, got {a.Length} values for n = {n}.");
        // W holds Vᵀ (W[i·n + k] = V[k][i]), so every inner loop of both phases runs along a contiguous row.
        var w = a.ToArray();
        var d = new double[n];
        var e = new double[n];
        Tridiagonalize(w, d, e, n, vectors);
        QlImplicit(w, d, e, n, vectors);
        // Sort ascending (selection sort on values, swapping vector rows).
        for (int i = 0; i < n - 1; i++)
        {
            int k = i;
            for (int j = i + 1; j < n; j++) if (d[j] < d[k]) k = j;
            if (k == i) continue;
            (d[i], d[k]) = (d[k], d[i]);
            if (vectors)
                for (int t = 0; t < n; t++) (w[i * n + t], w[k * n + t]) = (w[k * n + t], w[i * n + t]);
        }
        return new SymmetricEigen(n, d, vectors ? w : null);
    }

    /// <summary>Householder reduction to tridiagonal form (d diagonal, e sub-diagonal in e[1..]); with vectors, W ends as Qᵀ.</summary>
    private static void Tridiagonalize(double[] w, double[] d, double[] e, int n, bool vectors)
    {
        // V(k, j) := w[j·n + k].
        for (int j = 0; j < n; j++) d[j] = w[j * n + n - 1];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++) { d[j] = w[j * n + i - 1]; w[j * n + i] = 0; w[i * n + j] = 0; }
            }
            else
            {
                // The Householder vector from the scaled row.
                for (int k = 0; k < i; k++) { d[k] /= scale; h += d[k] * d[k]; }
                double f = d[i - 1], g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g; h -= f * g; d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0;
                // p = A·u / h, accumulated into e.
                for (int j = 0; j < i; j++)
                {
                    f = d[j]; w[i * n + j] = f; g = e[j] + w[j * n + j] * f;
                    var col = w.AsSpan(j * n, i);
                    for (int k = j + 1; k < i; k++) { g += col[k] * d[k]; e[k] += col[k] * f; }
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++) { e[j] /= h; f += e[j] * d[j]; }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                // A ← A − u·qᵀ − q·uᵀ.
                for (int j = 0; j < i; j++)
                {
                    f = d[j]; g = e[j];
                    var col = w.AsSpan(j * n, i);
                    for (int k = j; k < i; k++) col[k] -= f * e[k] + g * d[k];
                    d[j] = w[j * n + i - 1]; w[j * n + i] = 0;
                }
            }
            d[i] = h;
        }
        if (!vectors)
        {
            // Without accumulating the transformations the diagonal sits where the reduction left it.
            for (int j = 0; j < n; j++) d[j] = w[j * n + j];
            e[0] = 0;
            return;
        }
        // Accumulate the transformations into Q.
        for (int i = 0; i < n - 1; i++)
        {
            w[i * n + n - 1] = w[i * n + i]; w[i * n + i] = 1; double h = d[i + 1];
            if (h != 0)
            {
                var u = w.AsSpan((i + 1) * n, i + 1);
                for (int k = 0; k <= i; k++) d[k] = u[k] / h;
                for (int j = 0; j <= i; j++)
                {
                    var col = w.AsSpan(j * n, i + 1);
                    double g = Dot(u, col);
                    for (int k = 0; k <= i; k++) col[k] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) w[(i + 1) * n + k] = 0;
        }
        for (int j = 0; j < n; j++) { d[j] = w[j * n + n - 1]; w[j * n + n - 1] = 0; }
        w[(n - 1) * n + n - 1] = 1; e[0] = 0;
    }

    /// <summary>Implicit QL on the tridiagonal (d, e); with vectors the rotations are applied to the rows of W.</summary>
    private static void QlImplicit(double[] w, double[] d, double[] e, int n, bool vectors)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0, eps = Math.Pow(2, -52);
        for (int l = 0; l < n; l++)
        {
            // Find a small sub-diagonal element.
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1) m++;
            if (m > l)
            {
                int iter = 0;
                do
                {
                    if (++iter > 60 * n) throw new ArithmeticException("SymmetricEigen: QL did not converge.");
                    // Shift from the leading 2×2.
                    double g = d[l], p = (d[l + 1] - g) / (2 * e[l]), r = Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r); d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1], h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    // The implicit QL sweep.
                    p = d[m];
                    double c = 1, c2 = c, c3 = c, el1 = e[l + 1], s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2; c2 = c; s2 = s;
                        g = c * e[i]; h = c * p; r = Hypot(p, e[i]);
                        e[i + 1] = s * r; s = e[i] / r; c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        if (vectors) Rotate(w.AsSpan(i * n, n), w.AsSpan((i + 1) * n, n), c, s);
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p; d[l] = c * p;
                } while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f; e[l] = 0;
        }
    }

    /// <summary>(vi, vi1) ← (c·vi − s·vi1, s·vi + c·vi1).</summary>
    private static void Rotate(Span<double> vi, Span<double> vi1, double c, double s)
    {
        for (int k = 0; k < vi.Length; k++)
        {
            double h = vi1[k];
            vi1[k] = s * vi[k] + c * h;
            vi[k] = c * vi[k] - s * h;
        }
    }

    private static double Hypot(double a, double b)
    {
        double x = Math.Abs(a), y = Math.Abs(b);
        if (x < y) (x, y) = (y, x);
        if (x == 0) return 0;
        double t = y / x;
        return x * Math.Sqrt(1 + t * t);
    }

    /// <summary>Σ a·b with SIMD lanes (fixed order, deterministic).</summary>
    internal static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int i = 0, vw = Vector<double>.Count;
        var acc = Vector<double>.Zero;
        for (; i <= a.Length - vw; i += vw) acc += new Vector<double>(a[i..]) * new Vector<double>(b[i..]);
        double sum = Vector.Sum(acc);
        for (; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
