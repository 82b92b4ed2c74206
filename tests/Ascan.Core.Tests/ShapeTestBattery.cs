// The standard gradient-check battery shared by the pooling, upsampling, shape and index op tests.
using Ascan.Core;

namespace Ascan.Core.Tests;

internal static class SpatialBattery
{
    /// <summary>
    /// Gradchecks f on NHWC leaves with 1, 3 and 33 channels (SIMD tails), on a permuted (NCHW → NHWC)
    /// view, with the input used twice, next to an input that needs no gradient, and checks that the
    /// no-grad scope records nothing.
    /// </summary>
    public static void Run(Func<Tensor, Tensor> f, int b, int h, int w, ulong seed = 11)
    {
        var rng = new Rng(seed);
        foreach (int c in new[] { 1, 3, 33 })
            GradCheck.Check(x => f(x[0]), new[] { GradCheck.Leaf(rng, b, h, w, c) });

        // A permuted view: the op must read strides correctly (it makes the input contiguous).
        GradCheck.Check(x => f(x[0].Permute(0, 2, 3, 1)), new[] { GradCheck.Leaf(rng, b, 3, h, w) });

        // Used twice: both paths accumulate into one gradient.
        GradCheck.Check(x => f(x[0]) + f(x[0] * 2.0), new[] { GradCheck.Leaf(rng, b, h, w, 3) });

        // A second input without a gradient: its Grad stays null (asserted inside Check).
        var frozen = Tensor.Randn(rng, DType.F64, b, h, w, 3);
        GradCheck.Check(x => f(x[0]) * f(x[1]), new[] { GradCheck.Leaf(rng, b, h, w, 3), frozen });
        Assert.Null(frozen.Grad);

        NoGraphUnderNoGrad(f, GradCheck.Leaf(rng, b, h, w, 3));
    }

    public static void NoGraphUnderNoGrad(Func<Tensor, Tensor> f, Tensor x)
    {
        Assert.True(x.RequiresGrad);
        Tensor y;
        using (Autograd.NoGrad()) y = f(x);
        Assert.Null(y.GradFn);
        Assert.False(y.RequiresGrad);
        Assert.NotNull(f(x).GradFn);
    }
}
