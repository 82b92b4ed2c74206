// Module.RemoveChild / ReplaceChild: keys, state-dict order, path reuse, mode and dtype of the replacement.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Nn.Tests;

/// <summary>A body and a swappable head, as a classifier whose head is reset.</summary>
internal sealed class HeadNet : Module
{
    public readonly Linear Body;
    public Linear? Head;
    public readonly LayerNorm Norm;

    public HeadNet(ParamPath p) : base(p)
    {
        Body = new Linear(p.Sub("body"), 4, 6);
        Head = new Linear(p.Sub("head"), 6, 3);
        Norm = new LayerNorm(p.Sub("norm"), 6);
    }

    public void Replace(int classes) => Head = ReplaceChild("head", q => new Linear(q, 6, classes));
    public void Remove() { RemoveChild("head"); Head = null; }
    public void AddBack(int classes) => Head = new Linear(Path.Sub("head"), 6, classes);
    public void ReplaceWithFailure() => ReplaceChild<Linear>("head", q => throw new InvalidOperationException("boom"));
    public void ReplaceOnWrongPath() => ReplaceChild("head", _ => new Linear(Path.Sub("elsewhere"), 6, 2));
    public void RemoveMissing() => RemoveChild("nope");
}

public class ModuleReplaceTests
{
    [Fact]
    public void ReplaceChild_NewShape_KeepsStateDictPosition()
    {
        var net = new HeadNet(ParamPath.Root());
        net.Replace(7);
        Assert.Equal(["body.weight", "body.bias", "head.weight", "head.bias", "norm.weight", "norm.bias"], net.StateDict().Keys);
        Assert.Equal([7, 6], net.StateDict()["head.weight"].ShapeArray());
        Assert.Same(net.Head, net.Children[1].Module);
        Assert.Equal(4 * 6 + 6 + 6 * 7 + 7 + 12, net.ParameterCount);
    }

    [Fact]
    public void RemoveChild_KeysGone_PathReusable()
    {
        var net = new HeadNet(ParamPath.Root());
        net.Remove();
        Assert.DoesNotContain(net.StateDict().Keys, k => k.StartsWith("head.", StringComparison.Ordinal));
        Assert.Equal(2, net.Children.Count);
        // The path is free again: a new head registers (at the end, as a freshly added child would).
        net.AddBack(5);
        Assert.Equal(["body.weight", "body.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"], net.StateDict().Keys);
        Assert.Equal([5, 6], net.StateDict()["head.weight"].ShapeArray());
    }

    [Fact]
    public void ReplaceChild_KeepsModeAndDType()
    {
        var net = new HeadNet(ParamPath.Root());
        net.Eval();
        net.To(DType.F64);
        net.Replace(2);
        Assert.False(net.Head!.Training);
        Assert.Equal(DType.F64, net.Head.Weight.DType);
        Assert.True(net.Head.Weight.RequiresGrad);
        Assert.Equal("head.weight", net.Head.Weight.Name);
    }

    [Fact]
    public void ReplaceChild_FactoryThrows_OldChildRestored()
    {
        var net = new HeadNet(ParamPath.Root());
        var before = net.StateDict().Keys.ToList();
        var oldHead = net.Head;
        Assert.Throws<InvalidOperationException>(net.ReplaceWithFailure);
        Assert.Equal(before, net.StateDict().Keys);
        Assert.Same(oldHead, net.Children[1].Module);
        // Keys are still claimed: a second tensor under head.weight must be refused.
        Assert.Throws<InvalidOperationException>(() => new Linear(net.Path.Sub("head"), 1, 1));
    }

    [Fact]
    public void ReplaceChild_WrongPath_Throws()
    {
        var net = new HeadNet(ParamPath.Root());
        var e = Assert.Throws<InvalidOperationException>(net.ReplaceOnWrongPath);
        Assert.Contains("path it is given", e.Message);
        Assert.Contains("head.weight", net.StateDict().Keys);
    }

    [Fact]
    public void RemoveChild_UnknownName_ListsChildren()
    {
        var net = new HeadNet(ParamPath.Root());
        var e = Assert.Throws<ArgumentException>(net.RemoveMissing);
        Assert.Contains("nope", e.Message);
        Assert.Contains("head", e.Message);
    }

    [Fact]
    public void ReplaceChild_Replacement_Trains()
    {
        var net = new HeadNet(ParamPath.Root(DType.F32, new Rng(3)));
        net.Replace(2);
        var x = Tensor.Randn(new Rng(1), DType.F32, 2, 4);
        var y = net.Head!.Forward(net.Norm.Forward(net.Body.Forward(x)));
        y.Sum().Backward();
        Assert.NotNull(net.Head.Weight.Grad);
        Assert.NotNull(net.Body.Weight.Grad);
    }
}
