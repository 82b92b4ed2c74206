// The training progress line: loss, the task's running figures (accuracy), images/s, learning rate and ETA, refreshed in place on a terminal.
using System.Globalization;

namespace Ascan.Training.Reporting;

/// <summary>
/// What one training step reports (epoch 0-based, batch 0-based within the epoch). Running holds the task's running
/// figures of the epoch so far, shown after the loss (classification: acc).
/// </summary>
public sealed record StepLog(int Epoch, int Epochs, int Batch, int BatchesPerEpoch, long Update, double Loss, double RunningLoss,
    Metrics Running, double Lr, double ImagesPerSecond, TimeSpan Eta)
{
    /// <summary>A classification step: its one running figure is the accuracy.</summary>
    public StepLog(int epoch, int epochs, int batch, int batchesPerEpoch, long update, double loss, double runningLoss,
        double runningAccuracy, double lr, double imagesPerSecond, TimeSpan eta)
        : this(epoch, epochs, batch, batchesPerEpoch, update, loss, runningLoss, Metrics.Of(("acc", runningAccuracy)), lr, imagesPerSecond, eta) { }
}

/// <summary>
/// On a terminal one line is redrawn with '\r' after every step; otherwise (a log file, CI) a plain line is written
/// every <c>interval</c> batches and at the end of each epoch, so logs stay readable.
/// </summary>
public sealed class ProgressBar(TextWriter writer, bool isTerminal, int interval = 50, int width = 24)
{
    private int _lastLength;

    /// <summary>A bar on stderr, redrawn in place when stderr is a terminal.</summary>
    public static ProgressBar ForStderr(int interval) => new(Console.Error, !Console.IsErrorRedirected, interval);

    public void Report(StepLog s)
    {
        bool last = s.Batch + 1 == s.BatchesPerEpoch;
        if (isTerminal)
        {
            string line = Format(s);
            string pad = line.Length < _lastLength ? new string(' ', _lastLength - line.Length) : "";
            writer.Write("\r" + line + pad);
            _lastLength = line.Length;
            if (last) { writer.WriteLine(); _lastLength = 0; }
            writer.Flush();
        }
        else if ((s.Batch + 1) % interval == 0 || last)
        {
            writer.WriteLine(Format(s));
            writer.Flush();
        }
    }

    /// <summary>
    /// A free-form progress line for step <paramref name="done"/> of <paramref name="total"/> (sampling, encoding):
    /// redrawn in place on a terminal, else printed every interval steps and at the last.
    /// </summary>
    public void Status(string line, int done, int total)
    {
        if (isTerminal)
        {
            string pad = line.Length < _lastLength ? new string(' ', _lastLength - line.Length) : "";
            writer.Write("\r" + line + pad);
            _lastLength = line.Length;
            if (done == total) { writer.WriteLine(); _lastLength = 0; }
        }
        else if (done % interval == 0 || done == total) writer.WriteLine(line);
        writer.Flush();
    }

    /// <summary>A sampling run's progress line: steps done of all, rate and time left.</summary>
    public static string StepsLine(string what, int done, int total, double seconds) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{what} {done}/{total} steps, {done / Math.Max(seconds, 1e-9):F2} steps/s, ETA {FormatSpan(TimeSpan.FromSeconds(seconds / done * (total - done)))}");

    /// <summary>Ends an unfinished in-place line (before other output, e.g. an interrupt message).</summary>
    public void Break()
    {
        if (isTerminal && _lastLength > 0) { writer.WriteLine(); _lastLength = 0; }
    }

    public string Format(StepLog s)
    {
        double frac = (double)(s.Batch + 1) / s.BatchesPerEpoch;
        int filled = (int)Math.Round(frac * width);
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv,
            $"epoch {s.Epoch + 1}/{s.Epochs} [{new string('#', filled)}{new string('.', width - filled)}] {s.Batch + 1}/{s.BatchesPerEpoch} " +
            $"loss {s.RunningLoss:F4}{string.Concat(s.Running.Select(m => string.Create(inv, $" {m.Name} {m.Value:F3}")))} " +
            $"{s.ImagesPerSecond:F0} img/s lr {s.Lr:0.00e+0} ETA {FormatSpan(s.Eta)}");
    }

    /// <summary>A duration as people say it: "8.4 s", "2.3 min", "1 h 05 min" (never "0.0 min").</summary>
    public static string FormatDuration(TimeSpan t)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return t.TotalSeconds < 60 ? string.Create(inv, $"{t.TotalSeconds:F1} s")
            : t.TotalHours < 1 ? string.Create(inv, $"{t.TotalMinutes:F1} min")
            : string.Create(inv, $"{(int)t.TotalHours} h {t.Minutes:00} min");
    }

    public static string FormatSpan(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes:00}:{t.Seconds:00}";
}
