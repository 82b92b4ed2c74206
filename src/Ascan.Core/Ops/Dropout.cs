// Stochastic regularisers: inverted dropout, channel dropout (Dropout2d) and drop-path (stochastic depth), with their backward.

namespace Ascan.Core;

public static partial class Ops
{
    /// <summary>
    /// Inverted dropout: each element is kept with probability 1−p and scaled by 1/(1−p), else zeroed.
    /// Identity (the input itself) when not training or p = 0. The mask is drawn from <paramref name="rng"/>
    /// in row-major order (one draw per element) and saved for backward. Shapes: any → same.
    /// </summary>
    public static Tensor Dropout(Tensor x, double p, bool training, Rng rng)
    {
        using var _ = Profiler.Scope("Dropout");
        CheckProbability(p, "Dropout");
        if (!training || p == 0) return x;
        var mask = Tensor.Empty(x.Shape, x.DType, zero: false);
        FillMask(mask, p, rng);
        return ApplyMask(x, mask, "Dropout");
    }

    /// <summary>
    /// Drop-path (stochastic depth, timm's drop_path with scale_by_keep): each sample along axis 0 is kept with
    /// probability 1−p and scaled by 1/(1−p), else zeroed whole. Identity when not training or p = 0.
    /// One draw per sample. Shapes: (B, …) → (B, …).
    /// </summary>
    public static Tensor DropPath(Tensor x, double p, bool training, Rng rng)
    {
        using var _ = Profiler.Scope("DropPath");
        CheckProbability(p, "DropPath");
        if (!training || p == 0) return x;
        if (x.Rank == 0) throw new ArgumentException("DropPath: input needs a batch axis.");
        var maskShape = new int[x.Rank];
        Array.Fill(maskShape, 1);
        maskShape[0] = x.Dim(0);
        var mask = Tensor.Empty(maskShape, x.DType, zero: false); // (B, 1, …, 1)
        FillMask(mask, p, rng);
        return ApplyMask(x, mask, "DropPath");
    }

    /// <summary>
    /// Channel dropout (torch's Dropout2d) on channels-last maps: each channel of each sample is kept with probability
    /// 1−p and scaled by 1/(1−p), else zeroed over the whole map. Identity (the input itself) when not training or
    /// p = 0. One draw per (sample, channel), in (b, c) order. Shapes: x (B, H, W, C) → (B, H, W, C).
    /// </summary>
    public static Tensor Dropout2d(Tensor x, double p, bool training, Rng rng)
    {
        using var _ = Profiler.Scope("Dropout2d");
        CheckProbability(p, "Dropout2d");
        if (x.Rank != 4) throw new ArgumentException($"Dropout2d: input must be (B, H, W, C) channels-last, got {ShapeUtil.Format(x.Shape)}.");
        if (!training || p == 0) return x;
        var mask = Tensor.Empty(new[] { x.Dim(0), 1, 1, x.Dim(3) }, x.DType, zero: false); // (B, 1, 1, C)
        FillMask(mask, p, rng);
        return ApplyMask(x, mask, "Dropout2d");
    }

    private static void CheckProbability(double p, string op)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"{op}: probability {p} is outside [0, 1].");
    }

    /// <summary>mask[i] = 1/(1−p) with probability 1−p, else 0 (all zeros when p = 1, as torch).</summary>
    private static void FillMask(Tensor mask, double p, Rng rng)
    {
        double keep = 1 - p, scale = keep > 0 ? 1 / keep : 0;
        if (mask.DType == DType.F32) { var s = mask.Span<float>(); for (int i = 0; i < s.Length; i++) s[i] = rng.NextDouble() < keep ? (float)scale : 0f; }
        else { var s = mask.Span<double>(); for (int i = 0; i < s.Length; i++) s[i] = rng.NextDouble() < keep ? scale : 0.0; }
    }

    private static Tensor ApplyMask(Tensor x, Tensor mask, string name)
    {
        Tensor y;
        using (Autograd.NoGrad()) y = Mul(x, mask);
        if (Autograd.NeedsGraph(x)) Autograd.Record(y, new MaskNode(x, mask, name));
        return y;
    }

    /// <summary>y = x · mask with a constant (broadcast) mask; dX += dY · mask.</summary>
    private sealed class MaskNode(Tensor x, Tensor mask, string name) : Node(x)
    {
        private Tensor? _mask = mask;

        public override string Name => name;

        protected internal override void Backward(Tensor g)
        {
            using var _ = Profiler.Backward(this);
            var d = GradOf(0); if (d == null) return;
            AddInPlace(d, Mul(g, _mask!));
        }

        protected internal override void ReleaseSaved() => _mask = null;
    }
}
