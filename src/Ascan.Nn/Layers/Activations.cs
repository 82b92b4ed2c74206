// Parameter-free layers: activations (GELU exact erf form, SiLU, ReLU), Dropout and DropPath.
using Ascan.Core;

namespace Ascan.Nn;

public sealed class Gelu(Path p) : Module(p), ILayer
{
    /// <summary>Exact erf GELU. Shapes: any → same.</summary>
    public Tensor Forward(Tensor x) => Ops.Gelu(x);
}

public sealed class Silu(Path p) : Module(p), ILayer
{
    public Tensor Forward(Tensor x) => Ops.Silu(x);
}

public sealed class Relu(Path p) : Module(p), ILayer
{
    public Tensor Forward(Tensor x) => Ops.Relu(x);
}

/// <summary>
/// Inverted dropout, active only in training. Its generator is forked from the path's at construction
/// (deterministic per seed) and exposed for checkpointing.
/// </summary>
public sealed class Dropout : Module, ILayer
{
    public double P { get; }
    public Rng Rng { get; set; }

    public Dropout(Path p, double prob) : base(p) { P = prob; Rng = p.Rng.Fork(); }

    public Tensor Forward(Tensor x) => Ops.Dropout(x, P, Training, Rng);
}

/// <summary>Drop-path (stochastic depth) per sample along axis 0, active only in training.</summary>
public sealed class DropPath : Module, ILayer
{
    public double P { get; }
    public Rng Rng { get; set; }

    public DropPath(Path p, double prob) : base(p) { P = prob; Rng = p.Rng.Fork(); }

    public Tensor Forward(Tensor x) => Ops.DropPath(x, P, Training, Rng);
}
