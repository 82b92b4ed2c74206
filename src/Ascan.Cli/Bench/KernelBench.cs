// Kernel benchmark: GEMM shapes, conv2d and fused element-wise kernels against the measured FMA peak.
namespace Ascan.Cli;

internal static class KernelBench
{
    public static int Run(bool json)
    {
        Console.Error.WriteLine("kernel benchmark not yet implemented");
        return 1;
    }
}
