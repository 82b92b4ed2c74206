// One tensor's header record in a safetensors file: dtype, shape and byte range in the data buffer.
namespace Ascan.Core.IO;

public sealed class SafetensorsEntry
{
    internal SafetensorsEntry(string name, SafetensorsDType dtype, int[] shape, long begin, long end, long elementCount)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        Begin = begin;
        End = end;
        ElementCount = elementCount;
    }

    public string Name { get; }

    public SafetensorsDType DType { get; }

    /// <summary>Dimensions, outermost first; empty for a scalar. Do not modify.</summary>
    public int[] Shape { get; }

    /// <summary>First byte, relative to the start of the data buffer (which follows the header).</summary>
    public long Begin { get; }

    /// <summary>One past the last byte, relative to the start of the data buffer.</summary>
    public long End { get; }

    public long ByteLength => End - Begin;

    /// <summary>Product of <see cref="Shape"/> (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount { get; }

    public override string ToString() => $"{Name}: {DType} {FormatShape(Shape)} @ [{Begin}, {End})";

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    internal static string FormatShape(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
