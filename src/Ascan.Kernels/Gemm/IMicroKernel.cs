// The contract between the packed SGEMM driver and its register-blocked micro-kernels.
namespace Ascan.Kernels;

/// <summary>
/// A micro-kernel computes one Mr×Nr tile of C from an A panel packed k-major (Mr floats per k)
/// and a B panel packed k-major (Nr floats per k). The driver is generic over it, so the JIT
/// specialises packing and tiling for each kernel's constants.
/// </summary>
internal unsafe interface IMicroKernel
{
    static abstract int Mr { get; }
    static abstract int Nr { get; }
    static abstract bool IsSupported { get; }
    static abstract void Run(nint kc, float* a, float* b, float* c, nint ldc, bool load);
}
