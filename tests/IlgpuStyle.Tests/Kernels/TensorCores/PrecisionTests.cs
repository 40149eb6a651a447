using System.Text.Json;
using IlgpuStyle.Kernels;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// --precision (<see cref="Precisions.Apply"/>): tf32 and bf16 put a device with tensor cores (here the 32-lane-warp
/// simulator, which runs the same kernels with the emulated mma) on the tensor-core convolution and Gram kernels; on a
/// device without them (OpenCL, the 4-lane simulator) the plan is unchanged and a note says FP32 runs; fp32 changes
/// nothing. Through the CLI: stylize --precision tf32 and bf16 on OpenCL exit 0, print the note, report "precision":
/// "fp32"; an unknown precision is one error line, exit 2. Names round-trip (<see cref="Precisions.Name"/>, Parse). The kernels themselves: Conv2dTensorCoreTests, GramTensorCoreTests.
/// </summary>
public sealed class PrecisionTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-precision-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Tf32SwitchesADeviceWithTensorCoresToTheTensorCoreKernels()
    {
        using var gpu = DeviceCatalog.OpenWarp32Simulator(); // its own: Apply changes the device's plan
        gpu.UsePlan(gpu.Plan with { WinogradMinChannels = 64 }); // as a GPU's tuned plan has it (H200: winograd=64)
        var before = gpu.Plan;
        Assert.Equal(Precision.Fp32, Precisions.Apply(gpu, Precision.Fp32, out var none));
        Assert.Null(none);
        Assert.Equal(before, gpu.Plan);

        Assert.Equal(Precision.Tf32, Precisions.Apply(gpu, Precision.Tf32, out var note));
        Assert.Null(note);
        // 64 work-items per group on this simulator: 2 warps along pixels × 1 along channels.
        var expected = new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 1, 8);
        Assert.Equal(expected, Precisions.TensorCoreConv(ConvKernelKind.TensorCoreTf32, gpu.Accelerator.MaxNumThreadsPerGroup));
        // Every 3×3 layer on the tensor cores: Winograd (FP32) off, whatever the tuned plan's threshold was.
        Assert.Equal(before with { Conv = expected, Gram = GramKernelKind.TensorCoreTf32, WinogradMinChannels = 0 }, gpu.Plan);
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8), Precisions.TensorCoreConv(ConvKernelKind.TensorCoreTf32, 1024)); // a GPU
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8), Precisions.TensorCoreConv(ConvKernelKind.TensorCoreTf32, 128));

        Assert.Equal(Precision.Bf16, Precisions.Apply(gpu, Precision.Bf16, out var bf16Note));
        Assert.Null(bf16Note);
        Assert.Equal(before with { Conv = expected with { Kind = ConvKernelKind.TensorCoreBf16, InputChunk = 16 }, Gram = GramKernelKind.TensorCoreBf16, WinogradMinChannels = 0 },
            gpu.Plan);
    }

    /// <summary>
    /// A tensor-core precision on a device with tensor cores needs no FP32 tuning (its kernels are all replaced); FP32, or
    /// a device without tensor cores (which runs FP32), does. The warp-32 simulator stands for the GPU.
    /// </summary>
    [Fact]
    public void OnlyFp32KernelsNeedTheFp32Tuning()
    {
        using var gpu = DeviceCatalog.OpenWarp32Simulator();
        Assert.Null(Precisions.NoFp32TuningBecause(gpu, Precision.Fp32));
        Assert.Contains("--precision tf32", Precisions.NoFp32TuningBecause(gpu, Precision.Tf32));
        Assert.Contains("--precision bf16", Precisions.NoFp32TuningBecause(gpu, Precision.Bf16));
        foreach (var p in Enum.GetValues<Precision>()) Assert.Null(Precisions.NoFp32TuningBecause(Devices.Get("cpu"), p));
    }

    [Fact]
    public void PrecisionNamesRoundTrip()
    {
        foreach (var p in Enum.GetValues<Precision>()) Assert.Equal(p, Precisions.Parse(Precisions.Name(p)));
        Assert.Throws<ArgumentException>(() => Precisions.Parse("fp16"));
    }

    [Theory]
    [InlineData("cpu", Precision.Tf32)]
    [InlineData("opencl", Precision.Tf32)]
    [InlineData("cpu", Precision.Bf16)]
    [InlineData("opencl", Precision.Bf16)]
    public void TensorCorePrecisionOnADeviceWithoutTensorCoresSaysSoAndStaysFp32(string device, Precision wanted)
    {
        var gpu = Devices.Get(device);
        var before = gpu.Plan;
        Assert.Equal(Precision.Fp32, Precisions.Apply(gpu, wanted, out var note));
        log.WriteLine(note ?? "(no note)");
        Assert.NotNull(note);
        Assert.Contains($"--precision {Precisions.Name(wanted)}:", note);
        Assert.Contains("Running FP32", note);
        Assert.Equal(before, gpu.Plan);
    }

    [Fact]
    public void TheCliTakesTensorCorePrecisionsOnOpenClRunsFp32AndReportsIt()
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
        foreach (var precision in new[] { "tf32", "bf16" })
        {
            var (code, _, err) = CliRunner.Run(Args(precision));
            log.WriteLine(err);
            Assert.True(code == 0, err);
            Assert.Contains($"--precision {precision}:", err);
            var final = File.ReadLines(report).Select(l => JsonDocument.Parse(l).RootElement).Last();
            Assert.Equal("fp32", final.GetProperty("precision").GetString());
        }

        var (bad, _, badErr) = CliRunner.Run(Args("fp16"));
        Assert.Equal(2, bad);
        Assert.Single(badErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
