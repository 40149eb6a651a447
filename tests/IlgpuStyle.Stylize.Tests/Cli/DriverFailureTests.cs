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
        var (code, _, stderr) = await CliProcess.RunAsync(
            ["bench", "--device", "opencl", "--autotune", "off", "--no-iteration", "--layers", "conv1_1", "--runs", "1"],
            new Dictionary<string, string> { ["POCL_EXTRA_BUILD_FLAGS"] = "-not-a-build-option", ["POCL_CACHE_DIR"] = cache });
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("error: the OpenCL driver failed (CL_INVALID_BUILD_OPTIONS in CLAccelerator.", line);
        Assert.Contains("POCL_", line);
        Assert.Equal(3, code);
    }

    public void Dispose() => Directory.Delete(cache, recursive: true);
}
