// Per-epoch results: the summary.csv row record and its writer.
using System.Globalization;
using System.Text;

namespace Ascan.Training.Reporting;

/// <summary>One row of summary.csv (epoch is 1-based: the number of epochs done). Metrics not computed (no val split, no EMA) are NaN.</summary>
public sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAcc, double ValLoss, double ValTop1, double ValTop5,
    double EmaTop1, double Lr, double ImagesPerSec, double Seconds);

public static class SummaryCsv
{
    public const string Header = "epoch,train_loss,train_acc,val_loss,val_top1,val_top5,ema_top1,lr,images_per_sec,seconds";

    /// <summary>Rewrites the whole file from the history (so a resumed run's file equals an uninterrupted one's).</summary>
    public static void Write(string path, IEnumerable<EpochRecord> rows)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var r in rows) sb.Append(Row(r)).Append('\n');
        string temp = path + ".partial";
        File.WriteAllText(temp, sb.ToString());
        File.Move(temp, path, overwrite: true);
    }

    public static string Row(EpochRecord r)
    {
        static string F(double v, string fmt) => double.IsNaN(v) ? "" : v.ToString(fmt, CultureInfo.InvariantCulture);
        return string.Join(",", r.Epoch.ToString(CultureInfo.InvariantCulture), F(r.TrainLoss, "F6"), F(r.TrainAcc, "F6"), F(r.ValLoss, "F6"),
            F(r.ValTop1, "F6"), F(r.ValTop5, "F6"), F(r.EmaTop1, "F6"), F(r.Lr, "G6"), F(r.ImagesPerSec, "F1"), F(r.Seconds, "F2"));
    }
}
