// Per-epoch results: the summary.csv row record (the loop's columns and the task's named metrics) and its writer.
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ascan.Training.Reporting;

/// <summary>
/// One row of summary.csv (epoch is 1-based: the number of epochs done). <see cref="Metrics"/> holds the task's columns
/// in order (classification: train_loss, train_acc, val_loss, val_top1, val_top5, ema_top1); a metric not computed (no
/// val split, no EMA) is NaN. Lr, images/s and seconds are the loop's, common to every task. Stored in checkpoints as
/// one flat JSON object, so rows written before metrics became generic read back unchanged.
/// </summary>
[JsonConverter(typeof(EpochRecordJson))]
public sealed record EpochRecord(int Epoch, Metrics Metrics, double Lr, double ImagesPerSec, double Seconds)
{
    /// <summary>A classification row, column by column.</summary>
    public EpochRecord(int epoch, double trainLoss, double trainAcc, double valLoss, double valTop1, double valTop5, double emaTop1,
        double lr, double imagesPerSec, double seconds)
        : this(epoch, Metrics.Of(("train_loss", trainLoss), ("train_acc", trainAcc), ("val_loss", valLoss), ("val_top1", valTop1),
            ("val_top5", valTop5), ("ema_top1", emaTop1)), lr, imagesPerSec, seconds) { }

    /// <summary>Mean training loss of the epoch: every task has one.</summary>
    public double TrainLoss => Metrics["train_loss"];
}

/// <summary>{"epoch": 1, ...metrics, "lr": …, "images_per_sec": …, "seconds": …}; non-finite numbers as "NaN" etc.</summary>
internal sealed class EpochRecordJson : JsonConverter<EpochRecord>
{
    private static readonly string[] Known = ["epoch", "lr", "images_per_sec", "seconds"];

    public override EpochRecord Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var slots = new double[Known.Length];
        Array.Fill(slots, double.NaN);
        var metrics = Metrics.ReadFlat(ref reader, Known, slots);
        if (double.IsNaN(slots[0])) throw new JsonException("An epoch record lacks 'epoch'.");
        return new EpochRecord((int)slots[0], metrics, slots[1], slots[2], slots[3]);
    }

    public override void Write(Utf8JsonWriter writer, EpochRecord value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteNumber("epoch", value.Epoch);
        foreach (var (name, v) in value.Metrics) Metrics.WriteNumber(writer, name, v);
        Metrics.WriteNumber(writer, "lr", value.Lr);
        Metrics.WriteNumber(writer, "images_per_sec", value.ImagesPerSec);
        Metrics.WriteNumber(writer, "seconds", value.Seconds);
        writer.WriteEndObject();
    }
}

public static class SummaryCsv
{
    /// <summary>
    /// Rewrites the whole file from the history (so a resumed run's file equals an uninterrupted one's). Columns:
    /// epoch, every metric in order of first appearance, lr, images_per_sec, seconds.
    /// </summary>
    public static void Write(string path, IEnumerable<EpochRecord> rows)
    {
        var list = rows.ToList();
        var columns = Columns(list);
        var sb = new StringBuilder(Header(columns)).Append('\n');
        foreach (var r in list) sb.Append(Row(r, columns)).Append('\n');
        string temp = path + ".partial";
        File.WriteAllText(temp, sb.ToString());
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The metric names of <paramref name="rows"/>, in order of first appearance.</summary>
    public static IReadOnlyList<string> Columns(IEnumerable<EpochRecord> rows) => rows.SelectMany(r => r.Metrics.Names).Distinct().ToList();

    public static string Header(IReadOnlyList<string> columns) => string.Join(",", ["epoch", .. columns, "lr", "images_per_sec", "seconds"]);

    /// <summary>One line; a metric that is NaN or absent is an empty cell.</summary>
    public static string Row(EpochRecord r, IReadOnlyList<string> columns)
    {
        static string F(double v, string fmt) => double.IsNaN(v) ? "" : v.ToString(fmt, CultureInfo.InvariantCulture);
        return string.Join(",", [r.Epoch.ToString(CultureInfo.InvariantCulture), .. columns.Select(c => F(r.Metrics[c], "F6")),
            F(r.Lr, "G6"), F(r.ImagesPerSec, "F1"), F(r.Seconds, "F2")]);
    }
}
