using System.Net;
using System.Net.Sockets;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>A --preview-port that cannot be served is one `error: …` line and exit code 2, before any work, and no output.</summary>
public sealed class PreviewCliErrorTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-preview-errors-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Valid options on tiny files (so only the port is wrong) plus <paramref name="preview"/>.</summary>
    private string[] Args(params string[] preview)
    {
        var content = Path.Combine(dir, "content.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), content);
        return ["stylize", "--content", content, "--style", content, "--output", Path.Combine(dir, "out.png"), "--size", "32",
            "--scales", "1", "--iterations", "1", "--content-layers", "relu2_1", "--style-layers", "relu1_1", "--device", "cpu",
            "--weights", TinyWeights.Write(dir), .. preview];
    }

    private void AssertFails(string message, string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        log.WriteLine($"exit {code}: {stderr.Trim()}");
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(message, lines[0]);
        Assert.Empty(stdout);
        Assert.False(File.Exists(Path.Combine(dir, "out.png")), "an output file was written");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("65536")]
    [InlineData("2147483647")]
    public void APortOutOfRange(string port) =>
        AssertFails($"--preview-port {port}: use a port from 1 to 65535, or 0", Args("--preview", "--preview-port", port));

    [Fact]
    public void APortThatIsNotANumber() =>
        AssertFails("--preview-port", Args("--preview-port", "http"));

    [Fact]
    public void APortInUse()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        AssertFails($"--preview-port {port}: cannot listen on 127.0.0.1:{port}", Args("--preview", "--preview-port", port.ToString()));
    }
}
