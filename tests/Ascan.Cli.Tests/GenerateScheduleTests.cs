// `generate schedule` prints what a sampler would use (issue 12): diffusers' timesteps, and sigmas where it has them.
using System.Text.Json;

namespace Ascan.Cli.Tests;

public class GenerateScheduleTests
{
    private static JsonElement Schedule(params string[] args)
    {
        var (output, err) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(GenerateCommand.Schedule(o => GenerateCommand.PrintSchedule(o, output)), [.. args, "--json"], output, err);
        Assert.True(code == 0, err.ToString());
        return JsonDocument.Parse(output.ToString()).RootElement.Clone();
    }

    [Fact]
    public void Ddim_LeadingSpacing_IsDiffusersDefault()
    {
        // diffusers DDIMScheduler(1000 steps, leading, steps_offset 0).set_timesteps(10): 900, 800, …, 0.
        var r = Schedule("--sampler", "ddim", "--steps", "10");
        Assert.Equal(new double[] { 900, 800, 700, 600, 500, 400, 300, 200, 100, 0 }, r.GetProperty("timesteps").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(JsonValueKind.Null, r.GetProperty("sigmas").ValueKind);
        var trailing = Schedule("--sampler", "ddim", "--steps", "10", "--timestep-spacing", "trailing");
        Assert.Equal(999, trailing.GetProperty("timesteps")[0].GetDouble());
    }

    [Fact]
    public void DpmSolverAndEuler_HaveSigmas_OneMoreThanSteps()
    {
        foreach (var sampler in new[] { "dpmpp", "euler" })
        {
            var r = Schedule("--sampler", sampler, "--steps", "8");
            Assert.Equal(8, r.GetProperty("timesteps").GetArrayLength());
            Assert.Equal(9, r.GetProperty("sigmas").GetArrayLength());
        }
    }

    [Fact]
    public void UnknownSampler_IsAUsageError()
    {
        var err = new StringWriter();
        Assert.Equal(2, CliRunner.Run(GenerateCommand.Schedule(_ => 0), ["--sampler", "plms"], new StringWriter(), err));
        Assert.Contains("--sampler must be one of ddpm, ddim, dpmpp, euler", err.ToString());
    }
}

public class GenerateFidTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-fid-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Features(string name, int n, int d, ulong seed, double shift = 0)
    {
        var rng = new Ascan.Core.Rng(seed);
        var x = new float[n * d];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() + shift);
        string path = Path.Combine(_dir, name);
        Ascan.Core.IO.TensorFile.Save(path, new Dictionary<string, Ascan.Core.Tensor> { ["features"] = Ascan.Core.Tensor.FromArray(x, n, d) });
        return path;
    }

    [Fact]
    public void Fid_OfTwoFeatureFiles_PrintsSixDigits_IdenticalIsZero_MismatchedDimsRefused()
    {
        string a = Features("a.safetensors", 60, 8, 1), b = Features("b.safetensors", 50, 8, 2, shift: 0.5), c = Features("c.safetensors", 20, 6, 3);
        var (output, err) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, CliRunner.Run(GenerateCommand.Fid(), ["--features", a, b], output, err));
        Assert.Matches(@"^fid: \d\.\d{5}$", output.ToString().Trim()); // mean shift 0.5 over 8 dims: about 2
        double want = Ascan.Training.Eval.Fid.FromFiles(a, b);
        Assert.Equal(want.ToString("G6", System.Globalization.CultureInfo.InvariantCulture), output.ToString().Trim()["fid: ".Length..]);
        output = new StringWriter();
        Assert.Equal(0, CliRunner.Run(GenerateCommand.Fid(), ["--features", a, a, "--json"], output, err));
        Assert.True(Math.Abs(JsonDocument.Parse(output.ToString()).RootElement.GetProperty("fid").GetDouble()) < 1e-9);
        Assert.Equal(2, CliRunner.Run(GenerateCommand.Fid(), ["--features", a, c], new StringWriter(), err));
        Assert.Contains("8-d features", err.ToString());
    }
}

public class GeneratorInfoTests
{
    [Theory]
    [InlineData("unet_shapes", 3_017_635, 3)]
    [InlineData("vae_shapes", 658_375, 3)]
    public void Info_DescribesGenerators_ParamsAndOutput(string model, long parameters, int channels)
    {
        var (output, err) = (new StringWriter(), new StringWriter());
        Assert.True(CliRunner.Run(ModelCommands.Info(), ["--model", model, "--json"], output, err) == 0, err.ToString());
        var json = JsonDocument.Parse(output.ToString()).RootElement;
        Assert.Equal("generator", json.GetProperty("kind").GetString());
        Assert.Equal(parameters, json.GetProperty("params").GetInt64());
        Assert.Equal(channels, json.GetProperty("output_shape")[1].GetInt32());
        Assert.True(json.GetProperty("gmacs").GetDouble() > 0);
    }
}
