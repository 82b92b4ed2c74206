// Tests of the flag layer: for every verb, each flag sets its config field; unknown flags and bad values fail naming the flag.
using System.CommandLine;
using Ascan.Cli.Flags;
using Ascan.Training;
using Ascan.Training.Train;

namespace Ascan.Cli.Tests;

/// <summary>
/// Parses through each verb's real command with its run replaced by a capture, so nothing trains or loads. Each table
/// row gives a flag a value unlike the default and names the field it must land in; a coverage test per verb checks
/// that the table has a row for every declared flag, so a new flag without a row fails.
/// </summary>
public class FlagBindingTests
{
    /// <summary><paramref name="Alone"/>: the row's args are the whole command line (it sets a required flag itself).</summary>
    private sealed record Row<T>(string[] Args, Func<T, object?> Field, object? Want, bool Alone = false)
    {
        public string Label => string.Join(' ', Args);
    }

    private static (int Code, string Err) Invoke(Command cmd, params string[] args)
    {
        var err = new StringWriter();
        int code = CliRunner.Run(cmd, args, new StringWriter(), err);
        return (code, err.ToString());
    }

    /// <summary>The options <paramref name="create"/>'s command hands its run for <paramref name="args"/>.</summary>
    private static T Capture<T>(Func<Func<T, int>, Command> create, string[] args) where T : class
    {
        T? got = null;
        var (code, err) = Invoke(create(o => { got = o; return 0; }), args);
        Assert.True(code == 0, $"{string.Join(' ', args)}: exit {code}\n{err}");
        return Assert.IsType<T>(got);
    }

    /// <summary>A bare command over <paramref name="flags"/> (for the bench subcommands, which take no run).</summary>
    private static Command Bare<T>(ConfigBinder<T> flags, Func<T, int> run) where T : class
    {
        var cmd = new Command("bare");
        flags.AddTo(cmd);
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    private static void CheckRow<T>(Row<T>[] table, string label, Func<Func<T, int>, Command> create, string[] required) where T : class
    {
        var row = table.Single(r => r.Label == label);
        var got = Capture(create, row.Alone ? row.Args : [.. required, .. row.Args]);
        Assert.Equal(row.Want, row.Field(got));
    }

    private static void CheckCoverage<T>(Row<T>[] table, ConfigBinder<T> flags) where T : class
    {
        var tested = table.Select(r => r.Args[0]).ToHashSet();
        var missing = flags.Names.Where(n => !tested.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"no table row for {string.Join(", ", missing)}");
    }

    private static IEnumerable<object[]> Labels<T>(Row<T>[] table) => table.Select(r => new object[] { r.Label });

    // ---- train: every TrainConfig flag (--config and --resume choose the base; tested below).
    private static readonly Row<TrainConfig>[] TrainTable =
    [
        new(["--model", "ascan_t"], c => c.Model, "ascan_t"),
        new(["--data", "d"], c => c.Data, "d"),
        new(["--output", "o"], c => c.Output, "o"),
        new(["-o", "o"], c => c.Output, "o"),
        new(["--epochs", "7"], c => c.Epochs, 7),
        new(["--batch-size", "12"], c => c.BatchSize, 12),
        new(["-b", "12"], c => c.BatchSize, 12),
        new(["--lr", "0.25"], c => c.Lr, 0.25),
        new(["--weight-decay", "0.01"], c => c.WeightDecay, 0.01),
        new(["--warmup-epochs", "2.5"], c => c.WarmupEpochs, 2.5),
        new(["--min-lr", "1e-5"], c => c.MinLr, 1e-5),
        new(["--warmup-lr", "1e-5"], c => c.WarmupLr, 1e-5),
        new(["--momentum", "0.8"], c => c.Momentum, 0.8),
        new(["--image-size", "96"], c => c.ImageSize, 96),
        new(["--scale-min", "0.5"], c => c.ScaleMin, 0.5),
        new(["--hflip", "0"], c => c.Hflip, 0.0),
        new(["--sched", "poly"], c => c.Sched, "poly"),
        new(["--poly-power", "0.9"], c => c.PolyPower, 0.9),
        new(["--smoothing", "0.2"], c => c.Smoothing, 0.2),
        new(["--mixup", "0.8"], c => c.Mixup, 0.8),
        new(["--cutmix", "1.5"], c => c.Cutmix, 1.5),
        new(["--drop-path", "0.1"], c => c.DropPath, 0.1),
        new(["--aa", "rand-m9-mstd0.5"], c => c.AutoAugment, "rand-m9-mstd0.5"),
        new(["--reprob", "0.25"], c => c.ReProb, 0.25),
        new(["--color-jitter", "0.1"], c => c.ColorJitter, 0.1),
        new(["--ema"], c => c.Ema, true),
        new(["--ema-decay", "0.99"], c => c.EmaDecay, 0.99),
        new(["--clip-grad", "2"], c => c.ClipGrad, 2.0),
        new(["--accum-steps", "3"], c => c.AccumSteps, 3),
        new(["--seed", "7"], c => c.Seed, 7UL),
        new(["--opt", "sgd"], c => c.Opt, "sgd"),
        new(["--workers", "3"], c => c.Workers, 3),
        new(["-j", "3"], c => c.Workers, 3),
    ];
    public static IEnumerable<object[]> TrainLabels => Labels(TrainTable);

    [Theory, MemberData(nameof(TrainLabels))]
    public void Train_Flag_SetsItsConfigField(string label) => CheckRow(TrainTable, label, run => TrainCommand.Create(run), []);

    [Fact]
    public void Train_Table_CoversEveryFlag() => CheckCoverage(TrainTable, TrainCommand.Flags());

    [Fact]
    public void Train_NoFlags_IsTheDefaults()
    {
        var c = Capture<TrainConfig>(run => TrainCommand.Create(run), []);
        // Every default, but the output: without --output each run gets its own folder below it (TrainRunFolderTests).
        Assert.StartsWith(new TrainConfig().Output, c.Output);
        Assert.Equal(new TrainConfig() with { Output = c.Output }, c);
    }

    [Fact]
    public void Train_Precedence_DefaultsThenConfigFileThenFlags()
    {
        string file = Path.Combine(Path.GetTempPath(), $"ascan-flags-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, new TrainConfig { Epochs = 3, Lr = 0.5, Ema = true, AutoAugment = "rand-m9-mstd0.5", Hflip = 0.25 }.ToJson());
        try
        {
            var c = Capture<TrainConfig>(run => TrainCommand.Create(run), ["--config", file, "--lr", "0.125", "--ema", "false", "--aa", "none"]);
            Assert.Equal(3, c.Epochs);          // from the file
            Assert.Equal(0.25, c.Hflip);        // from the file (no flag exists for it)
            Assert.Equal(64, c.BatchSize);      // the default, untouched by either
            Assert.Equal(0.125, c.Lr);          // the flag over the file
            Assert.False(c.Ema);                // --ema false over the file's true
            Assert.Null(c.AutoAugment);         // --aa none turns the file's policy off
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Train_BadValue_FromAFlagNamesTheFlag_FromTheFileNamesTheKey()
    {
        var (code, err) = Invoke(TrainCommand.Create(_ => 0), "--lr", "-1");
        Assert.Equal(2, code);
        Assert.Contains("--lr must be positive, got -1", err);
        (code, err) = Invoke(TrainCommand.Create(_ => 0), "-b", "0");
        Assert.Equal(2, code);
        Assert.Contains("--batch-size must be at least 1, got 0", err);

        string file = Path.Combine(Path.GetTempPath(), $"ascan-flags-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, "{ \"drop_path\": 1.5 }");
        try
        {
            (code, err) = Invoke(TrainCommand.Create(_ => 0), "--config", file);
            Assert.Equal(2, code);
            Assert.Contains("drop_path must be in [0, 1), got 1.5", err);
            Assert.DoesNotContain("--drop-path", err);
        }
        finally { File.Delete(file); }
    }

    // ---- eval
    private static readonly string[] EvalRequired = ["--weights", "w.safetensors", "--data", "d"];
    private static readonly Row<EvalOptions>[] EvalTable =
    [
        new(["--model", "ascan_t"], o => o.Model, "ascan_t"),
        new(["--weights", "x.safetensors", "--data", "d"], o => o.Weights, "x.safetensors", Alone: true),
        new(["--data", "other", "--weights", "w"], o => o.Data, "other", Alone: true),
        new(["--json"], o => o.Json, true),
        new(["--use-ema"], o => o.UseEma, true),
        new(["--verbose"], o => o.Verbose, true),
        new(["--batch-size", "8"], o => o.BatchSize, 8),
        new(["-b", "8"], o => o.BatchSize, 8),
        new(["--image-size", "96"], o => o.ImageSize, 96),
        new(["--workers", "3"], o => o.Workers, 3),
        new(["--output", "out"], o => o.Output, "out"),
        new(["-o", "out"], o => o.Output, "out"),
        new(["--out", "old"], o => o.Output, "old"), // the deprecated name still parses
    ];
    public static IEnumerable<object[]> EvalLabels => Labels(EvalTable);

    [Theory, MemberData(nameof(EvalLabels))]
    public void Eval_Flag_SetsItsOptionField(string label) => CheckRow(EvalTable, label, run => EvalCommand.Create(run), EvalRequired);

    [Fact]
    public void Eval_Table_CoversEveryFlag() => CheckCoverage(EvalTable, EvalCommand.Flags());

    // ---- predict
    private static readonly string[] PredictRequired = ["--weights", "w.safetensors", "a.png"];
    private static readonly Row<PredictOptions>[] PredictTable =
    [
        new(["--model", "ascan_t"], o => o.Model, "ascan_t"),
        new(["--weights", "x.safetensors", "a.png"], o => o.Weights, "x.safetensors", Alone: true),
        new(["--top-k", "3"], o => o.TopK, 3),
        new(["-k", "3"], o => o.TopK, 3),
        new(["--use-ema"], o => o.UseEma, true),
        new(["--verbose"], o => o.Verbose, true),
        new(["--image-size", "96"], o => o.ImageSize, 96),
        new(["--json"], o => o.Json, true),
        new(["b.png"], o => string.Join(",", o.Images), "a.png,b.png"), // the IMAGE arguments
    ];
    public static IEnumerable<object[]> PredictLabels => Labels(PredictTable);

    [Theory, MemberData(nameof(PredictLabels))]
    public void Predict_Flag_SetsItsOptionField(string label) => CheckRow(PredictTable, label, run => PredictCommand.Create(run), PredictRequired);

    [Fact]
    public void Predict_Table_CoversEveryFlag() => CheckCoverage(PredictTable, PredictCommand.Flags());

    // ---- info
    private static readonly Row<InfoOptions>[] InfoTable =
    [
        new(["--model", "ascan_t"], o => o.Model, "ascan_t"),
        new(["--list", "resnet*"], o => o.List, "resnet*"),
        new(["--list"], o => o.List, "*"),
        new(["--image-size", "96"], o => o.ImageSize, 96),
        new(["--json"], o => o.Json, true),
    ];
    public static IEnumerable<object[]> InfoLabels => Labels(InfoTable);

    [Theory, MemberData(nameof(InfoLabels))]
    public void Info_Flag_SetsItsOptionField(string label) => CheckRow(InfoTable, label, run => ModelCommands.Info((o, _) => run(o)), []);

    [Fact]
    public void Info_Table_CoversEveryFlag() => CheckCoverage(InfoTable, ModelCommands.InfoFlags());

    // ---- infer
    private static readonly string[] InferRequired = ["--model", "m", "--weights", "w", "--input", "i", "--output", "y"];
    private static readonly Row<InferOptions>[] InferTable =
    [
        new(["--model", "ascan_t", "--weights", "w", "--input", "i", "--output", "y"], o => o.Model, "ascan_t", Alone: true),
        new(["--num-classes", "5"], o => o.NumClasses, 5),
        new(["--weights", "w2", "--model", "m", "--input", "i", "--output", "y"], o => o.Weights, "w2", Alone: true),
        new(["--input", "x.safetensors", "--model", "m", "--weights", "w", "--output", "y"], o => o.Input, "x.safetensors", Alone: true),
        new(["--output", "y.safetensors", "--model", "m", "--weights", "w", "--input", "i"], o => o.Output, "y.safetensors", Alone: true),
        new(["-o", "y.safetensors", "--model", "m", "--weights", "w", "--input", "i"], o => o.Output, "y.safetensors", Alone: true),
        new(["--use-ema"], o => o.UseEma, true),
        new(["--verbose"], o => o.Verbose, true),
    ];
    public static IEnumerable<object[]> InferLabels => Labels(InferTable);

    [Theory, MemberData(nameof(InferLabels))]
    public void Infer_Flag_SetsItsOptionField(string label) => CheckRow(InferTable, label, run => ModelCommands.Infer(run), InferRequired);

    [Fact]
    public void Infer_Table_CoversEveryFlag() => CheckCoverage(InferTable, ModelCommands.InferFlags());

    // ---- data shapes
    private static readonly Row<ShapesOptions>[] ShapesTable =
    [
        new(["--output", "d2"], o => o.Output, "d2", Alone: true),
        new(["-o", "d2"], o => o.Output, "d2", Alone: true),
        new(["--out", "d2"], o => o.Output, "d2", Alone: true), // deprecated name
        new(["--classes", "5"], o => o.Classes, 5),
        new(["--train-images", "10"], o => o.Train, 10),
        new(["--val-images", "3"], o => o.Val, 3),
        new(["--train", "10"], o => o.Train, 10), // deprecated name
        new(["--val", "3"], o => o.Val, 3), // deprecated name
        new(["--image-size", "32"], o => o.ImageSize, 32),
        new(["--size", "32"], o => o.ImageSize, 32), // deprecated name
        new(["--seed", "9"], o => o.Seed, 9UL),
        new(["--max-objects", "3"], o => o.MaxObjects, 3),
        new(["--masks"], o => o.Masks, true),
        new(["--plain-background"], o => o.PlainBackground, true),
        new(["--segmentation"], o => o.Segmentation, true),
    ];
    public static IEnumerable<object[]> ShapesLabels => Labels(ShapesTable);

    [Theory, MemberData(nameof(ShapesLabels))]
    public void DataShapes_Flag_SetsItsOptionField(string label) => CheckRow(ShapesTable, label, run => DataCommand.Shapes(run), ["--output", "d"]);

    [Fact]
    public void DataShapes_Table_CoversEveryFlag() => CheckCoverage(ShapesTable, DataCommand.ShapesFlags());

    [Fact]
    public void DataShapes_DeprecatedOut_SatisfiesTheRequiredOutputAndSaysSo()
    {
        var (code, err) = Invoke(DataCommand.Shapes(o => o.Output == "old" ? 0 : 9), "--out", "old");
        Assert.Equal(0, code);
        Assert.Contains("--out is deprecated; use --output", err);
        (code, err) = Invoke(DataCommand.Shapes(_ => 0), "--train", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("--output is required", err);
    }

    // ---- bench --model, conv, gemm, kernels
    private static readonly Row<ModelBenchOptions>[] BenchTable =
    [
        new(["--model", "ascan_t"], o => o.Model, "ascan_t"),
        new(["--batch-size", "4"], o => o.Batch, 4),
        new(["-b", "4"], o => o.Batch, 4),
        new(["--batch", "4"], o => o.Batch, 4), // deprecated name (bench/compare_torch.py's before the rename)
        new(["--image-size", "32"], o => o.ImageSize, 32),
        new(["--train"], o => o.Train, true),
        new(["--threads", "1"], o => o.Threads, 1),
        new(["--steps", "3"], o => o.Steps, 3),
        new(["--warmup", "2"], o => o.Warmup, 2),
        new(["--num-classes", "10"], o => o.NumClasses, 10),
        new(["--json"], o => o.Json, true),
        new(["--profile"], o => o.Profile, true),
        new(["--weights", "w.safetensors"], o => o.Weights, Path.GetFullPath("w.safetensors")),
        new(["--use-ema"], o => o.UseEma, true),
        new(["--verbose"], o => o.Verbose, true),
        new(["--serve"], o => o.Serve, true),
        new(["--seed", "3"], o => o.Seed, 3UL),
    ];
    public static IEnumerable<object[]> BenchLabels => Labels(BenchTable);

    [Theory, MemberData(nameof(BenchLabels))]
    public void Bench_Flag_SetsItsOptionField(string label) => CheckRow(BenchTable, label, run => BenchCommand.Create((o, _) => run(o)), []);

    [Fact]
    public void Bench_Table_CoversEveryFlag() => CheckCoverage(BenchTable, BenchCommand.ModelFlags());

    private static readonly Row<ConvBenchOptions>[] ConvTable =
    [
        new(["--model", "ascan_nano"], o => o.Model, "ascan_nano"),
        new(["--batch-size", "2"], o => o.Batch, 2),
        new(["--image-size", "32"], o => o.ImageSize, 32),
        new(["--threads", "1"], o => o.Threads, 1),
    ];
    public static IEnumerable<object[]> ConvLabels => Labels(ConvTable);

    [Theory, MemberData(nameof(ConvLabels))]
    public void BenchConv_Flag_SetsItsOptionField(string label) => CheckRow(ConvTable, label, run => Bare(BenchCommand.ConvFlags(), run), []);

    [Fact]
    public void BenchConvGemmKernels_Tables_CoverEveryFlag()
    {
        CheckCoverage(ConvTable, BenchCommand.ConvFlags());
        var gemm = Capture<GemmBenchOptions>(run => Bare(BenchCommand.GemmFlags(), run), ["--shape", "8,8,8", "4,4,4,ta"]);
        Assert.Equal(["8,8,8", "4,4,4,ta"], gemm.Shapes);
        Assert.Equal(["--shape"], BenchCommand.GemmFlags().Names);
        Assert.True(Capture<KernelBenchOptions>(run => Bare(BenchCommand.KernelFlags(), run), ["--json"]).Json);
        Assert.Equal(["--json"], BenchCommand.KernelFlags().Names);
    }

    // ---- demo
    private static readonly Row<DemoOptions>[] DemoTable =
    [
        new(["--output", "w"], o => o.Dir, "w"),
        new(["-o", "w"], o => o.Dir, "w"),
        new(["--dir", "w"], o => o.Dir, "w"), // deprecated name
        new(["--epochs", "2"], o => o.Epochs, 2),
        new(["--train-images", "50"], o => o.TrainImages, 50),
        new(["--val-images", "20"], o => o.ValImages, 20),
        new(["--seed", "5"], o => o.Seed, 5UL),
        new(["--workers", "2"], o => o.Workers, 2),
        new(["-j", "2"], o => o.Workers, 2),
    ];
    public static IEnumerable<object[]> DemoLabels => Labels(DemoTable);

    [Theory, MemberData(nameof(DemoLabels))]
    public void Demo_Flag_SetsItsOptionField(string label) => CheckRow(DemoTable, label, run => DemoCommand.Create(run), []);

    [Fact]
    public void Demo_Table_CoversEveryFlag() => CheckCoverage(DemoTable, DemoCommand.Flags());

    // ---- demo segment, segment train's own flags, segment eval and predict
    private static readonly Row<SegDemoOptions>[] SegDemoTable =
    [
        new(["--output", "w"], o => o.Dir, "w"),
        new(["--epochs", "2"], o => o.Epochs, 2),
        new(["--train-images", "50"], o => o.TrainImages, 50),
        new(["--val-images", "20"], o => o.ValImages, 20),
        new(["--image-size", "48"], o => o.ImageSize, 48),
        new(["--pretrain-epochs", "0"], o => o.PretrainEpochs, 0),
        new(["--seed", "5"], o => o.Seed, 5UL),
        new(["--workers", "2"], o => o.Workers, 2),
    ];
    public static IEnumerable<object[]> SegDemoLabels => Labels(SegDemoTable);

    [Theory, MemberData(nameof(SegDemoLabels))]
    public void DemoSegment_Flag_SetsItsOptionField(string label) => CheckRow(SegDemoTable, label, run => DemoSegmentCommand.Create(run), []);

    [Fact]
    public void DemoSegment_Table_CoversEveryFlag() => CheckCoverage(SegDemoTable, DemoSegmentCommand.Flags());

    [Fact]
    public void SegmentTrain_HasTrainsFlagsWithSegmentationDefaults_AndItsOwn()
    {
        var c = Capture<TrainConfig>(run => SegmentCommand.Train(run), ["--data", "d", "--init-backbone", "w.safetensors", "--ratio-range", "0.75", "1.5"]);
        Assert.Equal("w.safetensors", c.InitBackbone);
        Assert.Equal((0.75, 1.5), (c.RatioMin, c.RatioMax));
        Assert.Equal(("upernet_ascan_nano", 6e-5, 0.01, "poly"), (c.Model, c.Lr, c.WeightDecay, c.Sched));
        Assert.Matches(@"^runs[/\\]segment[/\\]\d{8}-\d{6}-upernet_ascan_nano", c.Output);
        c = Capture<TrainConfig>(run => SegmentCommand.Train(run), ["--data", "d", "--lr", "1e-3", "--epochs", "3"]);
        Assert.Equal((1e-3, 3), (c.Lr, c.Epochs));
    }

    private static readonly Row<SegEvalOptions>[] SegEvalTable =
    [
        new(["--model", "upernet_ascan_t"], o => o.Model, "upernet_ascan_t"),
        new(["--use-ema"], o => o.UseEma, true),
        new(["--image-size", "96"], o => o.ImageSize, 96),
        new(["--mode", "slide"], o => o.Mode, "slide"),
        new(["--crop", "64"], o => o.Crop, 64),
        new(["--stride", "32"], o => o.Stride, 32),
        new(["--scales", "0.5", "1"], o => string.Join(",", o.Scales), "0.5,1"),
        new(["--flip"], o => o.Flip, true),
        new(["--output", "e"], o => o.Output, "e"),
        new(["--json"], o => o.Json, true),
        new(["--verbose"], o => o.Verbose, true),
        new(["--workers", "2"], o => o.Workers, 2),
        new(["--weights", "x.safetensors", "--data", "d"], o => o.Weights, "x.safetensors", Alone: true),
        new(["--data", "dd", "--weights", "w"], o => o.Data, "dd", Alone: true),
    ];
    public static IEnumerable<object[]> SegEvalLabels => Labels(SegEvalTable);

    [Theory, MemberData(nameof(SegEvalLabels))]
    public void SegmentEval_Flag_SetsItsOptionField(string label) => CheckRow(SegEvalTable, label, run => SegmentCommand.Eval(run), ["--weights", "w", "--data", "d"]);

    [Fact]
    public void SegmentEvalPredict_Tables_CoverEveryFlag()
    {
        CheckCoverage(SegEvalTable, SegmentCommand.EvalFlags(predict: false));
        var p = Capture<SegEvalOptions>(run => SegmentCommand.Predict(run), ["--weights", "w", "--labels", "l", "a.png", "b.png"]);
        Assert.Equal(("l", 2), (p.Labels, p.Images.Count));
        Assert.Contains("--labels", SegmentCommand.EvalFlags(predict: true).Names);
        Assert.DoesNotContain("--data", SegmentCommand.EvalFlags(predict: true).Names);
    }

    // ---- generate schedule
    private static readonly Row<ScheduleOptions>[] ScheduleTable =
    [
        new(["--sampler", "dpmpp"], o => o.Sampler, "dpmpp"),
        new(["--steps", "7"], o => o.Steps, 7),
        new(["--num-train-timesteps", "500"], o => o.Scheduler.NumTrainTimesteps, 500),
        new(["--beta-schedule", "scaled_linear"], o => o.Scheduler.BetaSchedule, "scaled_linear"),
        new(["--beta-start", "0.00085"], o => o.Scheduler.BetaStart, 0.00085),
        new(["--beta-end", "0.012"], o => o.Scheduler.BetaEnd, 0.012),
        new(["--prediction-type", "v_prediction"], o => o.Scheduler.PredictionType, "v_prediction"),
        new(["--timestep-spacing", "trailing"], o => o.Scheduler.TimestepSpacing, "trailing"),
        new(["--steps-offset", "1"], o => o.Scheduler.StepsOffset, 1),
        new(["--set-alpha-to-one", "false"], o => o.Scheduler.SetAlphaToOne, false),
        new(["--solver-order", "1"], o => o.Scheduler.SolverOrder, 1),
        new(["--final-sigmas-type", "sigma_min"], o => o.Scheduler.FinalSigmasType, "sigma_min"),
        new(["--shift", "3"], o => o.Scheduler.Shift, 3.0),
        new(["--json"], o => o.Json, true),
    ];
    public static IEnumerable<object[]> ScheduleLabels => Labels(ScheduleTable);

    [Theory, MemberData(nameof(ScheduleLabels))]
    public void GenerateSchedule_Flag_SetsItsOptionField(string label) => CheckRow(ScheduleTable, label, run => GenerateCommand.Schedule(run), []);

    [Fact]
    public void GenerateSchedule_Table_CoversEveryFlag() => CheckCoverage(ScheduleTable, GenerateCommand.ScheduleFlags());

    // ---- errors: every verb, an unknown flag and a bad value, each named in the message; nothing runs.
    private static Command Verb(string name) => name switch
    {
        "train" => TrainCommand.Create(_ => 0),
        "eval" => EvalCommand.Create(_ => 0),
        "predict" => PredictCommand.Create(_ => 0),
        "info" => ModelCommands.Info((_, _) => 0),
        "infer" => ModelCommands.Infer(_ => 0),
        "data shapes" => DataCommand.Shapes(_ => 0),
        "bench" => BenchCommand.Create((_, _) => 0),
        "bench conv" => BenchCommand.Create().Subcommands.Single(c => c.Name == "conv"),
        "demo" => DemoCommand.Create(_ => 0),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, string[], string> BadArguments => new()
    {
        { "train", ["--bogus", "1"], "--bogus" },
        { "train", ["--epochs", "abc"], "--epochs" },
        { "train", ["--ema-decay", "1"], "--ema-decay must be in (0, 1), got 1" },
        { "train", ["--image-size", "4"], "--image-size must be at least 8, got 4" },
        { "eval", [.. EvalRequired, "--bogus"], "--bogus" },
        { "eval", [.. EvalRequired, "--batch-size", "abc"], "--batch-size" },
        { "eval", [.. EvalRequired, "--batch-size", "0"], "--batch-size must be at least 1, got 0" },
        { "eval", ["--data", "d"], "--weights" },
        { "predict", [.. PredictRequired, "--bogus"], "--bogus" },
        { "predict", [.. PredictRequired, "--top-k", "0"], "--top-k must be at least 1, got 0" },
        { "predict", [.. PredictRequired, "--image-size", "x"], "--image-size" },
        { "info", ["--bogus"], "--bogus" },
        { "info", ["--image-size", "2"], "--image-size must be at least 8, got 2" },
        { "infer", [.. InferRequired, "--bogus"], "--bogus" },
        { "infer", [.. InferRequired, "--num-classes", "0"], "--num-classes must be at least 1, got 0" },
        { "data shapes", ["-o", "d", "--bogus"], "--bogus" },
        { "data shapes", ["-o", "d", "--classes", "99"], "--classes must be in 1–" },
        { "data shapes", ["-o", "d", "--image-size", "8"], "--image-size must be at least 16, got 8" },
        { "bench", ["--bogus"], "--bogus" },
        { "bench", ["--steps", "many"], "--steps" },
        { "bench conv", ["--batch-size", "0"], "--batch-size must be at least 1, got 0" },
        { "demo", ["--bogus"], "--bogus" },
        { "demo", ["--epochs", "0"], "--epochs must be at least 1, got 0" },
    };

    [Theory, MemberData(nameof(BadArguments))]
    public void Verb_UnknownFlagOrBadValue_FailsNamingTheFlag(string verb, string[] args, string expected)
    {
        var (code, err) = Invoke(Verb(verb), args);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void Help_ShowsDefaultsAndOneNamePerConcept()
    {
        var output = new StringWriter();
        new RootCommand { TrainCommand.Create(_ => 0) }.Parse(["train", "--help"]).Invoke(new InvocationConfiguration { Output = output, Error = new StringWriter() });
        string help = output.ToString();
        Assert.Contains("[default: 0.001]", help);   // --lr
        Assert.Contains("[default: adamw]", help);   // --opt
        Assert.Contains("[default: false]", help);   // --ema
        Assert.Contains("-o, --output", help);
        Assert.DoesNotContain("--out ", help);       // the deprecated name is hidden
    }

    [Fact]
    public void ImageSize_Resolve_FlagThenStoredThenModel_WarnsOnlyWhenGuessing()
    {
        var warn = new StringWriter();
        Assert.Equal(96, ImageSize.Resolve(96, 64, 224, warn, "w.safetensors"));
        Assert.Equal(64, ImageSize.Resolve(null, 64, 224, warn, "w.safetensors"));
        Assert.Equal(96, ImageSize.Resolve(96, null, 224, warn, "w.safetensors"));
        Assert.Equal("", warn.ToString());
        Assert.Equal(224, ImageSize.Resolve(null, null, 224, warn, "w.safetensors"));
        Assert.Contains("'w.safetensors' does not say what image size it was trained at", warn.ToString());
        Assert.Contains("224 px", warn.ToString());
        Assert.Equal(64, new WeightsInfo { Config = new TrainConfig { ImageSize = 64 } }.TrainedImageSize);
        Assert.Equal(224, new WeightsInfo { Config = new TrainConfig { Model = "ascan_nano" } }.TrainedImageSize); // trained at the model's size
        Assert.Null(new WeightsInfo().TrainedImageSize);
    }
}
