using IlgpuStyle.Autodiff;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// `stylize --style-mask`: bad masks (a missing file, a file that is no image, as many masks as styles not given, the
/// wrong aspect ratio, all black) are one error line, exit code 2, nothing written — found before weights or device;
/// the same for --style-image-mask (masks on the style images, with their style image's aspect ratio), which also runs
/// end to end with the tiny weights.
/// And a real run (OpenCL, real weights up to relu3_1, 64 px, 2 scales of 10 iterations) with two styles on the two halves of the content: each
/// half's style loss against its own style falls far more than against the other style.
/// </summary>
public sealed class StyleMaskCliTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-masks-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Save(string name, GreyMask mask)
    {
        var path = Path.Combine(dir, name);
        ImageWriter.Save(mask.ToImage(), path);
        return path;
    }

    private static GreyMask Half(int w, int h, bool left) =>
        new(w, h, Enumerable.Range(0, w * h).Select(i => (i % w < w / 2) == left ? 1f : 0f).ToArray());

    [Fact]
    public void AMissingMaskFile() =>
        AssertRefused("--style-mask: cannot read image", "file not found", ["--style-mask", Path.Combine(dir, "nope.png")]);

    [Fact]
    public void AMaskThatIsNoImage()
    {
        var text = Path.Combine(dir, "mask.png");
        File.WriteAllText(text, "not a png");
        AssertRefused("--style-mask: '", "is not a readable image", ["--style-mask", text]);
    }

    [Fact]
    public void AMaskCountOtherThanTheStyleCount()
    {
        var mask = Save("m.png", Half(40, 24, true));
        AssertRefused("--style-mask has 1 mask for 2 style images", "one mask per --style", ["--style-mask", mask], twoStyles: true);
        AssertRefused("--style-mask has 2 masks for 1 style image", "in the same order", ["--style-mask", mask, mask]);
    }

    [Fact]
    public void AMaskOfAnotherShapeOrAllBlack()
    {
        AssertRefused("is 24×40 (aspect 0.6) but the content is 40×24", "resized, not stretched", ["--style-mask", Save("tall.png", Half(24, 40, true))]);
        AssertRefused("black.png' is black everywhere", "apply nowhere", ["--style-mask", Save("black.png", new GreyMask(20, 12, new float[240]))]);
    }

    [Fact]
    public void MasksWithTheMeanCovLossAreRefused() =>
        AssertRefused("--style-mask works with --style-loss gram only", "not implemented",
            ["--style-mask", Save("left.png", Half(40, 24, true)), "--style-loss", "meancov"]);

    [Fact]
    public void BadStyleImageMasks()
    {
        // The style image here is the content (40×24): its masks must have that shape.
        var mask = Save("m.png", Half(20, 12, true));
        AssertRefused("--style-image-mask has 1 mask for 2 style images", "one mask per --style", ["--style-image-mask", mask], twoStyles: true);
        AssertRefused("--style-image-mask: cannot read image", "file not found", ["--style-image-mask", Path.Combine(dir, "nope.png")]);
        var text = Path.Combine(dir, "text.png");
        File.WriteAllText(text, "not a png");
        AssertRefused("--style-image-mask: '", "is not a readable image", ["--style-image-mask", text]);
        AssertRefused("style image mask '" + Path.Combine(dir, "tall.png") + "' is 24×40 (aspect 0.6) but its style image", "resized, not stretched",
            ["--style-image-mask", Save("tall.png", Half(24, 40, true))]);
        AssertRefused("black.png' is black everywhere", "no statistics", ["--style-image-mask", Save("black.png", new GreyMask(20, 12, new float[240]))]);
        AssertRefused("--style-image-mask works with --style-loss gram only", "not implemented", ["--style-image-mask", mask, "--style-loss", "meancov"]);
    }

    /// <summary>
    /// `--style-image-mask` end to end with the tiny random weights (relu1_1, relu2_1) on the fastest device for runs:
    /// two styles, each with a mask on its image and one on the content, 2 scales, --style-scale 0.75 and Adam (one
    /// evaluation per iteration: a CLI run also compiles every kernel again, ~12 s here; 16 px tiles added 5–10 s, and
    /// the tiled targets are StyleImageMaskTests'): exit 0, an output, a finite style loss that falls.
    /// </summary>
    [Fact]
    public void StyleImageMasksRunEndToEnd()
    {
        var device = Devices.FastestForRuns;
        Devices.Get(device);
        var content = Path.Combine(dir, "content.png");
        var styleA = Path.Combine(dir, "a.png");
        var styleB = Path.Combine(dir, "b.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), content);
        ImageWriter.Save(Imaging.TestImages.Uniform(3, 36, 36), styleA);
        ImageWriter.Save(Imaging.TestImages.Blocks(6, 3, 8), styleB);
        var output = Path.Combine(dir, "out.png");
        var report = Path.Combine(dir, "report.jsonl");
        string[] args =
        [
            "stylize", "--quiet", "--content", content, "--style", styleA, styleB, "--output", output, "--device", device,
            "--style-mask", Save("left.png", Half(20, 12, true)), Save("right.png", Half(20, 12, false)),
            "--style-image-mask", Save("a-top.png", new GreyMask(12, 12, Enumerable.Range(0, 144).Select(i => i < 72 ? 1f : 0.1f).ToArray())),
            Save("b-left.png", Half(48, 24, true)),
            "--weights", TinyWeights.Write(dir), "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
            "--size", "32", "--scales", "2", "--style-scale", "0.75", "--iterations", "3", "--optimizer", "adam", "--report", report,
        ];
        var (code, _, err) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args[1..])} → exit {code}");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(output), "no output image");
        var losses = File.ReadAllLines(report).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Where(l => l.TryGetProperty("iteration", out _)).Select(l => (Scale: l.GetProperty("scale").GetInt32(), Loss: l.GetProperty("style_loss").GetDouble())).ToList();
        log.WriteLine($"style loss per iteration: {string.Join(", ", losses.Select(v => $"s{v.Scale} {v.Loss:G4}"))}");
        Assert.Equal([1, 2], losses.Select(v => v.Scale).Distinct());
        Assert.All(losses, v => Assert.True(double.IsFinite(v.Loss) && v.Loss > 0));
        var last = losses.Where(v => v.Scale == 2).ToList();
        Assert.True(last[^1].Loss < last[0].Loss, "the style loss did not fall at the last scale");
    }

    private void AssertRefused(string message, string more, string[] extra, bool twoStyles = false)
    {
        // Synthetic images and no weights: masks are refused before the weights or a device are touched.
        var content = Path.Combine(dir, "content.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), content);
        var output = Path.Combine(dir, "out", "o.png");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var (code, _, err) = CliRunner.Run(["stylize", "--quiet", "--content", content, "--style", content, .. twoStyles ? new[] { content } : [],
            "--output", output, "--size", "40", "--iterations", "1", "--device", "cpu", "--weights", Path.Combine(dir, "none.ilgw"), .. extra]);
        log.WriteLine($"exit {code}: {err.Trim()}");
        Assert.Equal(2, code);
        Assert.Matches(@"^error: [^\n]*\n?$", err);
        Assert.Contains(message, err);
        Assert.Contains(more, err);
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!));
    }

    /// <summary>
    /// Through the library on the tests' shared OpenCL device (a CLI run opens its own and compiles every kernel again:
    /// 13 s of this machine's time for nothing new — the option's path to StyleImage.Mask is the error cases' above).
    /// </summary>
    [Fact]
    public void EachHalfTakesItsOwnStyle()
    {
        var gpu = Devices.Get("opencl");
        var images = SharedData.RequireOrSkip("images");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var settings = new LossSettings { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"] };
        using var network = new Vgg19(gpu, VggWeights.Load(RealWeights.Path), PoolingKind.Max, settings.Layers);
        var photo = ImageLoader.Load(Path.Combine(images, "tubingen.jpg"));
        RgbImage a = ImageLoader.Load(Path.Combine(images, "starry_night.jpg")), b = ImageLoader.Load(Path.Combine(images, "woman-with-hat-matisse.jpg"));
        // Masks as files at a quarter of the output's size: loaded as the CLI does, resized with the content at each scale.
        var left = GreyMask.Load(Save("left.png", Half(16, 12, true)));
        var right = GreyMask.Load(Save("right.png", Half(16, 12, false)));
        var run = Stylizer.Run(network, photo, [new StyleImage(a) { Mask = left }, new StyleImage(b) { Mask = right }], settings,
            new RunSettings { Size = 64, Scales = 2, Iterations = 10 }, observer: null, TestContext.Current.CancellationToken);
        log.WriteLine($"run: {clock.Elapsed.TotalSeconds:0.0} s");

        // Each half's style loss against each style, at the start (the content) and in the result.
        var result = run.Image;
        var content = ImageResizer.Resize(photo, result.Width, result.Height);
        float StyleLoss(RgbImage image, RgbImage style, bool leftHalf)
        {
            using var x = ImageTensors.ToDevice(gpu, image);
            using var s = ImageTensors.ToDevice(gpu, ImageResizer.FitLongSide(style, 64));
            using var c = ImageTensors.ToDevice(gpu, content);
            using var gradient = gpu.Allocate(x.Shape);
            using var loss = new GatysLoss(network, c, [(s, 1f)], settings, null, [Half(result.Width, result.Height, leftHalf)]);
            loss.Evaluate(x, gradient);
            return loss.Last.Style;
        }
        double Drop(RgbImage style, bool leftHalf) => StyleLoss(content, style, leftHalf) / StyleLoss(result, style, leftHalf);
        double leftOwn = Drop(a, true), leftOther = Drop(b, true), rightOwn = Drop(b, false), rightOther = Drop(a, false);
        log.WriteLine($"measured in {clock.Elapsed.TotalSeconds:0.0} s; style loss start/end: left half vs its style (starry night) ×{leftOwn:F1}, " +
                      $"vs the other ×{leftOther:F1}; right half vs its style (Matisse) ×{rightOwn:F1}, vs the other ×{rightOther:F1}");
        Assert.True(leftOwn > 5 && rightOwn > 5, "a half's own style loss fell less than 5×");
        Assert.True(leftOwn > 3 * leftOther && rightOwn > 3 * rightOther, "a half moved towards the other style nearly as much as towards its own");
    }
}
