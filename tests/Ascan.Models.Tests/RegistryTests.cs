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
