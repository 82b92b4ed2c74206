// PNG decoding (all colour types and bit depths, all five filters, Adam7) and 8-bit encoding, on System.IO.Compression.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Ascan.Data.Imaging;

/// <summary>
/// Our own PNG codec. Decoding gives 8-bit samples: gray → 1 channel, gray+alpha → 2, RGB → 3, RGBA → 4,
/// palette → 3 (4 when the file has a tRNS chunk); sub-byte gray is scaled to 0..255 and 16-bit samples are
/// rounded to 8 bits. Every chunk's CRC is checked. Encoding writes 8-bit gray/gray+alpha/RGB/RGBA with a
/// per-row filter chosen by libpng's heuristic (smallest sum of absolute filtered bytes).
/// </summary>
public static class Png
{
    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    // Adam7 passes: x start, y start, x step, y step.
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    // ASSUMPTION: images above 2^28 pixels are refused rather than risking a multi-GB allocation from a bad header.
    private const long MaxPixels = 1L << 28;

    public static bool IsPng(ReadOnlySpan<byte> header) => header.Length >= 8 && header[..8].SequenceEqual(Signature);

    public static Image Load(string path) => Decode(ImageIO.ReadFile(path), path);

    public static void Save(Image image, string path, CompressionLevel level = CompressionLevel.Fastest) =>
        File.WriteAllBytes(path, Encode(image, level));

    // ------------------------------------------------------------------ decoding

    private sealed class Header
    {
        public int Width, Height, BitDepth, ColorType, Interlace;
        public int SamplesPerPixel => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        public int BitsPerPixel => SamplesPerPixel * BitDepth;
        public int FilterBpp => Math.Max(1, BitsPerPixel / 8);
        public long RowBytes(int width) => ((long)width * BitsPerPixel + 7) / 8;
    }

    /// <summary>Decodes a PNG file's bytes; <paramref name="source"/> names the file in errors.</summary>
    public static Image Decode(ReadOnlySpan<byte> data, string source = "<memory>") => Decode(data, source, indices: false);

    /// <summary>
    /// Decodes a label PNG to one channel of raw sample values: palette files give their indices (the palette is
    /// ignored), gray files their values unscaled (a 4-bit gray 3 stays 3). Any other colour type, or 16-bit gray
    /// (whose labels rounding to 8 bits would corrupt), is an error naming <paramref name="source"/>.
    /// </summary>
    public static Image DecodeIndices(ReadOnlySpan<byte> data, string source = "<memory>") => Decode(data, source, indices: true);

    private static Image Decode(ReadOnlySpan<byte> data, string source, bool indices)
    {
        if (!IsPng(data)) throw new ImageDecodeException(source, "not a PNG file (bad signature).");
        Header? h = null;
        byte[]? palette = null, trns = null;
        var idat = new MemoryStream();
        bool sawEnd = false;
        int pos = 8;
        while (pos < data.Length)
        {
            if (data.Length - pos < 12) throw new ImageDecodeException(source, $"truncated PNG: {data.Length - pos} stray bytes at offset {pos}.");
            uint len = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            if (len > int.MaxValue || len > data.Length - pos - 12)
                throw new ImageDecodeException(source, $"truncated PNG: chunk at offset {pos} claims {len} bytes, {data.Length - pos - 12} remain.");
            var typeBytes = data.Slice(pos + 4, 4);
            string type = Encoding.ASCII.GetString(typeBytes);
            var body = data.Slice(pos + 8, (int)len);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)len)..]);
            uint crc = Crc32.Update(Crc32.Update(Crc32.Initial, typeBytes), body) ^ 0xFFFFFFFFu;
            if (crc != stored) throw new ImageDecodeException(source, $"bad CRC in PNG chunk '{type}' at offset {pos} (file is corrupt).");
            pos += 12 + (int)len;

            if (h == null && type != "IHDR") throw new ImageDecodeException(source, $"PNG chunk '{type}' before IHDR.");
            switch (type)
            {
                case "IHDR": h = ParseHeader(body, source); break;
                case "PLTE":
                    if (len % 3 != 0 || len == 0 || len > 768) throw new ImageDecodeException(source, $"PLTE chunk of {len} bytes (expected 3·n, n ≤ 256).");
                    palette = body.ToArray();
                    break;
                case "tRNS": trns = body.ToArray(); break;
                case "IDAT": idat.Write(body); break;
                case "IEND": sawEnd = true; break;
                default:
                    // Bit 5 of the first letter clear = critical chunk we would need to understand.
                    if ((typeBytes[0] & 0x20) == 0) throw new ImageDecodeException(source, $"unsupported critical PNG chunk '{type}'.");
                    break;
            }
            if (sawEnd) break;
        }
        if (h == null) throw new ImageDecodeException(source, "PNG has no IHDR chunk.");
        if (idat.Length == 0) throw new ImageDecodeException(source, "PNG has no image data (IDAT).");
        if (h.ColorType == 3 && palette == null) throw new ImageDecodeException(source, "palette PNG without a PLTE chunk.");
        if (indices && (h.ColorType is not (0 or 3) || h.BitDepth > 8))
            throw new ImageDecodeException(source, $"a label map must be an 8-bit (or less) single-channel or palette PNG, this one has colour type {h.ColorType} " +
                $"({h.SamplesPerPixel} channel{(h.SamplesPerPixel == 1 ? "" : "s")}{(h.ColorType == 3 ? ", palette" : "")}) at {h.BitDepth} bits.");

        // The whole filtered stream: for each pass, height × (1 filter byte + row bytes).
        long rawLength = 0;
        foreach (var (pw, ph) in Passes(h)) if (pw > 0 && ph > 0) rawLength += ph * (1 + h.RowBytes(pw));
        if (rawLength > int.MaxValue) throw new ImageDecodeException(source, $"PNG {h.Width}×{h.Height} is too large.");
        // Deflate cannot expand more than ~1032:1, so a header promising more than that is corrupt; checking before
        // allocating keeps one bad file from asking for gigabytes.
        if (rawLength > idat.Length * 1100 + 1024)
            throw new ImageDecodeException(source, $"PNG image data is truncated ({idat.Length} compressed bytes cannot hold a {h.Width}×{h.Height} image).");
        var raw = new byte[rawLength];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int got = 0;
            while (got < raw.Length)
            {
                int n = z.Read(raw, got, raw.Length - got);
                if (n == 0) break;
                got += n;
            }
            if (got < raw.Length) throw new ImageDecodeException(source, $"PNG image data is truncated ({got} of {raw.Length} bytes).");
        }
        catch (InvalidDataException e)
        {
            throw new ImageDecodeException(source, $"PNG image data is corrupt ({e.Message}).", e);
        }

        int outChannels = indices ? 1 : h.ColorType switch { 0 => 1, 4 => 2, 2 => 3, 6 => 4, _ => trns != null ? 4 : 3 };
        var img = new Image(h.Width, h.Height, outChannels);
        // For labels an identity table makes the palette path emit the unpacked sample itself, for gray as for palette.
        byte[]? lut = indices ? IdentityTable() : palette != null ? PaletteTable(palette, trns, outChannels) : null;
        int offset = 0;
        if (h.Interlace == 0)
            Unfilter(raw, ref offset, h, h.Width, h.Height, img, 0, 0, 1, 1, lut, source);
        else
            for (int p = 0; p < 7; p++)
            {
                var (x0, y0, dx, dy) = Adam7[p];
                int pw = (h.Width - x0 + dx - 1) / dx, ph = (h.Height - y0 + dy - 1) / dy;
                if (pw > 0 && ph > 0) Unfilter(raw, ref offset, h, pw, ph, img, x0, y0, dx, dy, lut, source);
            }
        return img;
    }

    private static IEnumerable<(int W, int H)> Passes(Header h)
    {
        if (h.Interlace == 0) { yield return (h.Width, h.Height); yield break; }
        foreach (var (x0, y0, dx, dy) in Adam7)
            yield return ((h.Width - x0 + dx - 1) / dx, (h.Height - y0 + dy - 1) / dy);
    }

    private static Header ParseHeader(ReadOnlySpan<byte> b, string source)
    {
        if (b.Length != 13) throw new ImageDecodeException(source, $"IHDR chunk of {b.Length} bytes (expected 13).");
        var h = new Header
        {
            Width = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b), int.MaxValue),
            Height = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b[4..]), int.MaxValue),
            BitDepth = b[8], ColorType = b[9], Interlace = b[12],
        };
        if (h.Width == 0 || h.Height == 0) throw new ImageDecodeException(source, $"PNG size {h.Width}×{h.Height} is empty.");
        if ((long)h.Width * h.Height > MaxPixels) throw new ImageDecodeException(source, $"PNG {h.Width}×{h.Height} is too large.");
        bool ok = h.ColorType switch
        {
            0 => h.BitDepth is 1 or 2 or 4 or 8 or 16,
            3 => h.BitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => h.BitDepth is 8 or 16,
            _ => false,
        };
        if (!ok) throw new ImageDecodeException(source, $"invalid PNG colour type {h.ColorType} with bit depth {h.BitDepth}.");
        if (b[10] != 0 || b[11] != 0) throw new ImageDecodeException(source, $"unknown PNG compression {b[10]} or filter method {b[11]}.");
        if (h.Interlace > 1) throw new ImageDecodeException(source, $"unknown PNG interlace method {h.Interlace}.");
        return h;
    }

    private static byte[] IdentityTable()
    {
        var t = new byte[256];
        for (int i = 0; i < 256; i++) t[i] = (byte)i;
        return t;
    }

    /// <summary>Palette entries expanded to output pixels (3 or 4 bytes each); indices past the palette read as black.</summary>
    private static byte[] PaletteTable(byte[] palette, byte[]? trns, int channels)
    {
        var t = new byte[256 * channels];
        for (int i = 0; i < 256; i++)
        {
            if (3 * i + 2 < palette.Length)
                for (int c = 0; c < 3; c++) t[i * channels + c] = palette[3 * i + c];
            if (channels == 4) t[i * 4 + 3] = trns != null && i < trns.Length ? trns[i] : (byte)255;
        }
        return t;
    }

    /// <summary>Reverses the filters of one pass (in place in raw) and scatters its pixels into img.</summary>
    private static void Unfilter(byte[] raw, ref int offset, Header h, int pw, int ph, Image img,
                                 int x0, int y0, int dx, int dy, byte[]? lut, string source)
    {
        int rowBytes = (int)h.RowBytes(pw), bpp = h.FilterBpp;
        int prev = -1;
        for (int r = 0; r < ph; r++)
        {
            int filter = raw[offset];
            int cur = offset + 1;
            var row = raw.AsSpan(cur, rowBytes);
            ReadOnlySpan<byte> up = prev >= 0 ? raw.AsSpan(prev, rowBytes) : default;
            switch (filter)
            {
                case 0: break;
                case 1: for (int i = bpp; i < rowBytes; i++) row[i] += row[i - bpp]; break;
                case 2: if (prev >= 0) for (int i = 0; i < rowBytes; i++) row[i] += up[i]; break;
                case 3:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? row[i - bpp] : 0, b = prev >= 0 ? up[i] : 0;
                        row[i] += (byte)((a + b) >> 1);
                    }
                    break;
                case 4:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? row[i - bpp] : 0, b = prev >= 0 ? up[i] : 0, c = i >= bpp && prev >= 0 ? up[i - bpp] : 0;
                        row[i] += Paeth(a, b, c);
                    }
                    break;
                default: throw new ImageDecodeException(source, $"bad PNG filter type {filter} on row {r} (file is corrupt).");
            }
            EmitRow(row, h, pw, img, x0, y0 + r * dy, dx, lut);
            prev = cur;
            offset = cur + rowBytes;
        }
    }

    private static byte Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }

    /// <summary>Unpacks one unfiltered row into 8-bit output pixels at x = x0, x0 + dx, … of row y.</summary>
    private static void EmitRow(ReadOnlySpan<byte> row, Header h, int pw, Image img, int x0, int y, int dx, byte[]? lut)
    {
        int oc = img.Channels;
        var dst = img.Row(y);
        int depth = h.BitDepth;
        if (lut != null)
        {
            for (int i = 0; i < pw; i++)
            {
                int idx = depth == 8 ? row[i] : (row[i * depth >> 3] >> (8 - depth - (i * depth & 7))) & ((1 << depth) - 1);
                lut.AsSpan(idx * oc, oc).CopyTo(dst.Slice((x0 + i * dx) * oc, oc));
            }
            return;
        }
        int spp = h.SamplesPerPixel;
        if (depth == 8)
        {
            if (dx == 1) { row[..(pw * spp)].CopyTo(dst); return; }
            for (int i = 0; i < pw; i++) row.Slice(i * spp, spp).CopyTo(dst.Slice((x0 + i * dx) * oc, oc));
        }
        else if (depth == 16)
        {
            for (int i = 0; i < pw; i++)
                for (int s = 0; s < spp; s++)
                {
                    int v = (row[2 * (i * spp + s)] << 8) | row[2 * (i * spp + s) + 1];
                    // ASSUMPTION: 16 → 8 bits by rounding (v·255/65535), as libpng's png_set_scale_16.
                    dst[(x0 + i * dx) * oc + s] = (byte)((v * 255 + 32767) / 65535);
                }
        }
        else
        {
            // Gray at 1, 2 or 4 bits, packed MSB first; scaled so the maximum maps to 255.
            int max = (1 << depth) - 1, scale = 255 / max;
            for (int i = 0; i < pw; i++)
            {
                int bit = i * depth;
                int v = (row[bit >> 3] >> (8 - depth - (bit & 7))) & max;
                dst[x0 + i * dx] = (byte)(v * scale);
            }
        }
    }

    // ------------------------------------------------------------------ encoding

    /// <summary>Encodes an 8-bit image (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA channels) as a non-interlaced PNG.</summary>
    public static byte[] Encode(Image image, CompressionLevel level = CompressionLevel.Fastest)
    {
        int colorType = image.Channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 };
        int bpp = image.Channels, rowBytes = image.Stride;

        // Filtered scanlines, each row's filter picked by the minimum sum of |signed byte|.
        var filtered = new byte[image.Height * (rowBytes + 1)];
        var candidate = new byte[rowBytes];
        for (int y = 0; y < image.Height; y++)
        {
            ReadOnlySpan<byte> row = image.Row(y);
            ReadOnlySpan<byte> up = y > 0 ? image.Row(y - 1) : default;
            var best = filtered.AsSpan(y * (rowBytes + 1) + 1, rowBytes);
            long bestCost = long.MaxValue;
            for (int f = 0; f < 5; f++)
            {
                long cost = Filter(f, row, up, bpp, candidate);
                if (cost < bestCost) { bestCost = cost; filtered[y * (rowBytes + 1)] = (byte)f; candidate.CopyTo(best); }
            }
        }

        var ms = new MemoryStream();
        ms.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)image.Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)image.Height);
        ihdr[8] = 8; ihdr[9] = (byte)colorType; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
        WriteChunk(ms, "IHDR", ihdr);
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, level, leaveOpen: true)) zs.Write(filtered);
        WriteChunk(ms, "IDAT", z.GetBuffer().AsSpan(0, (int)z.Length));
        WriteChunk(ms, "IEND", default);
        return ms.ToArray();
    }

    /// <summary>Applies filter f to one row into dst; returns the heuristic cost Σ|(sbyte)dst[i]|.</summary>
    private static long Filter(int f, ReadOnlySpan<byte> row, ReadOnlySpan<byte> up, int bpp, Span<byte> dst)
    {
        int n = row.Length;
        bool hasUp = !up.IsEmpty;
        // One tight loop per filter type (a per-byte switch made encoding 10x slower than zlib).
        switch (f)
        {
            case 0: row.CopyTo(dst); break;
            case 1:
                row[..bpp].CopyTo(dst);
                for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - row[i - bpp]);
                break;
            case 2:
                if (!hasUp) row.CopyTo(dst);
                else for (int i = 0; i < n; i++) dst[i] = (byte)(row[i] - up[i]);
                break;
            case 3:
                for (int i = 0; i < bpp; i++) dst[i] = (byte)(row[i] - ((hasUp ? up[i] : 0) >> 1));
                for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - ((row[i - bpp] + (hasUp ? up[i] : 0)) >> 1));
                break;
            default:
                if (!hasUp)
                {
                    // Paeth with no row above predicts from the left, exactly as Sub.
                    row[..bpp].CopyTo(dst);
                    for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - row[i - bpp]);
                }
                else
                {
                    for (int i = 0; i < bpp; i++) dst[i] = (byte)(row[i] - up[i]);
                    for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - Paeth(row[i - bpp], up[i], up[i - bpp]));
                }
                break;
        }
        long cost = 0;
        foreach (byte v in dst[..n]) cost += v < 128 ? v : 256 - v;
        return cost;
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> body)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)body.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(body);
        uint crc = Crc32.Update(Crc32.Update(Crc32.Initial, head[4..]), body) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

/// <summary>CRC-32 (ISO 3309, polynomial 0xEDB88320) as PNG chunks use it.</summary>
internal static class Crc32
{
    public const uint Initial = 0xFFFFFFFFu;
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    /// <summary>Continues a running CRC (start from <see cref="Initial"/>, finish with ^ 0xFFFFFFFF).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        var t = Table;
        foreach (byte b in data) crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
