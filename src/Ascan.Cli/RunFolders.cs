// Where a verb writes when --output is not given: a new folder per run, never over an earlier one.
namespace Ascan.Cli;

internal static class RunFolders
{
    /// <summary>
    /// A folder that does not exist yet: <paramref name="root"/>/&lt;yyyyMMdd-HHmmss&gt;-&lt;model&gt;, with -2, -3… when
    /// two runs start in the same second (timm's output folders).
    /// </summary>
    public static string New(string root, string model, DateTime now)
    {
        string stem = Path.Combine(root, $"{now:yyyyMMdd-HHmmss}-{model}"), dir = stem;
        for (int k = 2; Directory.Exists(dir); k++) dir = $"{stem}-{k}";
        return dir;
    }

    /// <summary>
    /// Where an evaluation writes its files: <paramref name="output"/> when given; else, with <paramref name="json"/>
    /// (stdout is the result), nowhere (null); else a new folder under <paramref name="root"/> (<see cref="New"/>).
    /// </summary>
    public static string? ForResults(string? output, bool json, string root, string model, DateTime now) =>
        output ?? (json ? null : New(root, model, now));
}
