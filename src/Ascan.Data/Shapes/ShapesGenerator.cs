// The procedural shapes generator (SPEC §5): one scene gives an image, a class label, a segmentation mask,
// a class condition and a caption, deterministic by (seed, split, index).
using System.Text;
using Ascan.Core;
using Ascan.Data;
using Ascan.Data.Imaging;

namespace Ascan.Data.Shapes;

/// <summary>Settings of the shapes dataset.</summary>
public sealed record ShapesConfig
{
    /// <summary>Image side in pixels (square images).</summary>
    public int Size { get; init; } = 64;

    /// <summary>Number of classes K: the first K shape kinds (at most <see cref="ShapesGenerator.MaxClasses"/>).</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Objects per scene; the first (largest) object sets the label. Classification uses 1.</summary>
    public int MinObjects { get; init; } = 1;
    public int MaxObjects { get; init; } = 1;

    public ulong Seed { get; init; }

    /// <summary>Textured backgrounds (noise, gradients, stripes); false paints a flat mid-gray.</summary>
    public bool Textures { get; init; } = true;
}

/// <summary>One object of a scene, in pixel units (centre, radius) and radians.</summary>
public sealed record ShapeObject(ShapeKind Kind, int ClassIndex, int ColorIndex, double CenterX, double CenterY, double Radius, double Rotation)
{
    public ShapeColor Color => ShapeCatalog.Colors[ColorIndex];
}

/// <summary>
/// A generated scene. <see cref="Mask"/> holds one byte per pixel: 0 = background, c + 1 = an object of class c on top.
/// <see cref="Label"/> (= <see cref="ClassCondition"/>) is the class of the first, largest object.
/// </summary>
public sealed record ShapeScene(Image Image, byte[] Mask, int Label, IReadOnlyList<ShapeObject> Objects, string Caption)
{
    public int ClassCondition => Label;

    /// <summary>The mask as a 1-channel image (values 0..K), e.g. to save as PNG.</summary>
    public Image MaskImage => new(Image.Width, Image.Height, 1, Mask);
}

/// <summary>
/// Draws scenes of coloured shapes on textured backgrounds. Every scene is a pure function of (seed, split, index),
/// so items can be generated in any order, on any thread, and regenerated later. Labels cycle through the classes
/// (index mod K) so every split is balanced. Class indices follow the ordinal order of the class names, as an
/// ImageFolder of the written dataset would number them.
/// </summary>
public sealed class ShapesGenerator
{
    public static int MaxClasses => ShapeCatalog.KindCount;

    private readonly ShapeKind[] _kinds;       // class index → kind
    private readonly string[] _names;

    public ShapesConfig Config { get; }
    public IReadOnlyList<string> ClassNames => _names;
    public IReadOnlyList<ShapeKind> Kinds => _kinds;

    public ShapesGenerator(ShapesConfig config)
    {
        if (config.Size < 16) throw new ArgumentException($"Shapes image size must be ≥ 16, got {config.Size}.");
        if (config.Classes < 1 || config.Classes > MaxClasses)
            throw new ArgumentException($"Shapes classes must be 1–{MaxClasses}, got {config.Classes}.");
        if (config.MinObjects < 1 || config.MaxObjects < config.MinObjects || config.MaxObjects > 8)
            throw new ArgumentException($"Shapes objects per scene must satisfy 1 ≤ min ≤ max ≤ 8, got {config.MinObjects}..{config.MaxObjects}.");
        Config = config;
        _kinds = Enum.GetValues<ShapeKind>().Take(config.Classes).OrderBy(ShapeCatalog.Name, StringComparer.Ordinal).ToArray();
        _names = _kinds.Select(ShapeCatalog.Name).ToArray();
    }

    /// <summary>The label scene <paramref name="index"/> gets (balanced: index mod K).</summary>
    public int LabelOf(long index) => (int)(index % _kinds.Length);

    /// <summary>Generates scene <paramref name="index"/> of <paramref name="split"/> (0 = train, 1 = val, … any stream id).</summary>
    public ShapeScene Generate(long index, int split = 0)
    {
        var rng = RandomStreams.Create(Config.Seed, 0x5348_4150 /* "SHAP" */, split, index);
        int s = Config.Size;
        var img = Background(rng);
        var mask = new byte[s * s];
        int label = LabelOf(index);
        int count = Config.MinObjects == Config.MaxObjects ? Config.MinObjects : rng.IntInclusive(Config.MinObjects, Config.MaxObjects);
        var objects = PlaceObjects(rng, label, count);
        foreach (var o in objects) Draw(img, mask, o, rng);
        return new ShapeScene(img, mask, label, objects, Caption(objects));
    }

    private List<ShapeObject> PlaceObjects(Rng rng, int label, int count)
    {
        int s = Config.Size;
        // ASSUMPTION: radii as fractions of the side: one object 0.18–0.36 (11–23 px at 64), several objects shrink by
        // 1/√count so they fit side by side; the main object is drawn largest.
        double scale = 1.0 / Math.Sqrt(count);
        double rMin = 0.18 * s * scale, rMax = 0.36 * s * scale;
        var radii = Enumerable.Range(0, count).Select(_ => rng.Uniform(rMin, rMax)).OrderByDescending(r => r).ToArray();
        var objects = new List<ShapeObject>(count);
        for (int i = 0; i < count; i++)
        {
            int cls = i == 0 ? label : rng.NextInt(_kinds.Length);
            var kind = _kinds[cls];
            double r = radii[i], cx = 0, cy = 0;
            for (int attempt = 0; attempt < 50; attempt++)
            {
                cx = rng.Uniform(r, s - r); cy = rng.Uniform(r, s - r);
                // Keep objects apart so each stays recognisable and the caption's relations are true.
                if (objects.All(o => Math.Sqrt((o.CenterX - cx) * (o.CenterX - cx) + (o.CenterY - cy) * (o.CenterY - cy)) >= 0.95 * (o.Radius + r)))
                    break;
            }
            double maxRot = ShapeCatalog.MaxRotation(kind);
            objects.Add(new ShapeObject(kind, cls, rng.NextInt(ShapeCatalog.Colors.Length), cx, cy, r, rng.Uniform(-maxRot, maxRot)));
        }
        return objects;
    }

    // ------------------------------------------------------------------ drawing

    private Image Background(Rng rng)
    {
        int s = Config.Size;
        var img = new Image(s, s, 3);
        if (!Config.Textures)
        {
            Array.Fill(img.Data, (byte)128);
            return img;
        }
        // Two muted colours (low saturation) so the saturated objects stand out from every texture.
        var c1 = Muted(rng);
        var c2 = Muted(rng);
        int kind = rng.NextInt(3);
        var f = new float[s * s];      // blend factor between c1 and c2 per pixel
        switch (kind)
        {
            case 0: // smooth value noise on a coarse grid
            {
                int cell = Math.Max(4, s / rng.IntInclusive(3, 8));
                int g = s / cell + 2;
                var grid = new float[g * g];
                for (int i = 0; i < grid.Length; i++) grid[i] = (float)rng.NextDouble();
                for (int y = 0; y < s; y++)
                    for (int x = 0; x < s; x++)
                    {
                        float gx = (float)x / cell, gy = (float)y / cell;
                        int ix = (int)gx, iy = (int)gy;
                        float tx = Smooth(gx - ix), ty = Smooth(gy - iy);
                        float a = grid[iy * g + ix] + (grid[iy * g + ix + 1] - grid[iy * g + ix]) * tx;
                        float b = grid[(iy + 1) * g + ix] + (grid[(iy + 1) * g + ix + 1] - grid[(iy + 1) * g + ix]) * tx;
                        f[y * s + x] = a + (b - a) * ty;
                    }
                break;
            }
            case 1: // linear gradient in a random direction
            {
                double a = rng.Uniform(0, 2 * Math.PI), dx = Math.Cos(a), dy = Math.Sin(a);
                double half = s / 2.0, extent = half * (Math.Abs(dx) + Math.Abs(dy));
                for (int y = 0; y < s; y++)
                    for (int x = 0; x < s; x++)
                        f[y * s + x] = (float)(0.5 + 0.5 * ((x + 0.5 - half) * dx + (y + 0.5 - half) * dy) / extent);
                break;
            }
            default: // stripes: random angle and period, soft edges
            {
                double a = rng.Uniform(0, Math.PI), dx = Math.Cos(a), dy = Math.Sin(a);
                double period = rng.Uniform(0.08, 0.25) * s, phase = rng.Uniform(0, 2 * Math.PI);
                for (int y = 0; y < s; y++)
                    for (int x = 0; x < s; x++)
                    {
                        double t = Math.Sin(2 * Math.PI * (x * dx + y * dy) / period + phase);
                        f[y * s + x] = (float)Math.Clamp(0.5 + 1.5 * t, 0, 1);
                    }
                break;
            }
        }
        int grain = rng.IntInclusive(2, 10);
        var d = img.Data;
        for (int i = 0; i < s * s; i++)
        {
            float t = f[i];
            int n = rng.NextInt(2 * grain + 1) - grain;
            for (int c = 0; c < 3; c++)
                d[3 * i + c] = (byte)Math.Clamp((int)(c1[c] + (c2[c] - c1[c]) * t + 0.5f) + n, 0, 255);
        }
        return img;
    }

    private static float Smooth(float t) => t * t * (3 - 2 * t);

    /// <summary>A low-saturation colour of random hue and lightness (HSV, s ≤ 0.25, v in [0.2, 0.85]).</summary>
    private static float[] Muted(Rng rng)
    {
        double h = rng.NextDouble() * 6, sat = rng.Uniform(0, 0.25), v = rng.Uniform(0.2, 0.85) * 255;
        int i = (int)h % 6;
        double fr = h - Math.Floor(h), p = v * (1 - sat), q = v * (1 - sat * fr), t = v * (1 - sat * (1 - fr));
        var (r, g, b) = i switch { 0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t), 3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q) };
        return [(float)r, (float)g, (float)b];
    }

    /// <summary>Paints one object with 1-pixel antialiasing (coverage = ½ − signed distance) and writes its mask pixels.</summary>
    private void Draw(Image img, byte[] mask, ShapeObject o, Rng rng)
    {
        int s = Config.Size;
        var col = o.Color;
        // A little per-object colour variation and per-pixel grain, so colour is a cue but not a constant.
        int jr = rng.NextInt(31) - 15, jg = rng.NextInt(31) - 15, jb = rng.NextInt(31) - 15;
        float cr = Math.Clamp(col.R + jr, 0, 255), cg = Math.Clamp(col.G + jg, 0, 255), cb = Math.Clamp(col.B + jb, 0, 255);
        double cos = Math.Cos(o.Rotation), sin = Math.Sin(o.Rotation), inv = 1.0 / o.Radius;
        double reach = o.Radius * 1.1 + 1;
        int x0 = Math.Max(0, (int)(o.CenterX - reach)), x1 = Math.Min(s - 1, (int)(o.CenterX + reach));
        int y0 = Math.Max(0, (int)(o.CenterY - reach)), y1 = Math.Min(s - 1, (int)(o.CenterY + reach));
        byte value = (byte)(o.ClassIndex + 1);
        var d = img.Data;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                double px = (x + 0.5 - o.CenterX) * inv, py = (y + 0.5 - o.CenterY) * inv;
                // Rotate the pixel into the shape's frame (inverse rotation).
                double lx = cos * px + sin * py, ly = -sin * px + cos * py;
                double dist = ShapeCatalog.Distance(o.Kind, lx, ly) * o.Radius;
                float a = (float)Math.Clamp(0.5 - dist, 0, 1);
                if (a <= 0) continue;
                int n = rng.NextInt(9) - 4, p = 3 * (y * s + x);
                d[p] = (byte)Math.Clamp((int)(d[p] + (cr + n - d[p]) * a + 0.5f), 0, 255);
                d[p + 1] = (byte)Math.Clamp((int)(d[p + 1] + (cg + n - d[p + 1]) * a + 0.5f), 0, 255);
                d[p + 2] = (byte)Math.Clamp((int)(d[p + 2] + (cb + n - d[p + 2]) * a + 0.5f), 0, 255);
                if (dist < 0) mask[y * s + x] = value;
            }
    }

    // ------------------------------------------------------------------ captions

    private static readonly string[] Numbers = ["zero", "a", "two", "three", "four", "five", "six", "seven", "eight"];

    /// <summary>
    /// "a red circle", "three green stars", "two red circles left of a blue square", "a red circle, a blue square and
    /// two green stars": objects grouped by (colour, kind) in order of appearance; two groups get a spatial relation
    /// from their mean centres (the axis with the larger offset).
    /// </summary>
    public static string Caption(IReadOnlyList<ShapeObject> objects)
    {
        var groups = objects.GroupBy(o => (o.ColorIndex, o.Kind)).Select(g => g.ToList()).ToList();
        string Phrase(List<ShapeObject> g) =>
            $"{Numbers[g.Count]} {g[0].Color.Name} {(g.Count == 1 ? ShapeCatalog.Name(g[0].Kind) : ShapeCatalog.Plural(g[0].Kind))}";
        if (groups.Count == 1) return Phrase(groups[0]);
        if (groups.Count == 2)
        {
            double ax = groups[0].Average(o => o.CenterX), ay = groups[0].Average(o => o.CenterY);
            double bx = groups[1].Average(o => o.CenterX), by = groups[1].Average(o => o.CenterY);
            double dx = bx - ax, dy = by - ay;
            string rel = Math.Abs(dx) >= Math.Abs(dy) ? (dx > 0 ? "left of" : "right of") : (dy > 0 ? "above" : "below");
            return $"{Phrase(groups[0])} {rel} {Phrase(groups[1])}";
        }
        var sb = new StringBuilder();
        for (int i = 0; i < groups.Count; i++)
        {
            if (i > 0) sb.Append(i == groups.Count - 1 ? " and " : ", ");
            sb.Append(Phrase(groups[i]));
        }
        return sb.ToString();
    }
}
