// Public GEMM entry points: C = op(A)·op(B) (+ C) with an optional fused epilogue (bias, activation).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>Activation applied in the GEMM's output step.</summary>
public enum Activation { None, Relu, Gelu, Silu }

/// <summary>
/// What happens to each output element after the dot products: add <c>Bias[n]</c> (one value per
/// output column), apply <see cref="Act"/>, then add <c>Residual[m, n]</c> (laid out like C, same leading
/// dimension): c = act(a·b + bias) + residual, the skip connection of a residual block in the same pass —
/// or, with <see cref="ResidualBeforeAct"/>, c = act(a·b + bias + residual) (ResNet's ReLU after the add).
/// An empty bias or residual means none.
/// </summary>
public readonly ref struct Epilogue<T>
{
    public readonly ReadOnlySpan<T> Bias;
    public readonly Activation Act;
    public readonly ReadOnlySpan<T> Residual;
    public readonly bool ResidualBeforeAct;
    public Epilogue(ReadOnlySpan<T> bias, Activation act = Activation.None, ReadOnlySpan<T> residual = default, bool residualBeforeAct = false)
    {
        Bias = bias; Act = act; Residual = residual; ResidualBeforeAct = residualBeforeAct;
    }
    public bool IsIdentity => Bias.IsEmpty && Act == Activation.None && Residual.IsEmpty;
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
        if (!epilogue.Residual.IsEmpty) CheckMatrix("residual", m, n, epilogue.Residual.Length, ldc);
        if (m == 0 || n == 0) return;

        if (typeof(T) == typeof(float) && Sgemm.ActivePath != SgemmPath.Generic)
        {
            var af = MemoryMarshal.Cast<T, float>(a);
            var bf = MemoryMarshal.Cast<T, float>(b);
            var cf = MemoryMarshal.Cast<T, float>(c);
            var biasF = MemoryMarshal.Cast<T, float>(epilogue.Bias);
            var resF = MemoryMarshal.Cast<T, float>(epilogue.Residual);
            unsafe
            {
                fixed (float* pa = af) fixed (float* pb = bf) fixed (float* pc = cf) fixed (float* pBias = biasF) fixed (float* pRes = resF)
                    Sgemm.Compute(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate,
                        new EpilogueArgs(biasF.IsEmpty ? null : pBias, epilogue.Act, resF.IsEmpty ? null : pRes, ldc, epilogue.ResidualBeforeAct));
            }
            return;
        }
        GemmGeneric.Compute(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, epilogue);
    }

    /// <summary>
    /// C = act(A·B + bias) + residual with B pre-packed once (<see cref="PackedB"/>): the inference path for
    /// weights, which skips packing B on every call. Shapes: A (M, K) row-major with leading dimension lda,
    /// B (K, N) as packed, C (M, N) with leading dimension ldc (the residual too).
    /// </summary>
    public static unsafe void ComputePacked(int m, ReadOnlySpan<float> a, int lda, PackedB b, Span<float> c, int ldc,
        Epilogue<float> epilogue = default)
    {
        int n = b.N, k = b.K;
        Validate(false, false, m, n, k, a.Length, lda, k * n, n, c.Length, ldc, epilogue.Bias.Length, epilogue.Bias.IsEmpty);
        if (!epilogue.Residual.IsEmpty) CheckMatrix("residual", m, n, epilogue.Residual.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a) fixed (float* pc = c) fixed (float* pBias = epilogue.Bias) fixed (float* pRes = epilogue.Residual)
            Sgemm.Run(new StridedA(pa, lda, false), b.AsSource(), m, n, k, pc, ldc, false,
                new EpilogueArgs(epilogue.Bias.IsEmpty ? null : pBias, epilogue.Act, epilogue.Residual.IsEmpty ? null : pRes, ldc, epilogue.ResidualBeforeAct));
        GC.KeepAlive(b);
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

    internal static void CheckMatrix(string name, int rows, int cols, int length, int ld)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM {name}: leading dimension {ld} is smaller than the row width {cols}.");
        if ((long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"GEMM {name}: span of {length} is too short for {rows}x{cols} with leading dimension {ld}.");
    }
}
