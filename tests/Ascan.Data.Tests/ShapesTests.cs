// The shapes generator: determinism, label/mask consistency, captions, and the ImageFolder it writes.
using Ascan.Data;
using Ascan.Data.Imaging;
using Ascan.Data.Shapes;

namespace Ascan.Data.Tests;

public class ShapesTests
{
    [Fact]
    public void Shapes_SameSeed_SameScene_OtherSeedOrSplit_Different()
    {
        var a = new ShapesGenerator(new ShapesConfig { Seed = 3, MaxObjects = 3 });
        var b = new ShapesGenerator(new ShapesConfig { Seed = 3, MaxObjects = 3 });
        var c = new ShapesGenerator(new ShapesConfig { Seed = 4, MaxObjects = 3 });
        for (int i = 0; i < 10; i++)
        {
            var sa = a.Generate(i);
            var sb = b.Generate(i);
            Assert.Equal(sa.Image.Data, sb.Image.Data);
            Assert.Equal(sa.Mask, sb.Mask);
            Assert.Equal(sa.Caption, sb.Caption);
            Assert.NotEqual(sa.Image.Data, c.Generate(i).Image.Data);
            Assert.NotEqual(sa.Image.Data, a.Generate(i, split: 1).Image.Data);
        }
        // Random access: generating out of order gives the same scene.
        Assert.Equal(a.Generate(7).Image.Data, new ShapesGenerator(a.Config).Generate(7).Image.Data);
    }

    [Fact]
    public void Shapes_LabelsBalanced_AndClassNamesSorted()
    {
        var g = new ShapesGenerator(new ShapesConfig { Classes = 10 });
        Assert.Equal(g.ClassNames.OrderBy(n => n, StringComparer.Ordinal), g.ClassNames);
        Assert.Equal(10, g.ClassNames.Distinct().Count());
        Assert.Contains("circle", g.ClassNames);
        Assert.Equal(Enumerable.Repeat(3, 10), Enumerable.Range(0, 30).GroupBy(i => g.LabelOf(i)).Select(x => x.Count()));
        Assert.Equal(ShapesGenerator.MaxClasses, new ShapesGenerator(new ShapesConfig { Classes = ShapesGenerator.MaxClasses }).ClassNames.Count);
        Assert.Throws<ArgumentException>(() => new ShapesGenerator(new ShapesConfig { Classes = ShapesGenerator.MaxClasses + 1 }));
        Assert.Throws<ArgumentException>(() => new ShapesGenerator(new ShapesConfig { Size = 8 }));
    }

    [Fact]
    public void Shapes_SingleObject_MaskMatchesLabelAndShapeArea()
    {
        var g = new ShapesGenerator(new ShapesConfig { Classes = 10, Seed = 11 });
        for (int i = 0; i < 60; i++)
        {
            var s = g.Generate(i);
            Assert.Equal(g.LabelOf(i), s.Label);
            Assert.Equal(s.Label, s.ClassCondition);
            var o = Assert.Single(s.Objects);
            Assert.Equal(g.ClassNames[s.Label], ShapeCatalog.Name(o.Kind));
            Assert.Equal(64 * 64, s.Mask.Length);
            Assert.All(s.Mask, v => Assert.True(v == 0 || v == s.Label + 1, $"mask value {v} in a scene of class {s.Label}"));
            // Mask area ≈ the shape's area, estimated by sampling its distance function on a fine grid.
            int inside = 0, n = 100;
            for (int y = 0; y < n; y++) for (int x = 0; x < n; x++)
                if (ShapeCatalog.Distance(o.Kind, -1.2 + 2.4 * (x + 0.5) / n, -1.2 + 2.4 * (y + 0.5) / n) < 0) inside++;
            double area = inside * (2.4 * o.Radius / n) * (2.4 * o.Radius / n);
            int maskArea = s.Mask.Count(v => v != 0);
            Assert.InRange(maskArea, area * 0.8 - 8, area * 1.2 + 8);
            // The object is painted in its colour family: mask pixels differ from the background around it.
            Assert.Contains(ShapeCatalog.Name(o.Kind), s.Caption);
            Assert.Contains(o.Color.Name, s.Caption);
        }
    }

    [Fact]
    public void Shapes_MultiObject_MaskValuesAreObjectClasses()
    {
        var g = new ShapesGenerator(new ShapesConfig { Classes = 6, MinObjects = 2, MaxObjects = 4, Seed = 5 });
        for (int i = 0; i < 30; i++)
        {
            var s = g.Generate(i);
            Assert.InRange(s.Objects.Count, 2, 4);
            Assert.Equal(s.Label, s.Objects[0].ClassIndex);
            Assert.True(s.Objects[0].Radius >= s.Objects.Max(o => o.Radius));
            var allowed = s.Objects.Select(o => (byte)(o.ClassIndex + 1)).Append((byte)0).ToHashSet();
            Assert.All(s.Mask, v => Assert.Contains(v, allowed));
            Assert.Contains((byte)(s.Label + 1), s.Mask);
        }
    }

    [Fact]
    public void Shapes_Caption_CountsColoursAndRelations()
    {
        ShapeObject O(ShapeKind k, int color, double x, double y) => new(k, 0, color, x, y, 5, 0);
        Assert.Equal("a red circle", ShapesGenerator.Caption([O(ShapeKind.Circle, 0, 10, 10)]));
        Assert.Equal("two red circles left of a blue square", ShapesGenerator.Caption(
            [O(ShapeKind.Circle, 0, 10, 10), O(ShapeKind.Circle, 0, 12, 30), O(ShapeKind.Square, 2, 50, 20)]));
        Assert.Equal("a green cross above three yellow stars", ShapesGenerator.Caption(
            [O(ShapeKind.Cross, 1, 30, 5), O(ShapeKind.Star, 3, 10, 50), O(ShapeKind.Star, 3, 30, 50), O(ShapeKind.Star, 3, 50, 50)]));
        Assert.Equal("a red circle, a blue square and a red square", ShapesGenerator.Caption(
            [O(ShapeKind.Circle, 0, 10, 10), O(ShapeKind.Square, 2, 50, 20), O(ShapeKind.Square, 0, 30, 40)]));
    }

    [Fact]
    public void ShapesWriter_WritesImageFolder_ThatMatchesTheGenerator_Deterministically()
    {
        using var tmp = new DataTestFiles.TempDir();
        var cfg = new ShapesConfig { Classes = 4, Size = 32, Seed = 9 };
        var summary = ShapesWriter.Write(tmp["a"], cfg, train: 12, val: 8, masks: true);
        ShapesWriter.Write(tmp["b"], cfg, train: 12, val: 8);
        Assert.Equal((12, 8, 4), (summary.Train, summary.Val, summary.Classes));

        var train = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(tmp["a"], "train"));
        var gen = new ShapesGenerator(cfg);
        Assert.Equal(gen.ClassNames, train.ClassNames);
        Assert.Equal(ClassMap.Read(tmp["a"]), train.ClassNames);
        var mem = new ShapesDataset(gen, 12);
        for (int k = 0; k < train.Count; k++)
        {
            int index = int.Parse(Path.GetFileNameWithoutExtension(train.Describe(k)));
            Assert.Equal(mem.Label(index), train.Label(k));
            Assert.Equal(mem.Load(index).Data, train.Load(k).Data);
            Assert.Equal(File.ReadAllBytes(train.Describe(k)), File.ReadAllBytes(train.Describe(k).Replace(tmp["a"], tmp["b"])));
        }
        var val = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(tmp["a"], "val"));
        Assert.Equal(8, val.Count);
        var captions = File.ReadAllLines(Path.Combine(tmp["a"], "train", "captions.jsonl"));
        Assert.Equal(12, captions.Length);
        Assert.Contains("\"caption\":", captions[0]);
        var mask = Png.Load(train.Describe(0).Replace(Path.Combine(tmp["a"], "train"), Path.Combine(tmp["a"], "train_masks")));
        Assert.Equal(1, mask.Channels);
        Assert.Equal(gen.Generate(0).Mask, mask.Data);
        Assert.True(File.Exists(Path.Combine(tmp["a"], "shapes.json")));

        // Rewriting with fewer images leaves no stale files; a foreign non-empty folder is refused.
        ShapesWriter.Write(tmp["a"], cfg, train: 4, val: 0);
        Assert.Equal(4, new ImageFolderDataset(Path.Combine(tmp["a"], "train")).Count);
        Assert.False(Directory.Exists(Path.Combine(tmp["a"], "val")));
        Directory.CreateDirectory(tmp["foreign"]);
        File.WriteAllText(Path.Combine(tmp["foreign"], "notes.txt"), "mine");
        Assert.Throws<ArgumentException>(() => ShapesWriter.Write(tmp["foreign"], cfg, train: 4, val: 0));
    }
}
