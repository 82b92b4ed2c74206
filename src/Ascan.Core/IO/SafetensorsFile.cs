// Reads safetensors files: validates the header on Open, then reads single tensors lazily, converting to float/double.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Ascan.Core.IO;

/// <summary>
/// A validated view of a safetensors file. <see cref="Open"/> reads and checks only the header; each
/// Read* call opens the file, reads that one tensor and closes it again, so no handle is held and a
/// large checkpoint is never loaded whole.
/// </summary>
/// <remarks>
/// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
/// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
/// relative to the buffer), plus an optional "__metadata__" object of string → string.
/// </remarks>
public sealed partial class SafetensorsFile
{
    /// <summary>Largest header accepted; larger ones are taken as corruption, not as a checkpoint.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const int ChunkBytes = 1 << 20;
    private const string MetadataKey = "__metadata__";

    private readonly Dictionary<string, SafetensorsEntry> _entries;

    private SafetensorsFile(string path, long fileLength, long headerLength,
        Dictionary<string, string> metadata, Dictionary<string, SafetensorsEntry> entries)
    {
        Path = path;
        FileLength = fileLength;
        HeaderLength = headerLength;
        Metadata = metadata;
        _entries = entries;
    }

    /// <summary>The path as given to <see cref="Open"/>; used in every error message.</summary>
    public string Path { get; }

    public long FileLength { get; }

    /// <summary>N, the JSON header's length in bytes (including any padding).</summary>
    public long HeaderLength { get; }

    /// <summary>Absolute file offset of the data buffer.</summary>
    public long DataStart => 8 + HeaderLength;

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, enumerated in data-buffer order.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries => _entries;

    public IEnumerable<string> Names => _entries.Keys;

    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The entry for <paramref name="name"/>; a missing name throws a KeyNotFoundException listing similar names.</summary>
    public SafetensorsEntry this[string name] => GetEntry(name);

    public SafetensorsEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_entries.TryGetValue(name, out var entry))
            return entry;
        throw new KeyNotFoundException(MissingNameMessage(name));
    }

    // ---------------------------------------------------------------- open and validate

    /// <summary>
    /// Throws a <see cref="FileNotFoundException"/> that says what <paramref name="path"/> is when it is not a file: a
    /// folder (naming the .safetensors files in it, the likely intent) or nothing at all. <paramref name="what"/> names
    /// the expected file ("checkpoint", "weights file").
    /// </summary>
    public static void RequireFile(string path, string what)
    {
        if (File.Exists(path)) return;
        if (Directory.Exists(path))
        {
            var inside = Directory.EnumerateFiles(path, "*.safetensors").Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).Take(5).ToList();
            throw new FileNotFoundException($"'{path}' is a folder, not a {what}" +
                (inside.Count > 0 ? $"; it holds {string.Join(", ", inside)} (pass one of them, e.g. {System.IO.Path.Combine(path, inside[0]!)})." : "; it holds no .safetensors file."), path);
        }
        throw new FileNotFoundException($"The {what} '{path}' does not exist.", path);
    }

    /// <summary>Reads and validates the header of <paramref name="path"/>; throws <see cref="SafetensorsFormatException"/> if malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        RequireFile(path, "safetensors file");
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw new SafetensorsFormatException(path, $"the file is {fileLength} bytes long, shorter than the 8-byte header-length prefix");

        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(handle, path, prefix, 0, "the header-length prefix");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsFormatException(path, $"the header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");
        if (8 + (long)headerLength > fileLength)
        {
            throw new SafetensorsFormatException(path,
                $"the header length {headerLength} runs past the end of the file ({fileLength} bytes, so at most {fileLength - 8} header bytes)");
        }

        var header = new byte[(int)headerLength];
        ReadExactly(handle, path, header, 8, "the header");
        long bufferLength = fileLength - 8 - (long)headerLength;
        var (metadata, entries) = ParseHeader(path, header, bufferLength);
        return new SafetensorsFile(path, fileLength, (long)headerLength, metadata, entries);
    }

    private static (Dictionary<string, string>, Dictionary<string, SafetensorsEntry>) ParseHeader(
        string path, byte[] header, long bufferLength)
    {
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new SafetensorsFormatException(path, "the header is not valid UTF-8 (so not valid JSON)");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new SafetensorsFormatException(path, $"the header is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(path, $"the header is a JSON {Kind(root)}, expected an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            var names = new HashSet<string>(StringComparer.Ordinal);
            var list = new List<SafetensorsEntry>();
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new SafetensorsFormatException(path, "the header has two \"__metadata__\" entries");
                    sawMetadata = true;
                    ParseMetadata(path, property.Value, metadata);
                    continue;
                }
                if (!names.Add(property.Name))
                    throw new SafetensorsFormatException(path, $"duplicate tensor name '{property.Name}' in the header");
                list.Add(ParseEntry(path, property.Name, property.Value, bufferLength));
            }

            CheckCoverage(path, list, bufferLength);
            var entries = new Dictionary<string, SafetensorsEntry>(list.Count, StringComparer.Ordinal);
            foreach (var entry in list)
                entries.Add(entry.Name, entry);
            return (metadata, entries);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(path, $"\"__metadata__\" is a JSON {Kind(value)}, expected an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(path, $"metadata value for '{item.Name}' is a JSON {Kind(item.Value)}, expected a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new SafetensorsFormatException(path, $"duplicate metadata key '{item.Name}'");
        }
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement value, long bufferLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path,
                $"entry '{name}' is a JSON {Kind(value)}, expected an object with dtype, shape and data_offsets");
        }

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (var field in value.EnumerateObject())
        {
            // Other fields are ignored, as the reference implementation does.
            switch (field.Name)
            {
                case "dtype": dtypeElement = field.Value; break;
                case "shape": shapeElement = field.Value; break;
                case "data_offsets": offsetsElement = field.Value; break;
            }
        }
        if (dtypeElement is null)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has no \"dtype\"");
        if (shapeElement is null)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has no \"shape\"");
        if (offsetsElement is null)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has no \"data_offsets\"");

        // dtype
        if (dtypeElement.Value.ValueKind != JsonValueKind.String)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has a dtype that is a JSON {Kind(dtypeElement.Value)}, expected a string");
        string dtypeText = dtypeElement.Value.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
        {
            throw new SafetensorsFormatException(path,
                $"tensor '{name}' has unknown dtype '{dtypeText}' (known: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");
        }

        // shape
        var shapeValues = ReadIntegerArray(path, name, "shape", shapeElement.Value);
        var shape = new int[shapeValues.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeValues[i] < 0)
                throw new SafetensorsFormatException(path, $"tensor '{name}' has a negative dimension in shape {SafetensorsEntry.FormatShape(shapeValues)}");
            if (shapeValues[i] > int.MaxValue)
                throw new SafetensorsFormatException(path, $"tensor '{name}' has a dimension above {int.MaxValue} in shape {SafetensorsEntry.FormatShape(shapeValues)}");
            shape[i] = (int)shapeValues[i];
        }

        // data_offsets
        var offsets = ReadIntegerArray(path, name, "data_offsets", offsetsElement.Value);
        if (offsets.Length != 2)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has {offsets.Length} data_offsets, expected 2 ([begin, end])");
        long begin = offsets[0], end = offsets[1];
        string range = SafetensorsEntry.FormatShape(offsets);
        if (begin < 0 || end < 0)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has negative data_offsets {range}");
        if (end < begin)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has data_offsets {range} that end before they begin");
        if (end > bufferLength)
        {
            throw new SafetensorsFormatException(path,
                $"tensor '{name}' has data_offsets {range} that run past the end of the data buffer ({bufferLength} bytes)");
        }

        // size = product(shape) × element size, overflow-checked
        long count, bytes;
        try
        {
            count = 1;
            foreach (int dim in shape)
                count = checked(count * dim);
            bytes = checked(count * SafetensorsDTypes.SizeOf(dtype));
        }
        catch (OverflowException)
        {
            throw new SafetensorsFormatException(path,
                $"tensor '{name}' of shape {SafetensorsEntry.FormatShape(shape)} and dtype {dtype} has a byte size that overflows 64 bits");
        }
        if (bytes != end - begin)
        {
            throw new SafetensorsFormatException(path,
                $"tensor '{name}' of shape {SafetensorsEntry.FormatShape(shape)} and dtype {dtype} needs {bytes} bytes, " +
                $"but its data_offsets {range} span {end - begin} bytes");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end, count);
    }

    private static long[] ReadIntegerArray(string path, string name, string field, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Array)
            throw new SafetensorsFormatException(path, $"tensor '{name}' has a {field} that is a JSON {Kind(element)}, expected an array of integers");
        var values = new long[element.GetArrayLength()];
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i]))
                throw new SafetensorsFormatException(path, $"tensor '{name}' has a {field} element {item.GetRawText()} that is not an integer");
            i++;
        }
        return values;
    }

    /// <summary>Entries sorted by offset must tile the data buffer exactly: no gaps, no overlaps, nothing left over.</summary>
    private static void CheckCoverage(string path, List<SafetensorsEntry> entries, long bufferLength)
    {
        // Stable sort by (begin, end) so zero-size tensors sit where they point and the error names are deterministic.
        var sorted = entries.Select((e, i) => (e, i)).OrderBy(t => t.e.Begin).ThenBy(t => t.e.End).ThenBy(t => t.i).Select(t => t.e).ToList();
        entries.Clear();
        entries.AddRange(sorted);

        long expected = 0;
        SafetensorsEntry? previous = null;
        foreach (var entry in sorted)
        {
            if (entry.Begin < expected)
            {
                throw new SafetensorsFormatException(path,
                    $"tensors '{previous!.Name}' [{previous.Begin}, {previous.End}) and '{entry.Name}' [{entry.Begin}, {entry.End}) overlap in the data buffer");
            }
            if (entry.Begin > expected)
            {
                throw new SafetensorsFormatException(path,
                    $"bytes [{expected}, {entry.Begin}) of the data buffer, before tensor '{entry.Name}', belong to no tensor (a gap)");
            }
            expected = entry.End;
            previous = entry;
        }
        if (expected != bufferLength)
        {
            throw new SafetensorsFormatException(path,
                $"bytes [{expected}, {bufferLength}) at the end of the data buffer belong to no tensor " +
                $"(the tensors cover {expected} of {bufferLength} bytes)");
        }
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => element.ValueKind.ToString(),
    };

    private string MissingNameMessage(string name)
    {
        // Names sharing the longest prefix first: a checkpoint-key typo usually differs near the end.
        var similar = _entries.Keys
            .OrderByDescending(k => CommonPrefixLength(k, name))
            .ThenBy(k => k, StringComparer.Ordinal)
            .Take(8)
            .ToList();
        string available = _entries.Count == 0
            ? "the file holds no tensors"
            : $"it holds {_entries.Count} tensors, e.g. {string.Join(", ", similar.Select(s => $"'{s}'"))}{(_entries.Count > similar.Count ? ", …" : "")}";
        return $"{Path}: no tensor named '{name}'; {available}";
    }

    private static int CommonPrefixLength(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i])
            i++;
        return i;
    }

    // ---------------------------------------------------------------- reads

    /// <summary>Reads tensor <paramref name="name"/> as float32, converting from any dtype (integers as numbers).</summary>
    public float[] ReadFloat(string name)
    {
        var entry = GetEntry(name);
        var result = new float[CheckedArrayLength(entry)];
        ReadFloat(name, result);
        return result;
    }

    /// <summary>Reads tensor <paramref name="name"/> into <paramref name="destination"/>, whose length must equal the element count.</summary>
    public void ReadFloat(string name, Span<float> destination)
    {
        var entry = GetEntry(name);
        CheckDestination(entry, destination.Length);
        if (entry.DType == SafetensorsDType.F32 && BitConverter.IsLittleEndian)
            ReadRaw(entry, MemoryMarshal.AsBytes(destination));
        else
            ReadConverted(entry, destination, SafetensorsDTypes.ToSingle);
    }

    /// <summary>Reads tensor <paramref name="name"/> as float64, converting from any dtype (integers as numbers).</summary>
    public double[] ReadDouble(string name)
    {
        var entry = GetEntry(name);
        var result = new double[CheckedArrayLength(entry)];
        ReadDouble(name, result);
        return result;
    }

    public void ReadDouble(string name, Span<double> destination)
    {
        var entry = GetEntry(name);
        CheckDestination(entry, destination.Length);
        if (entry.DType == SafetensorsDType.F64 && BitConverter.IsLittleEndian)
            ReadRaw(entry, MemoryMarshal.AsBytes(destination));
        else
            ReadConverted(entry, destination, SafetensorsDTypes.ToDouble);
    }

    /// <summary>Reads an integer or BOOL tensor (labels, indices, counters) as long; float dtypes are refused.</summary>
    public long[] ReadInt64(string name)
    {
        var entry = GetEntry(name);
        if (SafetensorsDTypes.IsFloatingPoint(entry.DType))
            throw new InvalidOperationException($"{Path}: tensor '{name}' is {entry.DType}, not an integer type; use ReadDouble");
        var result = new long[CheckedArrayLength(entry)];
        if (entry.DType == SafetensorsDType.I64 && BitConverter.IsLittleEndian)
            ReadRaw(entry, MemoryMarshal.AsBytes(result.AsSpan()));
        else
            ReadConverted(entry, result.AsSpan(), SafetensorsDTypes.ToInt64);
        return result;
    }

    /// <summary>The tensor's bytes exactly as stored (little-endian elements of <see cref="SafetensorsEntry.DType"/>).</summary>
    public byte[] ReadBytes(string name)
    {
        var entry = GetEntry(name);
        if (entry.ByteLength > Array.MaxLength)
            throw new InvalidOperationException($"{Path}: tensor '{name}' has {entry.ByteLength} bytes, more than one array can hold");
        var result = new byte[entry.ByteLength];
        ReadRaw(entry, result);
        return result;
    }

    private delegate void Converter<T>(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<T> destination);

    private int CheckedArrayLength(SafetensorsEntry entry)
    {
        if (entry.ElementCount > Array.MaxLength)
            throw new InvalidOperationException($"{Path}: tensor '{entry.Name}' has {entry.ElementCount} elements, more than one array can hold");
        return (int)entry.ElementCount;
    }

    private void CheckDestination(SafetensorsEntry entry, int length)
    {
        if (length != entry.ElementCount)
        {
            throw new ArgumentException(
                $"{Path}: tensor '{entry.Name}' has {entry.ElementCount} elements (shape {SafetensorsEntry.FormatShape(entry.Shape)}), " +
                $"but the destination holds {length}");
        }
    }

    private void ReadRaw(SafetensorsEntry entry, Span<byte> destination)
    {
        using var handle = OpenForRead();
        ReadExactly(handle, Path, destination, DataStart + entry.Begin, $"tensor '{entry.Name}'");
    }

    private void ReadConverted<T>(SafetensorsEntry entry, Span<T> destination, Converter<T> convert)
    {
        using var handle = OpenForRead();
        int elementSize = SafetensorsDTypes.SizeOf(entry.DType);
        int perChunk = ChunkBytes / elementSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            long offset = DataStart + entry.Begin;
            for (int start = 0; start < destination.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, destination.Length - start);
                var bytes = buffer.AsSpan(0, n * elementSize);
                ReadExactly(handle, Path, bytes, offset, $"tensor '{entry.Name}'");
                convert(entry.DType, bytes, destination.Slice(start, n));
                offset += bytes.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private SafeFileHandle OpenForRead()
    {
        var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(handle);
        if (length != FileLength)
        {
            handle.Dispose();
            throw new SafetensorsFormatException(Path, $"the file changed since it was opened ({FileLength} bytes then, {length} now)");
        }
        return handle;
    }

    private static void ReadExactly(SafeFileHandle handle, string path, Span<byte> destination, long offset, string what)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n == 0)
                throw new SafetensorsFormatException(path, $"the file ended at byte {offset} while reading {what}");
            destination = destination[n..];
            offset += n;
        }
    }
}
