// Misleading file errors (issue 10, item 12): a folder given where a weights file or checkpoint is expected says so,
// naming the .safetensors files in it, instead of "does not exist" or "Access … denied".
using System.CommandLine;

namespace Ascan.Cli.Tests;

public class FileErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Err) Invoke(Command cmd, params string[] args)
    {
        var err = new StringWriter();
        int code = CliRunner.Run(cmd, args, new StringWriter(), err);
        return (code, err.ToString());
    }

    [Fact]
    public void Eval_FolderAsWeights_SaysItIsAFolderAndNamesItsCheckpoints()
    {
        File.WriteAllText(Path.Combine(_dir, "best.safetensors"), "");
        var (code, err) = Invoke(EvalCommand.Create(), "--model", "ascan_nano", "--weights", _dir, "--data", _dir);
        Assert.Equal(2, code);
        Assert.Contains($"'{_dir}' is a folder, not a weights file", err);
        Assert.Contains("best.safetensors", err);
        Assert.DoesNotContain("denied", err);
    }

    [Fact]
    public void Train_FolderToResume_SaysItIsAFolder()
    {
        var (code, err) = Invoke(TrainCommand.Create(_ => 0), "--resume", _dir);
        Assert.Equal(2, code);
        Assert.Contains($"'{_dir}' is a folder, not a safetensors file; it holds no .safetensors file.", err);
    }

    [Fact]
    public void Eval_MissingWeights_SaysItDoesNotExist()
    {
        string missing = Path.Combine(_dir, "nope.safetensors");
        var (code, err) = Invoke(EvalCommand.Create(), "--model", "ascan_nano", "--weights", missing, "--data", _dir);
        Assert.Equal(2, code);
        Assert.Contains($"The weights file '{missing}' does not exist.", err);
    }
}
