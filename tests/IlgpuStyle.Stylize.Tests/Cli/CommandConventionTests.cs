using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>Every command follows one error convention: one `error: …` line on stderr; 2 = bad input, 3 = device problem.</summary>
public sealed class CommandConventionTests(ITestOutputHelper log)
{
    private void AssertOneLineError(int expectedCode, string expectedText, params string[] args)
    {
        var (code, _, err) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args)} → exit {code}: {err.Trim()}");
        Assert.Equal(expectedCode, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expectedText, lines[0]);
    }

    [Fact]
    public void AnUnknownDeviceIsADeviceProblemForEveryCommand()
    {
        AssertOneLineError(3, "nosuch", "bench", "--device", "nosuch", "--no-iteration");
        AssertOneLineError(3, "nosuch", "bench", "--device", "nosuch", "--no-kernels", "--weights", "random");
    }

    [Fact]
    public void NoArgumentsListTheCommands()
    {
        var (code, stdout, err) = CliRunner.Run();
        Assert.Equal(0, code);
        Assert.Empty(err);
        foreach (var command in new[] { "stylize", "devices", "weights", "bench", "kernels" })
            Assert.Contains($"  {command} ", stdout);
    }

    [Fact]
    public void BadBenchOptionsAreBadInput() =>
        AssertOneLineError(2, "unknown layer", "bench", "--device", "cpu", "--layers", "conv9_9", "--no-iteration");

    [Fact]
    public void AMissingWeightsFileIsBadInputForEveryCommand()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.ilgw");
        AssertOneLineError(2, "no-such", "weights", "info", missing);
        AssertOneLineError(2, "no-such", "bench", "--device", "cpu", "--no-kernels", "--weights", missing);
    }
}
