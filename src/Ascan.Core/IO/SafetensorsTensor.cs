// A tensor to be written by SafetensorsFile.Write: name, shape, stored dtype and the source values.
namespace Ascan.Core.IO;

public readonly struct SafetensorsTensor
{
    private readonly ReadOnlyMemory<float> _single;
    private readonly ReadOnlyMemory<double> _double;
    private readonly ReadOnlyMemory<long> _int64;
    private readonly Source _source;

    internal enum Source
    {
        Single,
        Double,
        Int64,
    }

    private SafetensorsTensor(string name, int[] shape, SafetensorsDType dtype, Source source,
        ReadOnlyMemory<float> single, ReadOnlyMemory<double> dbl, ReadOnlyMemory<long> int64)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        Shape = shape;
        DType = dtype;
        _source = source;
        _single = single;
        _double = dbl;
        _int64 = int64;
    }

    public string Name { get; }

    public int[] Shape { get; }

    /// <summary>The dtype written to the file; values are converted (rounded to nearest even) on write.</summary>
    public SafetensorsDType DType { get; }

    internal Source SourceKind => _source;

    internal ReadOnlyMemory<float> SingleData => _single;

    internal ReadOnlyMemory<double> DoubleData => _double;

    internal ReadOnlyMemory<long> Int64Data => _int64;

    internal int Length => _source switch
    {
        Source.Single => _single.Length,
        Source.Double => _double.Length,
        _ => _int64.Length,
    };

    /// <summary>float values stored as F32 (default), F64, F16 or BF16.</summary>
    public static SafetensorsTensor FromSingle(string name, int[] shape, ReadOnlyMemory<float> data,
        SafetensorsDType dtype = SafetensorsDType.F32)
    {
        RequireFloat(name, dtype);
        return new(name, shape, dtype, Source.Single, data, default, default);
    }

    /// <summary>double values stored as F64 (default), F32, F16 or BF16.</summary>
    public static SafetensorsTensor FromDouble(string name, int[] shape, ReadOnlyMemory<double> data,
        SafetensorsDType dtype = SafetensorsDType.F64)
    {
        RequireFloat(name, dtype);
        return new(name, shape, dtype, Source.Double, default, data, default);
    }

    /// <summary>Integer values (labels, indices) stored as I64 (default), I32, I16, I8, U8 or BOOL (non-zero → 1).</summary>
    public static SafetensorsTensor FromInt64(string name, int[] shape, ReadOnlyMemory<long> data,
        SafetensorsDType dtype = SafetensorsDType.I64)
    {
        if (dtype is not (SafetensorsDType.I64 or SafetensorsDType.I32 or SafetensorsDType.I16
            or SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL))
        {
            throw new ArgumentException($"tensor '{name}': integer data cannot be written as {dtype}", nameof(dtype));
        }
        return new(name, shape, dtype, Source.Int64, default, default, data);
    }

    private static void RequireFloat(string name, SafetensorsDType dtype)
    {
        if (dtype is not (SafetensorsDType.F32 or SafetensorsDType.F64 or SafetensorsDType.F16 or SafetensorsDType.BF16))
            throw new ArgumentException($"tensor '{name}': floating-point data cannot be written as {dtype}", nameof(dtype));
    }
}
