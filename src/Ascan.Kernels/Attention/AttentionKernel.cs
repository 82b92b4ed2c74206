// Fused scaled-dot-product attention: tiled online-softmax forward saving the row log-sum-exp, FlashAttention-2-style backward.
// Shapes: q, o, dq (BH, Tq, HD); k, v, dk, dv (BH, Tk, HD); lse (BH, Tq); mask (Bm, NHm, Tq, Tk) with Bm ∈ {1, B}, NHm ∈ {1, NH}.
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>Where the additive mask of a (batch, head) pair starts: b·BatchStride + h·HeadStride (0 strides broadcast).</summary>
public readonly record struct MaskLayout(int Heads, int BatchStride, int HeadStride)
{
    public int Offset(int bh) => bh / Heads * BatchStride + bh % Heads * HeadStride;
}

public static class AttentionKernel
{
    /// <summary>Query rows per tile.</summary>
    public const int TileQ = 64;
    /// <summary>Key rows per tile.</summary>
    public const int TileK = 64;

    /// <summary>
    /// o = softmax(q·kᵀ·scale + mask)·v for each of the bh (batch·head) slices, never holding a Tq×Tk
    /// matrix: each query tile streams over key tiles keeping a running max m and sum l per row,
    /// rescaling its output accumulator when the max grows. Saves lse = m + log l per query row.
    /// An empty mask means none. Parallel over bh.
    /// </summary>
    public static unsafe void Forward<T>(Span<T> o, Span<T> lse, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        ReadOnlySpan<T> mask, MaskLayout maskLayout, int bh, int tq, int tk, int hd, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* po = o) fixed (T* pl = lse) fixed (T* pq = q) fixed (T* pk = k) fixed (T* pv = v) fixed (T* pm = mask)
        {
            var op = new Pinned<T>(po, o.Length); var lp = new Pinned<T>(pl, lse.Length);
            var qp = new Pinned<T>(pq, q.Length); var kp = new Pinned<T>(pk, k.Length); var vp = new Pinned<T>(pv, v.Length);
            var mp = new Pinned<T>(pm, mask.Length);
            Action<int> body = typeof(T) == typeof(float)
                ? i => ForwardSliceFloat(MemoryMarshal.Cast<T, float>(op.Slice(i * tq * hd, tq * hd)), MemoryMarshal.Cast<T, float>(lp.Slice(i * tq, tq)),
                    MemoryMarshal.Cast<T, float>(qp.Slice(i * tq * hd, tq * hd)), MemoryMarshal.Cast<T, float>(kp.Slice(i * tk * hd, tk * hd)),
                    MemoryMarshal.Cast<T, float>(vp.Slice(i * tk * hd, tk * hd)),
                    mp.IsEmpty ? default : MemoryMarshal.Cast<T, float>(mp.Slice(maskLayout.Offset(i), tq * tk)), tq, tk, hd, float.CreateTruncating(scale))
                : i => ForwardSlice(op.Slice(i * tq * hd, tq * hd), lp.Slice(i * tq, tq),
                qp.Slice(i * tq * hd, tq * hd), kp.Slice(i * tk * hd, tk * hd), vp.Slice(i * tk * hd, tk * hd),
                mp.IsEmpty ? default : mp.Slice(maskLayout.Offset(i), tq * tk), tq, tk, hd, scale);
            if ((long)bh * tq * tk * hd < 1 << 14) for (int i = 0; i < bh; i++) body(i);
            else KernelPool.Run(bh, body);
        }
    }

    /// <summary>
    /// The float forward of one (batch, head) slice on register-tiled products (<see cref="AttentionTiles"/>):
    /// the same streaming softmax as <see cref="ForwardSlice{T}"/>, with scale folded into the padded Kᵀ.
    /// </summary>
    private static unsafe void ForwardSliceFloat(Span<float> o, Span<float> lse, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> mask, int tq, int tk, int hd, float scale)
    {
        fixed (float* po = o) fixed (float* pl = lse) fixed (float* pq = q) fixed (float* pk = k) fixed (float* pv = v) fixed (float* pm = mask)
            ForwardSliceFloat(po, hd, pl, pq, hd, pk, pv, hd, mask.IsEmpty ? null : pm, tq, tk, hd, scale);
    }

    /// <summary>
    /// One (batch, head) slice on raw rows: query row i at q + i·ldq, key/value row j at k/v + j·ldkv, output row i
    /// at o + i·ldo, so q, k, v can be read in place from a fused (B, T, 3, NH, HD) projection and o written
    /// straight into (B, T, NH, HD). lse may be null (inference keeps no statistics); mask is (tq, tk) or null.
    /// </summary>
    private static unsafe void ForwardSliceFloat(float* o, int ldo, float* lse, float* q, int ldq, float* k, float* v, int ldkv,
        float* mask, int tq, int tk, int hd, float scale)
    {
        if (tk <= ShortKeys) { ForwardSliceShort(o, ldo, lse, q, ldq, k, v, ldkv, mask, tq, tk, hd, scale); return; }
        int tkp = (tk + TileK - 1) / TileK * TileK, hdp = (hd + AttentionTiles.W - 1) / AttentionTiles.W * AttentionTiles.W;
        var pool = ArrayPool<float>.Shared;
        var kt = pool.Rent(hd * tkp + AttentionTiles.W); var vpad = pool.Rent(tk * hdp + AttentionTiles.W);
        var s = pool.Rent(TileQ * TileK); var acc = pool.Rent(TileQ * hdp);
        var rowMax = pool.Rent(TileQ); var rowSum = pool.Rent(TileQ);
        var qTile = ldq == hd ? null : pool.Rent(TileQ * hd);
        try
        {
            // scale·Kᵀ (hd, tkp) and V (tk, hdp), zero-padded so the tile loops load whole vectors.
            kt.AsSpan(0, hd * tkp).Clear();
            for (int j = 0; j < tk; j++)
            {
                float* kr = k + (nint)j * ldkv;
                for (int d = 0; d < hd; d++) kt[d * tkp + j] = kr[d] * scale;
            }
            vpad.AsSpan(0, tk * hdp).Clear();
            for (int j = 0; j < tk; j++) new ReadOnlySpan<float>(v + (nint)j * ldkv, hd).CopyTo(vpad.AsSpan(j * hdp, hd));
            fixed (float* pkt = kt) fixed (float* pv = vpad) fixed (float* ps = s) fixed (float* pacc = acc) fixed (float* pqt = qTile)
            {
                for (int i0 = 0; i0 < tq; i0 += TileQ)
                {
                    int br = Math.Min(TileQ, tq - i0);
                    // Strided queries are gathered into a dense tile once (the score loop reads each row hd times).
                    float* qi = q + (nint)i0 * ldq;
                    if (qTile != null)
                    {
                        for (int r = 0; r < br; r++) new ReadOnlySpan<float>(qi + (nint)r * ldq, hd).CopyTo(qTile.AsSpan(r * hd, hd));
                        qi = pqt;
                    }
                    acc.AsSpan(0, br * hdp).Clear();
                    rowMax.AsSpan(0, br).Fill(float.NegativeInfinity);
                    rowSum.AsSpan(0, br).Clear();
                    for (int j0 = 0; j0 < tk; j0 += TileK)
                    {
                        int bc = Math.Min(TileK, tk - j0);
                        // S = Q_i·(scale·K_jᵀ) (br, 64; the first bc columns are real)
                        AttentionTiles.Scores(ps, qi, pkt + j0, tkp, br, hd);
                        for (int r = 0; r < br; r++)
                        {
                            var row = s.AsSpan(r * TileK, bc);
                            if (mask != null) RowMath.Add(row, new ReadOnlySpan<float>(mask + (nint)(i0 + r) * tk + j0, bc));
                            float mOld = rowMax[r];
                            float mNew = MathF.Max(mOld, RowMath.Max<float>(row));
                            float shift = float.IsNegativeInfinity(mNew) ? 0f : mNew;
                            float alpha = MathF.Exp(mOld - shift);
                            rowSum[r] = rowSum[r] * alpha + RowMath.ExpSub<float>(row, row, shift);
                            rowMax[r] = mNew;
                            if (alpha != 1f) RowMath.ScaleShift(acc.AsSpan(r * hdp, hdp), acc.AsSpan(r * hdp, hdp), alpha, 0f);
                        }
                        // O_i += P·V_j
                        AttentionTiles.AccumulatePv(pacc, ps, pv + j0 * hdp, br, bc, hdp);
                    }
                    for (int r = 0; r < br; r++)
                    {
                        RowMath.ScaleShift(new Span<float>(o + (nint)(i0 + r) * ldo, hd), acc.AsSpan(r * hdp, hd), 1f / rowSum[r], 0f);
                        if (lse != null) lse[i0 + r] = rowMax[r] + MathF.Log(rowSum[r]);
                    }
                }
            }
        }
        finally
        {
            pool.Return(kt); pool.Return(vpad); pool.Return(s); pool.Return(acc); pool.Return(rowMax); pool.Return(rowSum);
            if (qTile != null) pool.Return(qTile);
        }
    }

    /// <summary>
    /// dst (B·NH, T, HD) = the heads of one part of a token-major tensor: src row (b, t) at (b·T + t)·ld, part at
    /// offset, head h at offset + h·HD — e.g. q, k or v of a (B, T, 3, NH, HD) projection (ld = 3C, offset 0, C, 2C).
    /// </summary>
    public static void GatherHeads<T>(Span<T> dst, ReadOnlySpan<T> src, int b, int t, int nh, int hd, int ld, int offset)
    {
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
            {
                var row = src.Slice((bi * t + ti) * ld + offset, nh * hd);
                for (int h = 0; h < nh; h++) row.Slice(h * hd, hd).CopyTo(dst.Slice(((bi * nh + h) * t + ti) * hd, hd));
            }
    }

    /// <summary>
    /// The adjoint of <see cref="GatherHeads{T}"/>: dst rows (b, t) at offset += src (B·NH, T, HD) per head
    /// (= src with <paramref name="overwrite"/>, for a dst that holds nothing yet).
    /// </summary>
    public static void ScatterAddHeads<T>(Span<T> dst, ReadOnlySpan<T> src, int b, int t, int nh, int hd, int ld, int offset, bool overwrite = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
            {
                var row = dst.Slice((bi * t + ti) * ld + offset, nh * hd);
                for (int h = 0; h < nh; h++)
                {
                    var part = src.Slice(((bi * nh + h) * t + ti) * hd, hd);
                    if (overwrite) part.CopyTo(row.Slice(h * hd, hd));
                    else RowMath.Add(row.Slice(h * hd, hd), part);
                }
            }
    }

    /// <summary>Key counts up to this take the whole-row path (all scores of a query tile at once, no online rescaling).</summary>
    internal const int ShortKeys = 512;

    /// <summary>
    /// The float forward for short key sequences (an image's tokens: 196, 49, 16, 4): a query tile's scores for all
    /// keys at once (at most 64 × 512 floats), one softmax per row, then P·V — none of the streaming softmax's
    /// per-tile rescaling. Key tiles are 16 to 64 columns wide, so 4 or 16 keys are not padded to 64.
    /// The scale is folded into the gathered query tile; Kᵀ is built by 16×16 register transposes.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardSliceShort(float* o, int ldo, float* lse, float* q, int ldq, float* k, float* v, int ldkv,
        float* mask, int tq, int tk, int hd, float scale)
    {
        const int w16 = AttentionTiles.W;
        int tile = tk <= 16 ? 16 : tk <= 32 ? 32 : tk <= 48 ? 48 : 64;   // key tile width
        int tkp = (tk + tile - 1) / tile * tile, hdp = (hd + w16 - 1) / w16 * w16;
        int lds = tkp;
        var pool = ArrayPool<float>.Shared;
        var kt = pool.Rent(hd * tkp + w16); var vpad = pool.Rent(tk * hdp + w16);
        var s = pool.Rent(TileQ * tkp); var acc = pool.Rent(TileQ * hdp); var qTile = pool.Rent(TileQ * hd);
        try
        {
            fixed (float* pkt = kt) fixed (float* pv = vpad) fixed (float* ps = s) fixed (float* pacc = acc) fixed (float* pqt = qTile)
            {
                // Kᵀ (hd, tkp), zero-padded columns; 16 keys × 16 dims per register transpose when hd allows.
                new Span<float>(pkt, hd * tkp).Clear();
                int j0 = 0;
                // (The register transpose is AVX-512 code; elsewhere the scalar loop below builds all of Kᵀ.)
                if (hd % 16 == 0 && Vector512.IsHardwareAccelerated)
                    for (; j0 < tk; j0 += 16)
                        for (int d0 = 0; d0 < hd; d0 += 16)
                            GemmPacking.Transpose16To(new StridedRows(k + (nint)j0 * ldkv + d0, ldkv, Math.Min(16, tk - j0)), pkt + (nint)d0 * tkp + j0, tkp);
                for (; j0 < tk; j0++)
                {
                    float* kr = k + (nint)j0 * ldkv;
                    for (int d = 0; d < hd; d++) pkt[d * tkp + j0] = kr[d];
                }
                if (hdp != hd) new Span<float>(pv, tk * hdp).Clear();
                for (int j = 0; j < tk; j++) new ReadOnlySpan<float>(v + (nint)j * ldkv, hd).CopyTo(new Span<float>(pv + j * hdp, hd));
                for (int i0 = 0; i0 < tq; i0 += TileQ)
                {
                    int br = Math.Min(TileQ, tq - i0);
                    for (int r = 0; r < br; r++)
                        RowMath.ScaleShift(new Span<float>(pqt + r * hd, hd), new ReadOnlySpan<float>(q + (nint)(i0 + r) * ldq, hd), scale, 0f);
                    // S = (scale·Q_i)·Kᵀ over every key tile.
                    for (int jt = 0; jt < tkp; jt += tile)
                        AttentionTiles.ScoresTile(ps + jt, lds, pqt, pkt + jt, tkp, br, hd, tile / w16);
                    new Span<float>(pacc, br * hdp).Clear();
                    for (int r = 0; r < br; r++)
                    {
                        // Padding keys score −∞ (weight 0), so every row pass runs on whole vectors (tkp is a multiple of 16).
                        var row = new Span<float>(ps + r * lds, tkp);
                        row[tk..].Fill(float.NegativeInfinity);
                        if (mask != null) RowMath.Add(row[..tk], new ReadOnlySpan<float>(mask + (nint)(i0 + r) * tk, tk));
                        float m = RowMath.Max<float>(row);
                        float shift = float.IsNegativeInfinity(m) ? 0f : m;
                        float sum = RowMath.ExpSub<float>(row, row, shift);
                        // Normalise P now (one pass over tk) rather than O later: same cost, and O comes out final.
                        RowMath.ScaleShift(row, row, 1f / sum, 0f);
                        if (lse != null) lse[i0 + r] = m + MathF.Log(sum);
                    }
                    AttentionTiles.AccumulatePvStrided(pacc, ps, lds, pv, br, tk, hdp);
                    for (int r = 0; r < br; r++)
                        new ReadOnlySpan<float>(pacc + r * hdp, hd).CopyTo(new Span<float>(o + (nint)(i0 + r) * ldo, hd));
                }
            }
        }
        finally
        {
            pool.Return(kt); pool.Return(vpad); pool.Return(s); pool.Return(acc); pool.Return(qTile);
        }
    }

    /// <summary>
    /// Inference self-attention straight from a fused qkv projection, without the permute copies:
    /// o = softmax(q·kᵀ·scale)·v per (batch, head). Shapes: qkv (B, T, 3, NH, HD) (the output of one
    /// Linear(C → 3C) viewed per token), o (B, T, NH, HD) = (B, T, C), ready for the output projection.
    /// Parallel over (batch, head); no statistics are kept (no backward).
    /// </summary>
    public static unsafe void ForwardQkv(Span<float> o, ReadOnlySpan<float> qkv, int b, int t, int nh, int hd, float scale)
        => ForwardQkv(o, default, qkv, b, t, nh, hd, scale);

    /// <summary>As <see cref="ForwardQkv(Span{float}, ReadOnlySpan{float}, int, int, int, int, float)"/>, also writing each query row's
    /// log-sum-exp to lse (B·NH, T) for the backward when it is not empty.</summary>
    public static unsafe void ForwardQkv(Span<float> o, Span<float> lse, ReadOnlySpan<float> qkv, int b, int t, int nh, int hd, float scale)
    {
        if (!lse.IsEmpty && lse.Length < b * nh * t) throw new ArgumentException($"Attention lse has {lse.Length} values, needs {b * nh * t}.");
        long c = (long)nh * hd;
        if (qkv.Length < b * t * 3 * c) throw new ArgumentException($"Attention qkv has {qkv.Length} values, needs {b * t * 3 * c} for (B {b}, T {t}, 3, NH {nh}, HD {hd}).");
        if (o.Length < b * t * c) throw new ArgumentException($"Attention output has {o.Length} values, needs {b * t * c}.");
        if (b == 0 || t == 0) return;
        fixed (float* po = o) fixed (float* pqkv = qkv) fixed (float* pl = lse)
        {
            nint oA = (nint)po, qA = (nint)pqkv, lA = lse.IsEmpty ? 0 : (nint)pl;
            int ld3 = (int)(3 * c), ld = (int)c;
            Action<int> body = i =>
            {
                int bi = i / nh, h = i - bi * nh;
                float* q = (float*)qA + (nint)bi * t * ld3 + h * hd;
                float* l = lA == 0 ? null : (float*)lA + (nint)i * t;
                ForwardSliceFloat((float*)oA + (nint)bi * t * ld + h * hd, ld, l, q, ld3, q + ld, q + 2 * ld, ld3, null, t, t, hd, scale);
            };
            if ((long)b * nh * t * t * hd < 1 << 14) for (int i = 0; i < b * nh; i++) body(i);
            else KernelPool.Run(b * nh, body);
        }
    }

    private static void ForwardSlice<T>(Span<T> o, Span<T> lse, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        ReadOnlySpan<T> mask, int tq, int tk, int hd, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = ArrayPool<T>.Shared.Rent(TileQ * TileK);
        var rowMax = ArrayPool<T>.Shared.Rent(TileQ);
        var rowSum = ArrayPool<T>.Shared.Rent(TileQ);
        try
        {
            for (int i0 = 0; i0 < tq; i0 += TileQ)
            {
                int br = Math.Min(TileQ, tq - i0);
                var oi = o.Slice(i0 * hd, br * hd);
                var qi = q.Slice(i0 * hd, br * hd);
                oi.Clear();
                rowMax.AsSpan(0, br).Fill(T.NegativeInfinity);
                rowSum.AsSpan(0, br).Clear();
                for (int j0 = 0; j0 < tk; j0 += TileK)
                {
                    int bc = Math.Min(TileK, tk - j0);
                    var st = s.AsSpan(0, br * bc);
                    // S = Q_i·K_jᵀ (br, bc)
                    Gemm.Compute<T>(false, true, br, bc, hd, qi, hd, k.Slice(j0 * hd, bc * hd), hd, st, bc, accumulate: false);
                    for (int r = 0; r < br; r++)
                    {
                        var row = st.Slice(r * bc, bc);
                        RowMath.ScaleShift(row, row, scale, T.Zero);
                        if (!mask.IsEmpty) RowMath.Add(row, mask.Slice((i0 + r) * tk + j0, bc));
                        T mOld = rowMax[r];
                        T mNew = T.Max(mOld, RowMath.Max<T>(row));
                        // A row masked entirely so far (max −∞) shifts by 0: its exps are 0 and nothing is rescaled.
                        T shift = T.IsNegativeInfinity(mNew) ? T.Zero : mNew;
                        T alpha = T.Exp(mOld - shift);
                        T sum = RowMath.ExpSub<T>(row, row, shift);
                        rowSum[r] = rowSum[r] * alpha + sum;
                        rowMax[r] = mNew;
                        if (alpha != T.One) RowMath.ScaleShift(oi.Slice(r * hd, hd), oi.Slice(r * hd, hd), alpha, T.Zero);
                    }
                    // O_i += P·V_j (br, hd)
                    Gemm.Compute<T>(false, false, br, hd, bc, st, bc, v.Slice(j0 * hd, bc * hd), hd, oi, hd, accumulate: true);
                }
                for (int r = 0; r < br; r++)
                {
                    RowMath.ScaleShift(oi.Slice(r * hd, hd), oi.Slice(r * hd, hd), T.One / rowSum[r], T.Zero);
                    lse[i0 + r] = rowMax[r] + T.Log(rowSum[r]);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(s); ArrayPool<T>.Shared.Return(rowMax); ArrayPool<T>.Shared.Return(rowSum);
        }
    }

    /// <summary>
    /// Accumulates dq, dk, dv (each may be empty) and dMask (empty, or full (BH, Tq, Tk), one slice per bh)
    /// from dO, recomputing the probabilities tile by tile from the saved lse:
    ///   P = exp(S − lse), D_i = Σ_d dO_id·O_id,
    ///   dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP − D)  (softmax backward, since Σ_j P_ij dP_ij = D_i),
    ///   dMask += dS,  dQ += dS·K·scale,  dK += dSᵀ·Q·scale.
    /// Parallel over bh: each slice writes only its own rows.
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dq, Span<T> dk, Span<T> dv, Span<T> dMask,
        ReadOnlySpan<T> dO, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<T> lse,
        ReadOnlySpan<T> mask, MaskLayout maskLayout, int bh, int tq, int tk, int hd, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* pdq = dq) fixed (T* pdk = dk) fixed (T* pdv = dv) fixed (T* pdm = dMask) fixed (T* pdo = dO)
        fixed (T* pq = q) fixed (T* pk = k) fixed (T* pv = v) fixed (T* po = o) fixed (T* pl = lse) fixed (T* pm = mask)
        {
            var dqp = new Pinned<T>(pdq, dq.Length); var dkp = new Pinned<T>(pdk, dk.Length); var dvp = new Pinned<T>(pdv, dv.Length);
            var dmp = new Pinned<T>(pdm, dMask.Length); var dop = new Pinned<T>(pdo, dO.Length);
            var qp = new Pinned<T>(pq, q.Length); var kp = new Pinned<T>(pk, k.Length); var vp = new Pinned<T>(pv, v.Length);
            var op = new Pinned<T>(po, o.Length); var lp = new Pinned<T>(pl, lse.Length); var mp = new Pinned<T>(pm, mask.Length);
            int qs = tq * hd, ks = tk * hd;
            Action<int> body = typeof(T) == typeof(float)
                ? i => BackwardSliceFloat(
                    F(dqp.IsEmpty ? default : dqp.Slice(i * qs, qs)), F(dkp.IsEmpty ? default : dkp.Slice(i * ks, ks)),
                    F(dvp.IsEmpty ? default : dvp.Slice(i * ks, ks)), F(dmp.IsEmpty ? default : dmp.Slice(i * tq * tk, tq * tk)),
                    F(dop.Slice(i * qs, qs)), F(qp.Slice(i * qs, qs)), F(kp.Slice(i * ks, ks)), F(vp.Slice(i * ks, ks)), F(op.Slice(i * qs, qs)),
                    F(lp.Slice(i * tq, tq)), F(mp.IsEmpty ? default : mp.Slice(maskLayout.Offset(i), tq * tk)), tq, tk, hd, float.CreateTruncating(scale))
                : i => BackwardSlice(
                dqp.IsEmpty ? default : dqp.Slice(i * qs, qs), dkp.IsEmpty ? default : dkp.Slice(i * ks, ks),
                dvp.IsEmpty ? default : dvp.Slice(i * ks, ks), dmp.IsEmpty ? default : dmp.Slice(i * tq * tk, tq * tk),
                dop.Slice(i * qs, qs), qp.Slice(i * qs, qs), kp.Slice(i * ks, ks), vp.Slice(i * ks, ks), op.Slice(i * qs, qs),
                lp.Slice(i * tq, tq), mp.IsEmpty ? default : mp.Slice(maskLayout.Offset(i), tq * tk), tq, tk, hd, scale);
            if ((long)bh * tq * tk * hd < 1 << 14) for (int i = 0; i < bh; i++) body(i);
            else KernelPool.Run(bh, body);
        }
    }

    private static Span<float> F<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    /// <summary>Rows of src (rows, width) into dst (rows, ld), zero-padded to ld; dst cleared first.</summary>
    private static void Pad(Span<float> dst, ReadOnlySpan<float> src, int rows, int width, int ld)
    {
        dst.Slice(0, rows * ld).Clear();
        for (int r = 0; r < rows; r++) src.Slice(r * width, width).CopyTo(dst.Slice(r * ld, width));
    }

    /// <summary>factor·srcᵀ: src (rows, width) into dst (width, ld), zero-padded to ld columns; dst cleared first.</summary>
    private static void PadTransposed(Span<float> dst, ReadOnlySpan<float> src, int rows, int width, int ld, float factor)
    {
        dst.Slice(0, width * ld).Clear();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++) dst[c * ld + r] = src[r * width + c] * factor;
    }

    /// <summary>
    /// The (br, bc) tile of src (row stride 64) transposed into dst (bc, br; row stride 64), by 16×16 register blocks.
    /// Entries of dst past row bc or column br are left with whatever the blocks carry (zeros, stale values): the
    /// products read only the (bc, br) corner.
    /// </summary>
    private static unsafe void TransposeTile(Span<float> dst, ReadOnlySpan<float> src, int br, int bc)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            for (int r = 0; r < br; r++)
                for (int c = 0; c < bc; c++) dst[c * TileK + r] = src[r * TileK + c];
            return;
        }
        if (dst.Length < TileQ * TileK || src.Length < TileQ * TileK) throw new ArgumentException("TransposeTile needs whole 64×64 tiles.");
        fixed (float* pd = dst) fixed (float* ps = src)
            for (int r0 = 0; r0 < br; r0 += 16)
                for (int c0 = 0; c0 < bc; c0 += 16)
                    GemmPacking.Transpose16To(new StridedRows(ps + r0 * TileK + c0, TileK, Math.Min(16, br - r0)), pd + c0 * TileK + r0, TileK);
    }

    /// <summary>
    /// The float backward of one (batch, head) slice on the register-tiled products: the same recomputation
    /// as <see cref="BackwardSlice{T}"/>, with every operand laid out once, padded, so that
    /// S = Q·(scale·Kᵀ) and dP = dO·Vᵀ are <see cref="AttentionTiles.Scores"/>, and dQ += dS·K,
    /// dV += Pᵀ·dO, dK += dSᵀ·Q are <see cref="AttentionTiles.AccumulatePv"/> (Pᵀ and dSᵀ transposed per tile).
    /// </summary>
    private static unsafe void BackwardSliceFloat(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> dMask, ReadOnlySpan<float> dO,
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> lse, ReadOnlySpan<float> mask,
        int tq, int tk, int hd, float scale)
    {
        bool needS = !dq.IsEmpty || !dk.IsEmpty || !dMask.IsEmpty;
        if (!needS && dv.IsEmpty) return;
        int tkp = (tk + TileK - 1) / TileK * TileK, hdp = (hd + AttentionTiles.W - 1) / AttentionTiles.W * AttentionTiles.W;
        var pool = ArrayPool<float>.Shared;
        var kt = pool.Rent(hd * tkp); var vt = pool.Rent(hd * tkp); var kpad = pool.Rent(tk * hdp);
        var qpad = pool.Rent(tq * hdp); var dopad = pool.Rent(tq * hdp);
        var dqacc = pool.Rent(tq * hdp); var dkacc = pool.Rent(tk * hdp); var dvacc = pool.Rent(tk * hdp);
        var p = pool.Rent(TileQ * TileK); var dp = pool.Rent(TileQ * TileK); var tr = pool.Rent(TileQ * TileK);
        var d = pool.Rent(Math.Max(tq, 1));
        try
        {
            PadTransposed(kt, k, tk, hd, tkp, scale);
            PadTransposed(vt, v, tk, hd, tkp, 1f);
            Pad(kpad, k, tk, hd, hdp); Pad(qpad, q, tq, hd, hdp); Pad(dopad, dO, tq, hd, hdp);
            dqacc.AsSpan(0, tq * hdp).Clear(); dkacc.AsSpan(0, tk * hdp).Clear(); dvacc.AsSpan(0, tk * hdp).Clear();
            for (int i = 0; i < tq; i++) d[i] = RowMath.Dot(dO.Slice(i * hd, hd), o.Slice(i * hd, hd));
            fixed (float* pkt = kt) fixed (float* pvt = vt) fixed (float* pk = kpad) fixed (float* pq = qpad) fixed (float* pdo = dopad)
            fixed (float* pdq = dqacc) fixed (float* pdk = dkacc) fixed (float* pdv = dvacc) fixed (float* pp = p) fixed (float* pdp = dp)
            fixed (float* ptr = tr) fixed (float* pqRaw = q) fixed (float* pdoRaw = dO)
            {
                for (int j0 = 0; j0 < tk; j0 += TileK)
                {
                    int bc = Math.Min(TileK, tk - j0);
                    for (int i0 = 0; i0 < tq; i0 += TileQ)
                    {
                        int br = Math.Min(TileQ, tq - i0);
                        // P = exp(Q_i·(scale·K_jᵀ) + mask − lse)
                        AttentionTiles.Scores(pp, pqRaw + i0 * hd, pkt + j0, tkp, br, hd);
                        for (int r = 0; r < br; r++)
                        {
                            var row = p.AsSpan(r * TileK, bc);
                            if (!mask.IsEmpty) RowMath.Add(row, mask.Slice((i0 + r) * tk + j0, bc));
                            RowMath.ExpSub<float>(row, row, lse[i0 + r]);
                        }
                        // dV_j += Pᵀ·dO_i
                        if (!dv.IsEmpty)
                        {
                            TransposeTile(tr, p, br, bc);
                            AttentionTiles.AccumulatePv(pdv + j0 * hdp, ptr, pdo + i0 * hdp, bc, br, hdp);
                        }
                        if (!needS) continue;
                        // dP = dO_i·V_jᵀ, then dS = P∘(dP − D); dMask takes dS, dQ and dK take scale·dS.
                        AttentionTiles.Scores(pdp, pdoRaw + i0 * hd, pvt + j0, tkp, br, hd);
                        for (int r = 0; r < br; r++)
                        {
                            var dsRow = dp.AsSpan(r * TileK, bc);
                            RowMath.MulSub(dsRow, p.AsSpan(r * TileK, bc), d[i0 + r]);
                            if (!dMask.IsEmpty) RowMath.Add(dMask.Slice((i0 + r) * tk + j0, bc), dsRow);
                            RowMath.ScaleShift(dsRow, dsRow, scale, 0f);
                        }
                        // dQ_i += dS·K_j;  dK_j += dSᵀ·Q_i
                        if (!dq.IsEmpty) AttentionTiles.AccumulatePv(pdq + i0 * hdp, pdp, pk + j0 * hdp, br, bc, hdp);
                        if (!dk.IsEmpty)
                        {
                            TransposeTile(tr, dp, br, bc);
                            AttentionTiles.AccumulatePv(pdk + j0 * hdp, ptr, pq + i0 * hdp, bc, br, hdp);
                        }
                    }
                }
            }
            if (!dq.IsEmpty) for (int i = 0; i < tq; i++) RowMath.Add(dq.Slice(i * hd, hd), dqacc.AsSpan(i * hdp, hd));
            if (!dk.IsEmpty) for (int j = 0; j < tk; j++) RowMath.Add(dk.Slice(j * hd, hd), dkacc.AsSpan(j * hdp, hd));
            if (!dv.IsEmpty) for (int j = 0; j < tk; j++) RowMath.Add(dv.Slice(j * hd, hd), dvacc.AsSpan(j * hdp, hd));
        }
        finally
        {
            pool.Return(kt); pool.Return(vt); pool.Return(kpad); pool.Return(qpad); pool.Return(dopad);
            pool.Return(dqacc); pool.Return(dkacc); pool.Return(dvacc); pool.Return(p); pool.Return(dp); pool.Return(tr); pool.Return(d);
        }
    }

    private static void BackwardSlice<T>(Span<T> dq, Span<T> dk, Span<T> dv, Span<T> dMask, ReadOnlySpan<T> dO,
        ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<T> lse, ReadOnlySpan<T> mask,
        int tq, int tk, int hd, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool needS = !dq.IsEmpty || !dk.IsEmpty || !dMask.IsEmpty;
        if (!needS && dv.IsEmpty) return;
        var p = ArrayPool<T>.Shared.Rent(TileQ * TileK);
        var dp = ArrayPool<T>.Shared.Rent(TileQ * TileK);
        var d = ArrayPool<T>.Shared.Rent(Math.Max(tq, 1));
        try
        {
            for (int i = 0; i < tq; i++) d[i] = RowMath.Dot(dO.Slice(i * hd, hd), o.Slice(i * hd, hd));
            // Key tiles outside: dK_j and dV_j stay hot while every query tile streams past.
            for (int j0 = 0; j0 < tk; j0 += TileK)
            {
                int bc = Math.Min(TileK, tk - j0);
                var kj = k.Slice(j0 * hd, bc * hd); var vj = v.Slice(j0 * hd, bc * hd);
                for (int i0 = 0; i0 < tq; i0 += TileQ)
                {
                    int br = Math.Min(TileQ, tq - i0);
                    var qi = q.Slice(i0 * hd, br * hd); var doi = dO.Slice(i0 * hd, br * hd);
                    var pt = p.AsSpan(0, br * bc);
                    // P = exp(Q_i·K_jᵀ·scale + mask − lse)
                    Gemm.Compute<T>(false, true, br, bc, hd, qi, hd, kj, hd, pt, bc, accumulate: false);
                    for (int r = 0; r < br; r++)
                    {
                        var row = pt.Slice(r * bc, bc);
                        RowMath.ScaleShift(row, row, scale, T.Zero);
                        if (!mask.IsEmpty) RowMath.Add(row, mask.Slice((i0 + r) * tk + j0, bc));
                        RowMath.ExpSub<T>(row, row, lse[i0 + r]);
                    }
                    // dV_j += Pᵀ·dO_i (bc, hd)
                    if (!dv.IsEmpty)
                        Gemm.Compute<T>(true, false, bc, hd, br, pt, bc, doi, hd, dv.Slice(j0 * hd, bc * hd), hd, accumulate: true);
                    if (!needS) continue;
                    // dP = dO_i·V_jᵀ (br, bc), then dS = P∘(dP − D) in place.
                    var dpt = dp.AsSpan(0, br * bc);
                    Gemm.Compute<T>(false, true, br, bc, hd, doi, hd, vj, hd, dpt, bc, accumulate: false);
                    for (int r = 0; r < br; r++)
                    {
                        RowMath.MulSub(dpt.Slice(r * bc, bc), pt.Slice(r * bc, bc), d[i0 + r]);
                        // The mask enters S additively, so dMask = dS (before the scale).
                        if (!dMask.IsEmpty) RowMath.Add(dMask.Slice((i0 + r) * tk + j0, bc), dpt.Slice(r * bc, bc));
                        RowMath.ScaleShift(dpt.Slice(r * bc, bc), dpt.Slice(r * bc, bc), scale, T.Zero);
                    }
                    // dQ_i += dS·K_j (br, hd); dK_j += dSᵀ·Q_i (bc, hd)
                    if (!dq.IsEmpty)
                        Gemm.Compute<T>(false, false, br, hd, bc, dpt, bc, kj, hd, dq.Slice(i0 * hd, br * hd), hd, accumulate: true);
                    if (!dk.IsEmpty)
                        Gemm.Compute<T>(true, false, bc, hd, br, dpt, bc, qi, hd, dk.Slice(j0 * hd, bc * hd), hd, accumulate: true);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(p); ArrayPool<T>.Shared.Return(dp); ArrayPool<T>.Shared.Return(d);
        }
    }
}
