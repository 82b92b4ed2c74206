// The per-op profile of a model benchmark: self time per op type and pass, per step, as a table or JSON rows.
using System.Globalization;
using Ascan.Core;

namespace Ascan.Cli;

/// <summary>One row: an op (or a phase of the step) with its times divided by the number of profiled steps.</summary>
internal sealed record ProfileRow(string Name, string Pass, double CallsPerStep, double SelfMsPerStep, double PercentOfStep, double TotalMsPerStep);

internal static class ProfileReport
{
    /// <summary>
    /// Phases the benchmark marks around a step's parts. Their self time is what ran inside them but in no op:
    /// module code and graph building in the forward, the graph walk and gradient-buffer set-up in the backward,
    /// and the optimizer's own loops (it calls kernels directly, not ops).
    /// </summary>
    public const string Forward = "model.forward", Backward = "autograd.backward", OptimizerStep = "AdamW.step", ZeroGrad = "AdamW.zero_grad";

    /// <summary>The time of the timed steps that no scope covered (TensorScope release, the step loop itself).</summary>
    public const string Outside = "(outside any scope)";

    private static readonly HashSet<string> Phases = [Forward, Backward, OptimizerStep, ZeroGrad];

    /// <summary>Rows sorted by self time, plus the "(outside any scope)" remainder of <paramref name="stepSeconds"/>.</summary>
    public static List<ProfileRow> Rows(IReadOnlyList<ProfileEntry> entries, int steps, double stepSeconds)
    {
        double perStep = 1000.0 / steps, stepMs = stepSeconds * perStep;
        var rows = entries.Select(e => new ProfileRow(e.Name, PassOf(e.Name), (double)e.Count / steps, e.SelfSeconds * perStep,
            100 * e.SelfSeconds / stepSeconds, e.TotalSeconds * perStep)).ToList();
        double outside = Math.Max(0, stepSeconds - entries.Sum(e => e.SelfSeconds));
        rows.Add(new ProfileRow(Outside, "step", 1, outside * perStep, 100 * outside / stepSeconds, outside * perStep));
        return rows.OrderByDescending(r => r.SelfMsPerStep).ToList();
    }

    /// <summary>"forward", "backward" (a node's backward or an op called inside one) or "phase".</summary>
    public static string PassOf(string name) =>
        Phases.Contains(name) ? "phase"
        : name.EndsWith(".backward", StringComparison.Ordinal) || name.EndsWith(Profiler.InsideBackwardSuffix, StringComparison.Ordinal) ? "backward"
        : "forward";

    public static void Print(TextWriter w, List<ProfileRow> rows, int steps, double stepMs)
    {
        w.WriteLine();
        w.WriteLine($"profile over {steps} step(s), {stepMs:F2} ms/step (mean). self = time in the op minus ops called inside it;");
        w.WriteLine("phases (model.forward, autograd.backward, AdamW.*) hold only what ran in no op; incl = with nested ops.");
        w.WriteLine($"{"op",-44} {"pass",-8} {"calls/step",10} {"self ms",10} {"% step",7} {"incl ms",10}");
        foreach (var r in rows)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Clip(r.Name, 44),-44} {r.Pass,-8} {r.CallsPerStep,10:0.##} {r.SelfMsPerStep,10:F2} {r.PercentOfStep,6:F1}% {r.TotalMsPerStep,10:F2}"));
        foreach (var pass in new[] { "forward", "backward", "phase", "step" })
        {
            var sel = rows.Where(r => r.Pass == pass).ToList();
            if (sel.Count == 0) continue;
            string label = pass switch { "forward" => "forward ops", "backward" => "backward ops", "phase" => "phases (non-op code)", _ => "outside any scope" };
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {label,-42} {sel.Sum(r => r.SelfMsPerStep),30:F2} {sel.Sum(r => r.PercentOfStep),6:F1}%"));
        }
    }

    private static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
