// Shape and index ops against PyTorch fixtures (tests/fixtures/shape).
using Ascan.Core;

namespace Ascan.Core.Tests;

public class ShapeFixtureTests
{
    public static TheoryData<string, DType> Shape => OpFixture.CasesF32AndF64("shape");

    [Theory, MemberData(nameof(Shape))]
    public void Shape_MatchesPyTorch_ForwardAndBackward(string name, DType dtype) =>
        OpFixture.Check("shape/" + name, dtype, FixtureTolerance.Standard(dtype), Apply);

    private static Tensor[] Apply(FixtureFile f, IReadOnlyDictionary<string, Tensor> t)
    {
        switch (f.Op)
        {
            case "Cat":
                return [Ops.Cat(t.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList(), f.Int("dim"))];
            case "Split":
                return Ops.Split(t["x"], f.Ints("sizes"), f.Int("dim"));
            case "Chunk":
                return Ops.Chunk(t["x"], f.Int("chunks"), f.Int("dim"));
            case "Pad":
                var mode = f.Params.GetProperty("mode").GetString() switch { "reflect" => PadMode.Reflect, "replicate" => PadMode.Replicate, _ => PadMode.Constant };
                return [Ops.Pad(t["x"], f.Ints("pads"), f.Double("value"), mode)];
            case "IndexSelect":
                return [Ops.IndexSelect(t["x"], f.Int("dim"), f.Input("idx").ToInt32())];
            case "Gather":
            {
                var idx = f.Input("idx");
                return [Ops.Gather(t["x"], f.Int("dim"), idx.ToInt32(), idx.Shape)];
            }
            case "Embedding":
            {
                var ids = f.Input("ids");
                int? pad = f.Params.TryGetProperty("padding_idx", out var p) ? p.GetInt32() : null;
                return [Ops.Embedding(t["weight"], ids.ToInt32(), ids.Shape, pad)];
            }
            default:
                throw new NotSupportedException($"No op for fixture {f.Name} ({f.Op}).");
        }
    }
}
