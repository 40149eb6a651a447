using System.Text.Json;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// `ilgpu-style stylize` end to end on real images (shared/images) and real VGG19 weights (converted from
/// shared/vgg19), on every device, reading the run's own --report. On opencl: the default layers (VGG19 up to
/// relu5_1) at 64 px. On the CPU simulator a full VGG19 pass takes over a minute even at 32 px (its cost grows
/// with the weights, not the pixels), so the cpu cases run the same pipeline on the network truncated after
/// relu2_1 (content relu2_1, style relu1_1 + relu2_1) at 32 px: every code path of the run is the same.
/// </summary>
public sealed class StylizeEndToEndTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-e2e-").FullName;

    private static (int Size, int Iterations) Budget(string device) => device == "cpu" ? (32, 10) : (64, 40);

    private static string[] Layers(string device) => device == "cpu"
        ? ["--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1"]
        : [];

    private string[] Args(string device, string output, params string[] extra)
    {
        var images = SharedData.RequireOrSkip("images");
        return [
            "stylize",
            "--content", Path.Combine(images, "tubingen.jpg"),
            "--style", Path.Combine(images, "starry_night.jpg"),
            "--output", output,
            "--weights", RealWeights.Path,
            "--device", device,
            "--scales", "1",
            "--quiet",
            .. Layers(device),
            .. extra,
        ];
    }

    private (int Code, string Err) Stylize(string[] args)
    {
        var (code, _, err) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args)} → exit {code}");
        if (err.Length > 0) log.WriteLine(err);
        return (code, err);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void StyleLossDropsTenfoldAndTheOutputIsAnImageOfTheRightSize(string device)
    {
        Devices.Get(device);
        var (size, iterations) = Budget(device);
        var output = Path.Combine(dir, "out.png");
        var reportPath = Path.Combine(dir, "report.jsonl");
        var (code, err) = Stylize(Args(device, output, "--size", $"{size}", "--iterations", $"{iterations}", "--report", reportPath));
        Assert.True(code == 0, err);

        var lines = File.ReadAllLines(reportPath).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var steps = lines.Where(l => l.TryGetProperty("iteration", out _)).ToList();
        var initial = steps.First();
        var last = steps.Last();
        Assert.Equal(0, initial.GetProperty("iteration").GetInt32());
        Assert.Equal(iterations, last.GetProperty("iteration").GetInt32());
        double style0 = initial.GetProperty("style_loss").GetDouble(), styleN = last.GetProperty("style_loss").GetDouble();
        double contentN = last.GetProperty("content_loss").GetDouble();
        log.WriteLine($"[{device}] {size}px, {iterations} iterations: style {style0:E3} → {styleN:E3} (×{style0 / styleN:F1} lower), content {initial.GetProperty("content_loss").GetDouble():E3} → {contentN:E3}");
        Assert.True(styleN * 10 <= style0, $"style loss fell only from {style0:E3} to {styleN:E3}");
        // Content term = α·‖F − P‖²/‖P‖² with α = 5: below α means the features still resemble the photo's.
        Assert.True(double.IsFinite(contentN) && contentN < 5, $"content loss {contentN:E3} is not bounded");
        foreach (var step in steps)
            Assert.True(double.IsFinite(step.GetProperty("total_loss").GetDouble()));

        var final = lines.Last();
        Assert.Equal(output, final.GetProperty("output").GetString());
        var image = ImageLoader.Load(output);
        var content = ImageLoader.Load(Path.Combine(SharedData.ImagesDir!, "tubingen.jpg"));
        var expected = ImageResizer.FitLongSideSize(content.Width, content.Height, size);
        Assert.Equal(expected, (image.Width, image.Height));
        Assert.Equal(image.Width, final.GetProperty("width").GetInt32());
        Assert.Equal(image.Height, final.GetProperty("height").GetInt32());
        Assert.True(final.GetProperty("peak_device_bytes").GetInt64() > 0);
    }

    // Issue #15: a run whose loss becomes NaN or infinite stops there with one error line naming the iteration and
    // the likely cause, and keeps the best finite image (written atomically), exit 2; the report writes null losses.
    [Fact]
    public void ADivergingRunStopsWithTheBestFiniteImageKept()
    {
        const string device = "cpu";
        Devices.Get(device);
        var output = Path.Combine(dir, "diverged.png");
        var reportPath = Path.Combine(dir, "diverged.jsonl");
        var (code, err) = Stylize(Args(device, output, "--size", "32", "--iterations", "20", "--optimizer", "adam",
            "--learning-rate", "1e30", "--report", reportPath));
        Assert.Equal(2, code);
        var errors = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ")).ToList();
        Assert.Single(errors);
        Assert.Contains("iteration", errors[0]);
        Assert.Contains("--learning-rate", errors[0]);
        var image = ImageLoader.Load(output);
        Assert.All(image.Data, v => Assert.True(float.IsFinite(v)));
        var lines = File.ReadAllLines(reportPath).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(lines, l => l.TryGetProperty("non_finite", out var f) && f.GetBoolean()
                                    && l.GetProperty("total_loss").ValueKind == JsonValueKind.Null);
        Assert.True(lines.Last().TryGetProperty("error", out _));
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SameSeedGivesIdenticalBytesAndAnotherSeedDoesNot(string device)
    {
        Devices.Get(device);
        string Run(string name, int seed)
        {
            var path = Path.Combine(dir, name);
            // The plan fixed (the defaults): with a cold tuning cache another process's first run (InterruptTests) may
            // store a different tuned plan between a and b; same plan and seed ⇒ same bytes is the guarantee.
            var (code, err) = Stylize(Args(device, path, "--size", "32", "--iterations", "3", "--init", "noise", "--seed", $"{seed}", "--autotune", "off"));
            Assert.True(code == 0, err);
            return path;
        }
        var a = File.ReadAllBytes(Run("a.png", 7));
        var b = File.ReadAllBytes(Run("b.png", 7));
        var c = File.ReadAllBytes(Run("c.png", 8));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    /// <summary>
    /// A property of the colour step after the optimization, not of a device's kernels: one fast device suffices (the
    /// CPU simulator's case cost 24 s of CI's budget).
    /// </summary>
    [Fact]
    public void OriginalColorsKeepsTheContentsChroma()
    {
        var device = Devices.FastestForRuns;
        Devices.Get(device);
        var output = Path.Combine(dir, "colors.png");
        var (code, err) = Stylize(Args(device, output, "--size", "32", "--iterations", "4", "--original-colors"));
        Assert.True(code == 0, err);
        var result = ImageLoader.Load(output);
        var content = ImageResizer.Resize(ImageLoader.Load(Path.Combine(SharedData.ImagesDir!, "tubingen.jpg")), result.Width, result.Height);
        var (ours, theirs) = (ColorSpace.ToYCbCr(result), ColorSpace.ToYCbCr(content));
        int plane = result.Plane;
        double meanChroma = 0, meanLuma = 0;
        for (int i = 0; i < plane; i++)
        {
            meanLuma += Math.Abs(ours[i] - theirs[i]);
            meanChroma += Math.Abs(ours[plane + i] - theirs[plane + i]) + Math.Abs(ours[2 * plane + i] - theirs[2 * plane + i]);
        }
        meanChroma /= 2 * plane;
        meanLuma /= plane;
        log.WriteLine($"[{device}] mean |Δchroma| = {meanChroma:E2}, mean |Δluma| = {meanLuma:E2}");
        // 8-bit rounding and gamut clamping move chroma by well under 1/100; the stylized luma differs.
        Assert.True(meanChroma < 0.01, $"chroma moved by {meanChroma:E2} on average");
        Assert.True(meanLuma > 2 * meanChroma, "luminance was not stylized");
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
