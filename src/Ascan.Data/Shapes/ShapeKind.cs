// The shapes and colours of the procedural dataset: names, plural forms, and each shape's signed distance function.
namespace Ascan.Data.Shapes;

/// <summary>
/// Shape types, in the order classes are taken (--classes K uses the first K): the earliest are the most distinct
/// from each other at 64×64, so 10 classes stay clearly learnable.
/// </summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Hexagon, Cross, Ring, Heart, Crescent, Arrow, Pentagon, Diamond }

/// <summary>A named colour objects are painted with (captions use the name).</summary>
public sealed record ShapeColor(string Name, byte R, byte G, byte B);

public static class ShapeCatalog
{
    public static int KindCount => Enum.GetValues<ShapeKind>().Length;

    public static readonly ShapeColor[] Colors =
    [
        new("red", 215, 40, 40), new("green", 40, 160, 65), new("blue", 35, 85, 220), new("yellow", 240, 205, 30),
        new("purple", 140, 60, 200), new("orange", 245, 130, 20), new("cyan", 30, 195, 205), new("pink", 250, 135, 190),
    ];

    public static string Name(ShapeKind k) => k.ToString().ToLowerInvariant();

    public static string Plural(ShapeKind k) => k == ShapeKind.Cross ? "crosses" : Name(k) + "s";

    public static ShapeKind Parse(string name) =>
        Enum.TryParse<ShapeKind>(name, ignoreCase: true, out var k) ? k
        : throw new ArgumentException($"Unknown shape '{name}' (known: {string.Join(", ", Enum.GetNames<ShapeKind>().Select(n => n.ToLowerInvariant()))}).");

    /// <summary>Squares and diamonds only turn a little, so a square never becomes a diamond.</summary>
    public static double MaxRotation(ShapeKind k) => k is ShapeKind.Square or ShapeKind.Diamond ? Math.PI / 12 : Math.PI;

    // Polygons in unit coordinates (y down, radius ≈ 1), built once.
    private static readonly (double X, double Y)[] Triangle = Regular(3, 1.0, -Math.PI / 2);
    private static readonly (double X, double Y)[] Hexagon = Regular(6, 0.95, 0);
    private static readonly (double X, double Y)[] Pentagon = Regular(5, 0.97, -Math.PI / 2);
    private static readonly (double X, double Y)[] Star = StarPolygon(5, 1.0, 0.45);
    private static readonly (double X, double Y)[] Diamond = [(0, -1.0), (0.62, 0), (0, 1.0), (-0.62, 0)];
    private static readonly (double X, double Y)[] Arrow =
        [(-0.95, -0.22), (0.15, -0.22), (0.15, -0.6), (0.98, 0), (0.15, 0.6), (0.15, 0.22), (-0.95, 0.22)];
    private static readonly (double X, double Y)[] Heart = HeartPolygon(40);

    private static (double, double)[] Regular(int n, double r, double phase) =>
        Enumerable.Range(0, n).Select(i => (r * Math.Cos(phase + 2 * Math.PI * i / n), r * Math.Sin(phase + 2 * Math.PI * i / n))).ToArray();

    private static (double, double)[] StarPolygon(int points, double outer, double inner) =>
        Enumerable.Range(0, 2 * points).Select(i =>
        {
            double a = -Math.PI / 2 + Math.PI * i / points, r = i % 2 == 0 ? outer : inner;
            return (r * Math.Cos(a), r * Math.Sin(a));
        }).ToArray();

    // The classic parametric heart (x = 16 sin³t, y = 13 cos t − 5 cos 2t − 2 cos 3t − cos 4t), scaled to radius ~1, tip down.
    private static (double, double)[] HeartPolygon(int n) =>
        Enumerable.Range(0, n).Select(i =>
        {
            double t = 2 * Math.PI * i / n, s = Math.Sin(t);
            double x = 16 * s * s * s, y = 13 * Math.Cos(t) - 5 * Math.Cos(2 * t) - 2 * Math.Cos(3 * t) - Math.Cos(4 * t);
            return (x / 17.0, -(y + 2.5) / 17.0);
        }).ToArray();

    /// <summary>Signed distance (negative inside) from the point (x, y) to the shape of unit size.</summary>
    public static double Distance(ShapeKind kind, double x, double y) => kind switch
    {
        ShapeKind.Circle => Math.Sqrt(x * x + y * y) - 0.92,
        ShapeKind.Square => Box(x, y, 0.74, 0.74),
        ShapeKind.Triangle => Polygon(Triangle, x, y),
        ShapeKind.Star => Polygon(Star, x, y),
        ShapeKind.Hexagon => Polygon(Hexagon, x, y),
        ShapeKind.Cross => Math.Min(Box(x, y, 0.92, 0.3), Box(x, y, 0.3, 0.92)),
        ShapeKind.Ring => Math.Abs(Math.Sqrt(x * x + y * y) - 0.7) - 0.24,
        ShapeKind.Heart => Polygon(Heart, x, y),
        // A disc with an offset disc cut away (max(d1, −d2) is not an exact distance, but exact enough for 1-px antialiasing).
        ShapeKind.Crescent => Math.Max(Math.Sqrt(x * x + y * y) - 0.92, 0.72 - Math.Sqrt((x - 0.42) * (x - 0.42) + (y + 0.12) * (y + 0.12))),
        ShapeKind.Arrow => Polygon(Arrow, x, y),
        ShapeKind.Pentagon => Polygon(Pentagon, x, y),
        ShapeKind.Diamond => Polygon(Diamond, x, y),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static double Box(double x, double y, double hx, double hy)
    {
        double qx = Math.Abs(x) - hx, qy = Math.Abs(y) - hy;
        double ox = Math.Max(qx, 0), oy = Math.Max(qy, 0);
        return Math.Sqrt(ox * ox + oy * oy) + Math.Min(Math.Max(qx, qy), 0);
    }

    /// <summary>Exact signed distance to a simple polygon (distance to the nearest edge, sign by crossing parity).</summary>
    private static double Polygon((double X, double Y)[] v, double px, double py)
    {
        double d = (px - v[0].X) * (px - v[0].X) + (py - v[0].Y) * (py - v[0].Y);
        bool inside = false;
        for (int i = 0, j = v.Length - 1; i < v.Length; j = i, i++)
        {
            double ex = v[j].X - v[i].X, ey = v[j].Y - v[i].Y;
            double wx = px - v[i].X, wy = py - v[i].Y;
            double t = Math.Clamp((wx * ex + wy * ey) / (ex * ex + ey * ey), 0, 1);
            double bx = wx - ex * t, by = wy - ey * t;
            d = Math.Min(d, bx * bx + by * by);
            bool c1 = py >= v[i].Y, c2 = py < v[j].Y, c3 = ex * wy > ey * wx;
            if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) inside = !inside;
        }
        return inside ? -Math.Sqrt(d) : Math.Sqrt(d);
    }
}
