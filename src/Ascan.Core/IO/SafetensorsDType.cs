// The element types of the safetensors format, their sizes and the conversions to and from float/double.
using System.Buffers.Binary;

namespace Ascan.Core.IO;

/// <summary>Element types as spelled in a safetensors header (the enum names are the header strings).</summary>
public enum SafetensorsDType
{
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>Parses a header dtype string exactly (case-sensitive, as the format requires).</summary>
    public static bool TryParse(string text, out SafetensorsDType dtype)
    {
        // Enum.TryParse would also accept digits ("3") and other casings; the format has neither.
        foreach (var candidate in Enum.GetValues<SafetensorsDType>())
        {
            if (candidate.ToString() == text)
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    public static bool IsFloatingPoint(SafetensorsDType dtype) => dtype is SafetensorsDType.F16 or SafetensorsDType.BF16
        or SafetensorsDType.F32 or SafetensorsDType.F64 or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3;

    // ---- bfloat16: the upper 16 bits of an IEEE float32 ----

    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float32 → bfloat16 with round-to-nearest-even; NaN stays a (quiet) NaN.</summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16) | 0x0040);
        // Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour.
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(rounded >> 16);
    }

    /// <summary>float64 → bfloat16 rounded once (not double-rounded through float32).</summary>
    public static ushort DoubleToBFloat16(double value)
    {
        float f = (float)value;
        if (!double.IsNaN(value) && !float.IsInfinity(f) && f != value)
        {
            // Round to odd in float32 first: with 16 spare bits the second rounding is then exact
            // round-to-nearest-even of the original double.
            uint bits = BitConverter.SingleToUInt32Bits(f);
            if ((bits & 1u) == 0)
                bits = Math.Abs((double)f) > Math.Abs(value) ? bits - 1 : bits + 1;
            f = BitConverter.UInt32BitsToSingle(bits);
        }
        return SingleToBFloat16(f);
    }

    // ---- 8-bit floats (read only) ----

    /// <summary>E5M2: the upper byte of an IEEE half.</summary>
    public static float Float8E5M2ToSingle(byte bits) => (float)BitConverter.UInt16BitsToHalf((ushort)(bits << 8));

    /// <summary>E4M3 "fn" variant (as in PyTorch float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN.</summary>
    public static float Float8E4M3ToSingle(byte bits)
    {
        int exponent = (bits >> 3) & 0xF;
        int mantissa = bits & 0x7;
        float sign = (bits & 0x80) != 0 ? -1f : 1f;
        if (exponent == 0xF && mantissa == 0x7)
            return float.NaN;
        if (exponent == 0)
            return sign * mantissa / 8f * MathF.Pow(2f, -6);
        return sign * (1f + mantissa / 8f) * MathF.Pow(2f, exponent - 7);
    }

    // ---- whole-buffer conversion used by the reader ----

    /// <summary>Converts little-endian elements of <paramref name="dtype"/> in <paramref name="src"/> to doubles.</summary>
    internal static void ToDouble(SafetensorsDType dtype, ReadOnlySpan<byte> src, Span<double> dst)
    {
        // The common float types get their own loops; the rest go through the per-element switch.
        switch (dtype)
        {
            case SafetensorsDType.F64:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]);
                break;
            case SafetensorsDType.F32:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
                break;
            case SafetensorsDType.BF16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
                break;
            default:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = ElementToDouble(dtype, src, i);
                break;
        }
    }

    /// <summary>Converts little-endian elements of <paramref name="dtype"/> in <paramref name="src"/> to floats.</summary>
    internal static void ToSingle(SafetensorsDType dtype, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
                break;
            case SafetensorsDType.F16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src[(i * 2)..]);
                break;
            case SafetensorsDType.BF16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
                break;
            default:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = (float)ElementToDouble(dtype, src, i);
                break;
        }
    }

    /// <summary>Converts little-endian integer elements to long (BOOL, U8…I64; U64 above long.MaxValue throws).</summary>
    internal static void ToInt64(SafetensorsDType dtype, ReadOnlySpan<byte> src, Span<long> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = dtype switch
            {
                SafetensorsDType.BOOL or SafetensorsDType.U8 => src[i],
                SafetensorsDType.I8 => (sbyte)src[i],
                SafetensorsDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(src[(i * 2)..]),
                SafetensorsDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]),
                SafetensorsDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]),
                SafetensorsDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(src[(i * 4)..]),
                SafetensorsDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(src[(i * 8)..]),
                SafetensorsDType.U64 => checked((long)BinaryPrimitives.ReadUInt64LittleEndian(src[(i * 8)..])),
                _ => throw new NotSupportedException($"dtype {dtype} is not an integer type"),
            };
        }
    }

    private static double ElementToDouble(SafetensorsDType dtype, ReadOnlySpan<byte> src, int i) => dtype switch
    {
        SafetensorsDType.F64 => BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]),
        SafetensorsDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]),
        SafetensorsDType.F16 => (double)BinaryPrimitives.ReadHalfLittleEndian(src[(i * 2)..]),
        SafetensorsDType.BF16 => BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..])),
        SafetensorsDType.F8_E5M2 => Float8E5M2ToSingle(src[i]),
        SafetensorsDType.F8_E4M3 => Float8E4M3ToSingle(src[i]),
        SafetensorsDType.BOOL or SafetensorsDType.U8 => src[i],
        SafetensorsDType.I8 => (sbyte)src[i],
        SafetensorsDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(src[(i * 2)..]),
        SafetensorsDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]),
        SafetensorsDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]),
        SafetensorsDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(src[(i * 4)..]),
        SafetensorsDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(src[(i * 8)..]),
        SafetensorsDType.U64 => BinaryPrimitives.ReadUInt64LittleEndian(src[(i * 8)..]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };
}
