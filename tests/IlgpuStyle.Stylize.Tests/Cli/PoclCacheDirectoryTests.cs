using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// PoCL offers no OpenCL platform when it cannot create its kernel cache (<see cref="PoclCacheDirectory"/>): the
/// directory it would use, and `ilgpu-style devices` as a child process whose cache home is under /proc (where no one
/// can create a directory), which lists the OpenCL device and says where PoCL's cache went instead.
/// </summary>
public sealed class PoclCacheDirectoryTests
{
    [Theory]
    [InlineData("/p", "/x", "/h", null)]
    [InlineData("", "/x", "/h", "/x/pocl/kcache")]
    [InlineData(null, null, "/h", "/h/.cache/pocl/kcache")]
    [InlineData(null, "", "/h", "/h/.cache/pocl/kcache")]
    [InlineData(null, null, null, "/tmp/pocl/kcache")]
    public void TheDirectoryPoclWouldUse(string? poclCacheDir, string? xdgCacheHome, string? home, string? expected)
    {
        var env = new Dictionary<string, string?> { ["POCL_CACHE_DIR"] = poclCacheDir, ["XDG_CACHE_HOME"] = xdgCacheHome, ["HOME"] = home };
        Assert.Equal(expected, PoclCacheDirectory.Default(name => env.GetValueOrDefault(name)));
    }

    [Fact]
    public async Task OpenClIsListedWhenPoclsOwnCacheCannotBeMade()
    {
        Devices.Get("opencl"); // skips without OpenCL (fails under CI=true)
        var (code, stdout, stderr) = await CliProcess.RunAsync(["devices"],
            new Dictionary<string, string> { ["XDG_CACHE_HOME"] = "/proc/self/no-such-dir", ["POCL_CACHE_DIR"] = "" });
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("\nopencl:0   yes", stdout);
        Assert.Contains("PoCL cannot create its kernel cache /proc/self/no-such-dir/pocl/kcache: POCL_CACHE_DIR=", stdout);
    }
}
