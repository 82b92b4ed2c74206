// Samplers and training helpers against tools/diffusion_schedulers.py (a transcription of diffusers), fixtures in
// tests/fixtures/schedulers (regenerate: /usr/bin/python3 tools/gen_fixtures.py --only schedulers).
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Generation;

namespace Ascan.Models.Tests.Generation;

public class SchedulerTests
{
    private const double Tol = 1e-5;

    public static TheoryData<string> LoopCases()
    {
        var names = OpFixture.CaseNames("schedulers").Where(n => n is not ("schedules" or "training"));
        return new TheoryData<string>(names);
    }

    private static SchedulerOptions OptionsOf(JsonElement c)
    {
        string S(string k, string d) => c.TryGetProperty(k, out var v) ? v.GetString()! : d;
        double D(string k, double d) => c.TryGetProperty(k, out var v) ? v.GetDouble() : d;
        int I(string k, int d) => c.TryGetProperty(k, out var v) ? v.GetInt32() : d;
        bool B(string k, bool d) => c.TryGetProperty(k, out var v) ? v.GetBoolean() : d;
        return new SchedulerOptions
        {
            BetaSchedule = S("beta_schedule", "linear"),
            PredictionType = S("prediction_type", "epsilon"),
            TimestepSpacing = c.TryGetProperty("timestep_spacing", out var sp) ? sp.GetString() : null,
            StepsOffset = I("steps_offset", 0),
            ClipSample = c.TryGetProperty("clip_sample", out var cs) ? cs.GetBoolean() : null,
            ClipSampleRange = D("clip_sample_range", 1.0),
            VarianceType = S("variance_type", "fixed_small"),
            SetAlphaToOne = B("set_alpha_to_one", true),
            Eta = D("eta", 0),
            SolverOrder = I("solver_order", 2),
            SolverType = S("solver_type", "midpoint"),
            LowerOrderFinal = B("lower_order_final", true),
            FinalSigmasType = S("final_sigmas_type", "zero"),
            Shift = D("shift", 1.0),
        };
    }

    // Max of |a − b| / max(1, |b|): absolute below 1, relative above (unclipped ε loops reach |x| ≈ 170,
    // where one float32 ulp is 1.5e-5).
    private static double MaxDiff(ReadOnlySpan<float> a, double[] b)
    {
        Assert.Equal(b.Length, a.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]) / Math.Max(1, Math.Abs(b[i])));
        return m;
    }

    [Theory]
    [MemberData(nameof(LoopCases))]
    public void Scheduler_SamplingLoop_MatchesDiffusers(string name)
    {
        var fx = FixtureFile.Load("schedulers/" + name);
        var cfg = JsonDocument.Parse(fx.Metadata["config"]).RootElement;
        var sched = Schedulers.Create(fx.Metadata["sampler"], OptionsOf(cfg));
        int steps = int.Parse(fx.Metadata["steps"]);
        sched.SetTimesteps(steps);

        var ts = fx.Get("timesteps").Data;
        Assert.Equal(ts.Length, sched.Timesteps.Length);
        for (int i = 0; i < ts.Length; i++)
            Assert.True(Math.Abs(ts[i] - sched.Timesteps[i]) <= 1e-3, $"{name}: timestep {i}: {sched.Timesteps[i]} vs {ts[i]} ({fx.RegenerateCommand})");
        if (fx.Has("sigmas"))
        {
            Assert.NotNull(sched.Sigmas);
            double e = MaxDiff(sched.Sigmas, fx.Get("sigmas").Data);
            Assert.True(e <= Tol, $"{name}: sigmas differ by {e}");
        }
        else Assert.Null(sched.Sigmas);

        float[] x = fx.Get("x_T").ToSingle();
        double worst = 0;
        for (int i = 0; i < steps; i++)
        {
            double t = sched.Timesteps[i];
            float[] m = fx.Get($"model.{i}").ToSingle();
            Assert.Equal(fx.Has($"noise.{i}"), sched.NeedsNoise(t));
            float[] noise = fx.Has($"noise.{i}") ? fx.Get($"noise.{i}").ToSingle() : [];
            // Feed the reference trajectory's x_t so each step is judged alone, and also check the chained result.
            x = sched.Step(m, t, x, null, noise);
            var want = fx.Get($"x.{i}").Data;
            double e = MaxDiff(x, want);
            worst = Math.Max(worst, e);
            Assert.True(e <= Tol, $"{name}: step {i} (t={t}) x_(t-1) differs by {e} (relative above 1); first {x[0]} vs {want[0]} ({fx.RegenerateCommand})");
            x = Array.ConvertAll(want, v => (float)v);
        }
    }

    [Fact]
    public void BetaSchedules_AlphasCumprod_MatchTorch()
    {
        var fx = FixtureFile.Load("schedulers/schedules");
        foreach (var s in BetaSchedules.Names)
        {
            var b = BetaSchedules.Betas(s);
            Assert.True(MaxDiff(b, fx.Get("betas." + s).Data) <= 1e-8, s + " betas");
            Assert.True(MaxDiff(BetaSchedules.AlphasCumprod(b), fx.Get("alphas_cumprod." + s).Data) <= 1e-6, s + " alphas_cumprod");
        }
    }

    [Fact]
    public void Scheduler_TrainingHelpers_MatchDiffusers()
    {
        var fx = FixtureFile.Load("schedulers/training");
        var ac = BetaSchedules.AlphasCumprod(BetaSchedules.Betas(fx.Metadata["beta_schedule"]));
        var x0 = fx.Get("x0").ToSingle();
        var noise = fx.Get("noise").ToSingle();
        var t = fx.Get("t").ToInt32();
        Assert.True(MaxDiff(DiffusionTraining.AddNoise(ac, x0, noise, t), fx.Get("add_noise").Data) <= Tol);
        Assert.True(MaxDiff(DiffusionTraining.GetVelocity(ac, x0, noise, t), fx.Get("velocity").Data) <= Tol);
        var snr = fx.Get("snr").Data;
        var mine = DiffusionTraining.Snr(ac, t);
        for (int i = 0; i < snr.Length; i++) Assert.True(Math.Abs(mine[i] - snr[i]) <= 1e-5 * Math.Max(1, snr[i]), $"snr {i}: {mine[i]} vs {snr[i]}");
        double gamma = double.Parse(fx.Metadata["snr_gamma"], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var p in new[] { "epsilon", "v_prediction", "sample" })
            Assert.True(MaxDiff(DiffusionTraining.MinSnrWeights(ac, t, gamma, p), fx.Get("min_snr." + p).Data) <= Tol, "min-SNR " + p);
        Assert.True(MaxDiff(DiffusionTraining.FlowNoisy(x0, noise, fx.Get("t_flow").ToSingle()), fx.Get("flow_noisy").Data) <= Tol);
        Assert.True(MaxDiff(DiffusionTraining.FlowVelocity(x0, noise), fx.Get("flow_velocity").Data) <= Tol);
        Assert.True(MaxDiff(DiffusionTraining.LogitNormal(fx.Get("z").ToSingle(), 0.5, 1.2), fx.Get("logit_normal").Data) <= Tol);
        Assert.Equal(noise, DiffusionTraining.Target("epsilon", ac, x0, noise, t));
    }

    [Theory]
    [InlineData("ddpm")]
    [InlineData("ddim")]
    public void Scheduler_StochasticStep_DeterministicBySeed(string name)
    {
        var o = new SchedulerOptions { Eta = 1.0 };
        float[] Run(ulong seed)
        {
            var s = Schedulers.Create(name, o);
            s.SetTimesteps(5);
            var rng = new Rng(seed);
            var x = new float[32];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
            foreach (var t in s.Timesteps) x = s.Step(Array.ConvertAll(x, v => 0.5f * v), t, x, rng);
            return x;
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
        var s2 = Schedulers.Create(name, o);
        s2.SetTimesteps(5);
        Assert.Throws<ArgumentException>(() => s2.Step(new float[4], s2.Timesteps[0], new float[4]));
    }

    [Fact]
    public void Scheduler_Registry_CreatesEveryName()
    {
        foreach (var n in Schedulers.Names)
        {
            var s = Schedulers.Create(n);
            Assert.Equal(n, s.Name);
            s.SetTimesteps(25);
            Assert.Equal(25, s.Timesteps.Length);
            Assert.True(s.Timesteps[0] > s.Timesteps[^1]);
            if (s.Sigmas is not null) Assert.Equal(26, s.Sigmas.Length);
        }
        Assert.Throws<ArgumentException>(() => Schedulers.Create("pndm"));
        Assert.Throws<ArgumentException>(() => Schedulers.Create("ddim", new SchedulerOptions { PredictionType = "flow" }));
        Assert.Throws<ArgumentException>(() => Schedulers.Create("ddim", new SchedulerOptions { BetaSchedule = "cosine" }));
    }

    [Fact]
    public void Scheduler_FlowTSampling_InUnitInterval()
    {
        var rng = new Rng(3);
        foreach (var w in new[] { "uniform", "logit_normal" })
        {
            var t = DiffusionTraining.SampleFlowT(rng, 2000, w);
            Assert.All(t, v => Assert.InRange(v, 0f, 1f));
            Assert.InRange(t.Average(), 0.45, 0.55);
        }
    }
}
