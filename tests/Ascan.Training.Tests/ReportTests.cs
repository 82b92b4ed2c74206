// Reporting: summary.csv rows, the SVG curves (well-formed, one line per computed metric) and the progress line.
using System.Xml.Linq;
using Ascan.Training.Reporting;

namespace Ascan.Training.Tests;

public class ReportTests
{
    private static readonly EpochRecord[] History =
    [
        new(1, 1.2, 0.4, 1.0, 0.5, 0.9, double.NaN, 1e-3, 250.5, 12.25),
        new(2, 0.8, 0.7, 0.7, 0.75, 1.0, double.NaN, 5e-4, 260, 11.5),
    ];

    [Fact]
    public void Summary_Csv_HasHeaderAndOneRowPerEpoch()
    {
        using var dir = new TempDir();
        SummaryCsv.Write(dir.File("summary.csv"), History);
        var lines = File.ReadAllLines(dir.File("summary.csv"));
        Assert.Equal("epoch,train_loss,train_acc,val_loss,val_top1,val_top5,ema_top1,lr,images_per_sec,seconds", lines[0]);
        Assert.Equal("1,1.200000,0.400000,1.000000,0.500000,0.900000,,0.001,250.5,12.25", lines[1]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public void Curves_Svg_IsWellFormedWithALinePerMetric()
    {
        var doc = XDocument.Parse(SvgChart.Curves(History));
        XNamespace svg = "http://www.w3.org/2000/svg";
        // train + val loss, train acc + val top-1; the EMA series is all NaN and drawn nowhere.
        Assert.Equal(4, doc.Descendants(svg + "polyline").Count());
        Assert.Contains(doc.Descendants(svg + "text"), t => t.Value == "Accuracy");
        Assert.DoesNotContain(doc.Descendants(svg + "text"), t => t.Value == "EMA top-1");
    }

    [Fact]
    public void Curves_Svg_SingleEpochDrawsPoints()
    {
        var doc = XDocument.Parse(SvgChart.Curves(History[..1]));
        Assert.Equal(4, doc.Descendants(XName.Get("circle", "http://www.w3.org/2000/svg")).Count());
    }

    [Fact]
    public void ProgressBar_NotATerminal_WritesPlainLinesEveryInterval()
    {
        var w = new StringWriter();
        var bar = new ProgressBar(w, isTerminal: false, interval: 4);
        for (int b = 0; b < 10; b++)
            bar.Report(new StepLog(0, 2, b, 10, b + 1, 1.0, 0.5, 0.75, 1e-3, 123, TimeSpan.FromSeconds(75)));
        var lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length); // batches 4, 8 and the epoch's last
        Assert.DoesNotContain('\r', w.ToString());
        Assert.Equal("epoch 1/2 [##########..............] 4/10 loss 0.5000 acc 0.750 123 img/s lr 1.00e-3 ETA 01:15", lines[0]);
    }

    [Fact]
    public void ProgressBar_Terminal_RedrawsOneLine()
    {
        var w = new StringWriter();
        var bar = new ProgressBar(w, isTerminal: true);
        for (int b = 0; b < 3; b++)
            bar.Report(new StepLog(0, 1, b, 3, b + 1, 1.0, 0.5, 0.75, 1e-3, 123, TimeSpan.Zero));
        string s = w.ToString();
        Assert.Equal(3, s.Count(ch => ch == '\r'));
        Assert.EndsWith("\n", s.Replace("\r\n", "\n"));
        Assert.Single(s.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
