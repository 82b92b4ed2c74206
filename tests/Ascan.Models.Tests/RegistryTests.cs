// The registry: lookup errors and wildcard listing.
using Ascan.Models;

namespace Ascan.Models.Tests;

public class RegistryTests
{
    [Fact]
    public void Registry_UnknownName_ListsRegistered()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.Get("no_such_model"));
        Assert.Contains("no_such_model", e.Message);
    }
}

public class RegistryKindTests
{
    [Fact]
    public void Registry_Entries_SayWhatTheyAre()
    {
        Assert.All(ModelRegistry.All, e => Assert.True(Enum.IsDefined(e.Kind)));
        Assert.Equal(ModelKind.Classifier, ModelRegistry.Get("ascan_t").Kind);
        Assert.IsAssignableFrom<ClassifierModel>(ModelRegistry.Create("ascan_nano"));
    }

    [Fact]
    public void Registry_AscanBackbone_HasNoNormOrHead_AndItsParameterCount()
    {
        var b = (Ascan.Models.AsCAN.AscanModel)ModelRegistry.CreateBackbone("ascan_nano");
        Assert.DoesNotContain(b.StateDict().Keys, k => k.StartsWith("norm.") || k.StartsWith("head."));
        Assert.Equal(b.Config.ParameterCount(), b.ParameterCount);
        Assert.Throws<InvalidOperationException>(() => b.ForwardHead(Ascan.Core.Tensor.Zeros(1, 2, 2, 256)));
    }
}
