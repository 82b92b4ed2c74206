// Matrix products: matmul (batched, broadcasting) and linear, on the packed GEMM.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// Shapes: a (…, M, K) · b (…, K, N) → (…, M, N), batch dims broadcast. A 1-d a is a row (1, K)
    /// and a 1-d b a column (K, 1); those unit dims are dropped from the result, as in torch.matmul.
    /// </summary>
    public static Tensor Matmul(Tensor a, Tensor b)
    {
        using var _ = Profiler.Scope("Matmul");
        CheckSameDType(a, b, "Matmul");
        if (a.Rank == 0 || b.Rank == 0) throw new ArgumentException("Matmul needs tensors of rank ≥ 1.");
        bool aVec = a.Rank == 1, bVec = b.Rank == 1;
        var a2 = aVec ? a.Reshape(1, a.Dim(0)) : a;
        var b2 = bVec ? b.Reshape(b.Dim(0), 1) : b;
        var y = MatmulNd(a2, b2);
        if (aVec) y = y.Squeeze(-2);
        if (bVec) y = y.Squeeze(-1);
        return y;
    }

    private static Tensor MatmulNd(Tensor a, Tensor b)
    {
        int m = a.Dim(-2), k = a.Dim(-1), k2 = b.Dim(-2), n = b.Dim(-1);
        if (k != k2)
            throw new ArgumentException($"Matmul: inner dimensions differ: {ShapeUtil.Format(a.Shape)} · {ShapeUtil.Format(b.Shape)}.");
        var batch = ShapeUtil.Broadcast(a.Shape[..^2], b.Shape[..^2]);
        var yShape = batch.Concat(new[] { m, n }).ToArray();
        MacCounter.Add((long)ShapeUtil.Numel(batch) * m * n * k);
        var y = Tensor.Empty(yShape, a.DType, zero: false);
        var ac = a.Contiguous(); var bc = b.Contiguous();
        if (a.DType == DType.F32) BatchedGemm<float>(y, ac, false, bc, false, batch, m, n, k, accumulate: false);
        else BatchedGemm<double>(y, ac, false, bc, false, batch, m, n, k, accumulate: false);
        if (Autograd.NeedsGraph(a, b)) Autograd.Record(y, new MatmulNode(a, b, ac, bc, batch));
        return y;
    }

    /// <summary>
    /// For each batch index of <paramref name="batch"/>: c[i] (+)= op(a[i]) · op(b[i]), where a, b and c
    /// broadcast over the batch (a broadcast c accumulates over the batch, in order).
    /// Matrix shapes are given as op(A) (m, k) and op(B) (k, n).
    /// </summary>
    private static void BatchedGemm<T>(Tensor c, Tensor a, bool transA, Tensor b, bool transB, int[] batch, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cs = c.Storage.Array<T>(); var asp = a.Storage.Array<T>(); var bsp = b.Storage.Array<T>();
        int count = ShapeUtil.Numel(batch);
        var aOff = BatchOffsets(a, batch); var bOff = BatchOffsets(b, batch); var cOff = BatchOffsets(c, batch);
        int lda = transA ? m : k, ldb = transB ? k : n;
        bool cBroadcast = count > 1 && cOff.Distinct().Count() < count;
        for (int i = 0; i < count; i++)
            Gemm.Compute<T>(transA, transB, m, n, k, asp.AsSpan(a.Offset + aOff[i], m * k), lda,
                bsp.AsSpan(b.Offset + bOff[i], k * n), ldb, cs.AsSpan(c.Offset + cOff[i], m * n), n,
                accumulate || (cBroadcast && Array.IndexOf(cOff, cOff[i]) < i));
    }

    /// <summary>Element offset of each batch matrix of t (contiguous, rank ≥ 2) within the broadcast batch shape.</summary>
    private static int[] BatchOffsets(Tensor t, int[] batch)
    {
        int count = ShapeUtil.Numel(batch), mat = t.Dim(-1) * t.Dim(-2);
        var tb = t.Shape[..^2];
        var strides = new int[batch.Length];
        int acc = mat;
        for (int i = tb.Length - 1; i >= 0; i--)
        {
            int d = batch.Length - tb.Length + i;
            strides[d] = tb[i] == 1 ? 0 : acc;
            acc *= tb[i];
        }
        var r = new int[count];
        var idx = new int[batch.Length];
        for (int i = 0; i < count; i++)
        {
            int o = 0; for (int d = 0; d < batch.Length; d++) o += idx[d] * strides[d];
            r[i] = o;
            for (int d = batch.Length - 1; d >= 0; d--) { if (++idx[d] < batch[d]) break; idx[d] = 0; }
        }
        return r;
    }

    private sealed class MatmulNode : Node
    {
        private Tensor? _a, _b;
        private readonly int[] _batch;

        public MatmulNode(Tensor a, Tensor b, Tensor ac, Tensor bc, int[] batch) : base(a, b)
        {
            _a = ac.Detach(); _b = bc.Detach(); _batch = batch;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var a = _a!; var b = _b!;
            int m = a.Dim(-2), k = a.Dim(-1), n = b.Dim(-1);
            var da = GradOf(0); var db = GradOf(1);
            // dA = dY · Bᵀ  (m, n)·(n, k);  dB = Aᵀ · dY  (k, m)·(m, n). A broadcast operand's
            // gradient buffer has its own (smaller) batch, so BatchedGemm accumulates over the batch.
            if (da != null)
            {
                if (a.DType == DType.F32) BatchedGemm<float>(da, g, false, b, true, _batch, m, k, n, accumulate: true);
                else BatchedGemm<double>(da, g, false, b, true, _batch, m, k, n, accumulate: true);
            }
            if (db != null)
            {
                if (a.DType == DType.F32) BatchedGemm<float>(db, a, true, g, false, _batch, k, n, m, accumulate: true);
                else BatchedGemm<double>(db, a, true, g, false, _batch, k, n, m, accumulate: true);
            }
        }

        protected internal override void ReleaseSaved() { ReleaseOwned(_a, Inputs[0]); ReleaseOwned(_b, Inputs[1]); _a = null; _b = null; }
    }

    /// <summary>
    /// Shapes: x (…, in), weight (out, in), bias (out), residual (…, out) → (…, out). y = x·Wᵀ + b (+ residual), bias and
    /// residual added in the GEMM's output step: a transformer block's skip connection costs no separate sum and no
    /// stored projection output.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, Tensor? residual = null)
    {
        using var _ = Profiler.Scope("Linear");
        CheckSameDType(x, weight, "Linear");
        if (weight.Rank != 2) throw new ArgumentException($"Linear: weight must be (out, in), got {ShapeUtil.Format(weight.Shape)}.");
        int inF = weight.Dim(1), outF = weight.Dim(0);
        if (x.Rank == 0 || x.Dim(-1) != inF)
            throw new ArgumentException($"Linear: input {ShapeUtil.Format(x.Shape)} does not end in {inF} features (weight {ShapeUtil.Format(weight.Shape)}{(weight.Name != null ? " " + weight.Name : "")}).");
        if (bias != null && (bias.Rank != 1 || bias.Dim(0) != outF))
            throw new ArgumentException($"Linear: bias shape {ShapeUtil.Format(bias.Shape)}, expected [{outF}].");
        var yShape = x.ShapeArray(); yShape[^1] = outF;
        if (residual != null)
        {
            CheckSameDType(x, residual, "Linear");
            if (!residual.Shape.SequenceEqual(yShape))
                throw new ArgumentException($"Linear: residual shape {ShapeUtil.Format(residual.Shape)}, expected the output's {ShapeUtil.Format(yShape)}.");
        }
        var xc = x.Contiguous(); var wc = weight.Contiguous(); var bc = bias?.Contiguous(); var rc = residual?.Contiguous();
        int rows = x.Numel / inF;
        MacCounter.Add((long)rows * inF * outF);
        var y = Tensor.Empty(yShape, x.DType, zero: false);
        if (x.DType == DType.F32) LinearForward<float>(y, xc, wc, bc, rc, rows, inF, outF);
        else LinearForward<double>(y, xc, wc, bc, rc, rows, inF, outF);
        if (Autograd.NeedsGraph(x, weight, bias, residual)) Autograd.Record(y, new LinearNode(x, weight, bias, residual, xc, wc, rows));
        return y;
    }

    private static void LinearForward<T>(Tensor y, Tensor x, Tensor w, Tensor? b, Tensor? r, int rows, int inF, int outF)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var epi = b == null && r == null ? default
            : new Epilogue<T>(b == null ? default : b.ReadSpan<T>(), Activation.None, r == null ? default : r.ReadSpan<T>());
        Gemm.Compute(false, true, rows, outF, inF, x.Span<T>(), inF, w.Span<T>(), inF, y.Span<T>(), outF, false, epi);
    }

    private sealed class LinearNode : Node
    {
        private Tensor? _x, _w;
        private readonly int _rows;
        private readonly bool _hasBias, _hasResidual;

        public LinearNode(Tensor x, Tensor w, Tensor? b, Tensor? residual, Tensor xc, Tensor wc, int rows) : base(Present(x, w, b, residual))
        {
            _x = xc.Detach(); _w = wc.Detach(); _rows = rows; _hasBias = b != null; _hasResidual = residual != null;
        }

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            if (g.DType == DType.F32) Run<float>(g); else Run<double>(g);
        }

        private void Run<T>(Tensor g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var x = _x!; var w = _w!;
            int outF = w.Dim(0), inF = w.Dim(1), rows = _rows;
            var gs = g.Span<T>();
            // dX (rows, in) (+)= dY (rows, out) · W (out, in): written outright when it is the first gradient of x.
            if (GradOfForOverwrite(0, out bool fresh) is { } dx)
                Gemm.Compute(false, false, rows, inF, outF, gs, outF, w.Span<T>(), inF, dx.Span<T>(), inF, accumulate: !fresh);
            // dW (out, in) += dYᵀ (out, rows) · X (rows, in)
            if (GradOf(1) is { } dw) Gemm.Compute(true, false, outF, inF, rows, gs, outF, x.Span<T>(), inF, dw.Span<T>(), inF, true);
            // dB (out) += column sums of dY; dResidual += dY
            if (_hasBias && GradOf(2) is { } db) SumTo(db, g);
            if (_hasResidual && GradOf(_hasBias ? 3 : 2) is { } dr) AddInPlace(dr, g);
        }

        protected internal override void ReleaseSaved() { ReleaseOwned(_x, Inputs[0]); ReleaseOwned(_w, Inputs[1]); _x = null; _w = null; }
    }
}

public sealed partial class Tensor
{
    public Tensor Matmul(Tensor other) => Ops.Matmul(this, other);
}
