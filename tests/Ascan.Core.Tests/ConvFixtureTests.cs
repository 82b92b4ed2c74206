// Conv2d against PyTorch fixtures (tests/fixtures/conv): NCHW inputs and outputs permuted around the NHWC op.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ConvFixtureTests
{
    public static IEnumerable<object[]> Conv() => FixtureRunner.Cases("conv");

    [Theory, MemberData(nameof(Conv))]
    public void Conv2d_MatchesPyTorch_ForwardAndBackward(string name, string dtype)
    {
        var fx = FixtureFile.Load("conv/" + name);
        FixtureRunner.Check(fx, Enum.Parse<DType>(dtype), t =>
        {
            var y = Ops.Conv2d(FixtureRunner.Nhwc(t["x"]), t["weight"], t.GetValueOrDefault("bias"),
                fx.Int("stride"), fx.Int("padding"), fx.Int("dilation"), fx.Int("groups"));
            return new[] { FixtureRunner.Nchw(y) };
        });
    }

    [Fact]
    public void Conv2d_Fixtures_CoverTheRequiredCases()
    {
        var names = FixtureRunner.Cases("conv").Select(c => (string)c[0]).Distinct().ToArray();
        foreach (var want in new[] { "k1", "k3_pad1", "k5_pad2_nobias", "k3_stride2", "k3_dilation2", "k3_groups2", "depthwise_k3" })
            Assert.Contains(want, names);
    }
}
