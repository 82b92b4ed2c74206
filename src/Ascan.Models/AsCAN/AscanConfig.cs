// AsCAN configuration (SPEC §2): widths, stage strings and block hyper-parameters, the four presets, and the analytic MAC count.
using System.Globalization;

namespace Ascan.Models.AsCAN;

/// <summary>
/// Everything that shapes an AsCAN classifier. <see cref="Stages"/> holds one block string per stage
/// ("CCTT": two FusedMBConv blocks, then two transformer blocks); <see cref="Widths"/> one channel count per
/// stage. Any widths and strings build (asymmetric presets, symmetric, all-C, all-T, T-before-C ablations);
/// stage i runs at stride 4·2^i. Build with <see cref="Build"/> or <c>new AscanModel(path, config)</c>.
/// </summary>
public sealed record AscanConfig(int[] Widths, string[] Stages)
{
    /// <summary>Classifier outputs; 0 builds no head (Forward returns the normalised pooled features).</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Channel expansion of the FusedMBConv's 3×3 conv (w → ratio·w).</summary>
    public int ExpansionRatio { get; init; } = 4;

    /// <summary>Channels per attention head; every stage holding a T block must have a width divisible by it.</summary>
    public int HeadDim { get; init; } = 32;

    /// <summary>Hidden width of the transformer MLP as a multiple of the stage width.</summary>
    public int MlpRatio { get; init; } = 4;

    /// <summary>
    /// Stochastic-depth rate of the last block; block k of all D blocks (counted across stages) gets
    /// rate·k/(D−1), timm's linear rule, so the first block never drops.
    /// </summary>
    public double DropPathRate { get; init; }

    /// <summary>Default (square) input size: data config and MAC counts. The network itself takes any H, W.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>A backbone for dense heads (timm's features_only): no final norm and no head (NumClasses is ignored).</summary>
    public bool FeaturesOnly { get; init; }

    public static AscanConfig AscanNano => new([32, 64, 128, 256], ["C", "CC", "CTT", "T"]);
    public static AscanConfig AscanT => new([64, 128, 256, 512], ["CC", "CCC", "CCCTTTTT", "TTT"]);
    public static AscanConfig AscanB => new([96, 192, 384, 768], ["CC", "CCC", "CCCTTTTTTT", "TTT"]);
    public static AscanConfig AscanL => new([128, 256, 512, 1024], ["CC", "CCC", "CCCTTTTTTTTT", "TTT"]);

    /// <summary>The preset <paramref name="name"/> ("ascan_nano", "ascan_t", "ascan_b", "ascan_l").</summary>
    public static AscanConfig Preset(string name) => name switch
    {
        "ascan_nano" => AscanNano,
        "ascan_t" => AscanT,
        "ascan_b" => AscanB,
        "ascan_l" => AscanL,
        _ => throw new ArgumentException($"Unknown AsCAN preset '{name}'; expected ascan_nano, ascan_t, ascan_b or ascan_l."),
    };

    /// <summary>Parses "C·CC·CTT·T" (stages separated by '·', '-', ',' or spaces) into stage strings.</summary>
    public static string[] ParseStages(string layout) =>
        layout.Split(['·', '-', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public int NumStages => Stages.Length;

    /// <summary>Total number of blocks over all stages (the D of the drop-path rule).</summary>
    public int Depth => Stages.Sum(s => s.Length);

    /// <summary>Drop-path rate of every block in network order.</summary>
    public double[] DropPathRates()
    {
        int d = Depth;
        return Enumerable.Range(0, d).Select(k => d > 1 ? DropPathRate * k / (d - 1) : 0.0).ToArray();
    }

    /// <summary>Throws naming the offending field when the configuration cannot build.</summary>
    public void Validate()
    {
        if (Widths is null || Stages is null) throw new ArgumentException("AscanConfig: Widths and Stages are required.");
        if (Widths.Length == 0 || Widths.Length != Stages.Length)
            throw new ArgumentException($"AscanConfig: {Widths.Length} widths for {Stages.Length} stage strings; give one width per stage (at least one).");
        if (Widths[0] < 2 || Widths[0] % 2 != 0)
            throw new ArgumentException($"AscanConfig: Widths[0] = {Widths[0]} must be even (the stem's first conv has Widths[0]/2 channels).");
        for (int i = 0; i < Widths.Length; i++)
        {
            if (Widths[i] < 1) throw new ArgumentException($"AscanConfig: Widths[{i}] = {Widths[i]} must be positive.");
            string s = Stages[i] ?? throw new ArgumentException($"AscanConfig: Stages[{i}] is null.");
            int bad = s.AsSpan().IndexOfAnyExcept('C', 'T');
            if (bad >= 0) throw new ArgumentException($"AscanConfig: Stages[{i}] = \"{s}\" holds '{s[bad]}' at {bad}; only 'C' (conv) and 'T' (transformer) blocks exist.");
            if (s.Contains('T') && (HeadDim < 1 || Widths[i] % HeadDim != 0))
                throw new ArgumentException($"AscanConfig: stage {i} has T blocks but its width {Widths[i]} is not a multiple of HeadDim {HeadDim}.");
        }
        if (NumClasses < 0) throw new ArgumentException($"AscanConfig: NumClasses = {NumClasses} must be ≥ 0.");
        if (ExpansionRatio < 1) throw new ArgumentException($"AscanConfig: ExpansionRatio = {ExpansionRatio} must be ≥ 1.");
        if (MlpRatio < 1) throw new ArgumentException($"AscanConfig: MlpRatio = {MlpRatio} must be ≥ 1.");
        if (DropPathRate is < 0 or >= 1) throw new ArgumentException($"AscanConfig: DropPathRate = {DropPathRate} must be in [0, 1).");
        if (ImageSize < 1) throw new ArgumentException($"AscanConfig: ImageSize = {ImageSize} must be positive.");
    }

    /// <summary>
    /// Parameter count without building the model: stem, downsamples, blocks, final norm and head.
    /// </summary>
    public long ParameterCount()
    {
        long w0 = Widths[0], half = w0 / 2;
        long n = 3 * half * 9 + 2 * half + half * w0 * 9 + 2 * w0; // stem convs + BN affine
        for (int i = 0; i < NumStages; i++)
        {
            long w = Widths[i], e = ExpansionRatio * w, h = MlpRatio * w;
            if (i > 0) n += Widths[i - 1] * w * 9 + 2 * w;
            foreach (char kind in Stages[i])
                n += kind == 'C'
                    ? w * e * 9 + 2 * e + e * w + 2 * w
                    : 2 * w + (w * 3 * w + 3 * w) + (w * w + w) + 2 * w + (w * h + h) + (h * w + w);
        }
        long last = Widths[^1];
        if (FeaturesOnly) return n;
        return n + 2 * last + (NumClasses > 0 ? last * NumClasses + NumClasses : 0);
    }

    /// <summary>
    /// MACs of one image of <paramref name="height"/>×<paramref name="width"/> by SPEC §2's rule (conv, linear and
    /// the two attention matmuls, one per multiply-add): what <see cref="Ascan.Core.MacCounter"/> counts on a forward.
    /// </summary>
    public long Macs(int height, int width)
    {
        static int Half(int n) => (n + 1) / 2; // 3×3 conv, stride 2, padding 1
        long w0 = Widths[0], half = w0 / 2;
        int h = Half(height), w = Half(width);
        long macs = (long)h * w * half * 3 * 9;
        h = Half(h); w = Half(w);
        macs += (long)h * w * w0 * half * 9;
        for (int i = 0; i < NumStages; i++)
        {
            long c = Widths[i];
            if (i > 0) { h = Half(h); w = Half(w); macs += (long)h * w * c * Widths[i - 1] * 9; }
            long t = (long)h * w;
            foreach (char kind in Stages[i])
                macs += kind == 'C'
                    ? t * c * ExpansionRatio * c * 9 + t * ExpansionRatio * c * c
                    : t * c * 3 * c + 2 * t * t * c + t * c * c + 2 * t * c * MlpRatio * c;
        }
        return macs + (NumClasses > 0 && !FeaturesOnly ? (long)Widths[^1] * NumClasses : 0);
    }

    /// <summary>"C·CC·CTT·T @ 32,64,128,256".</summary>
    public override string ToString() =>
        $"{string.Join("·", Stages.Select(s => s.Length == 0 ? "-" : s))} @ {string.Join(",", Widths.Select(w => w.ToString(CultureInfo.InvariantCulture)))}";

    public AscanModel Build(Ascan.Nn.ParamPath p) => new(p, this);
}
