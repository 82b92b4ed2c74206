// FID as pytorch-fid computes it: against scipy on tests/fixtures/fid/features, the eigen-decomposition it rests on,
// identical sets, the feature-file route.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Nn.Serialization;
using Ascan.Training.Eval;
using Xunit.Abstractions;

namespace Ascan.Training.Tests;

public class FidTests(ITestOutputHelper output)
{
    private static float[,] Features(FixtureFile f, string name)
    {
        var t = f.Input(name);
        var x = new float[t.Shape[0], t.Shape[1]];
        for (int i = 0; i < t.Shape[0]; i++)
            for (int j = 0; j < t.Shape[1]; j++) x[i, j] = (float)t.Data[i * t.Shape[1] + j];
        return x;
    }

    /// <summary>a (200, 64) vs b (150, 64), a vs c (40, 64: N &lt; D, singular Σ) both ways, a vs a: scipy's values within 1e-6 relative.</summary>
    [Theory]
    [InlineData("ab")]
    [InlineData("ac")]
    [InlineData("ca")]
    public void Fid_MatchesScipy_FixtureFeatures(string pair)
    {
        var f = FixtureFile.Load("fid/features");
        double expected = f.Get($"fid.{pair}").Data[0];
        double actual = Fid.FromFeatures(Features(f, pair[..1]), Features(f, pair[1..]));
        double rel = Math.Abs(actual - expected) / Math.Abs(expected);
        output.WriteLine($"fid.{pair}: C# {actual:R}, scipy {expected:R}, relative {rel:g3} (offset fallback in scipy: {f.Metadata[$"offset.{pair}"]}); regenerate: {f.RegenerateCommand}");
        Assert.True(rel < 1e-6, $"fid.{pair}: {actual} vs {expected}");
    }

    [Fact]
    public void Fid_IdenticalFeatures_IsZero()
    {
        var f = FixtureFile.Load("fid/features");
        foreach (var name in new[] { "a", "c" })
        {
            var x = Features(f, name);
            double fid = Fid.FromFeatures(x, x);
            output.WriteLine($"{name} vs itself: {fid:g3} (scipy gives {f.Get("fid.aa").Data[0]:g3} for a)");
            Assert.True(Math.Abs(fid) < 1e-9, $"{name}: {fid}");
        }
    }

    [Fact]
    public void Fid_Statistics_MeanAndCovarianceDdof1()
    {
        var x = new float[,] { { 1, 2 }, { 3, 5 }, { 2, 2 } };
        var s = Fid.Statistics(x);
        Assert.Equal([2.0, 3.0], s.Mu);
        // np.cov(x, rowvar=False): [[1, 1.5], [1.5, 3]].
        Assert.Equal([1.0, 1.5, 1.5, 3.0], s.Sigma);
    }

    /// <summary>Both files carry a tensor named features (N, D); the result equals the in-memory route exactly.</summary>
    [Fact]
    public void Fid_FromFiles_EqualsFromFeatures()
    {
        var f = FixtureFile.Load("fid/features");
        var dir = Directory.CreateTempSubdirectory("fid");
        try
        {
            string pa = Path.Combine(dir.FullName, "a.safetensors"), pb = Path.Combine(dir.FullName, "b.safetensors");
            SafetensorsState.Save(pa, new Dictionary<string, Tensor> { ["features"] = f.Input("a").ToTensor(DType.F32) }, asFloat32: true);
            SafetensorsState.Save(pb, new Dictionary<string, Tensor> { ["features"] = f.Input("b").ToTensor(DType.F32) }, asFloat32: true);
            Assert.Equal(Fid.FromFeatures(Features(f, "a"), Features(f, "b")), Fid.FromFiles(pa, pb));
            Assert.ThrowsAny<Exception>(() => Fid.FromFiles(pa, Path.Combine(dir.FullName, "missing.safetensors")));
        }
        finally { dir.Delete(true); }
    }

    /// <summary>V·diag(λ)·Vᵀ rebuilds A, V orthonormal, λ ascending, and the values-only path gives the same λ; sizes 1, 3, 33 and a singular one.</summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(33, false)]
    [InlineData(40, true)]
    public void SymmetricEigen_Reconstructs(int n, bool singular)
    {
        var rng = new Random(n);
        int rank = singular ? n / 4 : n;
        var g = new double[n * rank];
        for (int i = 0; i < g.Length; i++) g[i] = rng.NextDouble() * 2 - 1;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < rank; k++) s += g[i * rank + k] * g[j * rank + k];
                a[i * n + j] = s + (singular ? 0 : (i == j ? 0 : 0.1 * Math.Sin(i + j)));
            }
        var e = SymmetricEigen.Decompose(a, n);
        var v = e.Vectors!;
        double err = 0, orth = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, o = 0;
                for (int k = 0; k < n; k++) { s += v[k * n + i] * e.Values[k] * v[k * n + j]; o += v[i * n + k] * v[j * n + k]; }
                err = Math.Max(err, Math.Abs(s - a[i * n + j]));
                orth = Math.Max(orth, Math.Abs(o - (i == j ? 1 : 0)));
            }
        for (int i = 1; i < n; i++) Assert.True(e.Values[i - 1] <= e.Values[i]);
        var only = SymmetricEigen.Decompose(a, n, vectors: false).Values;
        double dv = only.Zip(e.Values, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"n {n}: reconstruction {err:g3}, orthogonality {orth:g3}, values-only vs full {dv:g3}");
        Assert.True(err < 1e-12 * n && orth < 1e-12 * n && dv < 1e-12 * n);
    }
}
