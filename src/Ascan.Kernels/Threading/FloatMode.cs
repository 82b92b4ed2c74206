// Per-thread MXCSR control: flush-to-zero and denormals-are-zero for kernel threads.
using System.Runtime.InteropServices;

namespace Ascan.Kernels;

/// <summary>
/// Sets FTZ|DAZ in MXCSR so subnormal operands and results do not take the ~100x slow microcode
/// path (a GEMM over subnormal inputs measured 0.7 instead of 154 GFLOP/s). .NET exposes no MXCSR
/// API, so this goes through glibc's fegetenv/fesetenv; elsewhere it is a no-op.
/// </summary>
public static unsafe class FloatMode
{
    private const uint FlushToZero = 0x8000, DenormalsAreZero = 0x0040;
    // x86-64 glibc fenv_t: 28 bytes of x87 environment, then the 4-byte mxcsr.
    private const int MxcsrOffset = 28, FenvSize = 32;

    private static readonly bool _supported =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;
    private static bool _failed;

    [ThreadStatic] private static bool _set;

    [DllImport("libm.so.6", EntryPoint = "fegetenv")]
    private static extern int FeGetEnv(byte* env);

    [DllImport("libm.so.6", EntryPoint = "fesetenv")]
    private static extern int FeSetEnv(byte* env);

    /// <summary>Turns on FTZ|DAZ for the calling thread (once; later calls are a thread-static check).</summary>
    public static void EnsureFlushToZero()
    {
        if (_set) return;
        _set = true;
        if (!_supported || _failed) return;
        try
        {
            byte* env = stackalloc byte[FenvSize * 2]; // slack in case the libc's fenv_t is larger
            if (FeGetEnv(env) != 0) return;
            *(uint*)(env + MxcsrOffset) |= FlushToZero | DenormalsAreZero;
            FeSetEnv(env);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _failed = true;
        }
    }

    /// <summary>Reads the calling thread's MXCSR (for tests); null where unsupported.</summary>
    public static uint? ReadMxcsr()
    {
        if (!_supported || _failed) return null;
        byte* env = stackalloc byte[FenvSize * 2];
        return FeGetEnv(env) == 0 ? *(uint*)(env + MxcsrOffset) : null;
    }
}
