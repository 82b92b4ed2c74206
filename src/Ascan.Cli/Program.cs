// The `ascan` command line: one verb per capability, each with --help.
using System.CommandLine;
using Ascan.Cli;

var root = new RootCommand("Ascan: AsCAN (asymmetric convolution-attention networks) in C#.");
root.Subcommands.Add(ModelCommands.Info());
root.Subcommands.Add(ModelCommands.Infer());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DataCommand.Create());
return root.Parse(args).Invoke();
