// `train` never replaces a run by accident (issue 10, item 1): a new folder per run without --output, a folder that
// holds a run refused unless --resume or --overwrite.
using System.CommandLine;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

public class TrainRunFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-runs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Err, TrainConfig? Config) Train(params string[] args)
    {
        TrainConfig? got = null;
        var err = new StringWriter();
        int code = CliRunner.Run(TrainCommand.Create(c => { got = c; return 0; }), args, new StringWriter(), err);
        return (code, err.ToString(), got);
    }

    private string HeldRun()
    {
        string run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.json"), "{}");
        File.WriteAllText(Path.Combine(run, Trainer.LastFile), "");
        return run;
    }

    [Fact]
    public void Train_WithoutOutput_GetsANewFolderPerRun()
    {
        var a = TrainCommand.PlaceRun(new TrainConfig { Model = "ascan_t" }, outputGiven: false, overwrite: false, new DateTime(2026, 12, 2, 13, 4, 5));
        Assert.Equal(Path.Combine("runs", "train", "20261202-130405-ascan_t"), a.Output);
        var (code, _, c) = Train("--model", "ascan_nano");
        Assert.Equal(0, code);
        Assert.Matches(@"^runs[/\\]train[/\\]\d{8}-\d{6}-ascan_nano(-\d+)?$", c!.Output);
    }

    [Fact]
    public void Train_SameSecondTwice_GetsTwoFolders()
    {
        var at = new DateTime(2026, 12, 2, 13, 4, 5);
        var first = TrainCommand.PlaceRun(new TrainConfig { Output = _dir, Model = "m" }, outputGiven: true, overwrite: false, at);
        Assert.Equal(_dir, first.Output); // an empty folder given with --output is used as is
        string stem = Path.Combine("runs", "train", "20261202-130405-ascan_nano");
        Directory.CreateDirectory(stem);
        try { Assert.Equal(stem + "-2", TrainCommand.PlaceRun(new TrainConfig(), outputGiven: false, overwrite: false, at).Output); }
        finally { Directory.Delete(stem); }
    }

    [Fact]
    public void Train_OutputHoldingARun_IsRefusedNamingTheFlagAndTheWayOut()
    {
        string run = HeldRun();
        var (code, err, c) = Train("-o", run);
        Assert.Equal(2, code);
        Assert.Null(c);
        Assert.Contains($"--output {run} already holds a run", err);
        Assert.Contains("--resume", err);
        Assert.Contains("--overwrite", err);
    }

    [Fact]
    public void Train_OutputHoldingARun_WithOverwrite_TrainsThere()
    {
        string run = HeldRun();
        var (code, _, c) = Train("-o", run, "--overwrite");
        Assert.Equal(0, code);
        Assert.Equal(run, c!.Output);
    }
}
