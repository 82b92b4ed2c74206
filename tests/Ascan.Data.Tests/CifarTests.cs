// CIFAR-10/100 binary batches: record layout, labels, planar → interleaved pixels, class names.
using Ascan.Data;

namespace Ascan.Data.Tests;

public class CifarTests
{
    private static byte[] Records(int n, int labelBytes, Func<int, byte[]> labels)
    {
        var b = new byte[n * (labelBytes + 3072)];
        for (int i = 0; i < n; i++)
        {
            int r = i * (labelBytes + 3072);
            labels(i).CopyTo(b, r);
            // Pixel (y, x) of channel c = (i + c·50 + y + x) mod 256, stored as three 32×32 planes.
            for (int c = 0; c < 3; c++) for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++)
                b[r + labelBytes + c * 1024 + y * 32 + x] = (byte)(i + c * 50 + y + x);
        }
        return b;
    }

    [Fact]
    public void Cifar10_ReadsBatches_Labels_AndPixels()
    {
        using var tmp = new DataTestFiles.TempDir();
        File.WriteAllBytes(tmp["data_batch_1.bin"], Records(3, 1, i => [(byte)(i * 3)]));
        File.WriteAllBytes(tmp["data_batch_2.bin"], Records(2, 1, i => [(byte)9]));
        File.WriteAllBytes(tmp["test_batch.bin"], Records(4, 1, i => [(byte)i]));
        var train = new CifarDataset(tmp.Path, train: true);
        Assert.Equal(5, train.Count);
        Assert.Equal(new[] { 0, 3, 6, 9, 9 }, Enumerable.Range(0, 5).Select(train.Label));
        Assert.Equal("airplane", train.ClassNames[0]);
        var img = train.Load(1);
        Assert.Equal((32, 32, 3), (img.Width, img.Height, img.Channels));
        Assert.Equal((byte)(1 + 50 * 2 + 5 + 7), img[7, 5, 2]);
        var test = new CifarDataset(tmp.Path, train: false);
        Assert.Equal(4, test.Count);
        Assert.Equal("cifar10/test#2", test.Describe(2));
    }

    [Fact]
    public void Cifar100_FineAndCoarse_WithNameFiles()
    {
        using var tmp = new DataTestFiles.TempDir();
        File.WriteAllBytes(tmp["train.bin"], Records(2, 2, i => [(byte)(i + 1), (byte)(90 + i)]));
        File.WriteAllLines(tmp["coarse_label_names.txt"], Enumerable.Range(0, 20).Select(i => $"coarse{i}"));
        var fine = new CifarDataset(tmp.Path, train: true);
        Assert.True(fine.IsCifar100);
        Assert.Equal(new[] { 90, 91 }, new[] { fine.Label(0), fine.Label(1) });
        Assert.Equal(100, fine.ClassNames.Count);
        var coarse = new CifarDataset(tmp.Path, train: true, coarse: true);
        Assert.Equal(new[] { 1, 2 }, new[] { coarse.Label(0), coarse.Label(1) });
        Assert.Equal("coarse2", coarse.ClassNames[2]);
    }

    [Fact]
    public void Cifar_BadFileSize_NamesTheFile()
    {
        using var tmp = new DataTestFiles.TempDir();
        File.WriteAllBytes(tmp["data_batch_1.bin"], new byte[3074]);
        var e = Assert.Throws<InvalidDataException>(() => new CifarDataset(tmp.Path, train: true));
        Assert.Contains("data_batch_1.bin", e.Message);
        Directory.CreateDirectory(tmp["empty"]);
        Assert.Throws<FileNotFoundException>(() => new CifarDataset(tmp["empty"], train: true));
    }
}
