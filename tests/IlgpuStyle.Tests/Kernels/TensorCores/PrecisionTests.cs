using System.Text.Json;
using IlgpuStyle.Kernels;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// --precision (<see cref="Precisions.Apply"/>): tf32 puts a device with TF32 tensor cores (here the 32-lane-warp
/// simulator, which runs the same kernels with the emulated mma) on the tensor-core convolution and Gram kernels; on a
/// device without them (OpenCL, the 4-lane simulator) the plan is unchanged and a note says FP32 runs; fp32 changes
/// nothing. Through the CLI: stylize --precision tf32 on OpenCL exits 0, prints the note, reports "precision": "fp32";
/// an unknown precision is one error line, exit 2. The kernels themselves: Conv2dTensorCoreTests, GramTensorCoreTests.
/// </summary>
public sealed class PrecisionTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-precision-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Tf32SwitchesADeviceWithTensorCoresToTheTensorCoreKernels()
    {
        using var gpu = DeviceCatalog.OpenWarp32Simulator(); // its own: Apply changes the device's plan
        var before = gpu.Plan;
        Assert.Equal(Precision.Fp32, Precisions.Apply(gpu, Precision.Fp32, out var none));
        Assert.Null(none);
        Assert.Equal(before, gpu.Plan);

        Assert.Equal(Precision.Tf32, Precisions.Apply(gpu, Precision.Tf32, out var note));
        Assert.Null(note);
        // 64 work-items per group on this simulator: 2 warps along pixels × 1 along channels.
        var expected = new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 1, 8);
        Assert.Equal(expected, Precisions.Tf32Conv(gpu.Accelerator.MaxNumThreadsPerGroup));
        Assert.Equal(before with { Conv = expected, Gram = GramKernelKind.TensorCoreTf32 }, gpu.Plan);
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8), Precisions.Tf32Conv(1024)); // a GPU
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("opencl")]
    public void Tf32OnADeviceWithoutTensorCoresSaysSoAndStaysFp32(string device)
    {
        var gpu = Devices.Get(device);
        var before = gpu.Plan;
        Assert.Equal(Precision.Fp32, Precisions.Apply(gpu, Precision.Tf32, out var note));
        log.WriteLine(note ?? "(no note)");
        Assert.NotNull(note);
        Assert.Contains("Running FP32", note);
        Assert.Equal(before, gpu.Plan);
    }

    [Fact]
    public void TheCliTakesTf32OnOpenClRunsFp32AndReportsIt()
    {
        const string device = "opencl"; // a device without tensor cores, also on a machine with a GPU
        Devices.Get(device);
        var content = Path.Combine(dir, "content.png");
        var style = Path.Combine(dir, "style.png");
        ImageWriter.Save(TestImages.Smooth(24, 20), content);
        ImageWriter.Save(TestImages.Uniform(3, 24, 24), style);
        var report = Path.Combine(dir, "report.jsonl");
        string[] Args(string precision) =>
        [
            "stylize", "--content", content, "--style", style, "--output", Path.Combine(dir, "out.png"), "--device", device,
            "--weights", TinyWeights.Write(dir), "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
            "--size", "16", "--scales", "1", "--iterations", "1", "--report", report, "--precision", precision,
        ];
        var (code, _, err) = CliRunner.Run(Args("tf32"));
        log.WriteLine(err);
        Assert.True(code == 0, err);
        Assert.Contains("--precision tf32:", err);
        var final = File.ReadLines(report).Select(l => JsonDocument.Parse(l).RootElement).Last();
        Assert.Equal("fp32", final.GetProperty("precision").GetString());

        var (bad, _, badErr) = CliRunner.Run(Args("fp16"));
        Assert.Equal(2, bad);
        Assert.Single(badErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
