// Parity of FidInceptionV3 with tools/fid_reference.py (pytorch-fid's InceptionV3, pool3) on a 1/16-width twin, and
// the full network's layout (parameter count, keys) against the numbers fid_reference.py --check-full prints.
using Ascan.Core;
using Ascan.Core.Tests;
using Ascan.Models.Inception;
using Ascan.Nn;
using Xunit.Abstractions;

namespace Ascan.Models.Tests.Fid;

/// <summary>
/// tests/fixtures/fid/inception_w16: every block type and key of pytorch-fid's network with all channel counts
/// divided by 16 (the real weights are ~95 MB), random weights, two 36×311 images (the resize to 299 up- and
/// downsamples). The C# model is built from the same config that builds the real one, loads the state dict strictly
/// and must give the float64 pool3 features within 1e-4 of their max in float32, 1e-10 in float64.
/// </summary>
public class FidInceptionTests(ITestOutputHelper output)
{
    private const string Fixture = "fid/inception_w16";

    private double MaxRelError(DType dtype)
    {
        var f = FixtureFile.Load(Fixture);
        var model = new FidInceptionV3(ParamPath.Root(dtype, new Rng(3)), new FidInceptionConfig { WidthDivisor = 16, NumClasses = 0 });
        var report = model.LoadStateDict(f.StateTensors(dtype), strict: true);
        Assert.Equal(model.StateDict().Count, report.Loaded.Count);
        model.Train(false);
        var y = model.Forward(f.Input("x").ToTensor(dtype));
        f.AssertShape("out", y.Shape);
        var expected = f.Output.Data;
        var actual = y.ToArray<double>();
        double max = expected.Max(Math.Abs), err = 0;
        for (int i = 0; i < expected.Length; i++) err = Math.Max(err, Math.Abs(expected[i] - actual[i]));
        Assert.True(max > 1, "pool3 features are near zero: the fixture proves nothing");
        output.WriteLine($"{dtype}: max |diff| {err:g3}, max |out| {max:g3}, relative {err / max:g3}; first {string.Join(", ", actual.Take(4).Select(v => v.ToString("g6")))} vs {string.Join(", ", expected.Take(4).Select(v => v.ToString("g6")))}; regenerate: {f.RegenerateCommand}");
        return err / max;
    }

    [Fact]
    public void FidInception_Pool3_MatchesPyTorch_Float32() => Assert.True(MaxRelError(DType.F32) < 1e-4);

    [Fact]
    public void FidInception_Pool3_MatchesPyTorch_Float64() => Assert.True(MaxRelError(DType.F64) < 1e-10);

    /// <summary>23,850,960 parameters and buffers' counts as torch (566 keys, 94 of them num_batches_tracked, which Ascan keeps out).</summary>
    [Fact]
    public void FidInception_FullSize_LayoutOfPytorchFid()
    {
        var model = FidInceptionConfig.PytorchFid.Build(ParamPath.Root(DType.F32, new Rng(1)));
        Assert.Equal(2048, model.NumFeatures);
        var sd = model.StateDict();
        Assert.Equal(23_850_960L, sd.Where(kv => !kv.Key.Contains(".running_")).Sum(kv => (long)kv.Value.Numel)); // torch's parameters()
        Assert.Equal(566 - 94, sd.Count);
        Assert.Equal([32, 3, 3, 3], sd["Conv2d_1a_3x3.conv.weight"].ShapeArray());
        Assert.Equal([192, 160, 7, 1], sd["Mixed_6c.branch7x7_3.conv.weight"].ShapeArray());
        Assert.Equal([160, 160, 1, 7], sd["Mixed_6c.branch7x7_2.conv.weight"].ShapeArray());
        Assert.Equal([384, 384, 3, 1], sd["Mixed_7c.branch3x3_2b.conv.weight"].ShapeArray());
        Assert.True(sd.ContainsKey("Mixed_5b.branch_pool.bn.running_mean"));
        Assert.Equal([1008, 2048], sd["fc.weight"].ShapeArray());
    }
}
