// The generation verbs end to end on tiny shapes data (issue 12): generate train (pixel space, the VAE, latent space)
// writes checkpoints, curves and per-epoch grids and stores its diffusion options; generate sample writes one PNG per
// image, the grid and samples.json, with the training's sampler settings unless flags say; bad input is one line.
using System.Text.Json;
using Ascan.Data.Imaging;
using Ascan.Data.Shapes;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

/// <summary>5-class 16 px shapes (20 train, 10 val) and a finished 1-epoch unet_shapes run on them.</summary>
public sealed class GeneratedRun : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("ascan-gen-").FullName;
    public string Data => Path.Combine(Root, "data");
    public string Run => Path.Combine(Root, "run");
    public string TrainOutput { get; }

    public GeneratedRun()
    {
        ShapesWriter.Write(Data, new ShapesConfig { Classes = 5, Size = 16, Seed = 3, Textures = false }, 20, 10);
        var (code, output, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(),
            ["--data", Data, "-o", Run, "--image-size", "16", "--epochs", "1", "--batch-size", "8", "--lr", "1e-3", "--objective", "v_prediction", "--beta-schedule", "squaredcos_cap_v2",
             "--sample-steps", "2", "--grid-columns", "2", "--cfg", "2", "--ema-decay", "0.9", "--workers", "0", "--seed", "2"]);
        if (code != 0) throw new InvalidOperationException($"tiny generate run failed ({code}): {err}");
        TrainOutput = output;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class GenerateVerbTests(GeneratedRun run) : IClassFixture<GeneratedRun>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-gen-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Train_WritesCheckpointsCurvesAndTheGrid_AndStoresTheDiffusionOptions()
    {
        foreach (var f in new[] { "last.safetensors", "best.safetensors", "model.safetensors", "curves.svg", "summary.csv", "classes.txt", "config.json" })
            Assert.True(File.Exists(Path.Combine(run.Run, f)), f);
        var grid = ImageIO.Load(Path.Combine(run.Run, "samples", "epoch_001.png"));
        Assert.True(grid.Width >= 2 * 64 && grid.Height >= 5 * 64, $"{grid.Width}×{grid.Height}"); // 5 rows of 2, tiles scaled to ≥ 64 px
        Assert.Contains("val_loss", File.ReadAllText(Path.Combine(run.Run, "summary.csv")));
        Assert.Contains("done: best epoch 1", run.TrainOutput);
        var info = Checkpoint.ReadInfo(Trainer.WeightsPath(run.Run));
        Assert.Equal("unet_shapes", info.ModelName);
        Assert.Equal("v_prediction", info.Diffusion!.Objective);
        Assert.Equal("squaredcos_cap_v2", info.Diffusion.Scheduler.BetaSchedule);
        Assert.Equal(16, info.TrainedImageSize);
        Assert.Equal(5, info.ClassNames!.Count);
    }

    [Fact]
    public void Sample_WritesOnePngPerImage_TheGridAndJson_WithTheRunsSettings()
    {
        string output = Path.Combine(_dir, "samples");
        var (code, stdout, err) = CheckpointVerbTests.Invoke(GenerateSampleCommand.Create(),
            "--weights", Trainer.LastPath(run.Run), "--class", "circle", "2", "--n", "3", "--seed", "5", "-o", output, "--json");
        Assert.True(code == 0, err);
        var s = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(6, s.GetProperty("images").GetInt32());
        Assert.Equal("ddim", s.GetProperty("sampler").GetString());
        Assert.Equal(2, s.GetProperty("steps").GetInt32());       // the run's grid steps
        Assert.Equal(2.0, s.GetProperty("cfg").GetDouble());
        Assert.True(s.GetProperty("ema").GetBoolean());
        var names = File.ReadAllLines(Path.Combine(run.Run, "classes.txt"));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(output, "circle"), "*.png").Length);
        Assert.Equal(3, Directory.GetFiles(Path.Combine(output, names[2]), "*.png").Length);
        Assert.Equal(16, ImageIO.Load(Path.Combine(output, "circle", "0000.png")).Width);
        Assert.True(File.Exists(Path.Combine(output, "grid.png")) && File.Exists(Path.Combine(output, "samples.json")));

        // Same seed, same images; the sampler and steps can be changed.
        string again = Path.Combine(_dir, "again");
        Assert.Equal(0, CheckpointVerbTests.Invoke(GenerateSampleCommand.Create(),
            "--weights", Trainer.LastPath(run.Run), "--class", "circle", "2", "--n", "3", "--seed", "5", "-o", again).Code);
        Assert.Equal(File.ReadAllBytes(Path.Combine(output, "circle", "0002.png")), File.ReadAllBytes(Path.Combine(again, "circle", "0002.png")));
        var (c2, o2, e2) = CheckpointVerbTests.Invoke(GenerateSampleCommand.Create(),
            "--weights", Trainer.WeightsPath(run.Run), "--n", "1", "--sampler", "dpmpp", "--steps", "3", "-o", Path.Combine(_dir, "dpm"), "--json");
        Assert.True(c2 == 0, e2);
        Assert.Equal(5, JsonDocument.Parse(o2.Trim().Split('\n')[^1]).RootElement.GetProperty("images").GetInt32());
    }

    [Theory]
    [InlineData("--class", "dragon")]
    [InlineData("--class", "7")]
    [InlineData("--sampler", "euler")]
    public void Sample_BadArguments_AreOneLineNamingTheFlag(string flag, string value)
    {
        var (code, _, err) = CheckpointVerbTests.Invoke(GenerateSampleCommand.Create(),
            "--weights", Trainer.LastPath(run.Run), flag, value, "-o", Path.Combine(_dir, "bad"));
        Assert.NotEqual(0, code);
        Assert.Contains(flag, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Train_RejectsAClassifier_AndAFlowModelWithADdpmSampler()
    {
        var (code, _, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(), "--model", "ascan_nano", "--data", run.Data, "-o", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("generate train trains a diffusion UNet or a VAE", err);
        (code, _, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(), "--objective", "flow", "--data", run.Data, "-o", Path.Combine(_dir, "y"));
        Assert.Equal(2, code);
        Assert.Contains("--sampler ddim", err);
    }

    [Fact]
    public void LatentDiffusion_TrainsTheVae_EncodesOnce_TrainsTheUnetOnLatents_AndSamplesImages()
    {
        string vae = Path.Combine(_dir, "vae"), unet = Path.Combine(_dir, "unet");
        var (code, _, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(),
            "--model", "vae_shapes", "--data", run.Data, "-o", vae, "--image-size", "16", "--epochs", "1", "-b", "8", "--workers", "0", "--ema", "false");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(vae, "recon", "epoch_001.png")));

        string[] args = ["--vae", Trainer.WeightsPath(vae), "--data", run.Data, "-o", unet, "--image-size", "16", "--epochs", "1", "-b", "8", "--workers", "0",
            "--sample-steps", "2", "--grid-columns", "1"];
        (code, var stdout, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(), args);
        Assert.True(code == 0, err);
        Assert.Contains("encoding 20 train images", stdout);
        Assert.True(File.Exists(Path.Combine(unet, "latents_train.safetensors")));
        var info = Checkpoint.ReadInfo(Trainer.WeightsPath(unet));
        Assert.Equal(8, info.TrainedImageSize);                    // 16 px images → 8×8×4 latents (KL-f2)
        Assert.True(File.Exists(Path.Combine(unet, "samples", "epoch_001.png")));

        // A second run on the same data reuses the cache.
        (code, stdout, err) = CheckpointVerbTests.Invoke(GenerateTrainCommand.Create(), [.. args, "--overwrite"]);
        Assert.True(code == 0, err);
        Assert.Contains("20 train latents from", stdout);

        string samples = Path.Combine(_dir, "latent-samples");
        (code, _, err) = CheckpointVerbTests.Invoke(GenerateSampleCommand.Create(), "--weights", Trainer.WeightsPath(unet), "--n", "1", "-o", samples);
        Assert.True(code == 0, err);
        Assert.Equal(16, ImageIO.Load(Path.Combine(samples, "circle", "0000.png")).Width); // decoded back to image size
    }
}
