// SGD with momentum, dampening, Nesterov and L2 weight decay, exactly torch.optim.SGD's update.
using Ascan.Core;
using Ascan.Kernels;

namespace Ascan.Nn.Optim;

public sealed record SgdConfig(double Lr)
{
    public double Momentum { get; init; }
    public double Dampening { get; init; }
    public double WeightDecay { get; init; }
    public bool Nesterov { get; init; }
}

public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Tensor, Tensor> _momentum = new(ReferenceEqualityComparer.Instance);
    public SgdConfig Config { get; }

    public Sgd(IEnumerable<Tensor> parameters, SgdConfig config) : this([new ParamGroup(parameters)], config) { }

    public Sgd(IEnumerable<ParamGroup> groups, SgdConfig config) : base(groups)
    {
        if (config.Nesterov && (config.Momentum <= 0 || config.Dampening != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening (as torch).");
        Config = config;
    }

    public override void Step()
    {
        foreach (var (p, g, _) in All())
        {
            if (p.Grad == null) continue;
            bool first = false;
            Tensor? buf = null;
            if (Config.Momentum != 0 && !_momentum.TryGetValue(p, out buf)) { _momentum[p] = buf = NewState(p); first = true; }
            var h = new SgdStep(g.Lr ?? Config.Lr, Config.Momentum, Config.Dampening, g.WeightDecay ?? Config.WeightDecay, Config.Nesterov, first);
            if (p.DType == DType.F32)
                OptimizerKernels.Sgd<float>(p.Span<float>(), buf == null ? Span<float>.Empty : buf.Span<float>(), p.Grad.Span<float>(), h);
            else
                OptimizerKernels.Sgd<double>(p.Span<double>(), buf == null ? Span<double>.Empty : buf.Span<double>(), p.Grad.Span<double>(), h);
        }
    }

    /// <summary>Per parameter with momentum: "&lt;name&gt;.momentum_buffer" (torch's name).</summary>
    public override Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (p, _, i) in All())
            if (_momentum.TryGetValue(p, out var b)) d[StateKey(p, i) + ".momentum_buffer"] = b.Clone();
        return d;
    }

    public override void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        _momentum.Clear();
        foreach (var (p, _, i) in All())
        {
            string k = StateKey(p, i) + ".momentum_buffer";
            if (state.ContainsKey(k)) _momentum[p] = Read(state, k, p);
        }
    }
}
