// `ascan bench …`: benchmarks (kernels now; models in later work).
using System.CommandLine;

namespace Ascan.Cli;

internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks: kernel throughput against the machine's measured FMA peak.");
        var kernels = new Command("kernels", "GEMM, conv2d and element-wise kernel throughput, next to the measured FMA peak.");
        var json = new Option<bool>("--json") { Description = "Print one JSON array of {name, threads, gflops, peak_gflops}." };
        kernels.Options.Add(json);
        kernels.SetAction(r => KernelBench.Run(r.GetValue(json)));
        bench.Subcommands.Add(kernels);
        return bench;
    }
}
