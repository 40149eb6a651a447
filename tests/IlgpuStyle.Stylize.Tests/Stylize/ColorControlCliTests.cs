using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// `stylize --color-control none|original|luminance|histogram` (and --original-colors [1|0], its alias for original): bad
/// values are one error line, exit 2, nothing written; and one short real run per mode on the cpu device — real
/// images and weights, the network truncated after relu2_1 at 32 px, as <see cref="StylizeEndToEndTests"/>' cpu cases.
/// </summary>
public sealed class ColorControlCliTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-colors-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("sepia")]
    [InlineData("")]
    [InlineData("Luminance")]
    public void AnUnknownModeIsOneErrorLine(string value) =>
        AssertRefused($"'{value}' not recognized. Must be one of: 'none' 'original' 'luminance' 'histogram'", "--color-control", value);

    [Theory]
    [InlineData("none")]
    [InlineData("luminance")]
    [InlineData("histogram")]
    public void OriginalColorsContradictingColorControlIsOneErrorLine(string mode) =>
        AssertRefused($"contradicts --color-control {mode}", "--color-control", mode, "--original-colors");

    /// <summary>
    /// --original-colors takes jcjohnson's 1 and 0 too: 1 contradicts luminance as the flag does; 0 does not, and the
    /// run goes on to its next check (the 16 px image is too small for VGG19).
    /// </summary>
    [Fact]
    public void OriginalColorsTakesOneOrZero()
    {
        AssertRefused("contradicts --color-control luminance", "--color-control", "luminance", "--original-colors", "1");
        AssertRefused("contradicts --color-control luminance", "--color-control", "luminance", "--original-colors", "true");
        AssertRefused("at --size 16 the image is 16×10", "--color-control", "luminance", "--original-colors", "0");
    }

    private void AssertRefused(string message, params string[] extra)
    {
        // Synthetic images and no weights: the option is refused before any file or device is touched.
        var content = Path.Combine(dir, "content.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), content);
        var output = Path.Combine(dir, "out", "o.png");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var (code, _, err) = CliRunner.Run(["stylize", "--quiet", "--content", content, "--style", content, "--output", output,
            "--size", "16", "--iterations", "1", "--device", "cpu", "--weights", Path.Combine(dir, "none.ilgw"), .. extra]);
        log.WriteLine($"exit {code}: {err.Trim()}");
        Assert.Equal(2, code);
        Assert.Matches(@"^error: [^\n]*\n?$", err);
        Assert.Contains(message, err.Replace("\t", ""));
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!));
    }

    private string Stylize(string name, params string[] extra)
    {
        Devices.Get("cpu");
        var images = SharedData.RequireOrSkip("images");
        var output = Path.Combine(dir, name);
        string[] args = [
            "stylize", "--quiet",
            "--content", Path.Combine(images, "tubingen.jpg"),
            "--style", Path.Combine(images, "starry_night.jpg"),
            "--output", output, "--weights", RealWeights.Path, "--device", "cpu",
            "--size", "32", "--scales", "1", "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
            .. extra,
        ];
        var (code, _, err) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args[1..])} → exit {code}");
        Assert.True(code == 0, err);
        return output;
    }

    private static RgbImage Content(int width, int height) =>
        ImageResizer.Resize(ImageLoader.Load(Path.Combine(SharedData.ImagesDir!, "tubingen.jpg")), width, height);

    /// <summary>Mean |Δ| of the luma plane and of the two chroma planes between two images of one size.</summary>
    private static (double Luma, double Chroma) Differences(RgbImage a, RgbImage b)
    {
        var (ya, yb) = (ColorSpace.ToYCbCr(a), ColorSpace.ToYCbCr(b));
        int n = a.Plane;
        double luma = 0, chroma = 0;
        for (int i = 0; i < n; i++)
        {
            luma += Math.Abs(ya[i] - yb[i]);
            chroma += Math.Abs(ya[n + i] - yb[n + i]) + Math.Abs(ya[2 * n + i] - yb[2 * n + i]);
        }
        return (luma / n, chroma / (2 * n));
    }

    [Fact]
    public void LuminanceKeepsTheContentsChromaAndOriginalIsOriginalColors()
    {
        var result = ImageLoader.Load(Stylize("luminance.png", "--iterations", "2", "--color-control", "luminance"));
        var content = Content(result.Width, result.Height);
        var (luma, chroma) = Differences(result, content);
        log.WriteLine($"luminance mode vs content: mean |Δluma| = {luma:E2}, mean |Δchroma| = {chroma:E2}");
        // 8-bit rounding and gamut clamping move chroma by well under 1/100; the stylized luma differs.
        Assert.True(chroma < 0.01, $"chroma moved by {chroma:E2} on average");
        Assert.True(luma > 2 * chroma, "luminance was not stylized");

        // --original-colors is --color-control original (both together are consistent), and not the luminance
        // mode: there the optimization saw the colour images.
        var original = Stylize("original.png", "--iterations", "2", "--color-control", "original", "--original-colors");
        var alias = Stylize("alias.png", "--iterations", "2", "--original-colors");
        Assert.Equal(File.ReadAllBytes(alias), File.ReadAllBytes(original));
        var (lumaVsOriginal, _) = Differences(result, ImageLoader.Load(original));
        log.WriteLine($"luminance vs original: mean |Δluma| = {lumaVsOriginal:E2}");
        Assert.True(lumaVsOriginal > 1e-3, "luminance mode gave the original-colours image");
    }

    [Fact]
    public void HistogramGivesTheStyleTheContentsColours()
    {
        // Start from the style image and barely move (Adam, lr 1e-3, one step): the output is the style as the
        // optimization saw it, so its mean colour is the content's, not the painting's.
        var result = ImageLoader.Load(Stylize("histogram.png", "--init", "style", "--optimizer", "adam", "--learning-rate", "0.001",
            "--iterations", "1", "--color-control", "histogram"));
        var content = Content(result.Width, result.Height);
        var painting = ImageResizer.Resize(ImageLoader.Load(Path.Combine(SharedData.ImagesDir!, "starry_night.jpg")), result.Width, result.Height);
        double Distance(RgbImage a) => Enumerable.Range(0, 3).Max(c =>
            Math.Abs(a.Data.Skip(c * a.Plane).Take(a.Plane).Average() - content.Data.Skip(c * a.Plane).Take(a.Plane).Average()));
        double matched = Distance(result), unmatched = Distance(painting);
        log.WriteLine($"largest channel-mean difference from the content: histogram result {matched:F4}, the painting {unmatched:F4}");
        Assert.True(matched < 0.03, $"histogram: mean colour {matched:F4} away from the content's");
        Assert.True(unmatched > 3 * matched, "the painting's colours were already the photo's: the test shows nothing");
    }
}
