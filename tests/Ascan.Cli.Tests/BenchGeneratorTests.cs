// Tests of `ascan bench --model` on the generators: a UNet step (one denoiser call) and a VAE step (the decoder from
// latents; training: encode, sample, decode), in process through the real parser, and --weights with their state dicts.
using System.Text.Json;
using Ascan.Core.IO;
using Ascan.Models;
using Ascan.Models.Generation;

namespace Ascan.Cli.Tests;

/// <summary>One step each at 32×32, batch 1; only the JSON contract and the MAC count are asserted, never timings.</summary>
public class BenchGeneratorTests
{
    private static JsonElement BenchJson(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliRunner.Run(BenchCommand.Create(), [.. args, "--batch-size", "1", "--image-size", "32", "--steps", "1", "--warmup", "0", "--json"], output, error);
        Assert.True(code == 0, error.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        return doc.RootElement.Clone();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UNetShapes_OneDenoiserCall_MacsAreTheConfigs(bool train)
    {
        var r = BenchJson(["--model", "unet_shapes", .. (train ? new[] { "--train" } : [])]);
        Assert.Equal("unet_shapes", r.GetProperty("model").GetString());
        Assert.Equal(train ? "train" : "infer", r.GetProperty("mode").GetString());
        Assert.Equal(32, r.GetProperty("image_size").GetInt32());
        Assert.True(r.GetProperty("samples_per_sec").GetDouble() > 0);
        Assert.Equal(3_017_635, r.GetProperty("params").GetInt64());
        // The JSON rounds GMACs to 4 decimals; the training step's forward is the same denoiser call.
        Assert.Equal(Math.Round(UNetConfig.Shapes.Macs(32, 32) / 1e9, 4), r.GetProperty("gmacs").GetDouble());
    }

    [Fact]
    public void VaeShapes_DecoderInInference_EncoderToo_InTraining()
    {
        var infer = BenchJson("--model", "vae_shapes");
        var train = BenchJson("--model", "vae_shapes", "--train");
        foreach (var r in new[] { infer, train })
        {
            Assert.Equal("vae_shapes", r.GetProperty("model").GetString());
            Assert.Equal(32, r.GetProperty("image_size").GetInt32()); // the decoded size
            Assert.True(r.GetProperty("samples_per_sec").GetDouble() > 0);
            Assert.True(r.GetProperty("gmacs").GetDouble() > 0);
            Assert.Equal(658_375, r.GetProperty("params").GetInt64());
        }
        Assert.Equal("train", train.GetProperty("mode").GetString());
        // Inference is the decoder alone; a training step's forward also runs the encoder.
        Assert.True(train.GetProperty("gmacs").GetDouble() > infer.GetProperty("gmacs").GetDouble());
    }

    [Theory]
    [InlineData("unet_shapes")]
    [InlineData("vae_shapes")]
    public void Weights_APlainStateDictOfTheModelsKeys_LoadsStrictly(string model)
    {
        string dir = Directory.CreateTempSubdirectory("ascan-bench-gen-").FullName;
        try
        {
            string path = Path.Combine(dir, "weights.safetensors");
            TensorFile.Save(path, ModelRegistry.Create(model, new ModelOptions { Seed = 3 }).StateDict());
            var r = BenchJson("--model", model, "--weights", path);
            Assert.Equal(model, r.GetProperty("model").GetString());
            Assert.True(r.GetProperty("samples_per_sec").GetDouble() > 0);

            // Strict: a tensor the model does not have is refused, named.
            var state = ModelRegistry.Create(model).StateDict();
            state["extra.weight"] = state.First().Value;
            TensorFile.Save(path, state);
            var error = new StringWriter();
            int code = CliRunner.Run(BenchCommand.Create(), ["--model", model, "--weights", path, "--steps", "1", "--warmup", "0", "--json"], new StringWriter(), error);
            Assert.NotEqual(0, code);
            Assert.Contains("extra.weight", error.ToString());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
