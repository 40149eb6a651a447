using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// A machine where auto falls back to the CPU simulator (no CUDA, no usable OpenCL: here the OpenCL loader given an
/// empty folder of ICD files) is told how to get OpenCL on its CPU, instead of starting a run of hours in silence.
/// </summary>
public sealed class SimulatorFallbackTests
{
    [Fact]
    public async Task DevicesSaysHowToGetOpenClWhenAutoPicksTheSimulator()
    {
        if (DeviceCatalog.List().Any(d => d.Kind == ILGPU.Runtime.AcceleratorType.Cuda))
            Assert.Skip("a CUDA device is present: auto picks it, not the simulator");
        using var empty = new TempDir();
        var (code, stdout, stderr) = await CliProcess.RunAsync(["devices"], new Dictionary<string, string> { ["OCL_ICD_VENDORS"] = empty.Path });
        Assert.True(code == 0, stdout + stderr);
        Assert.DoesNotContain("opencl:", stdout);
        Assert.Contains("auto picks: cpu\n", stdout);
        Assert.Contains("install PoCL ≥ 6 (Debian 13, Ubuntu 24.04: apt-get install pocl-opencl-icd", stdout);
    }
}
