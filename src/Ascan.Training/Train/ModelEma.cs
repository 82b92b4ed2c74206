// Exponential moving average of a model's weights and buffers (timm ModelEmaV2 update, ModelEmaV3 warmup).
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Training.Train;

/// <summary>
/// Holds a second instance of the model whose every parameter and buffer e follows the trained model's m:
/// e ← d·e + (1 − d)·m after each optimizer update (timm ModelEmaV2 applies this to the whole state dict,
/// BatchNorm running statistics included). The copy stays in eval mode and is evaluated like the model.
/// With warmup the decay ramps as d_t = min(decay, 1 − (1 + t)^(−2/3)) for update t = 1, 2, … (ModelEmaV3's
/// default gamma 1, power 2/3), so a short run is not dominated by the random initialisation.
/// </summary>
public sealed class ModelEma<TModel> where TModel : Module
{
    private readonly (Tensor Ema, Tensor Live)[] _pairs;

    public TModel Model { get; }
    public double Decay { get; }
    public bool Warmup { get; }

    /// <summary><paramref name="copy"/> must be built like <paramref name="model"/>; it starts as an exact copy of it.</summary>
    public ModelEma(TModel model, TModel copy, double decay, bool warmup = true)
    {
        if (!(decay > 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), $"EMA decay must be in (0, 1), got {decay}.");
        Model = copy; Decay = decay; Warmup = warmup;
        copy.LoadStateDict(model.StateDict());
        copy.Eval();
        var live = model.Slots().ToList();
        var ema = copy.Slots().ToList();
        _pairs = new (Tensor, Tensor)[live.Count];
        for (int i = 0; i < live.Count; i++)
        {
            if (live[i].Name != ema[i].Name) throw new ArgumentException($"EMA copy does not match the model: slot {i} is '{ema[i].Name}', expected '{live[i].Name}'.");
            _pairs[i] = (ema[i].Value, live[i].Value);
        }
    }

    /// <summary>The decay used by update number <paramref name="update"/> (1 for the first optimizer update).</summary>
    public double DecayAt(long update) =>
        Warmup ? Math.Clamp(1 - Math.Pow(1 + update, -2.0 / 3.0), 0, Decay) : Decay;

    /// <summary>e ← d·e + (1 − d)·m over every parameter and buffer, with d = <see cref="DecayAt"/>(update).</summary>
    public void Update(long update)
    {
        double d = DecayAt(update);
        foreach (var (e, m) in _pairs)
        {
            if (e.DType == DType.F32) Lerp(e.Span<float>(), m.Span<float>(), (float)d);
            else Lerp(e.Span<double>(), m.Span<double>(), d);
        }
    }

    private static void Lerp<T>(Span<T> e, ReadOnlySpan<T> m, T d) where T : unmanaged, System.Numerics.IFloatingPoint<T>
    {
        T oneMinus = T.One - d;
        for (int i = 0; i < e.Length; i++) e[i] = d * e[i] + oneMinus * m[i];
    }
}
