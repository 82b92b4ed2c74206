// AdamW (decoupled weight decay, bias correction, optional amsgrad), exactly torch.optim.AdamW's update.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn.Optim;

public sealed record AdamWConfig
{
    public double Lr { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 1e-2;
    public bool Amsgrad { get; init; }
}

public sealed class AdamW : Optimizer
{
    private sealed class State(Tensor m, Tensor v, Tensor? vMax) { public long Step; public Tensor M = m, V = v; public Tensor? VMax = vMax; }

    private readonly Dictionary<Tensor, State> _state = new(ReferenceEqualityComparer.Instance);
    public AdamWConfig Config { get; }

    public AdamW(IEnumerable<Tensor> parameters, AdamWConfig? config = null) : this([new ParamGroup(parameters)], config) { }

    public AdamW(IEnumerable<ParamGroup> groups, AdamWConfig? config = null) : base(groups) { Config = config ?? new AdamWConfig(); }

    private State Get(Tensor p)
    {
        if (!_state.TryGetValue(p, out var s))
            _state[p] = s = new State(NewState(p), NewState(p), Config.Amsgrad ? NewState(p) : null);
        return s;
    }

    public override void Step()
    {
        foreach (var (p, g, _) in All())
        {
            if (p.Grad == null) continue;
            var s = Get(p);
            s.Step++;
            var h = new AdamWStep(g.Lr ?? Config.Lr, Config.Beta1, Config.Beta2, Config.Eps, g.WeightDecay ?? Config.WeightDecay, s.Step);
            if (p.DType == DType.F32)
                OptimizerKernels.AdamW<float>(p.Span<float>(), s.M.Span<float>(), s.V.Span<float>(), s.VMax == null ? Span<float>.Empty : s.VMax.Span<float>(), p.Grad.Span<float>(), h);
            else
                OptimizerKernels.AdamW<double>(p.Span<double>(), s.M.Span<double>(), s.V.Span<double>(), s.VMax == null ? Span<double>.Empty : s.VMax.Span<double>(), p.Grad.Span<double>(), h);
        }
    }

    /// <summary>Per parameter: "&lt;name&gt;.step", ".exp_avg", ".exp_avg_sq" and with amsgrad ".max_exp_avg_sq" (torch's names).</summary>
    public override Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (p, _, i) in All())
        {
            if (!_state.TryGetValue(p, out var s)) continue;
            string k = StateKey(p, i);
            d[k + ".step"] = StepTensor(s.Step);
            d[k + ".exp_avg"] = s.M.Clone();
            d[k + ".exp_avg_sq"] = s.V.Clone();
            if (s.VMax != null) d[k + ".max_exp_avg_sq"] = s.VMax.Clone();
        }
        return d;
    }

    public override void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        _state.Clear();
        foreach (var (p, _, i) in All())
        {
            string k = StateKey(p, i);
            if (!state.ContainsKey(k + ".step")) continue; // never stepped
            _state[p] = new State(Read(state, k + ".exp_avg", p), Read(state, k + ".exp_avg_sq", p),
                Config.Amsgrad ? Read(state, k + ".max_exp_avg_sq", p) : null) { Step = ReadStep(state, k + ".step") };
        }
    }
}
