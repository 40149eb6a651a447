using System.Text.Json;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// `stylize --style-loss meancov` end to end through the CLI: with the tiny random weights (relu1_1, relu2_1) on the
/// fastest device for runs, a small image runs to exit 0, writes its output, and L-BFGS lowers the style loss (read
/// from the --report JSON lines). The loss itself is checked in GaussianW2Tests and TiledEvaluationTests. Without
/// --content-weight, meancov's α is <see cref="LossSettings.DefaultContentWeight"/>'s 25, not gram's 5.
/// </summary>
public sealed class MeanCovCliTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-meancov-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The content (smooth 40×28) and style (uniform noise 36×36) images of both tests, written to the temp folder.</summary>
    private (string Content, string Style) WriteImages()
    {
        var content = Path.Combine(dir, "content.png");
        var style = Path.Combine(dir, "style.png");
        ImageWriter.Save(TestImages.Smooth(40, 28), content);
        ImageWriter.Save(TestImages.Uniform(3, 36, 36), style);
        return (content, style);
    }

    [Fact]
    public void MeanCovRunsAndLowersTheStyleLoss()
    {
        var device = Devices.FastestForRuns;
        Devices.Get(device);
        var (content, style) = WriteImages();
        var output = Path.Combine(dir, "out.png");
        var report = Path.Combine(dir, "report.jsonl");
        string[] args =
        [
            "stylize", "--quiet", "--content", content, "--style", style, "--output", output, "--device", device,
            "--weights", TinyWeights.Write(dir), "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
            "--size", "32", "--scales", "1", "--iterations", "4", "--style-loss", "meancov", "--report", report,
        ];
        var (code, _, err) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args[1..])} → exit {code}");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(output), "no output image");

        var lines = File.ReadAllLines(report).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var iterations = lines.Where(l => l.TryGetProperty("iteration", out _)).ToList();
        var summary = lines.Single(l => l.TryGetProperty("style_loss_kind", out _));
        Assert.Equal("meancov", summary.GetProperty("style_loss_kind").GetString());
        Assert.True(iterations.Count >= 2, $"{iterations.Count} iteration lines");
        double first = iterations[0].GetProperty("style_loss").GetDouble(), last = iterations[^1].GetProperty("style_loss").GetDouble();
        log.WriteLine($"style loss {first} → {last} over {iterations.Count} iterations");
        Assert.True(double.IsFinite(last) && last < 0.5 * first, $"style loss {first} → {last}");
    }

    [Fact]
    public void WithoutAContentWeightMeanCovUsesItsOwnDefault()
    {
        Assert.Equal(5f, new LossSettings().ContentWeight);
        Assert.Equal(25f, new LossSettings { StyleLoss = StyleLossKind.MeanCov }.ContentWeight);
        Assert.Equal(7f, new LossSettings { ContentWeight = 7f, StyleLoss = StyleLossKind.MeanCov }.ContentWeight);
        Assert.Equal(7f, (new LossSettings { ContentWeight = 7f } with { StyleLoss = StyleLossKind.MeanCov }).ContentWeight);

        // Through the CLI: from a noise image the first content loss is α·‖F − P‖²/‖P‖², so the run without
        // --content-weight must give 5× the one with α = 5.
        var device = Devices.FastestForRuns;
        Devices.Get(device);
        var (content, style) = WriteImages();
        var weights = TinyWeights.Write(dir);
        double FirstContentLoss(params string[] extra)
        {
            var report = Path.Combine(dir, $"report{extra.Length}{string.Join("", extra)}.jsonl");
            string[] args =
            [
                "stylize", "--quiet", "--content", content, "--style", style, "--output", Path.Combine(dir, "out.png"),
                "--device", device, "--weights", weights, "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
                "--size", "32", "--scales", "1", "--iterations", "1", "--init", "noise", "--seed", "3",
                "--style-loss", "meancov", "--autotune", "off", "--report", report, .. extra,
            ];
            var (code, _, err) = CliRunner.Run(args);
            Assert.True(code == 0, err);
            var first = File.ReadLines(report).Select(l => JsonDocument.Parse(l).RootElement).First(l => l.TryGetProperty("iteration", out _));
            return first.GetProperty("content_loss").GetDouble();
        }
        double byDefault = FirstContentLoss(), with5 = FirstContentLoss("--content-weight", "5");
        log.WriteLine($"first content loss: default {byDefault}, α=5 {with5}");
        Assert.Equal(5.0, byDefault / with5, 4);
    }
}
