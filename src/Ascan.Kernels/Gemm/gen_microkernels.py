# Generates MicroKernels.g.cs: the straight-line GEMM micro-kernels (14x32 AVX-512, 6x16 AVX2).
# Run: python3 src/Ascan.Kernels/Gemm/gen_microkernels.py
import os
def kernel(name, mr, nv, vec, width, isa, fma, unroll):
    nr = nv*width
    L=[]
    w=L.append
    w(f"/// <summary>{mr}x{nr} micro-kernel: {mr*nv} {vec} accumulators stay in registers for the whole K loop.</summary>")
    w(f"internal readonly struct {name} : IMicroKernel")
    w("{")
    w(f"    public static int Mr => {mr};")
    w(f"    public static int Nr => {nr};")
    w(f"    public static bool IsSupported => {isa}.IsSupported;")
    w("")
    w("    /// <summary>C[0..Mr, 0..Nr] (row stride ldc) = (load ? C : 0) + Apanel·Bpanel over kc steps.</summary>")
    w("    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]")
    w("    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, bool load)")
    w("    {")
    w("        // Prefetch the C tile now so its lines arrive while the K loop runs (row strides that are")
    w("        // powers of two alias in L1, so waiting for demand misses at the end is costly).")
    for i in range(mr):
        w(f"        Sse.Prefetch0(c + {i} * ldc); Sse.Prefetch0(c + {i} * ldc + {nr-1});")
    for i in range(mr):
        w("        " + " ".join(f"{vec}<float> c{i}_{j} = default;" for j in range(nv)))
    w("        nint p = 0;")
    def body(off):
        for j in range(nv):
            w(f"            var b{j} = {vec}.Load(b + {off*nr + j*width});")
        for i in range(mr):
            w(f"            var a{i} = {vec}.Create(a[{off*mr + i}]);")
            for j in range(nv):
                w(f"            c{i}_{j} = {fma}(a{i}, b{j}, c{i}_{j});")
    if unroll > 1:
        w(f"        for (; p + {unroll-1} < kc; p += {unroll})")
        w("        {")
        for u in range(unroll): body(u)
        w(f"            a += {mr*unroll}; b += {nr*unroll};")
        w("        }")
    w("        for (; p < kc; p++)")
    w("        {")
    body(0)
    w(f"            a += {mr}; b += {nr};")
    w("        }")
    w("        if (load)")
    w("        {")
    for i in range(mr):
        for j in range(nv):
            w(f"            c{i}_{j} = {vec}.Load(c + {i} * ldc + {j*width}) + c{i}_{j};")
    w("        }")
    for i in range(mr):
        w("        " + " ".join(f"c{i}_{j}.Store(c + {i} * ldc + {j*width});" for j in range(nv)))
    w("    }")
    w("}")
    return "\n".join(L)

hdr = """// Generated GEMM micro-kernels (straight-line locals so the JIT keeps every accumulator in a register).
// Regenerate with gen_microkernels.py rather than edit by hand: the kernels differ only in MR, NR and vector width.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ascan.Kernels;

"""
src = hdr + kernel("Kernel14x32", 14, 2, "Vector512", 16, "Avx512F", "Avx512F.FusedMultiplyAdd", 1) + "\n\n" + \
      kernel("Kernel6x16", 6, 2, "Vector256", 8, "Fma", "Fma.MultiplyAdd", 1) + "\n"
src = src.replace("internal readonly struct", "internal readonly unsafe struct")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "MicroKernels.g.cs"), "w").write(src)
