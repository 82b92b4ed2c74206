// Tensors round-trip through safetensors files with shapes, values and names intact.
using Ascan.Core.IO;

namespace Ascan.Core.Tests;

public class TensorFileTests
{
    [Fact]
    public void TensorFile_RoundTrip_ViewsAndDTypes()
    {
        var dir = Directory.CreateTempSubdirectory("ascan-tf");
        var path = Path.Combine(dir.FullName, "t.safetensors");
        var rng = new Rng(1);
        var a = Tensor.Randn(rng, DType.F32, 3, 4);
        var b = Tensor.Randn(rng, DType.F64, 2, 5).Transpose(0, 1);
        TensorFile.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b.t"] = b }, new Dictionary<string, string> { ["k"] = "v" });
        var back = TensorFile.Load(path, DType.F64);
        Assert.Equal(new[] { "a", "b.t" }, back.Keys);
        TensorAssert.Close(a, back["a"], 0, 0);
        TensorAssert.Close(b, back["b.t"], 0, 0);
        Assert.Equal("v", SafetensorsFile.Open(path).Metadata["k"]);
        dir.Delete(true);
    }
}
