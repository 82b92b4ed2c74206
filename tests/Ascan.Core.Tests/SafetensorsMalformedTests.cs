// One test per malformation the safetensors reader must reject, with files crafted byte by byte.
using System.Buffers.Binary;
using System.Text;
using Ascan.Core.IO;

namespace Ascan.Core.Tests;

/// <summary>Builds safetensors files by hand, including broken ones.</summary>
internal static class SafetensorsTestBytes
{
    /// <summary>8-byte length (the header's, unless overridden), the header text, then the data bytes.</summary>
    public static void WriteRaw(string path, string header, byte[] data, ulong? headerLength = null)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + headerBytes.Length);
        File.WriteAllBytes(path, bytes);
    }
}

public sealed class SafetensorsMalformedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-stbad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes the file, opens it, and checks the exception names the file and contains <paramref name="problem"/>.</summary>
    private SafetensorsFormatException AssertRejected(string header, int dataBytes, string problem, ulong? headerLength = null)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        SafetensorsTestBytes.WriteRaw(path, header, new byte[dataBytes], headerLength);
        return AssertRejected(path, problem);
    }

    private static SafetensorsFormatException AssertRejected(string path, string problem)
    {
        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Contains(problem, ex.Message);
        return ex;
    }

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    public void Safetensors_Open_RejectsFileShorterThan8Bytes(int length)
    {
        string path = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        AssertRejected(path, "shorter than the 8-byte header-length prefix");
    }

    [Fact]
    public void Safetensors_Open_RejectsHeaderLengthAboveLimit() =>
        AssertRejected("{}", 0, "exceeds the limit", headerLength: 100_000_001);

    [Fact]
    public void Safetensors_Open_RejectsHugeHeaderLengthWithoutOverflow() =>
        AssertRejected("{}", 0, "exceeds the limit", headerLength: ulong.MaxValue);

    [Fact]
    public void Safetensors_Open_RejectsHeaderLengthBeyondFile() =>
        AssertRejected("{}", 0, "runs past the end of the file", headerLength: 64);

    [Theory]
    [InlineData("{\"a\":")]
    [InlineData("not json")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}} trailing")]
    [InlineData("")]
    public void Safetensors_Open_RejectsInvalidJson(string header) =>
        AssertRejected(header, 4, "not valid JSON");

    [Fact]
    public void Safetensors_Open_RejectsInvalidUtf8()
    {
        string path = Path.Combine(_dir, "utf8.safetensors");
        byte[] header = [.. "{\"a"u8, 0xFF, 0xFE, .. "\":{}}"u8];
        var bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        AssertRejected(path, "JSON");
    }

    [Theory]
    [InlineData("[1,2]", "a JSON array, expected an object")]
    [InlineData("\"text\"", "a JSON string, expected an object")]
    [InlineData("null", "a JSON null, expected an object")]
    public void Safetensors_Open_RejectsHeaderThatIsNotAnObject(string header, string problem) =>
        AssertRejected(header, 0, problem);

    [Fact]
    public void Safetensors_Open_RejectsEntryThatIsNotAnObject() =>
        AssertRejected("{\"w\":[1,2]}", 0, "entry 'w' is a JSON array");

    [Theory]
    [InlineData("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor 'w' has no \"dtype\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "tensor 'w' has no \"shape\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "tensor 'w' has no \"data_offsets\"")]
    public void Safetensors_Open_RejectsEntryMissingAField(string header, string problem) =>
        AssertRejected(header, 4, problem);

    [Theory]
    [InlineData("F128")]
    [InlineData("f32")]
    [InlineData("float32")]
    [InlineData("11")]
    public void Safetensors_Open_RejectsUnknownDType(string dtype) =>
        AssertRejected("{" + Entry("w", dtype, "[1]", 0, 4) + "}", 4, $"tensor 'w' has unknown dtype '{dtype}'");

    [Fact]
    public void Safetensors_Open_RejectsDTypeThatIsNotAString() =>
        AssertRejected("{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w' has a dtype that is a JSON number");

    [Fact]
    public void Safetensors_Open_RejectsNegativeDimension() =>
        AssertRejected("{" + Entry("w", "F32", "[2,-1]", 0, 0) + "}", 0, "tensor 'w' has a negative dimension in shape [2, -1]");

    [Theory]
    [InlineData("[1.5]", "shape element 1.5 that is not an integer")]
    [InlineData("[\"2\"]", "shape element \"2\" that is not an integer")]
    [InlineData("3", "shape that is a JSON number")]
    [InlineData("[4294967296]", "dimension above")]
    public void Safetensors_Open_RejectsMalformedShape(string shape, string problem) =>
        AssertRejected("{" + Entry("w", "F32", shape, 0, 4) + "}", 4, problem);

    [Theory]
    [InlineData("[0]", "has 1 data_offsets, expected 2")]
    [InlineData("[0,4,8]", "has 3 data_offsets, expected 2")]
    [InlineData("[-4,0]", "negative data_offsets")]
    [InlineData("[4,0]", "end before they begin")]
    [InlineData("[0,4.0]", "data_offsets element 4.0 that is not an integer")]
    public void Safetensors_Open_RejectsMalformedDataOffsets(string offsets, string problem) =>
        AssertRejected("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", 4, problem);

    [Fact]
    public void Safetensors_Open_RejectsSizeThatOverflows() =>
        // 2^31-1 cubed × 8 bytes does not fit in a long; a wrapping product could have matched the offsets.
        AssertRejected("{" + Entry("w", "F64", "[2147483647,2147483647,2147483647]", 0, 0) + "}", 0, "overflows");

    [Fact]
    public void Safetensors_Open_RejectsSizeThatDisagreesWithOffsets() =>
        AssertRejected("{" + Entry("w", "F32", "[2,3]", 0, 20) + "}", 20, "tensor 'w' of shape [2, 3] and dtype F32 needs 24 bytes, but its data_offsets [0, 20] span 20 bytes");

    [Fact]
    public void Safetensors_Open_RejectsOffsetsBeyondBuffer() =>
        AssertRejected("{" + Entry("w", "F32", "[6]", 0, 24) + "}", 16, "run past the end of the data buffer (16 bytes)");

    [Fact]
    public void Safetensors_Open_RejectsGapBetweenTensors() =>
        AssertRejected("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 12, 20) + "}", 20,
            "bytes [8, 12) of the data buffer, before tensor 'b', belong to no tensor");

    [Fact]
    public void Safetensors_Open_RejectsGapAtBufferStart() =>
        AssertRejected("{" + Entry("a", "F32", "[1]", 4, 8) + "}", 8, "bytes [0, 4) of the data buffer, before tensor 'a'");

    [Fact]
    public void Safetensors_Open_RejectsOverlappingTensors() =>
        AssertRejected("{" + Entry("b", "F32", "[2]", 4, 12) + "," + Entry("a", "F32", "[2]", 0, 8) + "}", 12,
            "tensors 'a' [0, 8) and 'b' [4, 12) overlap");

    [Fact]
    public void Safetensors_Open_RejectsAliasedTensors() =>
        AssertRejected("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 0, 8) + "}", 8, "overlap");

    [Fact]
    public void Safetensors_Open_RejectsTrailingBytesNoTensorCovers() =>
        AssertRejected("{" + Entry("a", "F32", "[2]", 0, 8) + "}", 12, "bytes [8, 12) at the end of the data buffer belong to no tensor");

    [Fact]
    public void Safetensors_Open_RejectsDataWithoutTensors() =>
        AssertRejected("{}", 4, "bytes [0, 4) at the end of the data buffer belong to no tensor");

    [Fact]
    public void Safetensors_Open_RejectsDuplicateTensorNames() =>
        AssertRejected("{" + Entry("a", "F32", "[1]", 0, 4) + "," + Entry("a", "F32", "[1]", 4, 8) + "}", 8, "duplicate tensor name 'a'");

    [Theory]
    [InlineData("{\"__metadata__\":{\"k\":1}}", "metadata value for 'k' is a JSON number, expected a string")]
    [InlineData("{\"__metadata__\":[\"k\"]}", "\"__metadata__\" is a JSON array")]
    [InlineData("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "duplicate metadata key 'k'")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", "two \"__metadata__\" entries")]
    public void Safetensors_Open_RejectsMalformedMetadata(string header, string problem) =>
        AssertRejected(header, 0, problem);

    [Fact]
    public void Safetensors_Read_RejectsFileTruncatedAfterOpen()
    {
        string path = Path.Combine(_dir, "trunc.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("x", [4], new[] { 1f, 2f, 3f, 4f })]);
        var file = SafetensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Open))
            stream.SetLength(stream.Length - 4);

        var ex = Assert.Throws<SafetensorsFormatException>(() => file.ReadFloat("x"));
        Assert.Contains(path, ex.Message);
        Assert.Contains("changed since it was opened", ex.Message);
    }

    [Fact]
    public void Safetensors_Open_AcceptsHandWrittenFileWithUnsortedHeaderAndExtraFields()
    {
        // Header order need not match buffer order; unknown per-entry fields are ignored; padding may be absent.
        string path = Path.Combine(_dir, "ok.safetensors");
        var data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 2.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -1f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 8f);
        SafetensorsTestBytes.WriteRaw(path,
            "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12],\"extra\":true}," +
            "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}," +
            Entry("a", "F32", "[2]", 0, 8) + "}", data);
        var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "z", "b"], file.Names);
        Assert.Equal([2.5f, -1f], file.ReadFloat("a"));
        Assert.Equal([8f], file.ReadFloat("b"));
        Assert.Empty(file.ReadFloat("z"));
    }
}
