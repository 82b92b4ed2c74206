// Pictures of an evaluation: the confusion matrix as an SVG heat map, and a grid of predictions (embedded PNGs
// with predicted and true labels).
using System.Globalization;
using System.Text;
using Ascan.Training.Eval;

namespace Ascan.Training.Reporting;

/// <summary>One cell of the prediction grid: the image as PNG bytes and what the model said about it.</summary>
public sealed record PredictionTile(byte[] Png, string Predicted, string Truth, double Probability);

public static class EvalPictures
{
    /// <summary>
    /// Rows are true classes, columns predictions; each cell's shade is its share of the row (so per-class recall sits on
    /// the diagonal whatever the class sizes) and the count is printed in it. The last column is the class's accuracy.
    /// </summary>
    public static string ConfusionMatrixSvg(EvalResult r)
    {
        int k = r.NumClasses;
        int cell = k <= 12 ? 40 : k <= 30 ? 22 : 12;
        bool counts = cell >= 22;
        int label = Math.Min(120, 8 + 7 * r.ClassNames.Max(n => n.Length));
        int left = label + 10, top = label + 40, accW = 60;
        var inv = CultureInfo.InvariantCulture;
        string title = $"Confusion matrix: top-1 {Percent(r.Top1, 1)} on {r.Images} images (rows: true, columns: predicted)";
        int w = Math.Max(left + k * cell + accW + 20, 8 * title.Length + 20), h = top + k * cell + 30;
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append(inv, $"<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
        sb.Append(inv, $"<text x=\"{w / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{SvgChart.Escape(title)}</text>\n");
        for (int t = 0; t < k; t++)
        {
            long n = r.ClassCount(t);
            int y = top + t * cell;
            sb.Append(inv, $"<text x=\"{left - 6}\" y=\"{y + cell / 2 + 4}\" text-anchor=\"end\">{SvgChart.Escape(r.ClassNames[t])}</text>\n");
            for (int p = 0; p < k; p++)
            {
                long v = r.Confusion[t, p];
                double share = n == 0 ? 0 : (double)v / n;
                // Diagonal in blue, mistakes in red (√ of the share, so a few percent still shows), white when empty.
                var (cr, cg, cb) = t == p ? (31, 119, 180) : (214, 39, 40);
                double shade = t == p ? share : Math.Sqrt(share);
                int R = (int)(255 - shade * (255 - cr)), G = (int)(255 - shade * (255 - cg)), B = (int)(255 - shade * (255 - cb));
                int x = left + p * cell;
                sb.Append(inv, $"<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({R},{G},{B})\" stroke=\"#ddd\"/>\n");
                if (counts && v > 0)
                    sb.Append(inv, $"<text x=\"{x + cell / 2}\" y=\"{y + cell / 2 + 4}\" text-anchor=\"middle\" fill=\"{(shade > 0.5 ? "white" : "black")}\">{v}</text>\n");
            }
            double acc = r.ClassAccuracy(t);
            sb.Append(inv, $"<text x=\"{left + k * cell + 8}\" y=\"{y + cell / 2 + 4}\">{(double.IsNaN(acc) ? "–" : Percent(acc, 0))}</text>\n");
        }
        for (int p = 0; p < k; p++)
        {
            int x = left + p * cell + cell / 2;
            sb.Append(inv, $"<text x=\"{x}\" y=\"{top - 6}\" transform=\"rotate(-60 {x} {top - 6})\">{SvgChart.Escape(r.ClassNames[p])}</text>\n");
        }
        sb.Append(inv, $"<text x=\"{left + k * cell + 8}\" y=\"{top - 6}\">recall</text>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>
    /// Tiles in a grid, each image scaled to <paramref name="tile"/> pixels (nearest neighbour, so pixels stay crisp)
    /// with "pred (p%)" below it in green when right, red when wrong, and the true label under a wrong one.
    /// </summary>
    public static string PredictionGridSvg(IReadOnlyList<PredictionTile> tiles, int columns = 8, int tile = 96, string? title = null)
    {
        int rows = (tiles.Count + columns - 1) / columns;
        int cw = tile + 12, ch = tile + 36, top = title != null ? 30 : 6;
        int w = columns * cw + 6, h = top + rows * ch + 6;
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append(inv, $"<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
        if (title != null) sb.Append(inv, $"<text x=\"{w / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{SvgChart.Escape(title)}</text>\n");
        for (int i = 0; i < tiles.Count; i++)
        {
            var t = tiles[i];
            int x = 6 + i % columns * cw, y = top + i / columns * ch;
            bool right = t.Predicted == t.Truth;
            string colour = right ? "#2ca02c" : "#d62728";
            sb.Append(inv, $"<rect x=\"{x - 2}\" y=\"{y - 2}\" width=\"{tile + 4}\" height=\"{tile + 4}\" fill=\"{colour}\"/>\n");
            sb.Append(inv, $"<image x=\"{x}\" y=\"{y}\" width=\"{tile}\" height=\"{tile}\" image-rendering=\"pixelated\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{Convert.ToBase64String(t.Png)}\"/>\n");
            sb.Append(inv, $"<text x=\"{x + tile / 2}\" y=\"{y + tile + 14}\" text-anchor=\"middle\" fill=\"{colour}\">{SvgChart.Escape(t.Predicted)} ({Percent(t.Probability, 0)})</text>\n");
            if (!right) sb.Append(inv, $"<text x=\"{x + tile / 2}\" y=\"{y + tile + 27}\" text-anchor=\"middle\" fill=\"#555\">true: {SvgChart.Escape(t.Truth)}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>"97%" / "84.2%": a percentage without the invariant culture's space before the sign.</summary>
    public static string Percent(double fraction, int decimals) =>
        (fraction * 100).ToString("F" + decimals, CultureInfo.InvariantCulture) + "%";

    /// <summary>The per-class table `ascan eval` prints: class, images, accuracy, most frequent confusion.</summary>
    public static string PerClassTable(EvalResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        int nameW = Math.Max(5, r.ClassNames.Max(n => n.Length));
        var sb = new StringBuilder();
        sb.Append(inv, $"{"class".PadRight(nameW)}  {"images",7}  {"top-1",7}  most confused with\n");
        for (int t = 0; t < r.NumClasses; t++)
        {
            int worst = -1; long worstN = 0;
            for (int p = 0; p < r.NumClasses; p++)
                if (p != t && r.Confusion[t, p] > worstN) { worst = p; worstN = r.Confusion[t, p]; }
            double acc = r.ClassAccuracy(t);
            string confused = worst < 0 ? "" : $"{r.ClassNames[worst]} ({worstN})";
            sb.Append(inv, $"{r.ClassNames[t].PadRight(nameW)}  {r.ClassCount(t),7}  {(double.IsNaN(acc) ? "-" : acc.ToString("F4", inv)),7}  {confused}\n");
        }
        return sb.ToString();
    }
}
