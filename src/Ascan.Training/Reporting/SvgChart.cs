// Hand-written SVG line charts: the curves of a run (the panels its task declares), side by side.
using System.Globalization;
using System.Text;

namespace Ascan.Training.Reporting;

/// <summary>A named polyline; NaN points are skipped (a metric the run did not compute).</summary>
public sealed record Series(string Name, string Colour, IReadOnlyList<(double X, double Y)> Points);

/// <summary>One chart panel. A fixed Y range (e.g. accuracy 0–1) or null to fit the data.</summary>
public sealed record ChartPanel(string Title, string XLabel, IReadOnlyList<Series> Series, (double Min, double Max)? YRange = null);

/// <summary>A curve of a run: the epoch metric it plots (a summary column), its legend name and colour.</summary>
public sealed record CurveSeries(string Name, string Colour, string Metric);

/// <summary>A panel of curves.svg as a task declares it: which metrics go together, on what Y range (null = fit).</summary>
public sealed record CurvePanel(string Title, IReadOnlyList<CurveSeries> Series, (double Min, double Max)? YRange = null);

public static class SvgChart
{
    private const int PanelW = 420, PanelH = 300, Left = 56, Right = 22, Top = 34, Bottom = 44;

    /// <summary>The panels side by side in one SVG document.</summary>
    public static string Render(IReadOnlyList<ChartPanel> panels)
    {
        var sb = new StringBuilder();
        int w = PanelW * panels.Count;
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{PanelH}\" viewBox=\"0 0 {w} {PanelH}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{w}\" height=\"{PanelH}\" fill=\"white\"/>\n");
        for (int i = 0; i < panels.Count; i++) RenderPanel(sb, panels[i], i * PanelW);
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static void RenderPanel(StringBuilder sb, ChartPanel p, int x0)
    {
        var pts = p.Series.SelectMany(s => s.Points).Where(q => double.IsFinite(q.X) && double.IsFinite(q.Y)).ToList();
        double xMin = pts.Count > 0 ? pts.Min(q => q.X) : 0, xMax = pts.Count > 0 ? pts.Max(q => q.X) : 1;
        if (xMax <= xMin) { xMin -= 0.5; xMax += 0.5; }
        double yMin, yMax, yStep;
        if (p.YRange is { } r) { (yMin, yMax) = r; yStep = (yMax - yMin) / 5; }
        else
        {
            // A "nice" axis: steps of 1, 2 or 5 × 10^k, about five of them, starting at 0 for non-negative data.
            double lo = pts.Count > 0 ? Math.Min(0, pts.Min(q => q.Y)) : 0, hi = pts.Count > 0 ? pts.Max(q => q.Y) : 1;
            if (hi <= lo) hi = lo + 1;
            yStep = NiceStep((hi - lo) / 5);
            yMin = Math.Floor(lo / yStep) * yStep;
            yMax = Math.Ceiling(hi / yStep) * yStep;
        }
        double plotW = PanelW - Left - Right, plotH = PanelH - Top - Bottom;
        double Sx(double x) => x0 + Left + (x - xMin) / (xMax - xMin) * plotW;
        double Sy(double y) => Top + (1 - (Math.Clamp(y, yMin, yMax) - yMin) / (yMax - yMin)) * plotH;
        var inv = CultureInfo.InvariantCulture;

        sb.Append(inv, $"<text x=\"{x0 + PanelW / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{Escape(p.Title)}</text>\n");
        sb.Append(inv, $"<rect x=\"{x0 + Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888\"/>\n");
        int ySteps = (int)Math.Round((yMax - yMin) / yStep);
        for (int i = 0; i <= ySteps; i++)
        {
            double y = yMin + yStep * i;
            double py = Sy(y);
            sb.Append(inv, $"<line x1=\"{x0 + Left}\" y1=\"{py:F1}\" x2=\"{x0 + Left + plotW}\" y2=\"{py:F1}\" stroke=\"#eee\"/>\n");
            sb.Append(inv, $"<text x=\"{x0 + Left - 6}\" y=\"{py + 4:F1}\" text-anchor=\"end\">{Tick(y)}</text>\n");
        }
        foreach (double x in XTicks(xMin, xMax))
            sb.Append(inv, $"<text x=\"{Sx(x):F1}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{Tick(x)}</text>\n");
        sb.Append(inv, $"<text x=\"{x0 + Left + plotW / 2}\" y=\"{PanelH - 8}\" text-anchor=\"middle\">{Escape(p.XLabel)}</text>\n");

        // The legend goes where the curves are not: bottom right when they end high (accuracy), else top right.
        var tail = pts.Where(q => q.X >= xMin + 0.6 * (xMax - xMin)).Select(q => (q.Y - yMin) / (yMax - yMin)).ToList();
        int shown = p.Series.Count(s => s.Points.Any(q => double.IsFinite(q.X) && double.IsFinite(q.Y)));
        int legendY = tail.Count > 0 && tail.Average() > 0.5 ? (int)(Top + plotH - 14 * shown + 6) : Top + 14;
        foreach (var s in p.Series)
        {
            var good = s.Points.Where(q => double.IsFinite(q.X) && double.IsFinite(q.Y)).ToList();
            if (good.Count == 0) continue;
            if (good.Count == 1)
                sb.Append(inv, $"<circle cx=\"{Sx(good[0].X):F1}\" cy=\"{Sy(good[0].Y):F1}\" r=\"3\" fill=\"{s.Colour}\"/>\n");
            else
                sb.Append(inv, $"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"2\" points=\"{string.Join(" ", good.Select(q => string.Create(inv, $"{Sx(q.X):F1},{Sy(q.Y):F1}")))}\"/>\n");
            sb.Append(inv, $"<line x1=\"{x0 + Left + plotW - 110}\" y1=\"{legendY - 4}\" x2=\"{x0 + Left + plotW - 92}\" y2=\"{legendY - 4}\" stroke=\"{s.Colour}\" stroke-width=\"2\"/>\n");
            sb.Append(inv, $"<text x=\"{x0 + Left + plotW - 88}\" y=\"{legendY}\">{Escape(s.Name)}</text>\n");
            legendY += 14;
        }
    }

    private static double NiceStep(double raw)
    {
        double pow = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / pow;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
    }

    private static IEnumerable<double> XTicks(double min, double max)
    {
        double span = max - min;
        double step = Math.Max(1, Math.Pow(10, Math.Floor(Math.Log10(span))));
        if (span / step > 10) step *= 2;
        if (span / step < 3 && step >= 2) step /= 2;
        for (double x = Math.Ceiling(min / step) * step; x <= max + 1e-9; x += step) yield return x;
    }

    private static string Tick(double v) => Math.Round(v, 6).ToString("0.###", CultureInfo.InvariantCulture);

    internal static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");

    /// <summary>One panel per entry of <paramref name="panels"/>, each series drawn from its metric over the epochs.</summary>
    public static string Curves(IReadOnlyList<EpochRecord> history, IReadOnlyList<CurvePanel> panels) =>
        Render(panels.Select(p => new ChartPanel(p.Title, "epoch",
            p.Series.Select(s => new Series(s.Name, s.Colour, history.Select(r => ((double)r.Epoch, r.Metrics[s.Metric])).ToList())).ToList(),
            p.YRange)).ToList());

    /// <summary>The classification curves: loss (train, val) and accuracy (train, val top-1, EMA top-1).</summary>
    public static string Curves(IReadOnlyList<EpochRecord> history) => Curves(history, Tasks.ClassificationTask.CurvePanels);
}
