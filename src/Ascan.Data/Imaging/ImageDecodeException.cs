// The one error type of the image codecs: names the file (or "<memory>") and what was wrong with it.
namespace Ascan.Data.Imaging;

/// <summary>An image that could not be read or decoded. <see cref="FilePath"/> is the file path the bytes came from.</summary>
public sealed class ImageDecodeException : Exception
{
    public string FilePath { get; }

    public ImageDecodeException(string source, string message, Exception? inner = null)
        : base($"{source}: {message}", inner)
    {
        FilePath = source;
    }
}
