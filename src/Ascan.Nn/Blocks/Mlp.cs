// The transformer MLP shared by AsCAN, ViT and the UNet: fc1 → activation → (dropout) → fc2 → (dropout).
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn;

/// <summary>Configuration of an <see cref="Mlp"/>: widths, activation, dropout and the state-dict names of its Linears.</summary>
public sealed record MlpConfig(int Dim, int HiddenDim)
{
    public Activation Act { get; init; } = Activation.Gelu;

    /// <summary>Dropout after the activation and after fc2 (torchvision's MLPBlock); 0 = none.</summary>
    public double Dropout { get; init; }

    /// <summary>Build the two Dropout modules even at rate 0 (torchvision's MLPBlock always has them; each forks the
    /// generator, so the same seed builds the same weights as the reference layout).</summary>
    public bool DropoutModules { get; init; }

    /// <summary>Child names: fc1, fc2 (timm) or "0", "3" with dropouts at "2" and "4" (torchvision's MLPBlock).</summary>
    public string Fc1Name { get; init; } = "fc1";
    public string Fc2Name { get; init; } = "fc2";
    public string Drop1Name { get; init; } = "drop1";
    public string Drop2Name { get; init; } = "drop2";

    public Initializer? WeightInit { get; init; }
    public Initializer? BiasInit { get; init; }

    /// <summary>torchvision's MLPBlock names (mlp.0, mlp.3; dropouts mlp.2, mlp.4).</summary>
    public MlpConfig TorchvisionNames() => this with { Fc1Name = "0", Fc2Name = "3", Drop1Name = "2", Drop2Name = "4", DropoutModules = true };

    public Mlp Build(ParamPath p) => new(p, this);
}

/// <summary>fc1 (C → H) → act → dropout → fc2 (H → C) → dropout, with a residual added in fc2's output step when no dropout is active.</summary>
public sealed class Mlp : Module, ILayer
{
    public readonly Linear Fc1, Fc2;
    private readonly Dropout? _drop1, _drop2;
    public MlpConfig Config { get; }

    public Mlp(ParamPath p, MlpConfig config) : base(p)
    {
        Config = config;
        Fc1 = new Linear(p.Sub(config.Fc1Name), new LinearConfig(config.Dim, config.HiddenDim) { WeightInit = config.WeightInit, BiasInit = config.BiasInit });
        if (config.Dropout > 0 || config.DropoutModules) _drop1 = new Dropout(p.Sub(config.Drop1Name), config.Dropout);
        Fc2 = new Linear(p.Sub(config.Fc2Name), new LinearConfig(config.HiddenDim, config.Dim) { WeightInit = config.WeightInit, BiasInit = config.BiasInit });
        if (config.Dropout > 0 || config.DropoutModules) _drop2 = new Dropout(p.Sub(config.Drop2Name), config.Dropout);
    }

    /// <summary>Shapes: t (…, C) → (…, C).</summary>
    public Tensor Forward(Tensor t) => Forward(t, null);

    /// <summary>Shapes: t (…, C), residual (…, C) or null → (…, C): residual + MLP(t).</summary>
    public Tensor Forward(Tensor t, Tensor? residual)
    {
        bool fused = InferenceFusion.Applies(this, t, other: residual);
        var h = Fc1.Forward(t, Config.Act);                        // (…, H), the activation in fc1's output step
        if (_drop1 != null) h = _drop1.Forward(h);
        Tensor y;
        if (_drop2 != null && Training && _drop2.P > 0)
        {
            y = _drop2.Forward(Fc2.Forward(h));
            if (residual != null) y = Ops.Add(residual, y);
        }
        else y = residual == null ? Fc2.Forward(h) : Fc2.Forward(h, residual);
        InferenceFusion.Free(fused, h);
        return y;
    }
}
