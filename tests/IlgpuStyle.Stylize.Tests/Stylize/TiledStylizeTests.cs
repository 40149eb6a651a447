using System.Text.Json;
using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Issue #12 end to end: a whole stylization in tiles makes the untiled picture; a --max-memory that the whole image
/// does not fit runs in tiles and its measured peak stays under the cap; a cap below the smallest tiles is one line,
/// exit code 3, nothing written.
/// </summary>
public sealed class TiledStylizeTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-tiled-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// Bitwise-equal activations make the same picture: with the direct convolution kernels (winograd=0; the device's own
    /// copy, so no other test sees the plan) a tile's exact region is computed in the same order as the whole image's.
    /// Winograd mixes a tile's whole input patch (4×4 for F(2×2, 3×3), 6×6 for F(4×4, 3×3)), halo values included, so there each evaluation matches up to
    /// float rounding (TiledEvaluationTests, on every device's default plan), and a few L-BFGS steps on this tiny random
    /// network amplify that (Max pooling: 60/255 after 8 iterations).
    /// </summary>
    [Theory]
    [InlineData(PoolingKind.Max)]
    [InlineData(PoolingKind.Avg)]
    public void ATiledStylizationMakesTheUntiledPicture(PoolingKind pooling)
    {
        Devices.Get("opencl"); // skips without OpenCL (fails under CI=true)
        using var gpu = DeviceCatalog.Open("opencl");
        gpu.UsePlan(gpu.Plan with { WinogradMinChannels = 0 });
        var loss = new LossSettings { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1"] };
        using var network = new Vgg19(gpu, RandomVggWeights.Create(4), pooling, loss.Layers);
        var content = TestImages.Smooth(60, 42);
        var styles = new[] { new StyleImage(TestImages.Uniform(8, 50, 50)) };
        var run = new RunSettings { Size = 60, Scales = 2, Iterations = 4 };
        var cancel = TestContext.Current.CancellationToken;
        var whole = Stylizer.Run(network, content, styles, loss, run, cancel: cancel);
        var tiled = Stylizer.Run(network, content, styles, loss, run with { TileSide = 16 }, cancel: cancel);
        Assert.All(whole.Plans, p => Assert.Null(p.Tiles));
        Assert.All(tiled.Plans, p => Assert.NotNull(p.Tiles));
        log.WriteLine(string.Join("; ", tiled.Plans));
        double most = whole.Image.Data.Zip(tiled.Image.Data, (a, b) => Math.Abs(Math.Clamp(a, 0, 1) - Math.Clamp(b, 0, 1))).Max();
        log.WriteLine($"max pixel difference {most * 255:0.000}/255; losses {whole.FinalLoss.Total} vs {tiled.FinalLoss.Total}");
        Assert.True(most <= 1.0 / 255, $"max pixel difference {most * 255:0.000}/255");
    }

    private string[] Args(string output, params string[] more) => ArgsOn("cpu", output, more);

    private string[] ArgsOn(string device, string output, params string[] more) =>
    [
        "stylize", "--content", Content(), "--style", Style(), "--output", output, "--device", device,
        "--weights", TinyWeights.Write(dir), "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
        "--scales", "1", "--iterations", "2", "--lbfgs-history", "5", .. more,
    ];

    private string Content()
    {
        var path = Path.Combine(dir, "content.png");
        if (!File.Exists(path)) IlgpuStyle.Stylize.Imaging.ImageWriter.Save(TestImages.Smooth(48, 36), path);
        return path;
    }

    private string Style()
    {
        var path = Path.Combine(dir, "style.png");
        if (!File.Exists(path)) IlgpuStyle.Stylize.Imaging.ImageWriter.Save(TestImages.Uniform(9, 40, 40), path);
        return path;
    }

    private static Dictionary<string, JsonElement> FinalLine(string report) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadLines(report).Last())!;

    [Fact]
    public void ACapTheWholeImageDoesNotFitRunsInTilesUnderTheCap()
    {
        Devices.Get("opencl"); // skips without OpenCL (fails under CI=true)
        var output = Path.Combine(dir, "whole.png");
        var report = Path.Combine(dir, "whole.jsonl");
        var (code, _, err) = CliRunner.Run([.. ArgsOn("opencl", output, "--size", "96", "--report", report)]);
        Assert.True(code == 0, err);
        var whole = FinalLine(report);
        long untiledPeak = whole["peak_device_bytes"].GetInt64();
        Assert.Equal(1, whole["tiles"].GetInt32());
        long cap = untiledPeak * 6 / 10;

        var tiledOutput = Path.Combine(dir, "tiled.png");
        var tiledReport = Path.Combine(dir, "tiled.jsonl");
        (code, _, err) = CliRunner.Run([.. ArgsOn("opencl", tiledOutput, "--size", "96", "--report", tiledReport, "--max-memory", cap.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        log.WriteLine(err);
        Assert.True(code == 0, err);
        var tiled = FinalLine(tiledReport);
        long peak = tiled["peak_device_bytes"].GetInt64();
        log.WriteLine($"untiled peak {untiledPeak} B; cap {cap} B → {tiled["plan"]}, measured peak {peak} B");
        Assert.True(tiled["tiles"].GetInt32() > 1);
        Assert.Contains("plan: ", err);
        Assert.True(peak <= cap, $"peak {peak} > cap {cap}");
        Assert.True(File.Exists(tiledOutput));
    }

    [Fact]
    public void ACapBelowTheSmallestTilesIsOneLineExitThreeAndNothingWritten()
    {
        var output = Path.Combine(dir, "never.png");
        var report = Path.Combine(dir, "never.jsonl");
        var (code, _, err) = CliRunner.Run([.. Args(output, "--size", "2000", "--max-memory", "64M", "--quiet", "--report", report)]);
        log.WriteLine(err);
        Assert.Equal(3, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^error: a 2000×1500 image up to relu2_1 needs at least .* Use --max-memory \d+M or more", line);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(report));
    }

    [Theory]
    [InlineData("--max-memory", "lots")]
    [InlineData("--max-memory", "0")]
    [InlineData("--max-memory", "1e400G")]
    [InlineData("--tile-size", "8")]
    public void BadMemoryOptionsAreOneLineExitTwo(string option, string value)
    {
        var output = Path.Combine(dir, "bad.png");
        var (code, _, err) = CliRunner.Run([.. Args(output, "--size", "32", "--quiet", option, value)]);
        log.WriteLine(err);
        Assert.Equal(2, code);
        Assert.Matches(@"^error: [^\n]*\n?$", err);
        Assert.False(File.Exists(output));
    }

    /// <summary>Found while adding --max-memory: a bad ILGPU_STYLE_MAX_MEMORY was an unhandled FormatException (exit 1).</summary>
    [Theory]
    [InlineData("lots")]
    [InlineData("-1G")]
    [InlineData("1e400G")]
    public void ABadMemoryVariableIsOneLineExitTwo(string value)
    {
        var output = Path.Combine(dir, "bad.png");
        var (code, _, err) = CliRunner.Run(new Dictionary<string, string?> { ["ILGPU_STYLE_MAX_MEMORY"] = value },
            [.. Args(output, "--size", "32", "--quiet")]);
        log.WriteLine(err);
        Assert.Equal(2, code);
        Assert.Matches(@"^error: ILGPU_STYLE_MAX_MEMORY: [^\n]*\n?$", err);
        Assert.False(File.Exists(output));
    }
}
