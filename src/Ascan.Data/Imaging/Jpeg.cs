// JPEG decoding and encoding through libjpeg-turbo's TurboJPEG C API (Debian package libturbojpeg0), via P/Invoke.
using System.Runtime.InteropServices;

namespace Ascan.Data.Imaging;

/// <summary>
/// JPEG codec over libturbojpeg.so.0. Decodes any baseline/progressive JPEG to RGB (gray files too, replicated);
/// encodes RGB or gray images. Decoding uses the library defaults (accurate integer IDCT, smooth chroma
/// upsampling), the same as PIL and torchvision, so pixels agree with them.
/// </summary>
public static partial class Jpeg
{
    private const string Library = "libturbojpeg.so.0";
    private const int PixelFormatRgb = 0, PixelFormatGray = 6, PixelFormatCmyk = 11;   // TJPF_RGB, TJPF_GRAY, TJPF_CMYK
    private const int ColorspaceCmyk = 3, ColorspaceYcck = 4;                           // TJCS_CMYK, TJCS_YCCK
    private const int ErrorFatal = 1;                                 // TJERR_FATAL (TJERR_WARNING = 0)

    /// <summary>Chroma subsampling for encoding (TJSAMP_*).</summary>
    public enum Subsampling { S444 = 0, S422 = 1, S420 = 2, Gray = 3 }

    public static bool IsJpeg(ReadOnlySpan<byte> header) => header.Length >= 3 && header[0] == 0xFF && header[1] == 0xD8 && header[2] == 0xFF;

    public static Image Load(string path) => Decode(ImageIO.ReadFile(path), path);

    public static void Save(Image image, string path, int quality = 95) => File.WriteAllBytes(path, Encode(image, quality));

    /// <summary>True when libturbojpeg can be loaded (tests use it to explain, rather than crash, on machines without it).</summary>
    public static bool IsAvailable => Available.Value;

    private static readonly Lazy<bool> Available = new(() =>
    {
        if (!NativeLibrary.TryLoad(Library, typeof(Jpeg).Assembly, null, out var h)) return false;
        NativeLibrary.Free(h);
        return true;
    });

    private static void EnsureLibrary()
    {
        if (!IsAvailable)
            throw new DllNotFoundException(
                $"JPEG support needs libjpeg-turbo's TurboJPEG library ({Library}), which could not be loaded. " +
                "Install it with: sudo apt-get install libturbojpeg0");
    }

    /// <summary>Decodes JPEG bytes to an RGB image; <paramref name="source"/> names the file in errors.</summary>
    public static unsafe Image Decode(ReadOnlySpan<byte> data, string source = "<memory>")
    {
        if (!IsJpeg(data)) throw new ImageDecodeException(source, "not a JPEG file (no SOI marker).");
        EnsureLibrary();
        nint handle = tjInitDecompress();
        if (handle == 0) throw new ImageDecodeException(source, $"TurboJPEG could not start a decompressor: {ErrorString(0)}");
        try
        {
            fixed (byte* src = data)
            {
                if (tjDecompressHeader3(handle, src, (nuint)data.Length, out int w, out int h, out _, out int colorspace) != 0)
                    throw new ImageDecodeException(source, $"bad JPEG header: {ErrorString(handle)}");
                if (w <= 0 || h <= 0 || (long)w * h > 1L << 28)
                    throw new ImageDecodeException(source, $"JPEG size {w}×{h} is empty or too large.");
                // libjpeg cannot convert CMYK to RGB itself: decode the four channels and convert below.
                bool cmyk = colorspace is ColorspaceCmyk or ColorspaceYcck;
                int bpp = cmyk ? 4 : 3;
                var img = new Image(w, h, bpp);
                fixed (byte* dst = img.Data)
                {
                    if (tjDecompress2(handle, src, (nuint)data.Length, dst, w, w * bpp, h, cmyk ? PixelFormatCmyk : PixelFormatRgb, 0) != 0)
                    {
                        // Warnings (extraneous bytes, …) still give a full image, as PIL accepts; a truncated stream
                        // ("Premature end of JPEG file") would leave grey rows, so it counts as corrupt like in PIL.
                        string msg = ErrorString(handle);
                        if (tjGetErrorCode(handle) == ErrorFatal || msg.Contains("Premature end", StringComparison.OrdinalIgnoreCase))
                            throw new ImageDecodeException(source, $"JPEG decoding failed: {msg}");
                    }
                }
                return cmyk ? CmykToRgb(img) : img;
            }
        }
        finally
        {
            tjDestroy(handle);
        }
    }

    /// <summary>
    /// CMYK as stored by Adobe applications (inverted: 255 = no ink, which is what CMYK JPEGs in the wild hold) to
    /// RGB: R = C·K / 255 and so on, what PIL gives for such files.
    /// </summary>
    // ASSUMPTION: every CMYK/YCCK JPEG is Adobe-inverted; non-inverted CMYK JPEGs are vanishingly rare.
    private static Image CmykToRgb(Image cmyk)
    {
        var o = new Image(cmyk.Width, cmyk.Height, 3);
        var s = cmyk.Data; var d = o.Data;
        for (int i = 0, j = 0; i < s.Length; i += 4, j += 3)
        {
            int k = s[i + 3];
            d[j] = (byte)((s[i] * k + 127) / 255);
            d[j + 1] = (byte)((s[i + 1] * k + 127) / 255);
            d[j + 2] = (byte)((s[i + 2] * k + 127) / 255);
        }
        return o;
    }

    /// <summary>Encodes a gray (1 channel) or RGB (3; alpha of 2/4-channel images is dropped) image.</summary>
    public static unsafe byte[] Encode(Image image, int quality = 95, Subsampling subsampling = Subsampling.S420)
    {
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), quality, "JPEG quality must be 1–100.");
        EnsureLibrary();
        var src = image.Channels is 1 or 3 ? image : image.Channels == 2 ? image.ToGray() : image.ToRgb();
        bool gray = src.Channels == 1;
        nint handle = tjInitCompress();
        if (handle == 0) throw new InvalidOperationException($"TurboJPEG could not start a compressor: {ErrorString(0)}");
        byte* buf = null;
        try
        {
            nuint size = 0;
            fixed (byte* p = src.Data)
            {
                if (tjCompress2(handle, p, src.Width, src.Stride, src.Height, gray ? PixelFormatGray : PixelFormatRgb,
                                &buf, &size, gray ? (int)Subsampling.Gray : (int)subsampling, quality, 0) != 0)
                    throw new InvalidOperationException($"JPEG encoding failed: {ErrorString(handle)}");
            }
            return new ReadOnlySpan<byte>(buf, checked((int)size)).ToArray();
        }
        finally
        {
            if (buf != null) tjFree(buf);
            tjDestroy(handle);
        }
    }

    /// <summary>Encodes 4-channel bytes as a CMYK JPEG (for tests of the CMYK decode path); channels are stored as given.</summary>
    internal static unsafe byte[] EncodeCmyk(Image cmyk, int quality = 95)
    {
        if (cmyk.Channels != 4) throw new ArgumentException("EncodeCmyk needs a 4-channel image.");
        EnsureLibrary();
        nint handle = tjInitCompress();
        byte* buf = null;
        try
        {
            nuint size = 0;
            fixed (byte* p = cmyk.Data)
                if (tjCompress2(handle, p, cmyk.Width, cmyk.Stride, cmyk.Height, PixelFormatCmyk, &buf, &size, (int)Subsampling.S444, quality, 0) != 0)
                    throw new InvalidOperationException($"CMYK JPEG encoding failed: {ErrorString(handle)}");
            return new ReadOnlySpan<byte>(buf, checked((int)size)).ToArray();
        }
        finally
        {
            if (buf != null) tjFree(buf);
            tjDestroy(handle);
        }
    }

    private static string ErrorString(nint handle) => Marshal.PtrToStringUTF8(tjGetErrorStr2(handle)) ?? "unknown error";

    [LibraryImport(Library)] private static partial nint tjInitDecompress();
    [LibraryImport(Library)] private static partial nint tjInitCompress();
    [LibraryImport(Library)] private static partial int tjDestroy(nint handle);
    [LibraryImport(Library)] private static partial nint tjGetErrorStr2(nint handle);
    [LibraryImport(Library)] private static partial int tjGetErrorCode(nint handle);
    [LibraryImport(Library)] private static unsafe partial void tjFree(byte* buffer);

    // unsigned long is 64-bit on x86-64 Linux: nuint.
    [LibraryImport(Library)]
    private static unsafe partial int tjDecompressHeader3(nint handle, byte* jpegBuf, nuint jpegSize,
        out int width, out int height, out int jpegSubsamp, out int jpegColorspace);

    [LibraryImport(Library)]
    private static unsafe partial int tjDecompress2(nint handle, byte* jpegBuf, nuint jpegSize, byte* dstBuf,
        int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Library)]
    private static unsafe partial int tjCompress2(nint handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat,
        byte** jpegBuf, nuint* jpegSize, int jpegSubsamp, int jpegQual, int flags);
}
