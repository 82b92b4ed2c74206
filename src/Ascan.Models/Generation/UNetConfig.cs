// Configuration of the class-conditional diffusion UNet (SPEC §4): level widths and block strings, conditioning
// widths, the presets, and the analytic parameter and MAC counts.
using System.Globalization;

namespace Ascan.Models.Generation;

/// <summary>
/// Everything that shapes a <see cref="UNetModel"/>. Level i (0 = full resolution) runs its block string
/// <see cref="Levels"/>[i] ("CT": a C block then a T block) at width <see cref="Widths"/>[i] and resolution H/2^i;
/// the middle runs <see cref="Middle"/> at the last width and resolution; up level k mirrors down level L−1−k and
/// runs <see cref="UpLevels"/>[k] (default: the mirrored down level's string). H and W must be multiples of 2^(L−1).
/// </summary>
public sealed record UNetConfig(int[] Widths, string[] Levels, string Middle)
{
    /// <summary>Image (or latent) channels in; the output has <see cref="OutChannels"/> (0 = same as in: ε or v, no learned σ).</summary>
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; }

    /// <summary>Class-conditional classes; the table has one more row, the null class (id = NumClasses) for classifier-free guidance.</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Width of the condition embedding (t + y) every block reads; 0 = 4·Widths[0] (ADM's time_embed_dim).</summary>
    public int EmbedDim { get; init; }

    /// <summary>Width of the sinusoidal timestep features (DiT's frequency_embedding_size).</summary>
    public int FrequencyEmbeddingSize { get; init; } = 256;
    public double MaxPeriod { get; init; } = 10000;

    /// <summary>Up-level block strings in execution order (index 0 = lowest resolution); null mirrors <see cref="Levels"/>.</summary>
    public string[]? UpLevels { get; init; }

    /// <summary>C blocks: channel expansion of the FusedMBConv's 3×3 conv.</summary>
    public int ExpansionRatio { get; init; } = 4;

    /// <summary>T blocks: channels per attention head and MLP ratio.</summary>
    public int HeadDim { get; init; } = 32;
    public int MlpRatio { get; init; } = 4;

    /// <summary>Groups of every GroupNorm (C blocks and the output norm): 32 as DDPM/ADM/Stable Diffusion.</summary>
    public int NormGroups { get; init; } = 32;

    /// <summary>T blocks: width of context tokens (text) for their cross-attention; null = class-conditional only.</summary>
    public int? ContextDim { get; init; }

    /// <summary>Default (square) input size, for the data config and MAC counts; the network takes any H, W divisible by 2^(L−1).</summary>
    public int ImageSize { get; init; } = 32;

    public int NumLevels => Widths.Length;
    public int Cond => EmbedDim > 0 ? EmbedDim : 4 * Widths[0];
    public int Out => OutChannels > 0 ? OutChannels : InChannels;

    /// <summary>Block string of up level k (execution order, k = 0 mirrors the last down level).</summary>
    public string UpLevel(int k) => UpLevels?[k] ?? Levels[NumLevels - 1 - k];

    /// <summary>
    /// Pixel-space preset for 32×32×3 shapes (sized for ~15 min of training on 2 cores): CC·CT·TT, middle TT at
    /// 32/64/128, embed 128, 5 classes. ASSUMPTION [ours]: widths and strings.
    /// </summary>
    public static UNetConfig Shapes => new([32, 64, 128], ["CC", "CT", "TT"], "TT") { InChannels = 3, NumClasses = 5, EmbedDim = 128, ImageSize = 32 };

    /// <summary>
    /// ImageNet-256 on 32×32×4 latents, about half of DiT-XL/2's forward (118.6 GFLOPs): CC·CTT·TTTTT, middle TTTT at
    /// 256/512/768, embed 1024. ASSUMPTION [ours]: the paper gives no widths; see UNetZoo for the MAC count.
    /// </summary>
    public static UNetConfig ImageNet256 => new([256, 512, 768], ["CC", "CTT", "TTTTT"], "TTTT") { InChannels = 4, NumClasses = 1000, EmbedDim = 1024, ImageSize = 32 };

    /// <summary>Parses "CC·CT·TT" (levels separated by '·', '-', ',' or spaces).</summary>
    public static string[] ParseLevels(string layout) =>
        layout.Split(['·', '-', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Throws naming the offending field when the configuration cannot build.</summary>
    public void Validate()
    {
        if (Widths is null || Levels is null || Middle is null) throw new ArgumentException("UNetConfig: Widths, Levels and Middle are required.");
        if (Widths.Length == 0 || Widths.Length != Levels.Length)
            throw new ArgumentException($"UNetConfig: {Widths.Length} widths for {Levels.Length} level strings; give one width per level (at least one).");
        if (UpLevels != null && UpLevels.Length != Levels.Length)
            throw new ArgumentException($"UNetConfig: {UpLevels.Length} up-level strings for {Levels.Length} levels.");
        if (NormGroups < 1) throw new ArgumentException($"UNetConfig: NormGroups = {NormGroups} must be positive.");
        if (Widths[0] % NormGroups != 0) throw new ArgumentException($"UNetConfig: Widths[0] = {Widths[0]} is not a multiple of NormGroups {NormGroups} (output GroupNorm).");
        void Check(string s, int w, string where)
        {
            int bad = s.AsSpan().IndexOfAnyExcept('C', 'T');
            if (bad >= 0) throw new ArgumentException($"UNetConfig: {where} = \"{s}\" holds '{s[bad]}' at {bad}; only 'C' (conv) and 'T' (transformer) blocks exist.");
            if (s.Contains('T') && (HeadDim < 1 || w % HeadDim != 0))
                throw new ArgumentException($"UNetConfig: {where} has T blocks but its width {w} is not a multiple of HeadDim {HeadDim}.");
            if (s.Contains('C') && (w % NormGroups != 0 || ExpansionRatio * w % NormGroups != 0))
                throw new ArgumentException($"UNetConfig: {where} has C blocks but its width {w} is not a multiple of NormGroups {NormGroups}.");
        }
        for (int i = 0; i < NumLevels; i++)
        {
            if (Widths[i] < 1) throw new ArgumentException($"UNetConfig: Widths[{i}] = {Widths[i]} must be positive.");
            Check(Levels[i] ?? throw new ArgumentException($"UNetConfig: Levels[{i}] is null."), Widths[i], $"Levels[{i}]");
            Check(UpLevel(NumLevels - 1 - i) ?? throw new ArgumentException($"UNetConfig: UpLevels[{NumLevels - 1 - i}] is null."), Widths[i], $"UpLevels[{NumLevels - 1 - i}]");
        }
        Check(Middle, Widths[^1], "Middle");
        if (InChannels < 1 || OutChannels < 0) throw new ArgumentException($"UNetConfig: InChannels = {InChannels} must be positive and OutChannels = {OutChannels} ≥ 0.");
        if (NumClasses < 1) throw new ArgumentException($"UNetConfig: NumClasses = {NumClasses} must be ≥ 1 (a null class is added).");
        if (FrequencyEmbeddingSize < 2 || FrequencyEmbeddingSize % 2 != 0) throw new ArgumentException($"UNetConfig: FrequencyEmbeddingSize = {FrequencyEmbeddingSize} must be even.");
        if (ExpansionRatio < 1 || MlpRatio < 1) throw new ArgumentException($"UNetConfig: ExpansionRatio ({ExpansionRatio}) and MlpRatio ({MlpRatio}) must be ≥ 1.");
    }

    private long CParams(long w)
    {
        long e = ExpansionRatio * w, d = Cond;
        return w * e * 9 + 2 * e + e * w + 2 * w + d * 2 * e + 2 * e;
    }

    private long TParams(long w)
    {
        long h = MlpRatio * w, d = Cond;
        long n = (w * 3 * w + 3 * w) + (w * w + w) + (w * h + h) + (h * w + w) + d * 6 * w + 6 * w; // norms have no affine (adaLN)
        if (ContextDim is int cd) n += 2 * w + (w * w + w) + 2 * (cd * w + w) + (w * w + w);
        return n;
    }

    private long BlocksParams(string s, long w) => s.Sum(k => k == 'C' ? CParams(w) : TParams(w));

    /// <summary>Parameter count without building the model.</summary>
    public long ParameterCount()
    {
        long d = Cond, f = FrequencyEmbeddingSize, w0 = Widths[0];
        long n = InChannels * w0 * 9 + w0 + (f * d + d) + (d * d + d) + (NumClasses + 1L) * d;
        for (int i = 0; i < NumLevels; i++)
        {
            n += BlocksParams(Levels[i], Widths[i]);
            if (i < NumLevels - 1) n += (long)Widths[i] * Widths[i + 1] * 9 + Widths[i + 1];
        }
        n += BlocksParams(Middle, Widths[^1]);
        for (int k = 0; k < NumLevels; k++)
        {
            int i = NumLevels - 1 - k;
            long w = Widths[i];
            n += 2 * w * w + w + BlocksParams(UpLevel(k), w);
            if (i > 0) n += w * Widths[i - 1] * 9 + Widths[i - 1];
        }
        return n + 2 * w0 + w0 * Out * 9 + Out;
    }

    /// <summary>
    /// MACs of one image of <paramref name="height"/>×<paramref name="width"/> (conv, linear and the two attention
    /// matmuls, one per multiply-add): what <see cref="Ascan.Core.MacCounter"/> counts on a forward without context.
    /// </summary>
    public long Macs(int height, int width)
    {
        long d = Cond, w0 = Widths[0];
        long CMacs(long t, long w) { long e = ExpansionRatio * w; return t * (w * e * 9 + e * w) + d * 2 * e; }
        long TMacs(long t, long w) => t * w * 3 * w + 2 * t * t * w + t * w * w + 2 * t * w * MlpRatio * w + d * 6 * w;
        long Blocks(string s, long t, long w) => s.Sum(k => k == 'C' ? CMacs(t, w) : TMacs(t, w));
        long Tokens(int i) => (long)(height >> i) * (width >> i);
        long macs = Tokens(0) * InChannels * w0 * 9 + FrequencyEmbeddingSize * d + d * d;
        for (int i = 0; i < NumLevels; i++)
        {
            macs += Blocks(Levels[i], Tokens(i), Widths[i]);
            if (i < NumLevels - 1) macs += Tokens(i + 1) * Widths[i] * Widths[i + 1] * 9;
        }
        macs += Blocks(Middle, Tokens(NumLevels - 1), Widths[^1]);
        for (int k = 0; k < NumLevels; k++)
        {
            int i = NumLevels - 1 - k;
            long w = Widths[i];
            macs += Tokens(i) * 2 * w * w + Blocks(UpLevel(k), Tokens(i), w);
            if (i > 0) macs += Tokens(i - 1) * w * Widths[i - 1] * 9;
        }
        return macs + Tokens(0) * w0 * Out * 9;
    }

    /// <summary>"CC·CT·TT | TT @ 32,64,128".</summary>
    public override string ToString() =>
        $"{string.Join("·", Levels.Select(s => s.Length == 0 ? "-" : s))} | {Middle} @ {string.Join(",", Widths.Select(w => w.ToString(CultureInfo.InvariantCulture)))}";

    public UNetModel Build(Ascan.Nn.ParamPath p) => new(p, this);
}
