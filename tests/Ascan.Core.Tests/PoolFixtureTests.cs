// Pooling and upsampling against PyTorch fixtures (tests/fixtures/spatial, NCHW permuted to NHWC).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class PoolFixtureTests
{
    public static TheoryData<string, DType> Spatial => OpFixture.CasesF32AndF64("spatial");

    [Theory, MemberData(nameof(Spatial))]
    public void Spatial_MatchesPyTorch_ForwardAndBackward(string name, DType dtype) =>
        OpFixture.Check("spatial/" + name, dtype, FixtureTolerance.Standard(dtype),
            (f, x) => [OpFixture.Nchw(Apply(f, OpFixture.Nhwc(x["x"])))]);

    private static Tensor Apply(FixtureFile f, Tensor x)
    {
        switch (f.Op)
        {
            case "AvgPool2d":
                return Ops.AvgPool2d(x, f.Int("kernel"), f.Int("stride"), f.Int("padding"), f.Bool("count_include_pad"), f.Bool("ceil_mode"));
            case "MaxPool2d":
                return Ops.MaxPool2d(x, f.Int("kernel"), f.Int("stride"), f.Int("padding"), f.Int("dilation"), f.Bool("ceil_mode"));
            case "AdaptiveAvgPool2d":
                return Ops.AdaptiveAvgPool2d(x, (f.Int("out_h"), f.Int("out_w")));
            case "Upsample":
                var mode = f.Params.GetProperty("mode").GetString() == "bilinear" ? UpsampleMode.Bilinear : UpsampleMode.Nearest;
                bool ac = f.Bool("align_corners");
                return f.Params.TryGetProperty("scale", out var s)
                    ? Ops.Upsample(x, s.GetDouble(), mode, ac)
                    : Ops.Upsample(x, (f.Int("out_h"), f.Int("out_w")), mode, ac);
            default:
                throw new NotSupportedException($"No op for fixture {f.Name} ({f.Op}).");
        }
    }
}
