// ImageFolder scanning and class maps.
using Ascan.Data;
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

public class DataFolderTests
{
    internal static void WriteImage(string path, int seed, int size = 12)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var img = DataTestFiles.RandomImage(size, size, 3, seed, smooth: true);
        ImageIO.Save(img, path);
    }

    [Fact]
    public void ImageFolder_SortsClassesAndFiles_CaseInsensitiveExtensions()
    {
        using var tmp = new DataTestFiles.TempDir();
        WriteImage(tmp["zebra/b.PNG"], 1);
        WriteImage(tmp["zebra/a.jpeg"], 2);
        WriteImage(tmp["Apple/x.JPG"], 3);
        WriteImage(tmp["apple/nested/y.png"], 4);
        File.WriteAllText(tmp["apple/notes.txt"], "not an image");
        Directory.CreateDirectory(tmp[".hidden"]);
        var ds = new ImageFolderDataset(tmp.Path);
        Assert.Equal(new[] { "Apple", "apple", "zebra" }, ds.ClassNames);        // ordinal: upper case first
        Assert.Equal(4, ds.Count);
        Assert.Equal(new[] { 0, 1, 2, 2 }, Enumerable.Range(0, 4).Select(ds.Label));
        Assert.EndsWith(Path.Combine("zebra", "a.jpeg"), ds.Describe(2));
        Assert.EndsWith(Path.Combine("nested", "y.png"), ds.Describe(1));
        Assert.Equal((12, 12, 3), (ds.Load(3).Width, ds.Load(3).Height, ds.Load(3).Channels));
        Assert.Equal(new[] { 1, 1, 2 }, ds.ClassCounts());
    }

    [Fact]
    public void ImageFolder_WithClassMap_MapsByName_AndRejectsUnknownFolders()
    {
        using var tmp = new DataTestFiles.TempDir();
        WriteImage(tmp["val/dog/1.png"], 1);
        WriteImage(tmp["train/cat/1.png"], 2);
        WriteImage(tmp["train/dog/1.png"], 3);
        var train = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(tmp.Path, "train"));
        string map = train.WriteClassMap(tmp["ckpt"]);
        Assert.Equal(new[] { "cat", "dog" }, ClassMap.Read(map));
        Assert.Equal(new[] { "cat", "dog" }, ClassMap.Read(tmp["ckpt"]));
        var val = new ImageFolderDataset(ImageFolderDataset.ResolveSplit(tmp.Path, "val"), ClassMap.Read(tmp["ckpt"]));
        Assert.Equal(1, val.Label(0));                                      // "dog" keeps index 1 without a cat folder
        Assert.Equal(tmp.Path, ImageFolderDataset.ResolveSplit(tmp.Path, "test"));
        var e = Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(tmp["train"], ["dog"]));
        Assert.Contains("cat", e.Message);
    }

    [Fact]
    public void ImageFolder_EmptyOrMissing_ExplainsLayout()
    {
        using var tmp = new DataTestFiles.TempDir();
        Assert.Contains("class sub-folders", Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(tmp.Path)).Message);
        Directory.CreateDirectory(tmp["a"]);
        Assert.Contains("no .jpg", Assert.Throws<InvalidDataException>(() => new ImageFolderDataset(tmp.Path)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => new ImageFolderDataset(tmp["missing"]));
    }

    [Fact]
    public void Datasets_Open_DetectsCifarOrImageFolder()
    {
        using var tmp = new DataTestFiles.TempDir();
        WriteImage(tmp["folder/train/x/1.png"], 1);
        WriteImage(tmp["folder/val/x/1.png"], 2);
        Assert.IsType<ImageFolderDataset>(Datasets.Open(tmp["folder"], "val"));
        Directory.CreateDirectory(tmp["cifar"]);
        File.WriteAllBytes(tmp["cifar/test_batch.bin"], new byte[3073]);
        var c = Assert.IsType<CifarDataset>(Datasets.Open(tmp["cifar"], "val"));
        Assert.Equal(1, c.Count);
        Assert.Throws<ArgumentException>(() => Datasets.Open(tmp["folder"], "test"));
    }

    [Fact]
    public void ClassMap_ReadsJsonForms()
    {
        using var tmp = new DataTestFiles.TempDir();
        File.WriteAllText(tmp["a.json"], "[\"x\", \"y\"]");
        File.WriteAllText(tmp["b.json"], "{\"y\": 1, \"x\": 0}");
        File.WriteAllText(tmp["c.json"], "{\"y\": 2, \"x\": 0}");
        Assert.Equal(new[] { "x", "y" }, ClassMap.Read(tmp["a.json"]));
        Assert.Equal(new[] { "x", "y" }, ClassMap.Read(tmp["b.json"]));
        Assert.Throws<InvalidDataException>(() => ClassMap.Read(tmp["c.json"]));
        Assert.Throws<FileNotFoundException>(() => ClassMap.Read(tmp["none.txt"]));
    }
}
