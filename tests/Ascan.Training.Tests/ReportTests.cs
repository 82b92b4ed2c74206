// Reporting: summary.csv rows, the SVG curves (well-formed, one line per computed metric) and the progress line.
using System.Xml.Linq;
using Ascan.Training.Eval;
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

    private static EvalResult Confusion()
    {
        var m = new long[3, 3];
        m[0, 0] = 8; m[0, 1] = 2; m[1, 1] = 5; m[2, 0] = 1; m[2, 2] = 3;
        return new EvalResult { ClassNames = ["circle", "square", "a<b"], Confusion = m, Images = 19, Top1Correct = 16, Top5Correct = 19, LossSum = 3.8 };
    }

    [Fact]
    public void ConfusionMatrix_Svg_HasOneCellPerPairAndRecallColumn()
    {
        var r = Confusion();
        var doc = XDocument.Parse(EvalPictures.ConfusionMatrixSvg(r));
        XNamespace svg = "http://www.w3.org/2000/svg";
        Assert.Equal(1 + 9, doc.Descendants(svg + "rect").Count()); // background + 3×3 cells
        var texts = doc.Descendants(svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("a<b", texts);   // escaped in the file, intact when parsed
        Assert.Contains("80%", texts);   // circle: 8 of 10
        Assert.Contains("75%", texts);   // a<b: 3 of 4
        Assert.Equal(0.8, r.ClassAccuracy(0));
    }

    [Fact]
    public void PredictionGrid_Svg_EmbedsEachImageWithItsLabels()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47];
        var tiles = new[] { new PredictionTile(png, "circle", "circle", 0.97), new PredictionTile(png, "star", "square", 0.51) };
        var doc = XDocument.Parse(EvalPictures.PredictionGridSvg(tiles, columns: 8, tile: 64, title: "t"));
        XNamespace svg = "http://www.w3.org/2000/svg";
        var images = doc.Descendants(svg + "image").ToList();
        Assert.Equal(2, images.Count);
        Assert.All(images, i => Assert.StartsWith("data:image/png;base64,iVBORw", (string)i.Attribute("href")!));
        var texts = doc.Descendants(svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("circle (97%)", texts);
        Assert.Contains("star (51%)", texts);
        Assert.Contains("true: square", texts); // only under the mistake
        Assert.Single(texts, t => t.StartsWith("true:", StringComparison.Ordinal));
    }

    [Fact]
    public void PerClassTable_ListsEveryClassWithItsWorstConfusion()
    {
        var lines = EvalPictures.PerClassTable(Confusion()).TrimEnd().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Matches(@"^circle\s+10\s+0\.8000\s+square \(2\)$", lines[1]);
        Assert.Matches(@"^square\s+5\s+1\.0000\s*$", lines[2]);
    }

    [Fact]
    public void Metrics_AddWithAndLookup_KeepOrderAndCompareByValue()
    {
        var m = Metrics.Of(("correct", 3), ("loss", double.NaN));
        var sum = m.Add(Metrics.Of(("pixels", 10), ("correct", 2)));
        Assert.Equal(["correct", "loss", "pixels"], sum.Names);
        Assert.Equal(5, sum["correct"]);
        Assert.True(double.IsNaN(sum["absent"]));
        Assert.Equal(Metrics.Of(("correct", 5), ("loss", double.NaN), ("pixels", 10)), sum); // NaN equals NaN
        Assert.NotEqual(Metrics.Of(("loss", double.NaN), ("correct", 5), ("pixels", 10)), sum); // order matters
        Assert.Equal(Metrics.Of(("correct", 3), ("loss", 1)), m.With("loss", 1));
        Assert.Throws<ArgumentException>(() => Metrics.Of(("a", 1), ("a", 2)));
    }
}
