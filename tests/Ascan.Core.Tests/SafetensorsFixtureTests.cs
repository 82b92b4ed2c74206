// Reads the fixtures written by tools/gen_fixtures.py: the hand-built known-values file and the io cases through FixtureFile.
using Ascan.Core.IO;
using Xunit.Sdk;

namespace Ascan.Core.Tests;

public sealed class SafetensorsFixtureTests
{
    [Fact]
    public void Safetensors_ReadsPythonWrittenFile_KnownValues()
    {
        var file = SafetensorsFile.Open(OpFixture.PathOf("io/known_values"));
        Assert.Equal(0, (8 + file.HeaderLength) % 8);
        Assert.Equal("hand-written values", file.Metadata["note"]);
        Assert.Equal("known_values", file.Metadata["case"]);

        Assert.Equal(SafetensorsDType.F32, file["f32"].DType);
        Assert.Equal([2, 3], file["f32"].Shape);
        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 1f, 1.5f], file.ReadFloat("f32"));

        Assert.Equal(SafetensorsDType.F16, file["f16"].DType);
        Assert.Equal([1f, -2.5f, 0.333251953125f, 65504f, 5.9604645e-8f], file.ReadFloat("f16"));

        Assert.Equal(SafetensorsDType.BF16, file["bf16"].DType);
        Assert.Equal([2, 2], file["bf16"].Shape);
        Assert.Equal([1.0, -3.0, 0.0078125, 3.140625], file.ReadDouble("bf16"));

        Assert.Equal(SafetensorsDType.I64, file["i64"].DType);
        Assert.Equal([0L, -1L, 1L << 40], file.ReadInt64("i64"));
        Assert.Equal([0.0, -1.0, 1099511627776.0], file.ReadDouble("i64"));
        Assert.Equal([7L, -7L], file.ReadInt64("i32"));
        Assert.Equal([0.1, -1e300], file.ReadDouble("f64"));

        Assert.Empty(file["scalar"].Shape);
        Assert.Equal([7.25f], file.ReadFloat("scalar"));
        Assert.Equal([0, 3], file["empty"].Shape);
        Assert.Empty(file.ReadFloat("empty"));
        Assert.Equal(SafetensorsDType.BOOL, file["mask"].DType);
        Assert.Equal([1L, 0L, 1L], file.ReadInt64("mask"));
    }

    [Fact]
    public void Safetensors_RewriteOfPythonFile_ReadsBackEqual()
    {
        // Our writer and the Python writer agree on layout: copy every float tensor through ours and compare.
        var source = SafetensorsFile.Open(OpFixture.PathOf("io/matmul"));
        string path = Path.Combine(Path.GetTempPath(), $"ascan-rewrite-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafetensorsFile.Write(path,
                source.Names.Select(n => SafetensorsTensor.FromDouble(n, source[n].Shape, source.ReadDouble(n), source[n].DType)),
                source.Metadata.ToDictionary());
            Assert.Equal(File.ReadAllBytes(OpFixture.PathOf("io/matmul")), File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FixtureFile_Matmul_MatchesForwardAndBackward()
    {
        var fx = FixtureFile.Load("io/matmul");
        Assert.Equal("matmul", fx.Op);
        var (aShape, a) = fx.Input("a");
        var (bShape, b) = fx.Input("b");
        int m = aShape[0], k = aShape[1], n = bShape[1];
        Assert.Equal(k, bShape[0]);

        var output = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++)
                    output[i * n + j] += a[i * k + p] * b[p * n + j];
        fx.AssertShape("out", [m, n]);
        fx.AssertClose("out", output, rtol: 1e-12, atol: 1e-14);

        // dA = dOut · Bᵀ, dB = Aᵀ · dOut
        var g = fx.GradOut.Data;
        var dA = new double[m * k];
        var dB = new double[k * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++)
                {
                    dA[i * k + p] += g[i * n + j] * b[p * n + j];
                    dB[p * n + j] += a[i * k + p] * g[i * n + j];
                }
        fx.AssertClose("grad.a", dA, rtol: 1e-12, atol: 1e-14);
        fx.AssertClose("grad.b", dB, rtol: 1e-12, atol: 1e-14);
        Assert.Equal(["a", "b"], fx.Grads.Keys.Order());
        Assert.True(fx.Float32Error("out") is > 0 and < 1e-5);
    }

    [Fact]
    public void FixtureFile_Gather_HasIntegerInputAndParams()
    {
        var fx = FixtureFile.Load("io/gather");
        double scale = fx.Params.GetProperty("scale").GetDouble();
        Assert.Equal(2.0, scale);
        var (xShape, x) = fx.Input("x");
        var idxTensor = fx.Input("idx");
        long[] idx = idxTensor.ToInt64();
        int rows = xShape[0], cols = xShape[1], picks = idxTensor.Shape[1];

        var output = new double[rows * picks];
        var dX = new double[rows * cols];
        var g = fx.GradOut.Data;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < picks; j++)
            {
                output[i * picks + j] = x[i * cols + idx[i * picks + j]] * scale;
                dX[i * cols + idx[i * picks + j]] += g[i * picks + j] * scale;  // repeated indices accumulate
            }
        fx.AssertClose("out", output, rtol: 0, atol: 0);
        fx.AssertClose("grad.x", dX, rtol: 1e-15, atol: 0);
        Assert.False(fx.Has("grad.idx"));
        Assert.Equal(["x"], fx.Grads.Keys);
    }

    [Fact]
    public void FixtureFile_ModuleCase_HasStateTupleOutputsAndParameterGrads()
    {
        var fx = FixtureFile.Load("io/linear");
        var (_, x) = fx.Input("x");
        var (wShape, w) = fx.State["weight"];
        var bias = fx.State["bias"].Data;
        int outF = wShape[0], inF = wShape[1], batch = x.Length / inF;
        Assert.Equal(3, fx.Params.GetProperty("in_features").GetInt32());
        Assert.Equal(["0", "1"], fx.Outputs.Keys.Order());

        // out.0 = x Wᵀ + b; out.1 = rowsum(out.0); L = Σ out.0·gout.0 + Σ out.1·gout.1
        var y = new double[batch * outF];
        var rowSum = new double[batch];
        for (int i = 0; i < batch; i++)
            for (int o = 0; o < outF; o++)
            {
                double s = bias[o];
                for (int p = 0; p < inF; p++)
                    s += x[i * inF + p] * w[o * inF + p];
                y[i * outF + o] = s;
                rowSum[i] += s;
            }
        fx.AssertClose("out.0", y, 1e-12, 1e-14);
        fx.AssertClose("out.1", rowSum, 1e-12, 1e-14);

        var g0 = fx.Get("gout.0").Data;
        var g1 = fx.Get("gout.1").Data;
        var dY = new double[batch * outF];
        for (int i = 0; i < batch; i++)
            for (int o = 0; o < outF; o++)
                dY[i * outF + o] = g0[i * outF + o] + g1[i];
        var dX = new double[x.Length];
        var dW = new double[w.Length];
        var dB = new double[outF];
        for (int i = 0; i < batch; i++)
            for (int o = 0; o < outF; o++)
            {
                dB[o] += dY[i * outF + o];
                for (int p = 0; p < inF; p++)
                {
                    dX[i * inF + p] += dY[i * outF + o] * w[o * inF + p];
                    dW[o * inF + p] += dY[i * outF + o] * x[i * inF + p];
                }
            }
        fx.AssertClose("grad.x", dX, 1e-12, 1e-14);
        fx.AssertClose("grad.param.weight", dW, 1e-12, 1e-14);
        fx.AssertClose("grad.param.bias", dB, 1e-12, 1e-14);
        Assert.Equal(["bias", "weight"], fx.StateGrads.Keys.Order());
        Assert.Equal(["x"], fx.Grads.Keys);
    }

    [Fact]
    public void FixtureFile_AssertClose_FailureReportsFixtureDifferencesAndRegeneration()
    {
        var fx = FixtureFile.Load("io/matmul");
        var wrong = (double[])fx.Output.Data.Clone();
        wrong[5] += 0.5;
        var ex = Assert.Throws<XunitException>(() => fx.AssertClose("out", wrong, rtol: 1e-6, atol: 1e-6));
        Assert.Contains("io/matmul", ex.Message);
        Assert.Contains("1 of 8 elements differ", ex.Message);
        Assert.Contains("max abs diff 0.5 at [5]", ex.Message);
        Assert.Contains("max rel diff", ex.Message);
        Assert.Contains("expected: [", ex.Message);
        Assert.Contains("/usr/bin/python3 tools/gen_fixtures.py --only io", ex.Message);

        var length = Assert.Throws<XunitException>(() => fx.AssertClose("out", new double[3], 1e-6, 1e-6));
        Assert.Contains("length 3, expected 8", length.Message);

        var floats = Array.ConvertAll(fx.Output.Data, v => (float)v);
        fx.AssertClose("out", floats, rtol: 1e-6, atol: 1e-6);
        var nan = (double[])fx.Output.Data.Clone();
        nan[0] = double.NaN;
        Assert.Throws<XunitException>(() => fx.AssertClose("out", nan, 1, 1));
    }

    [Fact]
    public void FixtureFile_MissingFixtureOrTensor_SaysHowToRegenerate()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => FixtureFile.Load("nosuchfamily/case"));
        Assert.Contains("tools/gen_fixtures.py --only nosuchfamily", missing.Message);

        var fx = FixtureFile.Load("io/matmul.safetensors");
        var ex = Assert.Throws<KeyNotFoundException>(() => fx.Get("grad.c"));
        Assert.Contains("in.a", ex.Message);
    }
}
