using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests;

/// <summary>
/// The accelerators kernel tests run on: always "cpu" (ILGPU's simulator), and "opencl" when a usable
/// OpenCL device exists. Without one, OpenCL cases are reported as skipped with the reason — except
/// under CI=true, where a missing OpenCL device fails the test (CI installs PoCL and must exercise it).
/// Each device is opened once per test run and shared.
/// </summary>
public static class Devices
{
    public static readonly TheoryData<string> All = new() { "cpu", "opencl" };

    /// <summary>Every device × every (channels, height, width) image shape: the usual kernel-test cases.</summary>
    public static TheoryData<string, int, int, int> WithShapes(params (int C, int H, int W)[] shapes)
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var device in new[] { "cpu", "opencl" })
        foreach (var (c, h, w) in shapes)
            data.Add(device, c, h, w);
        return data;
    }

    private static readonly Lazy<Gpu> Cpu = new(() => DeviceCatalog.Open("cpu"));
    private static readonly Lazy<(Gpu? Gpu, string? Why)> OpenCl = new(OpenOpenCl);

    public static Gpu Get(string name)
    {
        if (name == "cpu") return Cpu.Value;
        var (gpu, why) = OpenCl.Value;
        if (gpu is null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
                throw new InvalidOperationException($"CI=true but no usable OpenCL device: {why}");
            Assert.Skip($"OpenCL case skipped: {why}");
        }
        return gpu!;
    }

    private static (Gpu?, string?) OpenOpenCl()
    {
        try
        {
            var list = DeviceCatalog.List().Where(d => d.Id.StartsWith("opencl")).ToList();
            var usable = list.FirstOrDefault(d => d.Usable);
            if (usable is null)
                return (null, list.Count == 0
                    ? "no OpenCL device found (install PoCL >= 6: see README)"
                    : "no usable OpenCL device: " + string.Join("; ", list.Select(d => $"{d.Id} {d.WhyNot}")));
            return (DeviceCatalog.Open(usable.Id), null);
        }
        catch (Exception e)
        {
            return (null, "OpenCL could not be initialised: " + e.Message);
        }
    }
}
