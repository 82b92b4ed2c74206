// Fréchet Inception Distance as pytorch-fid computes it (calculate_activation_statistics +
// calculate_frechet_distance), in float64, with the matrix square root's trace taken through symmetric eigenvalues.
using Ascan.Core.IO;

namespace Ascan.Training.Eval;

/// <summary>Feature statistics: mean μ (D) and covariance Σ (D×D row-major, ddof 1 as np.cov(rowvar=False)) of N samples.</summary>
public sealed record FidStatistics(double[] Mu, double[] Sigma, int Count)
{
    public int Dim => Mu.Length;
}

/// <summary>
/// FID = |μ₁ − μ₂|² + Tr Σ₁ + Tr Σ₂ − 2·Tr √(Σ₁Σ₂). scipy's sqrtm(Σ₁Σ₂) is replaced by the eigenvalues of the
/// symmetric Σ₁^½·Σ₂·Σ₁^½, which is similar to Σ₁Σ₂: Tr √(Σ₁Σ₂) = Σᵢ √μᵢ, and a negative μᵢ (round-off on a
/// singular product) contributes its square root's real part, 0, as pytorch-fid's covmean.real does. When the trace
/// is not finite, pytorch-fid's fallback: ε·I added to both covariances. Everything in float64; the mean too
/// (pytorch-fid's np.mean of float32 activations accumulates in float32, a difference of ~1e-7 relative in μ).
/// </summary>
public static class Fid
{
    /// <summary>pytorch-fid's eps for the singular-product fallback.</summary>
    public const double DefaultEps = 1e-6;

    /// <summary>Name of the (N, D) tensor in a features file (`generate fid --features A B`).</summary>
    public const string FeaturesTensor = "features";

    /// <summary>μ and Σ of features (N, D), N ≥ 2.</summary>
    public static FidStatistics Statistics(float[,] features)
    {
        int n = features.GetLength(0), d = features.GetLength(1);
        var flat = new float[n * d];
        Buffer.BlockCopy(features, 0, flat, 0, flat.Length * sizeof(float));
        return Statistics(flat, n, d);
    }

    /// <summary>μ and Σ of features stored row-major (N, D), N ≥ 2.</summary>
    public static FidStatistics Statistics(ReadOnlySpan<float> features, int n, int d)
    {
        if (n < 2 || d < 1 || features.Length != (long)n * d)
            throw new ArgumentException($"Fid: need features (N ≥ 2, D ≥ 1), got {features.Length} values for ({n}, {d}).");
        var mu = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mu[j] += features[i * d + j];
        for (int j = 0; j < d; j++) mu[j] /= n;
        // Centered and transposed (D, N): Σ[i, j] is then one contiguous dot of rows i and j.
        var xt = new double[(long)d * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) xt[(long)j * n + i] = features[i * d + j] - mu[j];
        var sigma = new double[d * d];
        Parallel.For(0, d, i =>
        {
            var xi = xt.AsSpan(i * n, n);
            for (int j = i; j < d; j++)
            {
                double c = SymmetricEigen.Dot(xi, xt.AsSpan(j * n, n)) / (n - 1);
                sigma[i * d + j] = c; sigma[j * d + i] = c;
            }
        });
        return new FidStatistics(mu, sigma, n);
    }

    /// <summary>The Fréchet distance of two Gaussians, as pytorch-fid's calculate_frechet_distance.</summary>
    public static double FrechetDistance(FidStatistics a, FidStatistics b, double eps = DefaultEps)
    {
        if (a.Dim != b.Dim) throw new ArgumentException($"Fid: feature widths differ ({a.Dim} and {b.Dim}).");
        int d = a.Dim;
        double diff2 = 0;
        for (int j = 0; j < d; j++) { double t = a.Mu[j] - b.Mu[j]; diff2 += t * t; }
        double tr1 = Trace(a.Sigma, d), tr2 = Trace(b.Sigma, d);
        double trCovmean = TraceSqrtProduct(a.Sigma, b.Sigma, d);
        if (!double.IsFinite(trCovmean))
        {
            // pytorch-fid: "fid calculation produces singular product; adding eps to diagonal of cov estimates".
            trCovmean = TraceSqrtProduct(AddIdentity(a.Sigma, d, eps), AddIdentity(b.Sigma, d, eps), d);
        }
        return diff2 + tr1 + tr2 - 2 * trCovmean;
    }

    /// <summary>FID between two feature sets (N₁, D) and (N₂, D).</summary>
    public static double FromFeatures(float[,] a, float[,] b) => FrechetDistance(Statistics(a), Statistics(b));

    /// <summary>FID between two safetensors files, each with a tensor <c>features</c> (N, D) (F32, F16, BF16 or F64).</summary>
    public static double FromFiles(string pathA, string pathB) => FromFeatures(ReadFeatures(pathA), ReadFeatures(pathB));

    /// <summary>The (N, D) tensor <c>features</c> of a safetensors file.</summary>
    public static float[,] ReadFeatures(string path)
    {
        SafetensorsFile.RequireFile(path, "features file");
        var file = SafetensorsFile.Open(path);
        if (!file.Contains(FeaturesTensor))
            throw new ArgumentException($"{path}: no tensor '{FeaturesTensor}' (has {string.Join(", ", file.Names)}).");
        var shape = file[FeaturesTensor].Shape.ToArray();
        if (shape.Length != 2) throw new ArgumentException($"{path}: '{FeaturesTensor}' must be (N, D), got rank {shape.Length}.");
        var flat = file.ReadFloat(FeaturesTensor);
        var x = new float[shape[0], shape[1]];
        Buffer.BlockCopy(flat, 0, x, 0, flat.Length * sizeof(float));
        return x;
    }

    /// <summary>
    /// Tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂ (D×D row-major): Σ₁ = QΛQᵀ, B = Qᵀ·Σ₂·Q,
    /// C = Λ^½·B·Λ^½ (similar to Σ₁^½Σ₂Σ₁^½, so to Σ₁Σ₂), Σᵢ √max(μᵢ(C), 0). Non-finite input gives NaN.
    /// </summary>
    public static double TraceSqrtProduct(double[] s1, double[] s2, int d)
    {
        foreach (var v in s1) if (!double.IsFinite(v)) return double.NaN;
        foreach (var v in s2) if (!double.IsFinite(v)) return double.NaN;
        var e1 = SymmetricEigen.Decompose(s1, d, vectors: true);
        var q = e1.Vectors!;                                   // row j = eigenvector j
        var root = e1.Values.Select(l => Math.Sqrt(Math.Max(l, 0))).ToArray();
        // Y[j, :] = Σ₂·q_j (Σ₂ symmetric: its rows are its columns); B[i, j] = q_iᵀ·Y[j, :].
        var y = new double[d * d];
        Parallel.For(0, d, j =>
        {
            var qj = q.AsSpan(j * d, d);
            for (int k = 0; k < d; k++) y[j * d + k] = SymmetricEigen.Dot(s2.AsSpan(k * d, d), qj);
        });
        var c = new double[d * d];
        Parallel.For(0, d, i =>
        {
            var qi = q.AsSpan(i * d, d);
            for (int j = i; j < d; j++)
            {
                // Symmetrised: (B[i, j] + B[j, i]) / 2 removes the round-off asymmetry.
                double bij = 0.5 * (SymmetricEigen.Dot(qi, y.AsSpan(j * d, d)) + SymmetricEigen.Dot(q.AsSpan(j * d, d), y.AsSpan(i * d, d)));
                double cij = root[i] * bij * root[j];
                c[i * d + j] = cij; c[j * d + i] = cij;
            }
        });
        var mu = SymmetricEigen.Decompose(c, d, vectors: false).Values;
        double tr = 0;
        foreach (var m in mu) tr += Math.Sqrt(Math.Max(m, 0));
        return tr;
    }

    private static double Trace(double[] s, int d)
    {
        double t = 0;
        for (int i = 0; i < d; i++) t += s[i * d + i];
        return t;
    }

    private static double[] AddIdentity(double[] s, int d, double eps)
    {
        var r = (double[])s.Clone();
        for (int i = 0; i < d; i++) r[i * d + i] += eps;
        return r;
    }
}
