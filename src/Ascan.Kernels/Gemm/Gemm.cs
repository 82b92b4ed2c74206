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
    /// </summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc,
        bool accumulate, Epilogue<T> epilogue = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (accumulate && !epilogue.IsIdentity)
            throw new ArgumentException("A GEMM epilogue cannot be combined with accumulate.");
        GemmReference.Compute(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, epilogue);
    }
}
