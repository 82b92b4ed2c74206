// Segmentation data: the shapes segmentation set, the folder layouts and their errors, bad pairs, segmentation batches.
using Ascan.Data.Imaging;
using Ascan.Data.Segmentation;
using Ascan.Data.Shapes;

namespace Ascan.Data.Tests;

public class SegDataTests
{
    private static readonly LoaderOptions Serial = new() { BatchSize = 2, Workers = 0, Seed = 5, Log = TextWriter.Null };

    [Fact]
    public void ShapesSeg_SameSeed_SameFiles_OtherSeed_Different()
    {
        using var a = new DataTestFiles.TempDir();
        using var b = new DataTestFiles.TempDir();
        using var c = new DataTestFiles.TempDir();
        ShapesSegmentationWriter.Write(a.Path, 3, 2, 32, seed: 7);
        ShapesSegmentationWriter.Write(b.Path, 3, 2, 32, seed: 7);
        ShapesSegmentationWriter.Write(c.Path, 3, 2, 32, seed: 8);
        foreach (var rel in new[] { "images/training/000002.png", "annotations/training/000002.png", "images/validation/000001.png", "annotations/validation/000001.png" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.Path, rel)), File.ReadAllBytes(Path.Combine(b.Path, rel)));
            if (rel.StartsWith("images")) Assert.NotEqual(File.ReadAllBytes(Path.Combine(a.Path, rel)), File.ReadAllBytes(Path.Combine(c.Path, rel)));
        }
        Assert.Equal(["background", "circle", "square", "star", "triangle"], File.ReadAllLines(a["classes.txt"]));
        // The files hold the in-memory scenes (PNG is lossless), and the generator's mask values are the labels.
        var mem = new ShapesSegDataset(new ShapesGenerator(ShapesSegmentation.DefaultConfig(32, 7)), 3, split: 0);
        var pair = mem.Load(2);
        Assert.Equal(pair.Image.Data, ImageIO.Load(a["images/training/000002.png"]).Data);
        Assert.Equal(pair.Label.Data, LabelMap.Load(a["annotations/training/000002.png"]).Data);
    }

    [Fact]
    public void ShapesSeg_LabelValues_InRange_SeveralClassesPerScene()
    {
        var gen = new ShapesGenerator(ShapesSegmentation.DefaultConfig(64, 1));
        var set = new ShapesSegDataset(gen, 24);
        var seen = new HashSet<byte>();
        int multi = 0;
        for (int i = 0; i < set.Count; i++)
        {
            var l = set.Load(i).Label;
            var values = l.Data.ToHashSet();
            Assert.All(values, v => Assert.InRange(v, 0, set.ClassNames.Count - 1));
            Assert.Contains((byte)0, values);
            if (values.Count > 2) multi++;
            seen.UnionWith(values);
            // Objects are not tiny: every object class present covers at least 60 pixels of the 64×64 scene.
            foreach (var v in values.Where(v => v != 0)) Assert.True(l.Data.Count(x => x == v) >= 60, $"scene {i}: class {v} covers under 60 px");
        }
        Assert.Equal(set.ClassNames.Count, seen.Count);
        Assert.True(multi > 0, "no scene holds two object classes");
    }

    [Fact]
    public void ShapesSeg_WrittenFolder_OpensAsAnnotationsLayout_AndRefusesForeignFolder()
    {
        using var tmp = new DataTestFiles.TempDir();
        ShapesSegmentationWriter.Write(tmp.Path, 4, 3, 32, seed: 2);
        var (layout, _) = SegDatasets.DetectLayout(tmp.Path);
        Assert.Equal(SegLayout.Annotations, layout);
        var train = SegDatasets.Open(tmp.Path, "train", new SegDatasetOptions { Verify = true });
        var val = SegDatasets.Open(tmp.Path, "val");
        Assert.Equal(4, train.Count);
        Assert.Equal(3, val.Count);
        Assert.False(train.ReduceZeroLabel);
        Assert.Equal(5, train.ClassNames.Count);
        Assert.Equal(0, train.SkippedCount);
        // Rewriting over an earlier set is fine; a folder with other things is refused.
        ShapesSegmentationWriter.Write(tmp.Path, 2, 1, 32, seed: 2);
        Assert.Equal(2, SegDatasets.Open(tmp.Path, "train").Count);
        using var other = new DataTestFiles.TempDir();
        File.WriteAllText(other["notes.txt"], "x");
        var e = Assert.Throws<ArgumentException>(() => ShapesSegmentationWriter.Write(other.Path, 1, 1, 32));
        Assert.Contains(other.Path, e.Message);
    }

    /// <summary>A tiny ADE20K release: PNG bytes under .jpg names (the decoder goes by signature), labels 0..150.</summary>
    private static void WriteAdePair(string root, string split, string stem, int w, int h, Func<int, int, byte> label, int labelW = 0)
    {
        Directory.CreateDirectory(Path.Combine(root, "images", split));
        Directory.CreateDirectory(Path.Combine(root, "annotations", split));
        Png.Save(DataTestFiles.RandomImage(w, h, 3, stem.GetHashCode() & 0xFFFF), Path.Combine(root, "images", split, stem + ".jpg"));
        int lw = labelW > 0 ? labelW : w;
        var map = new LabelMap(lw, h);
        for (int y = 0; y < h; y++) for (int x = 0; x < lw; x++) map[x, y] = label(x, y);
        Png.Save(map.AsImage(), Path.Combine(root, "annotations", split, stem + ".png"));
    }

    [Fact]
    public void Ade20k_ReduceZeroLabel_ClassNames_ReleaseFolderFound()
    {
        using var tmp = new DataTestFiles.TempDir();
        string root = Path.Combine(tmp.Path, SegDatasets.AdeReleaseFolder);
        WriteAdePair(root, "training", "ADE_train_00000001", 6, 4, (x, y) => (byte)(x == 0 ? 0 : x == 1 ? 150 : x + 1));
        WriteAdePair(root, "validation", "ADE_val_00000001", 5, 3, (x, y) => (byte)(y + 1));
        var (layout, found) = SegDatasets.DetectLayout(tmp.Path);
        Assert.Equal(SegLayout.Ade20k, layout);
        Assert.Equal(root, found);
        var train = SegDatasets.Open(tmp.Path, "train");
        Assert.True(train.ReduceZeroLabel);
        Assert.Equal(150, train.ClassNames.Count);
        Assert.Equal("wall", train.ClassNames[0]);
        Assert.Equal("flag", train.ClassNames[149]);
        Assert.Equal(Ade20k.ClassNames, train.ClassNames);
        var l = train.Load(0).Label;
        Assert.Equal(255, l[0, 2]);       // 0 ("other") → ignore
        Assert.Equal(149, l[1, 0]);       // 150 → 149
        Assert.Equal(3, l[3, 1]);         // 4 → 3
        Assert.Equal(0, SegDatasets.Open(tmp.Path, "val").Load(0).Label[4, 0]);
    }

    [Fact]
    public void SegFolder_BadPairs_SkippedByName_AndCounted()
    {
        using var tmp = new DataTestFiles.TempDir();
        string root = tmp.Path;
        WriteAdePair(root, "training", "a_good", 4, 4, (x, y) => (byte)(x + 1));
        WriteAdePair(root, "training", "b_size", 4, 4, (x, y) => 1, labelW: 5);
        WriteAdePair(root, "training", "c_value", 4, 4, (x, y) => (byte)(x == 3 && y == 2 ? 200 : 1));
        WriteAdePair(root, "training", "d_good", 4, 4, (x, y) => 2);
        Png.Save(DataTestFiles.RandomImage(4, 4, 3, 1), Path.Combine(root, "images", "training", "e_nolabel.jpg"));
        WriteAdePair(root, "validation", "v", 4, 4, (x, y) => 1);

        // Opening lists the image without a label; loading finds the other two, by file name.
        var set = SegDatasets.Open(root, "train");
        Assert.Equal(4, set.Count);
        Assert.Single(set.Skipped);
        Assert.EndsWith("e_nolabel.jpg", set.Skipped[0].File);
        var log = new StringWriter();
        var loader = DataLoader.ForSegTraining(set, SegTransformConfig.ForCrop(4), Serial with { Log = log, BatchSize = 4 });
        var batches = loader.Epoch(0).ToList();
        Assert.Single(batches);
        Assert.Equal(2, batches[0].Count);
        Assert.Equal(2, loader.SkippedFiles);
        Assert.Equal(3, set.SkippedCount);
        var files = set.Skipped.Select(s => Path.GetFileName(s.File)).ToArray();
        Assert.Equal(["b_size.jpg", "c_value.jpg", "e_nolabel.jpg"], files);
        Assert.Contains("label map is 5×4 but its image is 4×4", set.Skipped[0].Reason);
        Assert.Contains("label value 199 at (3, 2)", set.Skipped[1].Reason);   // 200 − 1 after reduce_zero_label
        Assert.Contains("b_size", log.ToString());
        Assert.Contains("c_value", log.ToString());

        // Verify finds them when opening, so batches stay full.
        var verified = SegDatasets.Open(root, "train", new SegDatasetOptions { Verify = true });
        Assert.Equal(2, verified.Count);
        Assert.Equal(3, verified.SkippedCount);
    }

    [Fact]
    public void SegFolder_MasksLayout_WithClassList_FlatOrSplit()
    {
        using var tmp = new DataTestFiles.TempDir();
        Directory.CreateDirectory(tmp["images"]);
        Directory.CreateDirectory(tmp["masks"]);
        Png.Save(DataTestFiles.RandomImage(5, 3, 3, 1), tmp["images/x.png"]);
        var map = new LabelMap(5, 3);
        map[2, 1] = 2; map[4, 2] = 255;
        Png.Save(map.AsImage(), tmp["masks/x.png"]);
        var e = Assert.Throws<InvalidDataException>(() => SegDatasets.Open(tmp.Path, "train"));
        Assert.Contains("classes.txt", e.Message);
        Assert.Contains(tmp.Path, e.Message);
        File.WriteAllText(tmp["classes.txt"], "road\ncar\nsky\n");
        var set = SegDatasets.Open(tmp.Path, "val");
        Assert.Equal(SegLayout.Masks, set.Layout);
        Assert.Equal(["road", "car", "sky"], set.ClassNames);
        var l = set.Load(0).Label;
        Assert.Equal(2, l[2, 1]);
        Assert.Equal(255, l[4, 2]);
        Assert.Equal(0, l[0, 0]);            // no reduce_zero_label: 0 is a class
    }

    [Fact]
    public void SegFolder_Errors_NameFolderAndExpectation()
    {
        using var tmp = new DataTestFiles.TempDir();
        var missing = Assert.Throws<DirectoryNotFoundException>(() => SegDatasets.Open(tmp["nope"], "train"));
        Assert.Contains("nope", missing.Message);
        var noImages = Assert.Throws<InvalidDataException>(() => SegDatasets.Open(tmp.Path, "train"));
        Assert.Contains("has no images/ folder", noImages.Message);
        Directory.CreateDirectory(tmp["images/training"]);
        var noLabels = Assert.Throws<InvalidDataException>(() => SegDatasets.Open(tmp.Path, "train"));
        Assert.Contains("neither annotations/", noLabels.Message);
        Directory.CreateDirectory(tmp["annotations/training"]);
        var noVal = Assert.Throws<InvalidDataException>(() => SegDatasets.Open(tmp.Path, "val"));
        Assert.Contains("no validation/ or val/", noVal.Message);
        Assert.Contains("training", noVal.Message);
        var empty = Assert.Throws<InvalidDataException>(() => SegDatasets.Open(tmp.Path, "train"));
        Assert.Contains("holds no .jpg/.jpeg/.png images", empty.Message);
        foreach (var m in new[] { missing.Message, noImages.Message, noLabels.Message, noVal.Message, empty.Message })
            Assert.DoesNotContain('\n', m);
        Assert.True(SegDatasets.IsSegmentationFolder(tmp.Path));
        Assert.False(SegDatasets.IsSegmentationFolder(tmp["images"]));
    }

    [Fact]
    public void SegLoader_Train_MasksFollowImages_Deterministic()
    {
        // A scene whose colours say its class: then any geometric op that moved image and mask apart shows up.
        var gen = new ShapesGenerator(ShapesSegmentation.DefaultConfig(32, 3) with { Textures = false });
        var set = new ShapesSegDataset(gen, 5);
        var config = SegTransformConfig.ForCrop(24) with { PhotoMetric = false, Mean = [0, 0, 0], Std = [1 / 255.0, 1 / 255.0, 1 / 255.0] };
        var loader = DataLoader.ForSegTraining(set, config, Serial);
        var a = loader.Epoch(1).ToList();
        var b = loader.Epoch(1).ToList();
        Assert.Equal(2, a.Count);                         // 5 samples, batch 2, last dropped
        for (int k = 0; k < a.Count; k++)
        {
            Assert.Equal([2, 3, 24, 24], a[k].Images.ShapeArray());
            Assert.Equal(a[k].Images.Span<float>().ToArray(), b[k].Images.Span<float>().ToArray());
            Assert.Equal(a[k].Masks, b[k].Masks);
            Assert.Equal(24, a[k].MaskHeight);
            Assert.Empty(a[k].Labels);
            var img = a[k].Images.Span<float>();
            var m = a[k].Masks!;
            int n = 24 * 24;
            for (int s = 0; s < 2; s++)
                for (int p = 0; p < n; p++)
                {
                    int v = m[s * n + p];
                    float r = img[(s * 3) * n + p], g = img[(s * 3 + 1) * n + p], bl = img[(s * 3 + 2) * n + p];
                    bool gray = Math.Abs(r - 128) < 3 && Math.Abs(g - 128) < 3 && Math.Abs(bl - 128) < 3;
                    // Background pixels show the flat gray (far from edges), object pixels not; padding is 0 with 255.
                    if (v == 255) Assert.True(r == 0 && g == 0 && bl == 0, "padding must be 0 under mask 255");
                    else if (v == 0 && gray) continue;
                    else if (v != 0) Assert.False(gray && InsideObject(m, s, p, 24), $"mask {v} over background gray at {p}");
                }
        }
    }

    // True when all 8 neighbours carry the same object label (so antialiasing and resampling cannot blend gray in).
    private static bool InsideObject(int[] m, int s, int p, int side)
    {
        int n = side * side, x = p % side, y = p / side, v = m[s * n + p];
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
            {
                int xx = x + dx, yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= side || yy >= side || m[s * n + yy * side + xx] != v) return false;
            }
        return true;
    }

    [Fact]
    public void SegLoader_Eval_KeepsLabelAtOriginalSize_RefusesMixedSizes()
    {
        using var tmp = new DataTestFiles.TempDir();
        WriteAdePair(tmp.Path, "validation", "a", 8, 6, (x, y) => (byte)(x % 3));
        WriteAdePair(tmp.Path, "validation", "b", 6, 6, (x, y) => 1);
        WriteAdePair(tmp.Path, "validation", "c", 8, 6, (x, y) => 1);
        Directory.CreateDirectory(tmp["images/training"]);
        var set = SegDatasets.Open(tmp.Path, "val");
        // Scale (64, 16): the short side 6 → 16, the long side 8 → 21.
        var config = new SegTransformConfig { CropWidth = 16, CropHeight = 16, ScaleLong = 64, ScaleShort = 16 };
        var loader = DataLoader.ForSegEvaluation(set, config, Serial);
        var e = Assert.Throws<InvalidDataException>(() => loader.Epoch(0).ToList());
        Assert.Contains("batch size 1", e.Message);
        var one = DataLoader.ForSegEvaluation(set, config, Serial with { BatchSize = 1 }).Epoch(0).ToList();
        Assert.Equal(3, one.Count);
        Assert.Equal([1, 3, 16, 21], one[0].Images.ShapeArray());
        Assert.Equal((6, 8), (one[0].MaskHeight, one[0].MaskWidth));
        Assert.Equal(48, one[0].Masks!.Length);
        Assert.Equal(255, one[0].Masks![0]);    // label 0 → ignore (ADE layout)
        Assert.Equal(0, one[0].Masks![1]);      // label 1 → 0
        Assert.Equal((6, 6), (one[1].MaskHeight, one[1].MaskWidth));
        // Same-size images batch together.
        var two = DataLoader.ForSegEvaluation(set, config, Serial with { BatchSize = 2 }).BuildBatch(0, 0, [0, 2, 1])!;
        Assert.Equal([2, 3, 16, 21], two.Images.ShapeArray());
        Assert.Equal(2 * 48, two.Masks!.Length);
    }

    [Fact]
    public void SegLoader_Workers_SameBatchesAsSerial()
    {
        var set = new ShapesSegDataset(new ShapesGenerator(ShapesSegmentation.DefaultConfig(32, 4)), 6);
        var config = SegTransformConfig.ForCrop(32);
        var serial = DataLoader.ForSegTraining(set, config, Serial).Epoch(0).ToList();
        var threaded = DataLoader.ForSegTraining(set, config, Serial with { Workers = 2 }).Epoch(0).ToList();
        Assert.Equal(serial.Count, threaded.Count);
        for (int k = 0; k < serial.Count; k++)
        {
            Assert.Equal(serial[k].Masks, threaded[k].Masks);
            Assert.Equal(serial[k].Images.Span<float>().ToArray(), threaded[k].Images.Span<float>().ToArray());
        }
    }
}
