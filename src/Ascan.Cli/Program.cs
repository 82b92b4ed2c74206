// The `ascan` command line: one verb per capability, each with --help (CliRunner holds the rules they share).
using Ascan.Cli;

return CliRunner.Run(CliRunner.Root(), args);
