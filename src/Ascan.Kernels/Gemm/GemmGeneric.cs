// Cache-blocked generic GEMM (any IEEE type): the float64 path for gradient checks and the no-SIMD float fallback.
using System.Numerics;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>
/// Row-times-panel GEMM: for each row of C, acc[j] += A[i,p]·B[p,j] for p ascending, in
/// <see cref="Vector{T}"/> lanes. Each element is summed in exactly the reference's order with
/// separate multiply and add, so results equal <see cref="GemmReference"/> bit for bit.
/// transB is handled by packing a column block of B once (k-major) so the inner loop is contiguous.
/// </summary>
internal static class GemmGeneric
{
    private const int NcBlock = 256; // columns of C per pass: the acc row and B block stay in cache

    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc,
        bool accumulate, Epilogue<T> epilogue)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m <= 0 || n <= 0) return;
        int nb = Math.Min(NcBlock, n);
        T[] accArray = new T[nb];
        T[]? packed = transB ? new T[(long)k * nb] : null;
        Span<T> acc = accArray;
        for (int jc = 0; jc < n; jc += nb)
        {
            int nc = Math.Min(nb, n - jc);
            if (packed != null)
            {
                for (int j = 0; j < nc; j++)
                {
                    var src = b.Slice((jc + j) * ldb, k);
                    for (int p = 0; p < k; p++) packed[p * nc + j] = src[p];
                }
            }
            for (int i = 0; i < m; i++)
            {
                var accRow = acc[..nc];
                accRow.Clear();
                for (int p = 0; p < k; p++)
                {
                    T av = transA ? a[p * lda + i] : a[i * lda + p];
                    ReadOnlySpan<T> bRow = packed != null ? packed.AsSpan(p * nc, nc) : b.Slice(p * ldb + jc, nc);
                    MultiplyAdd(accRow, av, bRow);
                }
                var cRow = c.Slice(i * ldc + jc, nc);
                for (int j = 0; j < nc; j++)
                {
                    T v = accRow[j];
                    if (accumulate) v += cRow[j];
                    cRow[j] = v;
                }
                if (!epilogue.IsIdentity)
                {
                    var bias = epilogue.Bias.IsEmpty ? default : epilogue.Bias.Slice(jc, nc);
                    bool first = epilogue.ResidualBeforeAct && !epilogue.Residual.IsEmpty;
                    ApplyEpilogue(cRow, bias, first ? Activation.None : epilogue.Act);
                    if (!epilogue.Residual.IsEmpty)
                    {
                        var r = epilogue.Residual.Slice(i * ldc + jc, nc);
                        for (int j = 0; j < nc; j++) cRow[j] += r[j];
                    }
                    if (first) ApplyEpilogue(cRow, default, epilogue.Act);
                }
            }
        }
    }

    // acc += av·b with a separate multiply and add (never fused), lane by lane.
    private static void MultiplyAdd<T>(Span<T> acc, T av, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && acc.Length >= Vector<T>.Count)
        {
            var va = new Vector<T>(av);
            var accV = MemoryMarshal.Cast<T, Vector<T>>(acc);
            var bV = MemoryMarshal.Cast<T, Vector<T>>(b);
            for (int v = 0; v < accV.Length; v++) accV[v] += va * bV[v];
            j = accV.Length * Vector<T>.Count;
        }
        for (; j < acc.Length; j++) acc[j] += av * b[j];
    }

    /// <summary>Applies bias and activation to a row; float uses the vectorised epilogue, others the reference formula.</summary>
    public static void ApplyEpilogue<T>(Span<T> row, ReadOnlySpan<T> bias, Activation act) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            EpilogueMath.ApplyRow(MemoryMarshal.Cast<T, float>(row), MemoryMarshal.Cast<T, float>(bias), act);
            return;
        }
        var e = new Epilogue<T>(bias, act);
        for (int j = 0; j < row.Length; j++) row[j] = GemmReference.ApplyEpilogue(row[j], j, e);
    }
}
