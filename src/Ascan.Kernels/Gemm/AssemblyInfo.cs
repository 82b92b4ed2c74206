// Lets the kernel tests force a GEMM path (AVX2 fallback, generic) on an AVX-512 machine.
using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Ascan.Kernels.Tests")]
[assembly: InternalsVisibleTo("ascan")]
