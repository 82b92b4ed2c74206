// Checkpoints that load everywhere and runs that resume anywhere (issue 10, items 2–5), through the real verbs on a
// tiny shapes dataset: one 1-epoch ascan_nano run at 32 px is trained once and shared by the tests.
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Ascan.Core;
using Ascan.Core.IO;
using Ascan.Data.Shapes;
using Ascan.Nn.Serialization;
using Ascan.Training.Eval;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

/// <summary>A tiny dataset (3 classes, 32×32) and one finished run on it: last, best and model.safetensors.</summary>
public sealed class TrainedRun : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("ascan-ckpt-").FullName;
    public string Data => Path.Combine(Root, "data");
    public string Run => Path.Combine(Root, "run");
    public string Last => Trainer.LastPath(Run);
    public string Best => Trainer.BestPath(Run);
    public string Plain => Trainer.WeightsPath(Run);
    public string Image => Directory.GetFiles(Path.Combine(Data, "val"), "*.png", SearchOption.AllDirectories).Order().First();

    /// <summary>The flags of the tiny run (explicit, so changed defaults do not change the test).</summary>
    public static string[] TinyFlags(string data, string output, int epochs) =>
        ["--model", "ascan_nano", "--data", data, "-o", output, "--epochs", $"{epochs}", "--batch-size", "8", "--image-size", "32",
         "--ema", "true", "--ema-decay", "0.9", "--workers", "0", "--seed", "3"];

    public TrainedRun()
    {
        ShapesWriter.Write(Data, new ShapesConfig { Classes = 3, Size = 32, Seed = 5 }, train: 24, val: 9);
        var (code, _, err) = CheckpointVerbTests.Invoke(TrainCommand.Create(), TinyFlags(Data, Run, 1));
        if (code != 0) throw new InvalidOperationException($"tiny training run failed ({code}): {err}");
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public class CheckpointVerbTests(TrainedRun run) : IClassFixture<TrainedRun>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-ckpt-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Out, string Err) Invoke(Command cmd, params string[] args)
    {
        var output = new StringWriter();
        var err = new StringWriter();
        // The verbs write their results on Console (the invocation writers carry parse errors and short messages).
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        int code;
        lock (ConsoleLock)
        {
            Console.SetOut(output); Console.SetError(err);
            try { code = CliRunner.Run(cmd, args, output, err); }
            finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
        }
        return (code, output.ToString(), err.ToString());
    }

    private static readonly object ConsoleLock = new();

    private string InputTensor()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        TensorFile.Save(path, new Dictionary<string, Tensor> { ["input"] = Tensor.Randn(new Rng(1), DType.F32, 1, 3, 32, 32) });
        return path;
    }

    // ---- item 2: every inference verb takes train's checkpoints, model or EMA weights, with the stored settings ----

    [Fact]
    public void InferBenchEvalPredict_TrainingCheckpoint_LoadWithoutModelFlag_ModelOrEma()
    {
        string x = InputTensor(), y = Path.Combine(_dir, "y.safetensors"), yEma = Path.Combine(_dir, "y_ema.safetensors");
        var (code, _, err) = Invoke(ModelCommands.Infer(), "--weights", run.Last, "--input", x, "--output", y);
        Assert.True(code == 0, err);
        (code, _, err) = Invoke(ModelCommands.Infer(), "--weights", run.Last, "--use-ema", "--input", x, "--output", yEma);
        Assert.True(code == 0, err);
        var model = TensorFile.Load(y)["output"];
        Assert.Equal([1, 3], model.ShapeArray()); // the stored class count, not ImageNet's 1000
        Assert.NotEqual(model.ToArray<float>(), TensorFile.Load(yEma)["output"].ToArray<float>());

        (code, var stdout, err) = Invoke(BenchCommand.Create(), "--weights", run.Last, "--use-ema", "--steps", "1", "--warmup", "0", "--json");
        Assert.True(code == 0, err);
        using (var doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal("ascan_nano", doc.RootElement.GetProperty("model").GetString());
            Assert.Equal(32, doc.RootElement.GetProperty("image_size").GetInt32());
            Assert.Equal(3, doc.RootElement.GetProperty("num_classes").GetInt32());
        }

        (code, stdout, err) = Invoke(EvalCommand.Create(), "--weights", run.Best, "--use-ema", "--data", run.Data, "--json");
        Assert.True(code == 0, err);
        Assert.Equal(9, JsonDocument.Parse(stdout).RootElement.GetProperty("images").GetInt32());
        (code, stdout, err) = Invoke(PredictCommand.Create(), "--weights", run.Last, "--json", "-k", "2", run.Image);
        Assert.True(code == 0, err);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement[0].GetProperty("top").GetArrayLength());
        Assert.DoesNotContain("warning", err);
    }

    [Fact]
    public void Eval_WrongModel_PrintsASummaryNamingTheStoredModel_FullListOnlyWithVerbose()
    {
        var (code, _, err) = Invoke(EvalCommand.Create(), "--model", "ascan_t", "--weights", run.Last, "--data", run.Data, "--json");
        Assert.Equal(1, code);
        Assert.Contains("the weights are for ascan_nano, not ascan_t", err);
        Assert.Matches(@"\d+ missing, \d+ unexpected, \d+ shape-mismatched keys", err);
        Assert.Contains("--verbose lists every key", err);
        Assert.True(err.Split('\n').Length < 10, err);
        var (verboseCode, _, verbose) = Invoke(EvalCommand.Create(), "--model", "ascan_t", "--weights", run.Last, "--data", run.Data, "--json", "--verbose");
        Assert.Equal(1, verboseCode);
        Assert.True(verbose.Split('\n').Length > 50, verbose);
    }

    [Fact]
    public void Infer_CheckpointKeysWithoutMetadata_SaysItIsATrainingCheckpoint_WrongClassCountSaysSo()
    {
        // Every tensor of the checkpoint, re-saved without its metadata: the keys still carry model./ema./optimizer.
        string stripped = Path.Combine(_dir, "stripped.safetensors");
        SafetensorsState.Save(stripped, SafetensorsState.Load(run.Last));
        string x = InputTensor(), y = Path.Combine(_dir, "y.safetensors");
        var (code, _, err) = Invoke(ModelCommands.Infer(), "--model", "ascan_nano", "--weights", stripped, "--input", x, "--output", y);
        Assert.Equal(1, code);
        Assert.Contains("this is a training checkpoint", err);

        (code, _, err) = Invoke(ModelCommands.Infer(), "--weights", run.Plain, "--num-classes", "5", "--input", x, "--output", y);
        Assert.Equal(1, code);
        Assert.Contains("a wrong class count: the weights' classifier has 3 classes, the model was built with 5 (from --num-classes)", err);
    }

    // ---- item 3: the training size and data config are stored in checkpoints and the plain export ----

    [Fact]
    public void EvalPredict_PlainExport_UseTheStoredImageSize_BareStateDictWarns()
    {
        var meta = SafetensorsFile.Open(run.Plain).Metadata;
        Assert.Equal("ascan_nano", meta["model_name"]);
        using (var data = JsonDocument.Parse(meta["data_config"]))
        {
            Assert.Equal(32, data.RootElement.GetProperty("input_size").GetInt32());
            Assert.Equal(3, data.RootElement.GetProperty("num_classes").GetInt32());
            Assert.Equal(3, data.RootElement.GetProperty("mean").GetArrayLength());
        }
        Assert.Equal(32, Checkpoint.ReadInfo(run.Last).Data!.InputSize);
        var loaded = ModelLoader.Load(run.Plain, new LoadOptions());
        Assert.Equal((32, "ascan_nano", 3), (loaded.ImageSize, loaded.ModelName, loaded.ClassNames.Count));

        var (code, _, err) = Invoke(EvalCommand.Create(), "--weights", run.Plain, "--data", run.Data, "--json");
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);

        // A state dict saved elsewhere says nothing: the model's 224 px is used, and said.
        string bare = Path.Combine(_dir, "bare.safetensors");
        SafetensorsState.Save(bare, SafetensorsState.Load(run.Plain));
        (code, _, err) = Invoke(PredictCommand.Create(), "--model", "ascan_nano", "--weights", bare, run.Image);
        Assert.True(code == 0, err);
        Assert.Contains($"'{bare}' does not say what image size it was trained at", err);
        Assert.Contains("224 px", err);
        (code, _, err) = Invoke(PredictCommand.Create(), "--model", "ascan_nano", "--weights", bare, "--image-size", "32", run.Image);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);
    }

    // ---- item 4: absolute paths, so --resume works from anywhere; --data / --output override and say so ----

    private static (int Code, string Err, TrainConfig? Config) Resume(params string[] args)
    {
        TrainConfig? got = null;
        var (code, _, err) = Invoke(TrainCommand.Create(c => { got = c; return 0; }), args);
        return (code, err, got);
    }

    [Fact]
    public void Train_Resume_UsesTheCheckpointsAbsolutePaths_OverridesAndChangedSettingsAreNamed()
    {
        var stored = Checkpoint.ReadConfig(run.Last);
        Assert.True(Path.IsPathRooted(stored.Data) && Path.IsPathRooted(stored.Output), $"{stored.Data} {stored.Output}");
        Assert.Equal(Path.GetFullPath(run.Run), stored.Output);

        var (code, err, c) = Resume("--resume", run.Last, "--epochs", "2");
        Assert.True(code == 0, err);
        Assert.Equal((stored.Data, stored.Output), (c!.Data, c.Output));
        Assert.Contains("--epochs 2 (checkpoint: 1)", err);
        Assert.DoesNotContain("overrides", err);

        string other = Path.Combine(_dir, "elsewhere");
        (code, err, c) = Resume("--resume", run.Last, "--epochs", "2", "--data", other, "-o", other, "--batch-size", "4");
        Assert.True(code == 0, err);
        Assert.Equal((other, other), (c!.Data, c.Output));
        Assert.Contains($"--data overrides the checkpoint's dataset path {stored.Data}", err);
        Assert.Contains($"--output overrides the checkpoint's output folder {stored.Output}", err);
        Assert.Contains("--batch-size 4 (checkpoint: 8)", err);
    }

    // ---- item 5: SIGTERM writes a recovery checkpoint; resume removes it; a finished run says so ----

    [Fact]
    public void Train_Resume_OfAFinishedRun_SaysSoAndExitsZero()
    {
        bool ran = false;
        var (code, _, err) = Invoke(TrainCommand.Create(_ => { ran = true; return 0; }), "--resume", run.Last);
        Assert.Equal(0, code);
        Assert.False(ran);
        Assert.Contains("is from a finished run: all 1 of 1 epochs are done", err);
        Assert.Contains("--epochs N", err);
    }

    [Fact]
    public async Task Train_Sigterm_WritesRecovery_ResumeFromAnotherDirectory_FinishesInTheSameFolderAndRemovesIt()
    {
        // Started in its own working directory with relative paths, as a scheduler would.
        string work = Path.Combine(_dir, "job");
        Directory.CreateDirectory(work);
        ShapesWriter.Write(Path.Combine(work, "data"), new ShapesConfig { Classes = 3, Size = 32, Seed = 5 }, train: 24, val: 9);
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "ascan.dll"), "train", .. TrainedRun.TinyFlags("data", "run", 3)])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var started = new TaskCompletionSource();
        var stdout = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); if (e.Data == "config:") started.TrySetResult(); };
        p.BeginOutputReadLine();
        var stderr = p.StandardError.ReadToEndAsync();
        var first = await Task.WhenAny(started.Task, p.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2)));
        Assert.True(first == started.Task, $"the run did not start: {stdout}");
        using (var kill = Process.Start("kill", ["-TERM", $"{p.Id}"])) await kill.WaitForExitAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2))) await p.WaitForExitAsync(timeout.Token);
        string recovery = Path.Combine(work, "run", Trainer.RecoveryFile), errors = await stderr;
        Assert.True(p.ExitCode == 143, $"exit {p.ExitCode}: {stdout}{errors}");
        Assert.Contains("SIGTERM", errors);
        Assert.True(File.Exists(recovery), stdout.ToString());

        // Resumed from this process's working directory (not the job's): the same folder, to the end; recovery goes.
        var (code, _, err) = Invoke(TrainCommand.Create(), "--resume", recovery);
        Assert.True(code == 0, err);
        Assert.False(File.Exists(recovery));
        Assert.True(File.Exists(Path.Combine(work, "run", Trainer.WeightsFile)));
        Assert.Equal(3, Checkpoint.ReadInfo(Path.Combine(work, "run", Trainer.LastFile)).Position!.Epoch);
        Assert.False(Directory.Exists(Path.Combine(Directory.GetCurrentDirectory(), "run")));
    }
}
