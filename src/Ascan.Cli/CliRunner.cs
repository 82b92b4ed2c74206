// Running a command line with one set of rules for every verb: a usage error is one line (with a "did you mean")
// and exit code 2; a failure while running is one line naming what failed and exit code 1; never a stack trace
// (ASCAN_DEBUG=1 shows it).
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Ascan.Cli;

internal static class CliRunner
{
    /// <summary>Exit code of a usage error: an unknown flag, a bad value, a missing file or argument.</summary>
    public const int UsageError = 2;
    /// <summary>Exit code of a failure while running (unreadable data, a full disk, a broken checkpoint).</summary>
    public const int RuntimeError = 1;

    /// <summary>The `ascan` command with every verb.</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand("Ascan: AsCAN (asymmetric convolution-attention networks) in C#.");
        root.Subcommands.Add(ModelCommands.Info());
        root.Subcommands.Add(ModelCommands.Infer());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(SegmentCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="command"/> and runs it. Parse errors are reported here
    /// (one line each, unknown flags with the nearest known one), a command without an action (`ascan`, `ascan data`)
    /// prints its help; an exception escaping a verb is reported in one line with <see cref="ExitCode"/>.
    /// </summary>
    public static int Run(Command command, string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var config = new InvocationConfiguration { Output = output ?? Console.Out, Error = error ?? Console.Error, EnableDefaultExceptionHandler = false };
        var r = command.Parse(args);
        var target = r.CommandResult.Command;
        if (r.Errors.Count > 0 && target.Action == null && target.Subcommands.Count > 0 && r.UnmatchedTokens.Count == 0)
        {
            command.Parse([.. CommandPath(r.CommandResult).Skip(1), "--help"]).Invoke(config);
            return UsageError;
        }
        if (r.Errors.Count > 0) return ReportUsage(r, config.Error);
        try
        {
            return r.Invoke(config);
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("ASCAN_DEBUG") != "1")
        {
            return Report(config.Error, Name(r), e);
        }
    }

    /// <summary>Writes "<paramref name="verb"/>: message" and returns the exit code for <paramref name="e"/>.</summary>
    public static int Report(TextWriter error, string verb, Exception e)
    {
        error.WriteLine($"{verb}: {Message(e)}");
        return ExitCode(e);
    }

    /// <summary>
    /// 2 for what the user can fix on the command line (a bad argument, a file or folder that is not there), 1 for a
    /// failure while running (I/O, corrupt data, an unexpected error).
    /// </summary>
    public static int ExitCode(Exception e) =>
        e is ArgumentException or FileNotFoundException or DirectoryNotFoundException ? UsageError : RuntimeError;

    /// <summary>The exception's own message, and the type only where the message alone would not say what failed.</summary>
    private static string Message(Exception e) => e switch
    {
        OutOfMemoryException => "out of memory (try a smaller --batch-size or --image-size)",
        NullReferenceException or IndexOutOfRangeException or InvalidCastException => $"internal error ({e.GetType().Name}: {e.Message}); " +
            "please report it with the command line (ASCAN_DEBUG=1 shows where)",
        _ => e.Message,
    };

    /// <summary>"ascan train", "ascan bench conv": the command the parse result ran.</summary>
    public static string Name(ParseResult r) => string.Join(' ', CommandPath(r.CommandResult));

    private static IEnumerable<string> CommandPath(CommandResult c)
    {
        var names = new Stack<string>();
        for (SymbolResult? s = c; s != null; s = s.Parent)
            if (s is CommandResult cr) names.Push(cr.Command is RootCommand ? "ascan" : cr.Command.Name);
        return names;
    }

    private static int ReportUsage(ParseResult r, TextWriter error)
    {
        string name = Name(r);
        var command = r.CommandResult.Command;
        var unmatched = r.UnmatchedTokens;
        for (int i = 0; i < unmatched.Count; i++)
        {
            string t = unmatched[i];
            if (t.StartsWith('-'))
            {
                string? near = Nearest(t.Split('=')[0], KnownFlags(command));
                error.WriteLine($"{name}: unknown flag {t}" + (near != null ? $" (did you mean {near}?)" : ""));
                // The value that followed an unknown flag is not a second error.
                if (i + 1 < unmatched.Count && !unmatched[i + 1].StartsWith('-')) i++;
            }
            else
            {
                string? near = command.Subcommands.Count > 0 ? Nearest(t, command.Subcommands.Select(s => s.Name)) : null;
                error.WriteLine(command.Subcommands.Count > 0
                    ? $"{name}: unknown command '{t}'" + (near != null ? $" (did you mean {near}?)" : $"; expected one of {string.Join(", ", command.Subcommands.Select(s => s.Name))}")
                    : $"{name}: unexpected argument '{t}'");
            }
        }
        foreach (var e in r.Errors)
            if (Rephrase(e.Message, command, r) is { } line) error.WriteLine($"{name}: {line}");
        error.WriteLine($"see '{name} --help'");
        return UsageError;
    }

    /// <summary>
    /// System.CommandLine's message in the words of the rest of the tool: null for what the unknown-token lines above
    /// already said, the missing argument by name, a value of the wrong type as what was expected.
    /// </summary>
    private static string? Rephrase(string message, Command command, ParseResult r)
    {
        if (message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal)) return null;
        if (message.StartsWith("Required command was not provided", StringComparison.Ordinal))
            return r.UnmatchedTokens.Count > 0 ? null : $"expected a command: {string.Join(", ", command.Subcommands.Select(s => s.Name))}";
        if (message.StartsWith("Required argument missing", StringComparison.Ordinal))
        {
            var missing = command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 && r.GetResult(a) is null or { Tokens.Count: 0 }).ToList();
            if (missing.Count > 0)
                return "missing " + string.Join(", ", missing.Select(a => a.Description is { Length: > 0 } d ? $"{a.Name} ({d.TrimEnd('.')})" : a.Name));
        }
        var required = System.Text.RegularExpressions.Regex.Match(message, @"^Option '(.*)' is required\.$");
        if (required.Success) return $"{required.Groups[1].Value} is required";
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(.*)' for option '(.*)' as expected type '(.*)'\.$");
        if (m.Success)
            return $"{m.Groups[2].Value} expects {TypeWords(m.Groups[3].Value)}, got '{m.Groups[1].Value}'";
        return message;
    }

    private static string TypeWords(string type) => type switch
    {
        _ when type.Contains("System.Double") || type.Contains("System.Single") => "a number",
        _ when type.Contains("System.UInt") => "a non-negative integer",
        _ when type.Contains("System.Int") => "an integer",
        _ when type.Contains("System.Boolean") => "true or false",
        _ => $"a value of type {type}",
    };

    private static IEnumerable<string> KnownFlags(Command command)
    {
        for (Command? c = command; c != null; c = c.Parents.OfType<Command>().FirstOrDefault())
            foreach (var o in c.Options)
                if (!o.Hidden && (c == command || o.Recursive))
                    foreach (var n in o.Aliases.Prepend(o.Name)) yield return n;
    }

    /// <summary>The known name closest to <paramref name="typed"/> (edit distance ≤ a third of its length, or a prefix), or null.</summary>
    internal static string? Nearest(string typed, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var k in known.Distinct())
        {
            int d = k.StartsWith(typed, StringComparison.Ordinal) && typed.Length >= 3 ? 0 : Distance(typed, k);
            if (d < bestDistance) (best, bestDistance) = (k, d);
        }
        return bestDistance <= Math.Max(1, typed.TrimStart('-').Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
