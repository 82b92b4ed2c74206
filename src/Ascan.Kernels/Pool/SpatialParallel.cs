// Fixed-partition parallel loops for the NHWC spatial kernels (pooling, upsampling).
using Ascan.Kernels;

namespace Ascan.Kernels;

/// <summary>
/// Splits <c>count</c> independent items (output rows, or whole images for scatters) into at most
/// <see cref="KernelPool.Threads"/> contiguous ranges. The split depends only on the sizes and the
/// thread setting, and each item is computed by the same code whatever range it lands in, so the
/// results are bit-identical run to run and across thread counts.
/// </summary>
public static class SpatialParallel
{
    /// <summary>Below this many touched elements a kernel stays on the calling thread.</summary>
    public const long Threshold = 1 << 15;

    public static void For(int count, long totalWork, Action<int, int> range)
    {
        int parts = totalWork < Threshold ? 1 : Math.Min(KernelPool.Threads, count);
        if (parts <= 1) { if (count > 0) range(0, count); return; }
        KernelPool.Run(parts, p =>
        {
            int lo = (int)((long)count * p / parts), hi = (int)((long)count * (p + 1) / parts);
            if (hi > lo) range(lo, hi);
        });
    }
}
