// Activations: ReLU, exact-erf GELU, SiLU, sigmoid, tanh — forwards over the unary kernels, one fused backward pass each.
namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>max(x, 0); gradient 0 at x = 0 (PyTorch). Shapes: any → same.</summary>
    public static Tensor Relu(Tensor x) => Unary(x, UnaryKind.Relu);

    /// <summary>x·Φ(x), the exact erf form (PyTorch's default GELU). Backward: dy·(Φ(x) + x·φ(x)). Shapes: any → same.</summary>
    public static Tensor Gelu(Tensor x) => Unary(x, UnaryKind.Gelu);

    /// <summary>x·σ(x) (a.k.a. swish). Backward: dy·σ·(1 + x(1 − σ)). Shapes: any → same.</summary>
    public static Tensor Silu(Tensor x) => Unary(x, UnaryKind.Silu);

    /// <summary>1/(1 + e^{−x}). Backward from the output: dy·y(1 − y). Shapes: any → same.</summary>
    public static Tensor Sigmoid(Tensor x) => Unary(x, UnaryKind.Sigmoid);

    /// <summary>tanh(x). Backward from the output: dy·(1 − y²). Shapes: any → same.</summary>
    public static Tensor Tanh(Tensor x) => Unary(x, UnaryKind.Tanh);
}

public sealed partial class Tensor
{
    public Tensor Relu() => Ops.Relu(this);
    public Tensor Gelu() => Ops.Gelu(this);
    public Tensor Silu() => Ops.Silu(this);
    public Tensor Sigmoid() => Ops.Sigmoid(this);
    public Tensor Tanh() => Ops.Tanh(this);
}
