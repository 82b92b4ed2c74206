// Element types a tensor can hold: float32 for models, float64 for gradient checks.
namespace Ascan.Core;

public enum DType { F32, F64 }

public static class DTypeExtensions
{
    public static int SizeOf(this DType d) => d == DType.F32 ? 4 : 8;

    /// <summary>The DType of a CLR element type (float or double).</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.F32
        : typeof(T) == typeof(double) ? DType.F64
        : throw new NotSupportedException($"Tensors hold float or double, not {typeof(T).Name}.");
}
