// Parameter-free layers: activations (GELU exact erf form, SiLU, ReLU), Dropout, Dropout2d and DropPath.
using Ascan.Core;

namespace Ascan.Nn;

public sealed class Gelu(ParamPath p) : Module(p), ILayer
{
    /// <summary>Exact erf GELU. Shapes: any → same.</summary>
    public Tensor Forward(Tensor x) => Ops.Gelu(x);
}

public sealed class Silu(ParamPath p) : Module(p), ILayer
{
    public Tensor Forward(Tensor x) => Ops.Silu(x);
}

public sealed class Relu(ParamPath p) : Module(p), ILayer
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

    public Dropout(ParamPath p, double prob) : base(p) { P = prob; Rng = p.Rng.Fork(); }

    public Tensor Forward(Tensor x) => Ops.Dropout(x, P, Training, Rng);
}

/// <summary>Drop-path (stochastic depth) per sample along axis 0, active only in training.</summary>
public sealed class DropPath : Module, ILayer
{
    public double P { get; }
    public Rng Rng { get; set; }

    public DropPath(ParamPath p, double prob) : base(p) { P = prob; Rng = p.Rng.Fork(); }

    public Tensor Forward(Tensor x) => Ops.DropPath(x, P, Training, Rng);
}

/// <summary>
/// Channel dropout (torch's Dropout2d) on channels-last maps: whole channels of a sample are zeroed, active only in
/// training. Its generator is forked from the path's at construction, as <see cref="Dropout"/>'s.
/// </summary>
public sealed class Dropout2d : Module, ILayer
{
    public double P { get; }
    public Rng Rng { get; set; }

    public Dropout2d(ParamPath p, double prob) : base(p) { P = prob; Rng = p.Rng.Fork(); }

    /// <summary>Shapes: x (B, H, W, C) → (B, H, W, C).</summary>
    public Tensor Forward(Tensor x) => Ops.Dropout2d(x, P, Training, Rng);
}
