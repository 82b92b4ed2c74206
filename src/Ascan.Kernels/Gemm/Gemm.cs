// Public GEMM entry points: C = op(A)·op(B) (+ C) with an optional fused epilogue (bias, activation).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>Activation applied in the GEMM's output step.</summary>
public enum Activation { None, Relu, Gelu, Silu }

/// <summary>
/// What happens to each output element after the dot products: add <c>Bias[n]</c> (one value per
/// output column), then apply <see cref="Act"/>. An empty bias means no bias.
/// </summary>
public readonly ref struct Epilogue<T>
{
    public readonly ReadOnlySpan<T> Bias;
    public readonly Activation Act;
    public Epilogue(ReadOnlySpan<T> bias, Activation act = Activation.None) { Bias = bias; Act = act; }
    public bool IsIdentity => Bias.IsEmpty && Act == Activation.None;
}

public static class Gemm
{
    /// <summary>
    /// Shapes: op(A) (M, K), op(B) (K, N), C (M, N), all row-major with leading dimensions lda/ldb/ldc.
    /// transA: A is stored (K, M); transB: B is stored (N, K).
    /// accumulate: C += A·B, else C = A·B. The epilogue is applied to the final value
    /// (it requires accumulate == false).
    /// float runs the packed AVX-512 (14×32) / AVX2 (6×16) kernels on up to <see cref="KernelPool.Threads"/>
    /// threads; other types (double for gradient checks) run the generic path, bit-equal to GemmReference.
    /// Results are bit-identical for any thread count and from run to run.
    /// </summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc,
        bool accumulate, Epilogue<T> epilogue = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (accumulate && !epilogue.IsIdentity)
            throw new ArgumentException("A GEMM epilogue cannot be combined with accumulate.");
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, epilogue.Bias.Length, epilogue.Bias.IsEmpty);
        if (m == 0 || n == 0) return;

        if (typeof(T) == typeof(float) && Sgemm.ActivePath != SgemmPath.Generic)
        {
            var af = MemoryMarshal.Cast<T, float>(a);
            var bf = MemoryMarshal.Cast<T, float>(b);
            var cf = MemoryMarshal.Cast<T, float>(c);
            var biasF = MemoryMarshal.Cast<T, float>(epilogue.Bias);
            unsafe
            {
                fixed (float* pa = af) fixed (float* pb = bf) fixed (float* pc = cf) fixed (float* pBias = biasF)
                    Sgemm.Compute(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate,
                        biasF.IsEmpty ? null : pBias, epilogue.Act);
            }
            return;
        }
        GemmGeneric.Compute(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, epilogue);
    }

    // The fast path works on raw pointers, so every index it can touch is checked here once.
    private static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLen, int lda, int bLen, int ldb, int cLen, int ldc, int biasLen, bool noBias)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "GEMM sizes must be non-negative.");
        CheckMatrix("A", transA ? k : m, transA ? m : k, aLen, lda);
        CheckMatrix("B", transB ? n : k, transB ? k : n, bLen, ldb);
        CheckMatrix("C", m, n, cLen, ldc);
        if (!noBias && biasLen < n) throw new ArgumentException($"GEMM bias has {biasLen} values, needs {n}.");
    }

    private static void CheckMatrix(string name, int rows, int cols, int length, int ld)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM {name}: leading dimension {ld} is smaller than the row width {cols}.");
        if ((long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"GEMM {name}: span of {length} is too short for {rows}x{cols} with leading dimension {ld}.");
    }
}
