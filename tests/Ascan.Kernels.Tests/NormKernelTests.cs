// LayerNorm, BatchNorm and GroupNorm kernels against their naive double twins (forward and backward).
using System.Numerics;

namespace Ascan.Kernels.Tests;

public class NormKernelTests
{
    private static void CheckLayerNorm<T>(int rows, int n, bool affine, double offset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(n * 7 + rows);
        var x = NormTestUtil.Random<T>(rng, rows * n, 2, offset);
        var w = affine ? NormTestUtil.Random<T>(rng, n, 1, 1) : [];
        var b = affine ? NormTestUtil.Random<T>(rng, n) : [];
        var dy = NormTestUtil.Random<T>(rng, rows * n);
        var y = new T[rows * n]; var yr = new T[rows * n]; var mean = new T[rows]; var rstd = new T[rows];
        LayerNormKernel.Forward<T>(y, mean, rstd, x, w, b, rows, n, 1e-5);
        NormReference.LayerNorm<T>(yr, x, w, b, rows, n, 1e-5);
        NormTestUtil.Close<T>(yr, y, 1e-4, 2e-5, $"LayerNorm forward n={n}");

        var dx = NormTestUtil.Random<T>(new Random(1), rows * n); var dxr = (T[])dx.Clone();
        var dw = new T[affine ? n : 0]; var db = new T[affine ? n : 0]; var dwr = new T[dw.Length]; var dbr = new T[db.Length];
        LayerNormKernel.Backward<T>(dx, dw, db, dy, x, w, mean, rstd, rows, n);
        NormReference.LayerNormBackward<T>(dxr, dwr, dbr, dy, x, w, rows, n, 1e-5);
        NormTestUtil.Close<T>(dxr, dx, 1e-3, 1e-4, $"LayerNorm dx n={n}");
        NormTestUtil.Close<T>(dwr, dw, 1e-4, 1e-4, $"LayerNorm dw n={n}");
        NormTestUtil.Close<T>(dbr, db, 1e-4, 1e-4, $"LayerNorm db n={n}");
    }

    [Fact]
    public void LayerNorm_MatchesReference_AllLengths()
    {
        foreach (int n in NormTestUtil.Lengths(1031, 3075))
        {
            CheckLayerNorm<float>(3, n, affine: true, offset: 0);
            CheckLayerNorm<double>(3, n, affine: n % 2 == 0, offset: 0);
        }
    }

    [Fact]
    public void LayerNorm_MatchesReference_LargeMeanAndParallelRows()
    {
        // A mean far from 0 checks the shifted one-pass variance; 300×257 rows run in several blocks.
        CheckLayerNorm<float>(5, 333, affine: true, offset: 50);
        CheckLayerNorm<float>(300, 257, affine: true, offset: 0.5);
        CheckLayerNorm<double>(300, 257, affine: false, offset: 3);
    }

    private static void CheckBatchNorm<T>(int m, int c, bool affine, bool training) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(c * 13 + m);
        var x = NormTestUtil.Random<T>(rng, m * c, 2, 0.7);
        var w = affine ? NormTestUtil.Random<T>(rng, c, 1, 1) : [];
        var b = affine ? NormTestUtil.Random<T>(rng, c) : [];
        var dy = NormTestUtil.Random<T>(rng, m * c);
        var mean = new T[c]; var variance = new T[c]; var rstd = new T[c];
        if (training) BatchNormKernel.Statistics<T>(mean, variance, x, m, c);
        else { mean = NormTestUtil.Random<T>(rng, c, 0.5); variance = NormTestUtil.Random<T>(rng, c, 0.5, 1); }
        var y = new T[m * c];
        BatchNormKernel.Forward<T>(y, rstd, x, mean, variance, w, b, m, c, 1e-5);
        var yr = new T[m * c];
        if (training) NormReference.BatchNorm<T>(yr, x, w, b, m, c, 1e-5);
        else
            for (int i = 0; i < m * c; i++)
            {
                int ch = i % c;
                double v = (double.CreateTruncating(x[i]) - double.CreateTruncating(mean[ch])) / Math.Sqrt(double.CreateTruncating(variance[ch]) + 1e-5);
                yr[i] = T.CreateTruncating(v * (affine ? double.CreateTruncating(w[ch]) : 1) + (affine ? double.CreateTruncating(b[ch]) : 0));
            }
        NormTestUtil.Close<T>(yr, y, 1e-4, 2e-5, $"BatchNorm forward c={c} training={training}");

        var dx = new T[m * c]; var dw = new T[affine ? c : 0]; var db = new T[affine ? c : 0];
        BatchNormKernel.Backward<T>(dx, dw, db, dy, x, w, mean, rstd, m, c, training);
        var dxr = new T[m * c]; var dwr = new T[dw.Length]; var dbr = new T[db.Length];
        if (training) NormReference.BatchNormBackward<T>(dxr, dwr, dbr, dy, x, w, m, c, 1e-5);
        else
            for (int i = 0; i < m * c; i++)
            {
                int ch = i % c;
                double r = 1 / Math.Sqrt(double.CreateTruncating(variance[ch]) + 1e-5), d = double.CreateTruncating(dy[i]);
                dxr[i] = T.CreateTruncating(d * r * (affine ? double.CreateTruncating(w[ch]) : 1));
                if (affine) { dwr[ch] += T.CreateTruncating(d * (double.CreateTruncating(x[i]) - double.CreateTruncating(mean[ch])) * r); dbr[ch] += dy[i]; }
            }
        NormTestUtil.Close<T>(dxr, dx, 1e-3, 1e-4, $"BatchNorm dx c={c} training={training}");
        NormTestUtil.Close<T>(dwr, dw, 1e-4, 1e-4, $"BatchNorm dw c={c}");
        NormTestUtil.Close<T>(dbr, db, 1e-4, 1e-4, $"BatchNorm db c={c}");
    }

    [Fact]
    public void BatchNorm_MatchesReference_AllChannelCounts()
    {
        foreach (int c in NormTestUtil.Lengths(1031))
        {
            CheckBatchNorm<float>(5, c, affine: true, training: true);
            CheckBatchNorm<double>(4, c, affine: c % 2 == 1, training: true);
        }
    }

    [Fact]
    public void BatchNorm_MatchesReference_EvalAndParallelRows()
    {
        CheckBatchNorm<float>(7, 33, affine: true, training: false);
        CheckBatchNorm<double>(3, 17, affine: false, training: false);
        CheckBatchNorm<float>(600, 67, affine: true, training: true);
        CheckBatchNorm<double>(900, 48, affine: true, training: true);
    }

    private static void CheckGroupNorm<T>(int batch, int hw, int c, int groups, bool affine) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(c * 17 + hw + groups);
        var x = NormTestUtil.Random<T>(rng, batch * hw * c, 2, 0.3);
        var w = affine ? NormTestUtil.Random<T>(rng, c, 1, 1) : [];
        var b = affine ? NormTestUtil.Random<T>(rng, c) : [];
        var dy = NormTestUtil.Random<T>(rng, batch * hw * c);
        var y = new T[x.Length]; var yr = new T[x.Length]; var mean = new T[batch * groups]; var rstd = new T[batch * groups];
        GroupNormKernel.Forward<T>(y, mean, rstd, x, w, b, batch, hw, c, groups, 1e-5);
        NormReference.GroupNorm<T>(yr, x, w, b, batch, hw, c, groups, 1e-5);
        NormTestUtil.Close<T>(yr, y, 1e-4, 2e-5, $"GroupNorm forward c={c} g={groups}");
        var dx = new T[x.Length]; var dw = new T[affine ? c : 0]; var db = new T[affine ? c : 0];
        var dxr = new T[x.Length]; var dwr = new T[dw.Length]; var dbr = new T[db.Length];
        GroupNormKernel.Backward<T>(dx, dw, db, dy, x, w, mean, rstd, batch, hw, c, groups);
        NormReference.GroupNormBackward<T>(dxr, dwr, dbr, dy, x, w, batch, hw, c, groups, 1e-5);
        NormTestUtil.Close<T>(dxr, dx, 1e-3, 1e-4, $"GroupNorm dx c={c} g={groups}");
        NormTestUtil.Close<T>(dwr, dw, 1e-4, 1e-4, $"GroupNorm dw c={c}");
        NormTestUtil.Close<T>(dbr, db, 1e-4, 1e-4, $"GroupNorm db c={c}");
    }

    [Fact]
    public void GroupNorm_MatchesReference_AllChannelCounts()
    {
        foreach (int c in NormTestUtil.Lengths(1031).Where(c => c > 0))
        {
            int groups = c % 4 == 0 ? 4 : c % 3 == 0 ? 3 : 1;
            CheckGroupNorm<float>(2, 3, c, groups, affine: true);
            CheckGroupNorm<double>(2, 2, c, c, affine: c % 2 == 0); // one channel per group
        }
    }

    [Fact]
    public void GroupNorm_MatchesReference_ParallelSamples()
    {
        CheckGroupNorm<float>(3, 64, 256, 32, affine: true);
        CheckGroupNorm<double>(4, 33, 96, 8, affine: true);
    }

    [Fact]
    public void Norms_BitIdentical_AcrossThreadCounts()
    {
        // Reductions (dw/db partials, BatchNorm statistics) are split by size, never by thread count.
        float[] Run(int threads)
        {
            int saved = KernelPool.Threads;
            KernelPool.Threads = threads;
            try
            {
                var rng = new Random(3);
                int rows = 400, n = 257, m = 900, c = 48;
                var x = NormTestUtil.Random<float>(rng, rows * n, 2, 0.5); var w = NormTestUtil.Random<float>(rng, n, 1, 1); var dy = NormTestUtil.Random<float>(rng, rows * n);
                var mean = new float[rows]; var rstd = new float[rows]; var y = new float[rows * n];
                var dx = new float[rows * n]; var dw = new float[n]; var db = new float[n];
                LayerNormKernel.Forward<float>(y, mean, rstd, x, w, default, rows, n, 1e-5);
                LayerNormKernel.Backward<float>(dx, dw, db, dy, x, w, mean, rstd, rows, n);
                var bx = NormTestUtil.Random<float>(rng, m * c, 2, 0.5); var bm = new float[c]; var bv = new float[c];
                BatchNormKernel.Statistics<float>(bm, bv, bx, m, c);
                var gx = NormTestUtil.Random<float>(rng, 4 * 100 * c); var gy = new float[gx.Length]; var gm = new float[16]; var gr = new float[16];
                var gdx = new float[gx.Length]; var gdw = new float[c]; var gdb = new float[c];
                GroupNormKernel.Forward<float>(gy, gm, gr, gx, default, default, 4, 100, c, 4, 1e-5);
                GroupNormKernel.Backward<float>(gdx, gdw, gdb, gx, gx, default, gm, gr, 4, 100, c, 4);
                return [.. y, .. dx, .. dw, .. db, .. bm, .. bv, .. gy, .. gdx, .. gdw, .. gdb];
            }
            finally { KernelPool.Threads = saved; }
        }
        Assert.Equal(Run(1), Run(Environment.ProcessorCount));
    }
}
