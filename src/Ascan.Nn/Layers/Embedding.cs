// Embedding table: integer ids → rows of a (num, dim) weight.
using Ascan.Core;

namespace Ascan.Nn;

public sealed record EmbeddingConfig(int NumEmbeddings, int EmbeddingDim)
{
    public int? PaddingIdx { get; init; }
    public Initializer? WeightInit { get; init; }
    public Embedding Build(Path p) => new(p, this);
}

/// <summary>Weight (num, dim) initialised N(0, 1) as torch (the padding row zeroed).</summary>
public sealed class Embedding : Module
{
    private readonly Parameter _weight;
    public EmbeddingConfig Config { get; }

    public Embedding(Path p, int numEmbeddings, int embeddingDim) : this(p, new EmbeddingConfig(numEmbeddings, embeddingDim)) { }

    public Embedding(Path p, EmbeddingConfig config) : base(p)
    {
        Config = config;
        var init = config.WeightInit ?? Init.Normal();
        _weight = AddParameter("weight", [config.NumEmbeddings, config.EmbeddingDim], (v, shape, rng) =>
        {
            init(v, shape, rng);
            if (config.PaddingIdx is int pad) v.Slice(pad * config.EmbeddingDim, config.EmbeddingDim).Clear();
        });
    }

    public Tensor Weight => _weight.Value;

    /// <summary>Shapes: ids (…) given flat with <paramref name="idsShape"/> → (…, dim).</summary>
    public Tensor Forward(int[] ids, int[] idsShape) => Ops.Embedding(Weight, ids, idsShape, Config.PaddingIdx);
}
