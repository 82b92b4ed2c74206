// `eval` never overwrites a picture beside the weights (issue 10, item 6): --output, else a new folder per evaluation;
// --json alone writes nothing.
namespace Ascan.Cli.Tests;

public class EvalOutputTests
{
    private static readonly DateTime At = new(2026, 12, 2, 14, 1, 2);

    [Fact]
    public void Eval_WithOutput_WritesThere()
    {
        Assert.Equal("out", EvalCommand.ResultFolder(new EvalOptions { Weights = "w/best.safetensors", Output = "out" }, "ascan_nano", At));
        Assert.Equal("out", EvalCommand.ResultFolder(new EvalOptions { Weights = "w/best.safetensors", Output = "out", Json = true }, "ascan_nano", At));
    }

    [Fact]
    public void Eval_WithoutOutput_GetsANewFolderPerEvaluation_NotTheWeightsFolder()
    {
        var o = new EvalOptions { Weights = "w/best.safetensors" };
        Assert.Equal(Path.Combine("runs", "eval", "20261202-140102-ascan_nano"), EvalCommand.ResultFolder(o, "ascan_nano", At));
        string taken = Path.Combine("runs", "eval", "20261202-140102-resnet50");
        Directory.CreateDirectory(taken);
        try { Assert.Equal(taken + "-2", EvalCommand.ResultFolder(o, "resnet50", At)); }
        finally { Directory.Delete(taken); }
    }

    [Fact]
    public void Eval_JsonWithoutOutput_WritesNothing() =>
        Assert.Null(EvalCommand.ResultFolder(new EvalOptions { Weights = "w/best.safetensors", Json = true }, "ascan_nano", At));
}
