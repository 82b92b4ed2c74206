// Register-tiled float tile products for the attention forward: S = Q·(scale·Kᵀ) and O += P·V on padded tiles.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ascan.Kernels;

/// <summary>
/// The two products of the streaming forward, small enough (≤ 64×64×HD) that a general packed GEMM spends
/// more time on packing and dispatch than on arithmetic. Kᵀ and V are laid out once per (batch, head)
/// with zero padding (Kᵀ to 64-column tiles, V rows to whole vectors), so every load is a full vector.
/// </summary>
internal static unsafe class AttentionTiles
{
    public const int W = 16; // floats per Vector512

    /// <summary>
    /// s (br, 64), row stride 64 = q (br, hd, row stride hd) · kt (hd, 64 of a row stride ldkt).
    /// Four query rows × four vectors: 16 accumulators, per d 4 loads + 4 broadcasts + 16 FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(float* s, float* q, float* kt, int ldkt, int br, int hd)
    {
        int r = 0;
        for (; r + 4 <= br; r += 4)
        {
            float* q0 = q + r * hd, q1 = q0 + hd, q2 = q1 + hd, q3 = q2 + hd;
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
            for (int d = 0; d < hd; d++)
            {
                float* kr = kt + d * ldkt;
                var k0 = Vector512.Load(kr); var k1 = Vector512.Load(kr + W); var k2 = Vector512.Load(kr + 2 * W); var k3 = Vector512.Load(kr + 3 * W);
                var a = Vector512.Create(q0[d]);
                c00 = Vector512.FusedMultiplyAdd(a, k0, c00); c01 = Vector512.FusedMultiplyAdd(a, k1, c01); c02 = Vector512.FusedMultiplyAdd(a, k2, c02); c03 = Vector512.FusedMultiplyAdd(a, k3, c03);
                a = Vector512.Create(q1[d]);
                c10 = Vector512.FusedMultiplyAdd(a, k0, c10); c11 = Vector512.FusedMultiplyAdd(a, k1, c11); c12 = Vector512.FusedMultiplyAdd(a, k2, c12); c13 = Vector512.FusedMultiplyAdd(a, k3, c13);
                a = Vector512.Create(q2[d]);
                c20 = Vector512.FusedMultiplyAdd(a, k0, c20); c21 = Vector512.FusedMultiplyAdd(a, k1, c21); c22 = Vector512.FusedMultiplyAdd(a, k2, c22); c23 = Vector512.FusedMultiplyAdd(a, k3, c23);
                a = Vector512.Create(q3[d]);
                c30 = Vector512.FusedMultiplyAdd(a, k0, c30); c31 = Vector512.FusedMultiplyAdd(a, k1, c31); c32 = Vector512.FusedMultiplyAdd(a, k2, c32); c33 = Vector512.FusedMultiplyAdd(a, k3, c33);
            }
            float* s0 = s + r * 64;
            c00.Store(s0); c01.Store(s0 + W); c02.Store(s0 + 2 * W); c03.Store(s0 + 3 * W);
            c10.Store(s0 + 64); c11.Store(s0 + 64 + W); c12.Store(s0 + 64 + 2 * W); c13.Store(s0 + 64 + 3 * W);
            c20.Store(s0 + 128); c21.Store(s0 + 128 + W); c22.Store(s0 + 128 + 2 * W); c23.Store(s0 + 128 + 3 * W);
            c30.Store(s0 + 192); c31.Store(s0 + 192 + W); c32.Store(s0 + 192 + 2 * W); c33.Store(s0 + 192 + 3 * W);
        }
        for (; r < br; r++)
        {
            float* q0 = q + r * hd;
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int d = 0; d < hd; d++)
            {
                float* kr = kt + d * ldkt;
                var a = Vector512.Create(q0[d]);
                c0 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr), c0); c1 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr + W), c1);
                c2 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr + 2 * W), c2); c3 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr + 3 * W), c3);
            }
            float* s0 = s + r * 64;
            c0.Store(s0); c1.Store(s0 + W); c2.Store(s0 + 2 * W); c3.Store(s0 + 3 * W);
        }
    }

    /// <summary>
    /// acc (br, hdp) += p (br, bc of row stride 64) · v (bc, hdp); hdp a multiple of 16.
    /// Four rows × two vectors per pass: 8 accumulators, per key 2 loads + 4 broadcasts + 8 FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulatePv(float* acc, float* p, float* v, int br, int bc, int hdp) =>
        AccumulatePvStrided(acc, p, 64, v, br, bc, hdp);

    /// <summary>
    /// s (br, 16·nv) of row stride lds = q (br, hd, row stride hd) · kt (hd, 16·nv of a row stride ldkt), nv ∈ 1..4:
    /// one key tile of 16–64 columns, so short sequences (16 or 4 tokens) are not padded to 64.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScoresTile(float* s, int lds, float* q, float* kt, int ldkt, int br, int hd, int nv)
    {
        if (nv == 4 && lds == 64) { Scores(s, q, kt, ldkt, br, hd); return; }
        if (nv == 4)
        {
            // Rows of 64 columns at a wider stride: compute into a 64-stride scratch row block, four rows at a time.
            float* tmp = stackalloc float[4 * 64];
            for (int r = 0; r < br; r += 4)
            {
                int rows = Math.Min(4, br - r);
                Scores(tmp, q + r * hd, kt, ldkt, rows, hd);
                for (int i = 0; i < rows; i++) new ReadOnlySpan<float>(tmp + i * 64, 64).CopyTo(new Span<float>(s + (r + i) * lds, 64));
            }
            return;
        }
        for (int r = 0; r < br; r++)
        {
            float* q0 = q + r * hd;
            Vector512<float> c0 = default, c1 = default, c2 = default;
            for (int d = 0; d < hd; d++)
            {
                float* kr = kt + d * ldkt;
                var a = Vector512.Create(q0[d]);
                c0 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr), c0);
                if (nv > 1) c1 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr + W), c1);
                if (nv > 2) c2 = Vector512.FusedMultiplyAdd(a, Vector512.Load(kr + 2 * W), c2);
            }
            float* s0 = s + r * lds;
            c0.Store(s0);
            if (nv > 1) c1.Store(s0 + W);
            if (nv > 2) c2.Store(s0 + 2 * W);
        }
    }

    /// <summary>acc (br, hdp) += p (br, bc of row stride ldp) · v (bc, hdp); hdp a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulatePvStrided(float* acc, float* p, int ldp, float* v, int br, int bc, int hdp)
    {
        int r = 0;
        for (; r + 4 <= br; r += 4)
        {
            float* p0 = p + r * ldp, p1 = p0 + ldp, p2 = p1 + ldp, p3 = p2 + ldp;
            float* a0 = acc + r * hdp, a1 = a0 + hdp, a2 = a1 + hdp, a3 = a2 + hdp;
            int j = 0;
            for (; j + 2 * W <= hdp; j += 2 * W)
            {
                var c00 = Vector512.Load(a0 + j); var c01 = Vector512.Load(a0 + j + W);
                var c10 = Vector512.Load(a1 + j); var c11 = Vector512.Load(a1 + j + W);
                var c20 = Vector512.Load(a2 + j); var c21 = Vector512.Load(a2 + j + W);
                var c30 = Vector512.Load(a3 + j); var c31 = Vector512.Load(a3 + j + W);
                for (int c = 0; c < bc; c++)
                {
                    float* vr = v + c * hdp + j;
                    var v0 = Vector512.Load(vr); var v1 = Vector512.Load(vr + W);
                    var b = Vector512.Create(p0[c]); c00 = Vector512.FusedMultiplyAdd(b, v0, c00); c01 = Vector512.FusedMultiplyAdd(b, v1, c01);
                    b = Vector512.Create(p1[c]); c10 = Vector512.FusedMultiplyAdd(b, v0, c10); c11 = Vector512.FusedMultiplyAdd(b, v1, c11);
                    b = Vector512.Create(p2[c]); c20 = Vector512.FusedMultiplyAdd(b, v0, c20); c21 = Vector512.FusedMultiplyAdd(b, v1, c21);
                    b = Vector512.Create(p3[c]); c30 = Vector512.FusedMultiplyAdd(b, v0, c30); c31 = Vector512.FusedMultiplyAdd(b, v1, c31);
                }
                c00.Store(a0 + j); c01.Store(a0 + j + W); c10.Store(a1 + j); c11.Store(a1 + j + W);
                c20.Store(a2 + j); c21.Store(a2 + j + W); c30.Store(a3 + j); c31.Store(a3 + j + W);
            }
            for (; j < hdp; j += W)
            {
                var c0 = Vector512.Load(a0 + j); var c1 = Vector512.Load(a1 + j); var c2 = Vector512.Load(a2 + j); var c3 = Vector512.Load(a3 + j);
                for (int c = 0; c < bc; c++)
                {
                    var v0 = Vector512.Load(v + c * hdp + j);
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[c]), v0, c0); c1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[c]), v0, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[c]), v0, c2); c3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[c]), v0, c3);
                }
                c0.Store(a0 + j); c1.Store(a1 + j); c2.Store(a2 + j); c3.Store(a3 + j);
            }
        }
        for (; r < br; r++)
        {
            float* p0 = p + r * ldp, a0 = acc + r * hdp;
            for (int j = 0; j < hdp; j += W)
            {
                var c0 = Vector512.Load(a0 + j);
                for (int c = 0; c < bc; c++) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[c]), Vector512.Load(v + c * hdp + j), c0);
                c0.Store(a0 + j);
            }
        }
    }
}
