// `info --list` (issue 10, item 13): a pattern that matches nothing says so; JSON uses image_size and readable text.
using System.CommandLine;

namespace Ascan.Cli.Tests;

public class InfoListTests
{
    private static (int Code, string Out, string Err) Info(params string[] args)
    {
        var output = new StringWriter(); var error = new StringWriter();
        int code = CliRunner.Run(ModelCommands.Info(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Info_ListWithNoMatch_SaysSoAndFails()
    {
        var (code, output, err) = Info("--list", "foo*");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("no registered model matches 'foo*'", err);
        Assert.Contains("ascan_nano", err);
    }

    [Fact]
    public void Info_ListJson_HasKindAndImageSize_AndUnescapedText()
    {
        var (code, output, _) = Info("--list", "ascan_n*", "--json");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        var e = Assert.Single(doc.RootElement.EnumerateArray());
        Assert.Equal("classifier", e.GetProperty("kind").GetString());
        Assert.Equal(224, e.GetProperty("image_size").GetInt32());
        Assert.False(e.TryGetProperty("input_size", out _));
        Assert.Contains("C·CC·CTT·T", output);
    }
}
