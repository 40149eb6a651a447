using System.Diagnostics;
using System.Text.Json;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Ctrl-C on a real `ilgpu-style stylize` process (SIGINT, as a terminal sends it): the run stops at its next step,
/// writes the best image so far atomically and the report's final line, and exits 130.
/// </summary>
public sealed class InterruptTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-interrupt-").FullName;

    [Fact]
    public async Task TheFirstInterruptKeepsTheBestImageSoFar()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "SIGINT is a POSIX signal");
        Devices.Get("opencl"); // a real VGG19 run that goes on long enough to be interrupted
        var output = Path.Combine(dir, "out.png");
        var report = Path.Combine(dir, "report.jsonl");
        using var process = CliProcess.Start([.. CliProcess.StylizeTubingen(output), "--report", report, "--device", "opencl",
            "--size", "48", "--scales", "1", "--iterations", "100000", "--print-every", "1"]);
        var stderrTask = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var clock = Stopwatch.StartNew();
            while (IterationsDone(report) < 3)
            {
                if (process.HasExited) Assert.Fail($"the run ended before it was interrupted: {await stderrTask}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "no 3 iterations within 3 minutes");
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            Assert.False(File.Exists(output), "the output exists before the run ended");
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) kill.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the run did not stop within 2 minutes of SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        string stderr = await stderrTask;
        log.WriteLine(stderr);
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("interrupted", stderr);
        var image = ImageLoader.Load(output);
        Assert.Equal(48, Math.Max(image.Width, image.Height));
        var final = JsonDocument.Parse(File.ReadAllLines(report).Last()).RootElement;
        Assert.True(final.GetProperty("interrupted").GetBoolean());
        Assert.Equal(output, final.GetProperty("output").GetString());
        Assert.Single(Directory.GetFiles(dir, "*.png")); // no temporary file left beside it
    }

    private static int IterationsDone(string report)
    {
        if (!File.Exists(report)) return 0;
        using var stream = new FileStream(report, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n').Count(l => l.Contains("\"iteration\""));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
