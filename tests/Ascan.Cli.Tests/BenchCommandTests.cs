// Tests of `ascan bench --model`: the JSON contract, the profile rows, the --serve protocol and argument errors.
using System.CommandLine;
using System.Text.Json;

namespace Ascan.Cli.Tests;

/// <summary>
/// Runs the smallest registered model at 32×32 for one step, in process, through the real command line parser.
/// Only shapes and names are asserted, never timings.
/// </summary>
public class BenchCommandTests
{
    private static (int Code, string Out, string Err) Bench(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliRunner.Run(BenchCommand.Create(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static readonly string[] Tiny = ["--model", "ascan_nano", "--image-size", "32", "--steps", "1", "--warmup", "0"];

    [Fact]
    public void Bench_Json_OneObjectWithTheContractFields()
    {
        var (code, stdout, stderr) = Bench([.. Tiny, "--batch", "2", "--json"]);
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var root = doc.RootElement;
        Assert.Equal("ascan_nano", root.GetProperty("model").GetString());
        Assert.Equal(2, root.GetProperty("batch").GetInt32());
        Assert.Equal(32, root.GetProperty("image_size").GetInt32());
        Assert.Equal("infer", root.GetProperty("mode").GetString());
        foreach (var key in new[] { "samples_per_sec", "ms_per_step", "gflops", "peak_gflops", "gmacs" })
            Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        Assert.Equal(2_863_800, root.GetProperty("params").GetInt64());
        Assert.False(root.TryGetProperty("profile", out _));
    }

    [Fact]
    public void BenchConv_OneRowPerConvShapeOfThePreset()
    {
        var (code, stdout, stderr) = Bench("conv", "--model", "ascan_nano", "--batch", "1", "--image-size", "32", "--threads", "1");
        Assert.True(code == 0, stderr);
        // ascan_nano ("C·CC·CTT·T"): stem (2), three downsamples, conv_exp and conv_proj of stages 0–2.
        string[] names = ["stem.conv1", "stem.conv2", "stages.0 conv_exp", "stages.0 conv_proj", "stages.1.downsample",
            "stages.1 conv_exp", "stages.1 conv_proj", "stages.2.downsample", "stages.2 conv_exp", "stages.2 conv_proj", "stages.3.downsample"];
        var lines = stdout.Split('\n');
        foreach (var name in names) Assert.Single(lines, l => l.StartsWith(name + " "));
        Assert.Contains(lines, l => l.StartsWith("stages.1 conv_exp ") && l.Contains("1,4,4,64->256,3,1") && l.Contains(" 2 "));
        Assert.Contains("total (forward + both gradients", stdout);
    }

    [Fact]
    public void BenchGemm_RowPerShapeAndThreadCount_BadShapeNamed()
    {
        var (code, stdout, stderr) = Bench("gemm", "--shape", "33,17,9,ta", "8,8,8");
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n').Where(l => l.StartsWith("33,17,9,ta ") || l.StartsWith("8,8,8 ")).ToArray();
        Assert.Equal(2 * Math.Min(2, Environment.ProcessorCount), rows.Length);
        (code, _, stderr) = Bench("gemm", "--shape", "4,0,2");
        Assert.Equal(2, code);
        Assert.Contains("--shape '4,0,2'", stderr);
    }

    [Fact]
    public void Bench_TrainProfileJson_HasForwardBackwardAndOptimizerRows()
    {
        var (code, stdout, stderr) = Bench([.. Tiny, "--batch", "2", "--train", "--profile", "--json", "--num-classes", "10"]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("train", root.GetProperty("mode").GetString());
        Assert.Equal(10, root.GetProperty("num_classes").GetInt32());
        var rows = root.GetProperty("profile").EnumerateArray()
            .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("pass").GetString());
        Assert.Equal("forward", rows["Conv2d"]);
        Assert.Equal("backward", rows["Conv2d.backward"]);
        Assert.Equal("forward", rows["CrossEntropy"]);
        Assert.Equal("phase", rows["AdamW.step"]);
        Assert.Equal("step", rows[ProfileReport.Outside]);
        double pct = root.GetProperty("profile").EnumerateArray().Sum(r => r.GetProperty("pct_of_step").GetDouble());
        Assert.InRange(pct, 99.0, 101.0); // self times and the remainder partition the step
    }

    [Fact]
    public void Bench_Serve_AnswersRunRssAndQuit()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var options = new ModelBenchOptions { Model = "ascan_nano", ImageSize = 32, Batch = 1, Warmup = 0, Serve = true };
        int code = ModelBench.Run(options, output, error, new StringReader("run 2\nbogus\nrss\nquit\nrun 5\n"));
        Assert.True(code == 0, error.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length); // ready, two step times, the error line, rss; nothing after quit
        Assert.StartsWith("ready {", lines[0]);
        using (var ready = JsonDocument.Parse(lines[0]["ready ".Length..]))
            Assert.Equal("infer", ready.RootElement.GetProperty("mode").GetString());
        var times = lines[1].Split(' ');
        Assert.Equal(2, times.Length);
        Assert.All(times, t => Assert.True(double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) > 0));
        Assert.StartsWith("error:", lines[2]);
        Assert.True(double.Parse(lines[3], System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public void Bench_BadArguments_ClearErrors()
    {
        var (code, _, err) = Bench("--model", "no_such_model");
        Assert.Equal(2, code);
        Assert.Contains("no_such_model", err);
        Assert.Contains("ascan_nano", err); // lists what is registered
        (code, _, err) = Bench("--model", "ascan_nano", "--steps", "0");
        Assert.Equal(2, code);
        Assert.Contains("--steps", err);
        (code, _, err) = Bench("--batch", "4");
        Assert.Equal(2, code);
        Assert.Contains("--model", err);
        Assert.Contains(BenchCommand.Create().Subcommands, c => c.Name == "kernels");
    }
}
