// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_).
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn.Optim;

public static class ClipGrad
{
    /// <summary>
    /// Total norm = √(Σ over every gradient of Σ g²) (parameters without a gradient are skipped). Gradients are
    /// scaled by min(1, maxNorm / (total + 1e-6)) in place, as torch. Returns the total norm before clipping.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        var grads = parameters.Select(p => p.Grad).Where(g => g != null).Select(g => g!).ToList();
        double sq = 0;
        foreach (var g in grads)
            sq += g.DType == DType.F32 ? OptimizerKernels.SumSquares<float>(g.Span<float>()) : OptimizerKernels.SumSquares<double>(g.Span<double>());
        double total = Math.Sqrt(sq);
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1)
            foreach (var g in grads)
                if (g.DType == DType.F32) OptimizerKernels.Scale(g.Span<float>(), (float)coef); else OptimizerKernels.Scale(g.Span<double>(), coef);
        return total;
    }
}
