// EMA of weights: the update rule on parameters and buffers, and the warmup of the decay.
using Ascan.Core;
using Ascan.Nn;
using Ascan.Training.Train;

namespace Ascan.Training.Tests;

public class EmaTests
{
    /// <summary>One parameter and one buffer, values set by hand.</summary>
    private sealed class Probe : Module
    {
        public readonly Parameter W, B;
        public Probe() : base(ParamPath.Root())
        {
            W = AddParameter("w", [2], (v, _, _) => { v[0] = 1; v[1] = -2; });
            B = AddBuffer("running", [1], (v, _, _) => v[0] = 10);
        }
    }

    [Fact]
    public void Ema_Update_LerpsParametersAndBuffers()
    {
        var live = new Probe();
        var ema = new ModelEma<Probe>(live, new Probe(), decay: 0.9, warmup: false);
        Assert.Equal(new float[] { 1, -2 }, ema.Model.W.Value.ToArray<float>());
        Assert.False(ema.Model.Training); // the average is evaluated, never trained

        live.W.Value.Span<float>()[0] = 3;   // m = (3, 2)
        live.W.Value.Span<float>()[1] = 2;
        live.B.Value.Span<float>()[0] = 20;
        ema.Update(1);
        // e ← 0.9·e + 0.1·m
        Assert.Equal(0.9f * 1 + 0.1f * 3, ema.Model.W.Value.ToArray<float>()[0], 6);   // 1.2
        Assert.Equal(0.9f * -2 + 0.1f * 2, ema.Model.W.Value.ToArray<float>()[1], 6);  // -1.6
        Assert.Equal(0.9f * 10 + 0.1f * 20, ema.Model.B.Value.ToArray<float>()[0], 5); // 11
        ema.Update(2);
        Assert.Equal(0.9f * 1.2f + 0.1f * 3, ema.Model.W.Value.ToArray<float>()[0], 6); // 1.38
        // The live model is untouched.
        Assert.Equal(3f, live.W.Value.ToArray<float>()[0]);
    }

    [Fact]
    public void Ema_Warmup_RampsDecayToItsCap()
    {
        var live = new Probe();
        var ema = new ModelEma<Probe>(live, new Probe(), decay: 0.999, warmup: true);
        Assert.Equal(1 - Math.Pow(2, -2.0 / 3), ema.DecayAt(1), 12);   // 0.37004
        Assert.Equal(1 - Math.Pow(101, -2.0 / 3), ema.DecayAt(100), 12); // 0.95362
        Assert.Equal(0.999, ema.DecayAt(1_000_000), 12);                 // capped
        Assert.Equal(0.999, new ModelEma<Probe>(live, new Probe(), 0.999, warmup: false).DecayAt(1), 12);

        live.W.Value.Span<float>()[0] = 3;
        ema.Update(1);
        double d = ema.DecayAt(1);
        Assert.Equal((float)(d * 1 + (1 - d) * 3), ema.Model.W.Value.ToArray<float>()[0], 5);
    }

    [Fact]
    public void Ema_RejectsDecayOutsideUnitInterval()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelEma<Probe>(new Probe(), new Probe(), 1.0));
    }
}
