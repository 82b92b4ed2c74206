// The batch loader: determinism across threads and resumes, epoch shuffling, skipped corrupt files, mixup batches.
using Ascan.Data;
using Ascan.Data.Augment;
using Ascan.Data.Shapes;

namespace Ascan.Data.Tests;

public class LoaderTests
{
    private static readonly ShapesGenerator Gen = new(new ShapesConfig { Size = 24, Classes = 5, Seed = 7 });

    private static TransformConfig Tc(string? aa = "rand-m9-mstd0.5-inc1") => new()
    {
        Size = 16, AutoAugment = aa, ReProb = 0.25, Mean = [0.5, 0.5, 0.5], Std = [0.25, 0.25, 0.25],
    };

    private static DataLoader Train(int workers, int count = 21, MixupConfig? mixup = null) =>
        DataLoader.ForTraining(new ShapesDataset(Gen, count), Tc(), new LoaderOptions { BatchSize = 4, Seed = 42, Workers = workers, Mixup = mixup });

    private static List<(float[] Images, int[] Labels, float[]? Soft)> Collect(IBatchSource src, int epoch, int start = 0) =>
        src.Epoch(epoch, start).Select(b => (b.Images.ToArray<float>(), b.Labels, b.SoftTargets?.ToArray<float>())).ToList();

    [Fact]
    public void Loader_SameSeedAndEpoch_IdenticalBatches_WhateverTheWorkers()
    {
        var a = Collect(Train(0), 3);
        var b = Collect(Train(2), 3);
        var c = Collect(Train(1), 3);
        Assert.Equal(5, a.Count);                              // 21 // 4, last incomplete batch dropped
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Images, b[i].Images);
            Assert.Equal(a[i].Images, c[i].Images);
        }
        var batch = Train(1).Epoch(0).First();
        Assert.Equal(new[] { 4, 3, 16, 16 }, batch.Images.ShapeArray());
    }

    [Fact]
    public void Loader_DifferentEpoch_DifferentOrder_AndStartBatchResumes()
    {
        var loader = Train(2);
        Assert.NotEqual(loader.Order(0), loader.Order(1));
        Assert.Equal(Enumerable.Range(0, 21), loader.Order(1).Order());
        var full = Collect(loader, 1);
        var tail = Collect(loader, 1, start: 3);
        Assert.Equal(2, tail.Count);
        Assert.Equal(full[3].Images, tail[0].Images);
        Assert.Equal(full[4].Labels, tail[1].Labels);
        Assert.Empty(Collect(loader, 1, start: 5));
        Assert.NotEqual(full[0].Images, Collect(loader, 2)[0].Images);
    }

    [Fact]
    public void Loader_Eval_KeepsOrderAndLastBatch()
    {
        var eval = DataLoader.ForEvaluation(new ShapesDataset(Gen, 10, split: 1), Tc(null), new LoaderOptions { BatchSize = 4, Workers = 1 });
        Assert.Equal(3, eval.BatchesPerEpoch);
        var batches = eval.Epoch(0).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, batches.Select(b => b.Labels.Length));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i % 5), batches.SelectMany(b => b.Labels));
        Assert.Equal(batches[2].Images.ToArray<float>(), eval.Epoch(5).Last().Images.ToArray<float>());
    }

    [Fact]
    public void Loader_CorruptFiles_ReportedOnceByPath_SkippedAndCounted()
    {
        using var tmp = new DataTestFiles.TempDir();
        for (int i = 0; i < 6; i++) DataFolderTests.WriteImage(tmp[$"{(i % 2 == 0 ? "a" : "b")}/{i}.png"], i);
        File.WriteAllBytes(tmp["a/bad.png"], [137, 80, 78, 71, 13, 10, 26, 10, 0, 0]);
        File.WriteAllBytes(tmp["b/cut.jpg"], [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2]);
        var log = new StringWriter();
        var ds = new ImageFolderDataset(tmp.Path);
        var loader = DataLoader.ForTraining(ds, Tc(null), new LoaderOptions { BatchSize = 4, Workers = 2, Log = log });
        Assert.Equal(8, loader.SampleCount);
        int seen = 0;
        for (int epoch = 0; epoch < 2; epoch++)
            foreach (var b in loader.Epoch(epoch))
            {
                Assert.Equal(b.Labels.Length, b.Images.Dim(0));
                seen += b.Labels.Length;
            }
        Assert.Equal(2, loader.SkippedFiles);
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);                          // once per file, not once per epoch
        Assert.Contains(lines, l => l.Contains(tmp["a/bad.png"]));
        Assert.Contains(lines, l => l.Contains(tmp["b/cut.jpg"]));
        Assert.Equal(2 * 6, seen);                              // two epochs of two batches of 4, each epoch without the 2 bad files
    }

    [Fact]
    public void Loader_Mixup_GivesSoftTargetsThatSumToOne()
    {
        var loader = Train(1, mixup: new MixupConfig { MixupAlpha = 0.8, CutmixAlpha = 1.0, LabelSmoothing = 0.1 });
        foreach (var b in loader.Epoch(0))
        {
            Assert.NotNull(b.SoftTargets);
            Assert.Equal(new[] { 4, 5 }, b.SoftTargets!.ShapeArray());
            var t = b.SoftTargets.ToArray<float>();
            for (int i = 0; i < 4; i++) Assert.Equal(1.0, t.Skip(5 * i).Take(5).Sum(v => (double)v), 5);
        }
    }

    [Fact]
    public void Loader_StoppingEarly_EndsWorkers()
    {
        var loader = Train(2, count: 40);
        for (int i = 0; i < 3; i++)
        {
            var first = loader.Epoch(i).First();                 // disposes the enumerator after one batch
            Assert.Equal(4, first.Labels.Length);
        }
        Assert.Equal(10, loader.Epoch(0).Count());
    }
}
