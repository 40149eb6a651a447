using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// A driver that refuses work is a device problem the user can act on, not a bug: one line on stderr, exit code 3,
/// no stack trace (CliErrors). Provoked for real: PoCL rejects an unknown POCL_EXTRA_BUILD_FLAGS option when it builds
/// a program, which ILGPU does as soon as it opens the OpenCL device.
/// </summary>
public sealed class DriverFailureTests : IDisposable
{
    private readonly string cache = Directory.CreateTempSubdirectory("ilgpu-style-pocl-cache-").FullName;

    [Fact]
    public async Task AnOpenClBuildTheDriverRefusesIsOneLineAndExitCode3()
    {
        Devices.Get("opencl"); // skips (fails under CI=true) without an OpenCL device
        using var process = CliProcess.Start(
            ["bench", "--device", "opencl", "--autotune", "off", "--no-iteration", "--layers", "conv1_1", "--runs", "1"],
            new Dictionary<string, string> { ["POCL_EXTRA_BUILD_FLAGS"] = "-not-a-build-option", ["POCL_CACHE_DIR"] = cache });
        var token = TestContext.Current.CancellationToken;
        var stderr = process.StandardError.ReadToEndAsync(token);
        await process.StandardOutput.ReadToEndAsync(token);
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the CLI did not finish within 2 minutes");
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("error: the OpenCL driver failed (CL_INVALID_BUILD_OPTIONS in CLAccelerator.", line);
        Assert.Contains("POCL_", line);
        Assert.Equal(3, process.ExitCode);
    }

    public void Dispose() => Directory.Delete(cache, recursive: true);
}
