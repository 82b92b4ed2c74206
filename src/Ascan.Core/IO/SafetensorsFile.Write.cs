// Writes safetensors files atomically: 8-byte-aligned JSON header, tensors laid out in the given order.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ascan.Core.IO;

public sealed partial class SafetensorsFile
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (in the given order) and optional string metadata to <paramref name="path"/>.
    /// The bytes go to a temporary file in the same directory that then replaces <paramref name="path"/>, so a crash
    /// leaves either the old file or the complete new one. Metadata keys are written sorted, so equal inputs give equal bytes.
    /// </summary>
    public static void Write(string path, IEnumerable<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata);

        string fullPath = System.IO.Path.GetFullPath(path);
        string directory = System.IO.Path.GetDirectoryName(fullPath)!;
        // Checked here so the error names the file asked for, not the temporary file beside it.
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{directory}' does not exist.");
        if (Directory.Exists(fullPath))
            throw new IOException($"Cannot write '{path}': it is a folder (give a file name, e.g. {System.IO.Path.Combine(path, "output.safetensors")}).");
        string temp = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach (var tensor in list)
                    WriteData(stream, tensor);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // The original error matters more than a leftover temporary file.
            }
            throw;
        }
    }

    /// <summary>The JSON header, padded with spaces so that 8 + its length is a multiple of 8.</summary>
    private static byte[] BuildHeader(List<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping: the header is not HTML, and names like "a+b" should stay readable.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(value, $"metadata['{key}']");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var tensor in tensors)
            {
                long bytes = ValidateForWrite(tensor, names);
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType.ToString());
                json.WriteStartArray("shape");
                foreach (int dim in tensor.Shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }

        int length = buffer.WrittenCount;
        int padded = (8 + length + 7) / 8 * 8 - 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static long ValidateForWrite(SafetensorsTensor tensor, HashSet<string> names)
    {
        if (string.IsNullOrEmpty(tensor.Name))
            throw new ArgumentException("a tensor name must not be empty");
        if (tensor.Name == MetadataKey)
            throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor");
        if (!names.Add(tensor.Name))
            throw new ArgumentException($"duplicate tensor name '{tensor.Name}'");
        long count = 1;
        foreach (int dim in tensor.Shape)
        {
            if (dim < 0)
                throw new ArgumentException($"tensor '{tensor.Name}' has a negative dimension in shape {SafetensorsEntry.FormatShape(tensor.Shape)}");
            count = checked(count * dim);
        }
        if (count != tensor.Length)
        {
            throw new ArgumentException(
                $"tensor '{tensor.Name}' has shape {SafetensorsEntry.FormatShape(tensor.Shape)} ({count} elements) but {tensor.Length} values");
        }
        return checked(count * SafetensorsDTypes.SizeOf(tensor.DType));
    }

    private static void WriteData(Stream stream, SafetensorsTensor tensor)
    {
        // Same-type little-endian data is written as is; everything else is converted in chunks.
        if (BitConverter.IsLittleEndian)
        {
            switch (tensor.SourceKind, tensor.DType)
            {
                case (SafetensorsTensor.Source.Single, SafetensorsDType.F32):
                    stream.Write(MemoryMarshal.AsBytes(tensor.SingleData.Span));
                    return;
                case (SafetensorsTensor.Source.Double, SafetensorsDType.F64):
                    stream.Write(MemoryMarshal.AsBytes(tensor.DoubleData.Span));
                    return;
                case (SafetensorsTensor.Source.Int64, SafetensorsDType.I64):
                    stream.Write(MemoryMarshal.AsBytes(tensor.Int64Data.Span));
                    return;
            }
        }

        int size = SafetensorsDTypes.SizeOf(tensor.DType);
        int perChunk = ChunkBytes / size;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (int start = 0; start < tensor.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, tensor.Length - start);
                var bytes = buffer.AsSpan(0, n * size);
                for (int i = 0; i < n; i++)
                    EncodeElement(tensor, start + i, bytes[(i * size)..]);
                stream.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void EncodeElement(SafetensorsTensor tensor, int index, Span<byte> destination)
    {
        switch (tensor.SourceKind)
        {
            case SafetensorsTensor.Source.Single:
                EncodeFloat(tensor.DType, tensor.SingleData.Span[index], destination);
                break;
            case SafetensorsTensor.Source.Double:
                EncodeDouble(tensor.DType, tensor.DoubleData.Span[index], destination);
                break;
            default:
                EncodeInteger(tensor, tensor.Int64Data.Span[index], destination);
                break;
        }
    }

    private static void EncodeFloat(SafetensorsDType dtype, float value, Span<byte> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32: BinaryPrimitives.WriteSingleLittleEndian(destination, value); break;
            case SafetensorsDType.F64: BinaryPrimitives.WriteDoubleLittleEndian(destination, value); break;
            case SafetensorsDType.F16: BinaryPrimitives.WriteHalfLittleEndian(destination, (Half)value); break;
            case SafetensorsDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(destination, SafetensorsDTypes.SingleToBFloat16(value)); break;
            default: throw new InvalidOperationException($"unexpected dtype {dtype}");
        }
    }

    private static void EncodeDouble(SafetensorsDType dtype, double value, Span<byte> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F64: BinaryPrimitives.WriteDoubleLittleEndian(destination, value); break;
            case SafetensorsDType.F32: BinaryPrimitives.WriteSingleLittleEndian(destination, (float)value); break;
            case SafetensorsDType.F16: BinaryPrimitives.WriteHalfLittleEndian(destination, (Half)value); break;
            case SafetensorsDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(destination, SafetensorsDTypes.DoubleToBFloat16(value)); break;
            default: throw new InvalidOperationException($"unexpected dtype {dtype}");
        }
    }

    private static void EncodeInteger(SafetensorsTensor tensor, long value, Span<byte> destination)
    {
        try
        {
            switch (tensor.DType)
            {
                case SafetensorsDType.I64: BinaryPrimitives.WriteInt64LittleEndian(destination, value); break;
                case SafetensorsDType.I32: BinaryPrimitives.WriteInt32LittleEndian(destination, checked((int)value)); break;
                case SafetensorsDType.I16: BinaryPrimitives.WriteInt16LittleEndian(destination, checked((short)value)); break;
                case SafetensorsDType.I8: destination[0] = (byte)checked((sbyte)value); break;
                case SafetensorsDType.U8: destination[0] = checked((byte)value); break;
                case SafetensorsDType.BOOL: destination[0] = value != 0 ? (byte)1 : (byte)0; break;
                default: throw new InvalidOperationException($"unexpected dtype {tensor.DType}");
            }
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"tensor '{tensor.Name}': value {value} does not fit in {tensor.DType}");
        }
    }
}
