// Pooling and upsampling against PyTorch fixtures (tests/fixtures/spatial, NCHW permuted to NHWC).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class PoolFixtureTests
{
    public static IEnumerable<object[]> Spatial() => FixtureRunner.Cases("spatial");

    [Theory, MemberData(nameof(Spatial))]
    public void Spatial_MatchesPyTorch_ForwardAndBackward(string name, string dtype)
    {
        var fx = FixtureFile.Load("spatial/" + name);
        FixtureRunner.Check(fx, Enum.Parse<DType>(dtype), t =>
            new[] { FixtureRunner.Nchw(Apply(fx, FixtureRunner.Nhwc(t["x"]))) });
    }

    private static Tensor Apply(FixtureFile fx, Tensor x)
    {
        switch (fx.Op)
        {
            case "AvgPool2d":
                return Ops.AvgPool2d(x, fx.Int("kernel"), fx.Int("stride"), fx.Int("padding"), fx.Bool("count_include_pad"), fx.Bool("ceil_mode"));
            case "MaxPool2d":
                return Ops.MaxPool2d(x, fx.Int("kernel"), fx.Int("stride"), fx.Int("padding"), fx.Int("dilation"), fx.Bool("ceil_mode"));
            case "AdaptiveAvgPool2d":
                return Ops.AdaptiveAvgPool2d(x, (fx.Int("out_h"), fx.Int("out_w")));
            case "Upsample":
                var mode = fx.Params.GetProperty("mode").GetString() == "bilinear" ? UpsampleMode.Bilinear : UpsampleMode.Nearest;
                bool ac = fx.Bool("align_corners");
                return fx.Params.TryGetProperty("scale", out var s)
                    ? Ops.Upsample(x, s.GetDouble(), mode, ac)
                    : Ops.Upsample(x, (fx.Int("out_h"), fx.Int("out_w")), mode, ac);
            default:
                throw new NotSupportedException($"No op for fixture {fx.Name} ({fx.Op}).");
        }
    }
}
