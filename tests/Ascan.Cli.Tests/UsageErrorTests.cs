// One rule for every verb (issue 10, items 10–13): a usage error is one line and exit 2 (an unknown flag with a
// "did you mean"), a failure one line and exit 1, never a .NET stack trace; one name per concept across verbs.
using Ascan.Training.Reporting;

namespace Ascan.Cli.Tests;

public class UsageErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-usage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The whole tool, as ./ascan runs it.</summary>
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(CliRunner.Root(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static void AssertOneLineUsageError((int Code, string Out, string Err) r, string mustContain)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        Assert.Contains(mustContain, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("Unhandled exception", r.Err);
        Assert.DoesNotContain("Usage:", r.Err + r.Out); // not the whole help
        Assert.True(r.Err.Trim().Split('\n').Length <= 3, r.Err);
    }

    [Theory]
    [InlineData("--model ascan_x", "Unknown model 'ascan_x'")]
    [InlineData("--model ascan_nano --image-size 0", "--image-size must be at least 8, got 0")]
    [InlineData("--model ascan_nano --image-size -5", "--image-size must be at least 8, got -5")]
    public void Info_BadArguments_OneLineNamingTheArgument(string args, string message) =>
        AssertOneLineUsageError(Run(["info", .. args.Split(' ')]), message);

    [Fact]
    public void Info_VitAtAnotherSize_IsBuiltForIt_AsBenchDoes()
    {
        var (code, output, err) = Run("info", "--model", "vit_b_16", "--image-size", "64", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("\"image_size\":64", output);
    }

    [Fact]
    public void BenchConv_OnANonAscanModel_SaysWhatItCovers() =>
        AssertOneLineUsageError(Run("bench", "conv", "--model", "resnet50"), "bench conv times the convolutions of an AsCAN preset");

    [Fact]
    public void DataShapes_OutputOnAFile_SaysItIsAFile()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "x");
        AssertOneLineUsageError(Run("data", "shapes", "--output", file), "is a file");
    }

    [Fact]
    public void Train_ResumeWithAnotherModel_IsRefusedNamingBoth()
    {
        // The config is what --resume reads first; a checkpoint holding only it is enough to reach the check.
        string last = Path.Combine(_dir, "last.safetensors");
        global::Ascan.Core.IO.SafetensorsFile.Write(last, [], new Dictionary<string, string>
        {
            ["format"] = global::Ascan.Training.Train.Checkpoint.Format,
            ["config"] = new global::Ascan.Training.Train.TrainConfig { Model = "ascan_nano", Data = _dir, Output = _dir }.ToJson(),
        });
        AssertOneLineUsageError(Run("train", "--resume", last, "--model", "ascan_t"), "is a run of ascan_nano");
    }

    [Fact]
    public void UnknownFlag_OneLineWithDidYouMean_NotTheWholeHelp()
    {
        var r = Run("train", "--epoch", "3");
        AssertOneLineUsageError(r, "unknown flag --epoch (did you mean --epochs?)");
        Assert.DoesNotContain("'3'", r.Err); // the unknown flag's value is not a second error
        AssertOneLineUsageError(Run("bnch"), "unknown command 'bnch' (did you mean bench?)");
        // With the flag misspelt, the required one is missing too: one line each, no help.
        var eval = Run("eval", "--wieghts", "w", "--data", "d");
        Assert.Equal(2, eval.Code);
        Assert.Contains("unknown flag --wieghts (did you mean --weights?)", eval.Err);
        Assert.Contains("--weights is required", eval.Err);
        Assert.DoesNotContain("Usage:", eval.Err + eval.Out);
    }

    [Fact]
    public void BadValue_SaysWhatWasExpected_ByFlag()
    {
        AssertOneLineUsageError(Run("train", "--lr", "abc"), "--lr expects a number, got 'abc'");
        AssertOneLineUsageError(Run("train", "--image-size", "x"), "--image-size expects an integer, got 'x'");
        AssertOneLineUsageError(Run("train", "--lr", "-1"), "--lr must be positive");
    }

    [Fact]
    public void ExitCodes_TwoForUsage_OneForRuntime()
    {
        Assert.Equal(2, CliRunner.ExitCode(new ArgumentException("x")));
        Assert.Equal(2, CliRunner.ExitCode(new FileNotFoundException("x")));
        Assert.Equal(2, CliRunner.ExitCode(new DirectoryNotFoundException("x")));
        Assert.Equal(1, CliRunner.ExitCode(new IOException("disk full")));
        Assert.Equal(1, CliRunner.ExitCode(new InvalidDataException("corrupt")));
        Assert.Equal(1, CliRunner.ExitCode(new InvalidOperationException("bug")));
        // A runtime failure from inside a verb is one line too.
        string corrupt = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, [1, 2, 3]);
        var r = Run("infer", "--model", "ascan_nano", "--weights", corrupt, "--input", corrupt, "--output", Path.Combine(_dir, "y.safetensors"));
        Assert.True(r.Code is 1 or 2, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void CommandWithoutVerb_PrintsItsHelp_ExitTwo()
    {
        var r = Run("data");
        Assert.Equal(2, r.Code);
        Assert.Contains("shapes", r.Out);
    }

    [Theory]
    [InlineData("demo", "--output")]
    [InlineData("demo", "--train-images")]
    [InlineData("data shapes", "--output")]
    [InlineData("data shapes", "--train-images")]
    [InlineData("data shapes", "--val-images")]
    [InlineData("train", "--output")]
    [InlineData("train", "--batch-size")]
    [InlineData("bench", "--batch-size")]
    [InlineData("eval", "--batch-size")]
    public void OneNamePerConcept_AcrossVerbs(string verb, string flag)
    {
        var r = Run([.. verb.Split(' '), "--help"]);
        Assert.Contains(flag, r.Out);
        Assert.DoesNotContain("--dir ", r.Out);
        Assert.DoesNotContain("--out ", r.Out);
    }

    [Fact]
    public void Durations_NeverZeroMinutes()
    {
        Assert.Equal("8.4 s", ProgressBar.FormatDuration(TimeSpan.FromSeconds(8.4)));
        Assert.Equal("2.5 min", ProgressBar.FormatDuration(TimeSpan.FromSeconds(150)));
        Assert.Equal("1 h 05 min", ProgressBar.FormatDuration(TimeSpan.FromMinutes(65)));
    }

    [Fact]
    public void Infer_IntoAMissingFolder_NamesTheOutput_NotATempFile()
    {
        string weights = Path.Combine(_dir, "w.safetensors");
        global::Ascan.Core.IO.SafetensorsFile.Write(weights, []);
        string output = Path.Combine(_dir, "missing", "y.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => global::Ascan.Core.IO.SafetensorsFile.Write(output, []));
        try { global::Ascan.Core.IO.SafetensorsFile.Write(output, []); }
        catch (DirectoryNotFoundException e) { Assert.Contains(output, e.Message); Assert.DoesNotContain(".tmp", e.Message); }
    }
}
