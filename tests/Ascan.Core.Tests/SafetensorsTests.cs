// Tests of the safetensors reader and writer: round trips, conversions, header alignment, atomic writes.
using Ascan.Core.IO;

namespace Ascan.Core.Tests;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ascan-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Safetensors_RoundTrip_F32AndF64AreExact()
    {
        var path = PathFor("a.safetensors");
        float[] f = [1.5f, -2.25f, float.MaxValue, float.Epsilon, float.NegativeInfinity, 0f];
        double[] d = [Math.PI, -1e300, double.Epsilon, double.NaN];
        SafetensorsFile.Write(path, [
            SafetensorsTensor.FromSingle("f", [2, 3], f),
            SafetensorsTensor.FromDouble("d", [4], d),
        ]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.F32, file["f"].DType);
        Assert.Equal([2, 3], file["f"].Shape);
        Assert.Equal(SafetensorsDType.F64, file["d"].DType);
        Assert.Equal(f, file.ReadFloat("f"));
        Assert.Equal(d, file.ReadDouble("d"));
        Assert.Equal(f.Select(v => (double)v), file.ReadDouble("f"));
        Assert.Equal(d.Select(v => (float)v), file.ReadFloat("d"));
    }

    [Fact]
    public void Safetensors_RoundTrip_ScalarAndZeroSize()
    {
        var path = PathFor("s.safetensors");
        SafetensorsFile.Write(path, [
            SafetensorsTensor.FromSingle("empty_front", [0, 3], Array.Empty<float>()),
            SafetensorsTensor.FromSingle("scalar", [], new[] { 7.25f }),
            SafetensorsTensor.FromDouble("empty_mid", [2, 0], Array.Empty<double>()),
            SafetensorsTensor.FromSingle("v", [2], new[] { 1f, 2f }, SafetensorsDType.BF16),
            SafetensorsTensor.FromSingle("empty_end", [0], Array.Empty<float>(), SafetensorsDType.F16),
        ]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(5, file.Entries.Count);
        Assert.Empty(file["scalar"].Shape);
        Assert.Equal(1, file["scalar"].ElementCount);
        Assert.Equal([7.25f], file.ReadFloat("scalar"));
        Assert.Empty(file.ReadFloat("empty_front"));
        Assert.Empty(file.ReadDouble("empty_mid"));
        Assert.Empty(file.ReadFloat("empty_end"));
        Assert.Equal([0, 3], file["empty_front"].Shape);
        Assert.Equal([1f, 2f], file.ReadFloat("v"));
    }

    [Fact]
    public void Safetensors_RoundTrip_F16RoundsToNearest()
    {
        var path = PathFor("h.safetensors");
        float[] values = [1f, -2.5f, 65504f, 1f / 3f, 1e-8f, 70000f, float.NaN, 5.9604645e-8f];
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("h", [values.Length], values, SafetensorsDType.F16)]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.F16, file["h"].DType);
        Assert.Equal(values.Length * 2, file["h"].ByteLength);
        Assert.Equal(values.Select(v => (float)(Half)v), file.ReadFloat("h"));
        var read = file.ReadFloat("h");
        Assert.Equal(0.333251953125f, read[3]);
        Assert.Equal(float.PositiveInfinity, read[5]);
        Assert.True(float.IsNaN(read[6]));
    }

    [Fact]
    public void Safetensors_RoundTrip_BF16RoundsHalfToEven()
    {
        var path = PathFor("b.safetensors");
        float[] values =
        [
            1f, -3f, 3.140625f,
            1.00390625f,  // 1 + 2^-8: halfway between 1 and 1 + 2^-7 → even (1)
            1.01171875f,  // 1 + 3·2^-8: halfway between 1 + 2^-7 and 1 + 2^-6 → even (1 + 2^-6)
            1.0040f,      // just above the first halfway point → up
            float.PositiveInfinity, float.NaN, float.MaxValue,
        ];
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("b", [values.Length], values, SafetensorsDType.BF16)]);

        var read = SafetensorsFile.Open(path).ReadFloat("b");
        Assert.Equal([1f, -3f, 3.140625f, 1f, 1.015625f, 1.0078125f, float.PositiveInfinity], read[..7]);
        Assert.True(float.IsNaN(read[7]));
        Assert.Equal(float.PositiveInfinity, read[8]); // max float rounds up past bf16's largest finite value
    }

    [Fact]
    public void Safetensors_DoubleToBFloat16_RoundsOnce()
    {
        // float32 rounding would land exactly on the tie 1 + 3·2^-8 and then round up to even; the true value is below it.
        double justBelowTie = 1 + 3.0 / 256 - Math.Pow(2, -30);
        Assert.Equal(1.0078125f, SafetensorsDTypes.BFloat16ToSingle(SafetensorsDTypes.DoubleToBFloat16(justBelowTie)));
        Assert.Equal(-1.0078125f, SafetensorsDTypes.BFloat16ToSingle(SafetensorsDTypes.DoubleToBFloat16(-justBelowTie)));
        Assert.Equal(1.015625f, SafetensorsDTypes.BFloat16ToSingle(SafetensorsDTypes.DoubleToBFloat16(1 + 3.0 / 256)));
        Assert.Equal(0f, SafetensorsDTypes.BFloat16ToSingle(SafetensorsDTypes.DoubleToBFloat16(1e-300)));

        var path = PathFor("bd.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromDouble("x", [1], new[] { justBelowTie }, SafetensorsDType.BF16)]);
        Assert.Equal([1.0078125], SafetensorsFile.Open(path).ReadDouble("x"));
    }

    [Fact]
    public void Safetensors_RoundTrip_IntegerDTypes()
    {
        var path = PathFor("i.safetensors");
        long[] values = [0, -1, 1L << 40, long.MinValue];
        SafetensorsFile.Write(path, [
            SafetensorsTensor.FromInt64("i64", [4], values),
            SafetensorsTensor.FromInt64("i32", [2], new long[] { -7, int.MaxValue }, SafetensorsDType.I32),
            SafetensorsTensor.FromInt64("u8", [2], new long[] { 0, 255 }, SafetensorsDType.U8),
            SafetensorsTensor.FromInt64("mask", [3], new long[] { 1, 0, 5 }, SafetensorsDType.BOOL),
        ]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(values, file.ReadInt64("i64"));
        Assert.Equal([-7L, int.MaxValue], file.ReadInt64("i32"));
        Assert.Equal([0f, 255f], file.ReadFloat("u8"));
        Assert.Equal([1.0, 0.0, 1.0], file.ReadDouble("mask"));
        Assert.Equal([0.0, -1.0, 1099511627776.0, long.MinValue], file.ReadDouble("i64"));
    }

    [Fact]
    public void Safetensors_ReadInt64_RefusesFloatTensors()
    {
        var path = PathFor("f.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("x", [1], new[] { 1f })]);
        var ex = Assert.Throws<InvalidOperationException>(() => SafetensorsFile.Open(path).ReadInt64("x"));
        Assert.Contains("'x'", ex.Message);
    }

    [Fact]
    public void Safetensors_Read_Float8()
    {
        // E4M3: 0x38 = 1, 0x7E = 448 (largest), 0x01 = 2^-9, 0xFF = NaN; E5M2: 0x3C = 1, 0xC0 = -2, 0x7C = +inf.
        var path = PathFor("f8.safetensors");
        SafetensorsTestBytes.WriteRaw(path,
            """{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"F8_E5M2","shape":[3],"data_offsets":[4,7]}}""",
            [0x38, 0x7E, 0x01, 0xFF, 0x3C, 0xC0, 0x7C]);
        var file = SafetensorsFile.Open(path);
        var a = file.ReadFloat("a");
        Assert.Equal([1f, 448f, MathF.Pow(2, -9)], a[..3]);
        Assert.True(float.IsNaN(a[3]));
        Assert.Equal([1f, -2f, float.PositiveInfinity], file.ReadFloat("b"));
    }

    [Fact]
    public void Safetensors_Read_LargeTensorAcrossChunks()
    {
        // 600k elements of 2 bytes span more than one 1 MiB conversion chunk.
        var path = PathFor("big.safetensors");
        var values = new float[600_003];
        for (int i = 0; i < values.Length; i++)
            values[i] = (i % 256) - 128; // exact in F16 and BF16
        SafetensorsFile.Write(path, [
            SafetensorsTensor.FromSingle("h", [values.Length], values, SafetensorsDType.F16),
            SafetensorsTensor.FromSingle("b", [3, 200_001], values, SafetensorsDType.BF16),
            SafetensorsTensor.FromSingle("f", [values.Length], values),
        ]);
        var file = SafetensorsFile.Open(path);
        Assert.Equal(values, file.ReadFloat("h"));
        Assert.Equal(values, file.ReadFloat("b"));
        Assert.Equal(values.Select(v => (double)v), file.ReadDouble("h"));
        Assert.Equal(values.Select(v => (double)v), file.ReadDouble("f"));
    }

    [Fact]
    public void Safetensors_ReadInto_ChecksDestinationLength()
    {
        var path = PathFor("d.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("x", [2, 2], new[] { 1f, 2f, 3f, 4f })]);
        var file = SafetensorsFile.Open(path);
        var into = new float[4];
        file.ReadFloat("x", into);
        Assert.Equal([1f, 2f, 3f, 4f], into);
        var ex = Assert.Throws<ArgumentException>(() => file.ReadFloat("x", new float[3]));
        Assert.Contains("'x'", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Safetensors_Metadata_RoundTrips()
    {
        var path = PathFor("m.safetensors");
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["note"] = "quotes \" and \\ backslash, unicode é ∑ 🙂, newline\n",
            ["empty"] = "",
        };
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("x", [1], new[] { 1f })], metadata);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), file.Metadata.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Safetensors_NoMetadata_GivesEmptyDictionary()
    {
        var path = PathFor("n.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("x", [1], new[] { 1f })]);
        Assert.Empty(SafetensorsFile.Open(path).Metadata);
        Assert.DoesNotContain("__metadata__", File.ReadAllText(path));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("abcd")]
    [InlineData("abcde")]
    [InlineData("abcdef")]
    [InlineData("abcdefg")]
    [InlineData("abcdefgh")]
    public void Safetensors_Header_IsPaddedTo8Bytes(string name)
    {
        var path = PathFor("p.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromDouble(name, [3], new[] { 1.0, 2.0, 3.0 })]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(0, (8 + file.HeaderLength) % 8);
        Assert.Equal(file.DataStart + 24, new FileInfo(path).Length);
        var header = File.ReadAllBytes(path).AsSpan(8, (int)file.HeaderLength);
        Assert.Equal((byte)'{', header[0]);
        Assert.All(header[(header.LastIndexOf((byte)'}') + 1)..].ToArray(), b => Assert.Equal((byte)' ', b));
    }

    [Fact]
    public void Safetensors_Write_LaysOutTensorsInGivenOrder()
    {
        var path = PathFor("o.safetensors");
        SafetensorsFile.Write(path, [
            SafetensorsTensor.FromSingle("z", [2], new[] { 1f, 2f }),
            SafetensorsTensor.FromSingle("a", [1], new[] { 3f }),
            SafetensorsTensor.FromDouble("m", [1], new[] { 4.0 }),
        ]);
        var file = SafetensorsFile.Open(path);
        Assert.Equal(["z", "a", "m"], file.Names);
        Assert.Equal([0L, 8L, 12L], file.Entries.Values.Select(e => e.Begin));
        Assert.Equal(20L, file.Entries["m"].End);
    }

    [Fact]
    public void Safetensors_Write_IsDeterministic()
    {
        var meta = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" };
        var reversed = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" };
        SafetensorsFile.Write(PathFor("1.safetensors"), [SafetensorsTensor.FromSingle("x", [2], new[] { 1f, 2f })], meta);
        SafetensorsFile.Write(PathFor("2.safetensors"), [SafetensorsTensor.FromSingle("x", [2], new[] { 1f, 2f })], reversed);
        Assert.Equal(File.ReadAllBytes(PathFor("1.safetensors")), File.ReadAllBytes(PathFor("2.safetensors")));
    }

    [Fact]
    public void Safetensors_Write_ReplacesExistingFileAndLeavesNoTemporaries()
    {
        var path = PathFor("w.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("old", [1], new[] { 1f })]);
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("new", [2], new[] { 2f, 3f })]);

        var file = SafetensorsFile.Open(path);
        Assert.Equal(["new"], file.Names);
        Assert.Equal([2f, 3f], file.ReadFloat("new"));
        Assert.Equal(["w.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Safetensors_Write_InvalidInputLeavesOldFileIntact()
    {
        var path = PathFor("k.safetensors");
        SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("keep", [1], new[] { 1f })]);
        var before = File.ReadAllBytes(path);

        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [
            SafetensorsTensor.FromSingle("x", [1], new[] { 1f }),
            SafetensorsTensor.FromSingle("x", [1], new[] { 2f }),
        ]));
        var mismatch = Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("y", [2, 2], new[] { 1f })]));
        Assert.Contains("'y'", mismatch.Message);
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("__metadata__", [1], new[] { 1f })]));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [SafetensorsTensor.FromSingle("neg", [-1], Array.Empty<float>())]));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [SafetensorsTensor.FromInt64("big", [1], new[] { 300L }, SafetensorsDType.U8)]));
        Assert.Throws<ArgumentException>(() => SafetensorsTensor.FromSingle("x", [1], new[] { 1f }, SafetensorsDType.I64));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["k.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Safetensors_EmptyFile_HasNoTensors()
    {
        var path = PathFor("e.safetensors");
        SafetensorsFile.Write(path, []);
        var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Entries);
        Assert.Equal(16, new FileInfo(path).Length); // "{}" padded to 8 bytes
        var ex = Assert.Throws<KeyNotFoundException>(() => file.ReadFloat("x"));
        Assert.Contains("no tensors", ex.Message);
    }

    [Fact]
    public void Safetensors_MissingTensor_NamesFileTensorAndSimilarNames()
    {
        var path = PathFor("miss.safetensors");
        SafetensorsFile.Write(path, Enumerable.Range(0, 20).Select(i =>
            SafetensorsTensor.FromSingle($"blocks.{i}.weight", [1], new[] { (float)i })));

        var file = SafetensorsFile.Open(path);
        Assert.False(file.Contains("blocks.3.wieght"));
        Assert.True(file.Contains("blocks.3.weight"));
        var ex = Assert.Throws<KeyNotFoundException>(() => file.ReadFloat("blocks.3.wieght"));
        Assert.Contains(path, ex.Message);
        Assert.Contains("'blocks.3.wieght'", ex.Message);
        Assert.Contains("'blocks.3.weight'", ex.Message); // the closest name is listed first
        Assert.Contains("20 tensors", ex.Message);
    }
}
