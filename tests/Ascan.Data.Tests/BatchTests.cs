// Placeholder-free smoke check of the batch record (real data tests live beside the loaders).
using Ascan.Core;
using Ascan.Data;

namespace Ascan.Data.Tests;

public class BatchTests
{
    [Fact]
    public void Batch_Holds_ImagesAndLabels()
    {
        var b = new Batch(Tensor.Zeros(2, 3, 4, 4), [1, 0]);
        Assert.Equal(2, b.Images.Dim(0));
        Assert.Equal(new[] { 1, 0 }, b.Labels);
        Assert.Null(b.SoftTargets);
    }
}
