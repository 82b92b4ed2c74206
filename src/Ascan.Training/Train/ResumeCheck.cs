// What --resume must say before it trains: settings that differ from the checkpoint's, and a run that is already finished.
using System.Globalization;
using System.Text.Json;

namespace Ascan.Training.Train;

public static class ResumeCheck
{
    /// <summary>Settings whose change does not alter what is trained (where files are, threads, logging): never named.</summary>
    public static readonly IReadOnlySet<string> Ignored = new HashSet<string> { "data", "output", "resume", "workers", "log_interval" };

    /// <summary>
    /// Every setting (snake_case key) whose value in <paramref name="now"/> differs from the checkpoint's
    /// <paramref name="stored"/>, with both values as JSON text; compared through the JSON form so every setting
    /// the config gains is covered.
    /// </summary>
    public static IReadOnlyList<(string Key, string Stored, string Now)> Changes(TrainConfig stored, TrainConfig now)
    {
        using var a = JsonDocument.Parse(stored.ToJson());
        using var b = JsonDocument.Parse(now.ToJson());
        var before = a.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
        var changes = new List<(string, string, string)>();
        foreach (var p in b.RootElement.EnumerateObject())
        {
            if (Ignored.Contains(p.Name)) continue;
            string was = before.GetValueOrDefault(p.Name, "null"), value = p.Value.GetRawText();
            if (was != value) changes.Add((p.Name, was, value));
        }
        return changes;
    }

    /// <summary>
    /// The one line that says a checkpoint's run is finished (every epoch of <paramref name="now"/> done), or null when
    /// there is something left to train.
    /// </summary>
    public static string? Finished(string path, WeightsInfo info, TrainConfig now)
    {
        if (info.Position is not { } at || at.Epoch < now.Epochs) return null;
        string best = info.BestEpoch > 0 ? string.Create(CultureInfo.InvariantCulture, $" (best {info.BestMetric:F4} at epoch {info.BestEpoch})") : "";
        return $"{path} is from a finished run: all {at.Epoch} of {now.Epochs} epochs are done{best}; nothing to resume. " +
            $"To train longer, pass --epochs N (more than {at.Epoch}).";
    }
}
