// The exception thrown when a safetensors file is malformed; its message names the file and the problem.
namespace Ascan.Core.IO;

/// <remarks>
/// Derives from <see cref="IOException"/> because <see cref="InvalidDataException"/> is sealed; callers that
/// catch IOException around checkpoint loading see malformed files as well as missing ones.
/// </remarks>
public sealed class SafetensorsFormatException : IOException
{
    public SafetensorsFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: not a valid safetensors file: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file as it was named to <see cref="SafetensorsFile.Open"/>.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
