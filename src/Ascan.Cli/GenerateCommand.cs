// `ascan generate …`: diffusion generation. `schedule` prints the timesteps (and sigmas) a sampler would use, with
// diffusers' options and defaults; `fid` computes the Fréchet distance of two feature files as pytorch-fid does.
using System.CommandLine;
using System.Text.Json;
using Ascan.Cli.Flags;
using Ascan.Models.Generation;
using Ascan.Training.Eval;

namespace Ascan.Cli;

/// <summary>What `generate schedule` runs with: a sampler, its step count and diffusers' scheduler options.</summary>
internal sealed record ScheduleOptions
{
    public string Sampler { get; init; } = "ddim";
    public int Steps { get; init; } = 50;
    public SchedulerOptions Scheduler { get; init; } = new();
    public bool Json { get; init; }
}

internal static class GenerateCommand
{
    public static Command Create()
    {
        var cmd = new Command("generate", "Diffusion generation: train a class-conditional UNet, sample from it, the samplers' schedules, FID.");
        cmd.Subcommands.Add(GenerateTrainCommand.Create());
        cmd.Subcommands.Add(GenerateSampleCommand.Create());
        cmd.Subcommands.Add(Schedule());
        cmd.Subcommands.Add(Fid());
        return cmd;
    }

    private static ScheduleOptions With(ScheduleOptions o, Func<SchedulerOptions, SchedulerOptions> f) => o with { Scheduler = f(o.Scheduler) };

    internal static ConfigBinder<ScheduleOptions> ScheduleFlags() => new ConfigBinder<ScheduleOptions>(new ScheduleOptions())
        .Add(new FlagName("--sampler", $"Sampler: {string.Join(", ", Schedulers.Names)} (DDPM ancestral, DDIM, DPM-Solver++ multistep, flow-matching Euler)."),
            o => o.Sampler, (o, v) => o with { Sampler = v }, check: v => Schedulers.Names.Contains(v) ? null : $"must be one of {string.Join(", ", Schedulers.Names)}")
        .Add(new FlagName("--steps", "Inference steps."), o => o.Steps, (o, v) => o with { Steps = v }, check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--num-train-timesteps", "Training timesteps (diffusers' num_train_timesteps)."), o => o.Scheduler.NumTrainTimesteps,
            (o, v) => With(o, s => s with { NumTrainTimesteps = v }), check: SharedFlags.AtLeast(1))
        .Add(new FlagName("--beta-schedule", "linear, scaled_linear or squaredcos_cap_v2."), o => o.Scheduler.BetaSchedule, (o, v) => With(o, s => s with { BetaSchedule = v }))
        .Add(new FlagName("--beta-start", "First beta."), o => o.Scheduler.BetaStart, (o, v) => With(o, s => s with { BetaStart = v }))
        .Add(new FlagName("--beta-end", "Last beta."), o => o.Scheduler.BetaEnd, (o, v) => With(o, s => s with { BetaEnd = v }))
        .Add(new FlagName("--prediction-type", "epsilon, v_prediction or sample."), o => o.Scheduler.PredictionType, (o, v) => With(o, s => s with { PredictionType = v }))
        .Add(new FlagName("--timestep-spacing", "leading, trailing or linspace (default: the sampler's diffusers default)."), o => o.Scheduler.TimestepSpacing,
            (o, v) => With(o, s => s with { TimestepSpacing = v }))
        .Add(new FlagName("--steps-offset", "Added to every timestep (diffusers' steps_offset)."), o => o.Scheduler.StepsOffset, (o, v) => With(o, s => s with { StepsOffset = v }))
        .Add(new FlagName("--set-alpha-to-one", "DDIM: the final step's alpha_cumprod is 1."), o => o.Scheduler.SetAlphaToOne, (o, v) => With(o, s => s with { SetAlphaToOne = v }))
        .Add(new FlagName("--solver-order", "DPM-Solver++: 1 or 2."), o => o.Scheduler.SolverOrder, (o, v) => With(o, s => s with { SolverOrder = v }))
        .Add(new FlagName("--final-sigmas-type", "DPM-Solver++: zero or sigma_min."), o => o.Scheduler.FinalSigmasType, (o, v) => With(o, s => s with { FinalSigmasType = v }))
        .Add(new FlagName("--shift", "Flow-matching Euler: the timestep shift."), o => o.Scheduler.Shift, (o, v) => With(o, s => s with { Shift = v }))
        .Add(SharedFlags.Json.WithHelp("Print {sampler, steps, timesteps, sigmas} as JSON."), o => o.Json, (o, v) => o with { Json = v });

    /// <param name="run">What runs with the parsed options (default: the print; tests pass their own).</param>
    public static Command Schedule(Func<ScheduleOptions, int>? run = null)
    {
        var cmd = new Command("schedule", "Print the timesteps (and sigmas, where the sampler has them) that sampling with these options would use, " +
            "computed with diffusers' formulas and defaults.");
        var flags = ScheduleFlags();
        flags.AddTo(cmd);
        run ??= o => PrintSchedule(o, Console.Out);
        cmd.SetAction(r => run(flags.Bind(r, flags.Defaults)));
        return cmd;
    }

    internal static int PrintSchedule(ScheduleOptions o, TextWriter stdout)
    {
        var s = Schedulers.Create(o.Sampler, o.Scheduler);
        s.SetTimesteps(o.Steps);
        if (o.Json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new { sampler = o.Sampler, steps = o.Steps, timesteps = s.Timesteps, sigmas = s.Sigmas }));
            return 0;
        }
        stdout.WriteLine($"{o.Sampler}, {o.Steps} steps");
        stdout.WriteLine("timesteps: " + string.Join(" ", s.Timesteps.Select(t => t.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))));
        if (s.Sigmas is { } sigmas)
            stdout.WriteLine("sigmas:    " + string.Join(" ", sigmas.Select(x => x.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture))));
        return 0;
    }

    /// <summary>
    /// `generate fid --features A B`: pytorch-fid's Fréchet distance of two feature files (tensor `features`, (N, D)),
    /// statistics in float64; prints `fid: X` (6 significant digits), or JSON.
    /// </summary>
    public static Command Fid()
    {
        var cmd = new Command("fid", "Fréchet Inception Distance as pytorch-fid computes it, from two feature files (safetensors with a tensor " +
            "'features' of shape (N, D), e.g. pool3 features of the FID Inception). Prints 'fid: X'.");
        var features = new Option<string[]>("--features") { Description = "Two feature files: the reference set and the generated set.", Required = true, AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "Print {fid, n_a, n_b, dim} as JSON. [default: false]" };
        cmd.Options.Add(features);
        cmd.Options.Add(json);
        cmd.SetAction(r =>
        {
            var files = r.GetValue(features)!;
            if (files.Length != 2) throw new ArgumentException($"--features takes two files (reference, generated), got {files.Length}.");
            var (a, b) = (Ascan.Training.Eval.Fid.ReadFeatures(files[0]), Ascan.Training.Eval.Fid.ReadFeatures(files[1]));
            if (a.GetLength(1) != b.GetLength(1))
                throw new ArgumentException($"--features: {files[0]} has {a.GetLength(1)}-d features, {files[1]} has {b.GetLength(1)}-d.");
            double fid = Ascan.Training.Eval.Fid.FromFeatures(a, b);
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new { fid, n_a = a.GetLength(0), n_b = b.GetLength(0), dim = a.GetLength(1) }));
            else stdout.WriteLine("fid: " + fid.ToString("G6", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        });
        return cmd;
    }
}
