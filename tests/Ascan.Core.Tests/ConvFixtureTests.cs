// Conv2d against PyTorch fixtures (tests/fixtures/conv): NCHW inputs and outputs permuted around the NHWC op.
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ConvFixtureTests
{
    public static TheoryData<string, DType> Conv => OpFixture.CasesF32AndF64("conv");

    [Theory, MemberData(nameof(Conv))]
    public void Conv2d_MatchesPyTorch_ForwardAndBackward(string name, DType dtype) =>
        OpFixture.Check("conv/" + name, dtype, FixtureTolerance.Standard(dtype), (f, x) =>
        [
            OpFixture.Nchw(Ops.Conv2d(OpFixture.Nhwc(x["x"]), x["weight"], x.GetValueOrDefault("bias"),
                f.Int("stride"), f.Int("padding"), f.Int("dilation"), f.Int("groups"))),
        ]);

    [Fact]
    public void Conv2d_Fixtures_CoverTheRequiredCases()
    {
        var names = OpFixture.CaseNames("conv");
        foreach (var want in new[] { "k1", "k3_pad1", "k5_pad2_nobias", "k3_stride2", "k3_dilation2", "k3_groups2", "depthwise_k3" })
            Assert.Contains(want, names);
    }
}
