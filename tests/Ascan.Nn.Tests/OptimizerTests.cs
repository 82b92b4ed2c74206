// Optimizers against torch.optim trajectories (tests/fixtures/optim), state round trips, param groups and clipping.
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Nn;
using Ascan.Nn.Optim;

namespace Ascan.Nn.Tests;

public class OptimizerTests
{
    private static Optimizer Make(string name, ParamGroup[] groups)
    {
        var fx = FixtureFile.Load("optim/" + name);
        var cfg = JsonDocument.Parse(fx.Metadata["config"]).RootElement;
        double D(string k, double d) => cfg.TryGetProperty(k, out var v) ? v.GetDouble() : d;
        var g1 = JsonDocument.Parse(fx.Metadata["groups"]).RootElement;
        groups[1].Lr = g1.GetProperty("lr").GetDouble();
        groups[1].WeightDecay = g1.GetProperty("weight_decay").GetDouble();
        if (name.StartsWith("sgd", StringComparison.Ordinal))
            return new Sgd(groups, new SgdConfig(D("lr", 0)) { Momentum = D("momentum", 0), Dampening = D("dampening", 0), WeightDecay = D("weight_decay", 0), Nesterov = cfg.TryGetProperty("nesterov", out var n) && n.GetBoolean() });
        var betas = cfg.GetProperty("betas");
        return new AdamW(groups, new AdamWConfig
        {
            Lr = D("lr", 0), Beta1 = betas[0].GetDouble(), Beta2 = betas[1].GetDouble(), Eps = D("eps", 0), WeightDecay = D("weight_decay", 0),
            Amsgrad = cfg.TryGetProperty("amsgrad", out var a) && a.GetBoolean(),
        });
    }

    [Theory]
    [InlineData("sgd_nesterov")]
    [InlineData("sgd_dampening")]
    [InlineData("adamw")]
    [InlineData("adamw_amsgrad")]
    public void Optimizer_MatchesTorchTrajectory(string name)
    {
        var fx = FixtureFile.Load("optim/" + name);
        int steps = int.Parse(fx.Metadata["steps"]);
        foreach (var dtype in new[] { DType.F32, DType.F64 })
        {
            var ps = Enumerable.Range(0, 2).Select(i => { var t = fx.Get($"p0.{i}"); var p = Tensor.FromArray(t.Data, t.Shape).To(dtype); p.RequiresGrad = true; p.Name = $"p{i}"; return p; }).ToArray();
            var opt = Make(name, [new ParamGroup([ps[0]]), new ParamGroup([ps[1]])]);
            for (int k = 0; k < steps; k++)
            {
                for (int i = 0; i < 2; i++) { var g = fx.Get($"g.{k}.{i}"); ps[i].Grad = Tensor.FromArray(g.Data, g.Shape).To(dtype); }
                opt.Step();
                for (int i = 0; i < 2; i++)
                    fx.AssertClose($"p.{k}.{i}", ps[i].ToArray<double>(), dtype == DType.F32 ? 1e-5 : 1e-12, dtype == DType.F32 ? 1e-6 : 1e-14);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Optimizer_StateRoundTrip_ContinuesIdentically(bool adam)
    {
        Tensor[] Params() => [Tensor.Randn(new Rng(1), DType.F32, 5, 3).Clone(), Tensor.Randn(new Rng(2), DType.F32, 7).Clone()];
        Optimizer Build(Tensor[] ps)
        {
            foreach (var p in ps) p.RequiresGrad = true;
            return adam ? new AdamW(ps, new AdamWConfig { Amsgrad = true }) : new Sgd(ps, new SgdConfig(0.1) { Momentum = 0.9, Nesterov = true });
        }
        void Grads(Tensor[] ps, int step) { for (int i = 0; i < ps.Length; i++) ps[i].Grad = Tensor.Randn(new Rng((ulong)(100 + 10 * step + i)), DType.F32, ps[i].ShapeArray()).Clone(); }

        var a = Params(); var oa = Build(a);
        for (int s = 0; s < 3; s++) { Grads(a, s); oa.Step(); }
        var saved = oa.StateDict();
        Assert.Contains(adam ? "param0.exp_avg" : "param0.momentum_buffer", saved.Keys);
        var b = a.Select(t => t.Detach().Clone()).ToArray(); var ob = Build(b);
        ob.LoadStateDict(saved);
        for (int s = 3; s < 5; s++) { Grads(a, s); oa.Step(); Grads(b, s); ob.Step(); }
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].ToArray<float>(), b[i].ToArray<float>());
    }

    [Fact]
    public void Optimizer_SkipsParamsWithoutGrad_AndZeroGrad()
    {
        var p = Tensor.Ones(DType.F32, 4).Clone(); p.RequiresGrad = true;
        var q = Tensor.Ones(DType.F32, 4).Clone(); q.RequiresGrad = true;
        var opt = new AdamW([p, q]);
        p.Grad = Tensor.Ones(DType.F32, 4).Clone();
        opt.Step();
        Assert.All(q.ToArray<float>(), v => Assert.Equal(1f, v));
        Assert.All(p.ToArray<float>(), v => Assert.True(v < 1f));
        var g = p.Grad;
        opt.ZeroGrad();
        Assert.Same(g, p.Grad);
        Assert.All(p.Grad!.ToArray<float>(), v => Assert.Equal(0f, v));
        opt.ZeroGrad(setToNone: true);
        Assert.Null(p.Grad);
    }

    [Fact]
    public void ParamGroups_WeightDecay_SkipsNormsAndBiases()
    {
        var net = new ToyNet(Path.Root());
        var groups = ParamGroups.WeightDecay(net, 0.05, noDecay: ["head.weight"]);
        Assert.Equal(0.0, groups[0].WeightDecay);
        Assert.Equal(0.05, groups[1].WeightDecay);
        Assert.All(groups[1].Params, p => Assert.True(p.Rank >= 2));
        Assert.Contains(groups[0].Params, p => p.Name == "head.weight");
        Assert.Contains(groups[0].Params, p => p.Name == "stages.0.blocks.0.norm1.weight");
        Assert.Contains(groups[1].Params, p => p.Name == "stages.1.blocks.1.attn.qkv.weight");
        Assert.Equal(net.Parameters().Count(), groups.Sum(g => g.Params.Count));
    }

    [Fact]
    public void ClipGradNorm_ReturnsGlobalNorm_AndScales()
    {
        var a = Tensor.Zeros(2).Clone(); a.RequiresGrad = true; a.Grad = Tensor.FromArray(new float[] { 3, 0 }, 2).Clone();
        var b = Tensor.Zeros(1).Clone(); b.RequiresGrad = true; b.Grad = Tensor.FromArray(new float[] { 4 }, 1).Clone();
        var c = Tensor.Zeros(1).Clone(); c.RequiresGrad = true; // no gradient: skipped
        Assert.Equal(5.0, ClipGrad.ClipGradNorm([a, b, c], 10.0), 6);
        Assert.Equal([3f, 0f], a.Grad.ToArray<float>()); // below the limit: unchanged
        Assert.Equal(5.0, ClipGrad.ClipGradNorm([a, b, c], 1.0), 6);
        Assert.Equal(1.0, Math.Sqrt(a.Grad.ToArray<double>().Sum(v => v * v) + b.Grad.ToArray<double>().Sum(v => v * v)), 5);
        Assert.Equal(0.6f, a.Grad.ToArray<float>()[0], 5);
    }
}
