// Shape and index ops against PyTorch fixtures (tests/fixtures/shape).
using System.Text.Json;
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ShapeFixtureTests
{
    public static IEnumerable<object[]> Shape() => FixtureRunner.Cases("shape");

    [Theory, MemberData(nameof(Shape))]
    public void Shape_MatchesPyTorch_ForwardAndBackward(string name, string dtype)
    {
        var fx = FixtureFile.Load("shape/" + name);
        FixtureRunner.Check(fx, Enum.Parse<DType>(dtype), t => Apply(fx, t));
    }

    private static Tensor[] Apply(FixtureFile fx, IReadOnlyDictionary<string, Tensor> t)
    {
        int[] Ints(string key) => fx.Params.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        switch (fx.Op)
        {
            case "Cat":
                return new[] { Ops.Cat(t.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList(), fx.Int("dim")) };
            case "Split":
                return Ops.Split(t["x"], Ints("sizes"), fx.Int("dim"));
            case "Chunk":
                return Ops.Chunk(t["x"], fx.Int("chunks"), fx.Int("dim"));
            case "Pad":
                var mode = fx.Params.GetProperty("mode").GetString() switch { "reflect" => PadMode.Reflect, "replicate" => PadMode.Replicate, _ => PadMode.Constant };
                return new[] { Ops.Pad(t["x"], Ints("pads"), fx.Params.GetProperty("value").GetDouble(), mode) };
            case "IndexSelect":
                return new[] { Ops.IndexSelect(t["x"], fx.Int("dim"), fx.Input("idx").ToInt32()) };
            case "Gather":
            {
                var idx = fx.Input("idx");
                return new[] { Ops.Gather(t["x"], fx.Int("dim"), idx.ToInt32(), idx.Shape) };
            }
            case "Embedding":
            {
                var ids = fx.Input("ids");
                int? pad = fx.Params.TryGetProperty("padding_idx", out var p) ? p.GetInt32() : null;
                return new[] { Ops.Embedding(t["weight"], ids.ToInt32(), ids.Shape, pad) };
            }
            default:
                throw new NotSupportedException($"No op for fixture {fx.Name} ({fx.Op}).");
        }
    }
}
