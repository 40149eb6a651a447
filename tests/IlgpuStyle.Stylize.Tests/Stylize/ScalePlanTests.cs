using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Which scales a run can use: VGG19's minimum side per layer, coarse scales skipped for wide images, and style images
/// whose short side would fall under the minimum raised to it.
/// </summary>
public sealed class ScalePlanTests
{
    [Theory]
    [InlineData("relu1_1", 1)]
    [InlineData("pool1", 2)]
    [InlineData("relu2_1", 2)]
    [InlineData("relu4_2", 8)]
    [InlineData("pool4", 16)]
    [InlineData("relu5_1", 16)]
    public void MinimumSideIsTwoToThePoolingsBeforeTheLayer(string layer, int side) =>
        Assert.Equal(side, Vgg19.MinimumSide(layer));

    [Fact]
    public void AWideImagesCoarsestScaleIsSkippedNotFed()
    {
        // Issue #15: a 760×400 photo at --size 96 with 3 scales: scale 1 is 24×13, too small for pool4.
        var observer = new RecordingObserver();
        int first = Stylizer.FirstScale("relu5_1", 760, 400, new RunSettings { Size = 96, Scales = 3 }, observer);
        Assert.Equal(2, first);
        Assert.Contains(observer.Messages, m => m.Contains("skipped"));
        Assert.Equal(1, Stylizer.FirstScale("relu5_1", 400, 400, new RunSettings { Size = 96, Scales = 3 }));
        Assert.Equal(1, Stylizer.FirstScale("relu2_1", 760, 400, new RunSettings { Size = 96, Scales = 3 }));
        // Scales whose long side would be under 16 px are skipped too: 48 px with 3 scales = 12, 24, 48.
        Assert.Equal(2, Stylizer.FirstScale("relu2_1", 400, 400, new RunSettings { Size = 48, Scales = 3 }));
    }

    [Fact]
    public void TooSmallEvenAtTheLastScaleNamesTheSizeNeeded()
    {
        var e = Assert.Throws<StylizeUsageException>(() =>
            Stylizer.FirstScale("relu5_1", 1000, 100, new RunSettings { Size = 100, Scales = 1 }));
        Assert.Contains("--size 160", e.Message); // short side 10 → needs 16: 100·16/10
    }

    [Fact]
    public void AnImageTooLargeToIndexNamesTheSizeThatFits()
    {
        var e = Assert.Throws<StylizeUsageException>(() =>
            Stylizer.FirstScale("relu5_1", 4000, 3000, new RunSettings { Size = 100000, Scales = 1 }));
        Assert.Contains("use --size", e.Message);
        int fits = int.Parse(e.Message[(e.Message.LastIndexOf("--size ", StringComparison.Ordinal) + 7)..].Split(' ')[0]);
        Assert.Equal(1, Stylizer.FirstScale("relu5_1", 4000, 3000, new RunSettings { Size = fits, Scales = 1 }));
    }

    [Theory]
    [InlineData(1024, 640, 21, 16, 25, 16)]   // starry_night at --size 21: 21×13 would reach pool4 as 0×1
    [InlineData(640, 1024, 21, 16, 16, 25)]   // the same, tall
    [InlineData(1024, 768, 21, 16, 21, 16)]   // tubingen: 21×16 already
    [InlineData(4000, 100, 64, 16, 620, 16)]  // a panorama at a coarse scale (100·620/4000 = 15.5 rounds to 16)
    [InlineData(4000, 100, 40, 2, 60, 2)]     // relu2_1 needs 2 px only
    [InlineData(300, 200, 512, 16, 512, 341)] // upscaled as before
    public void AStyleImageKeepsItsLongSideUnlessItsShortSideFallsUnderTheMinimum(int width, int height, int longSide, int minimum,
        int expectedWidth, int expectedHeight)
    {
        var (w, h) = Stylizer.StyleSize(width, height, longSide, minimum);
        Assert.Equal((expectedWidth, expectedHeight), (w, h));
        // The smallest such long side: one pixel less misses the minimum (when raised at all).
        if (Math.Max(w, h) > longSide)
        {
            var (w1, h1) = ImageResizer.FitLongSideSize(width, height, Math.Max(w, h) - 1);
            Assert.True(Math.Min(w1, h1) < minimum);
        }
    }

    [Fact]
    public void AStyleImageTooElongatedForTheMinimumIsOneLine()
    {
        var run = new RunSettings { Size = 64, Scales = 1 };
        Stylizer.CheckStyleSizes([new StyleImage(new RgbImage(100_000, 1))], run, 16); // 1.6 M × 16: fits
        var e = Assert.Throws<StylizeUsageException>(() => Stylizer.CheckStyleSizes([new StyleImage(new RgbImage(300_000, 1))], run, 16));
        Assert.Contains("too elongated", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    /// <summary>
    /// A style image as wide as starry_night (1024×640) at --size 21 was 21×13 at the style layers' scale: pool4 made its
    /// map 0 pixels high and the memory planner threw (a stack trace from the CLI). Now it is raised to a 16 px short side
    /// and said in the scale's line; the picture is the content's size. Random weights on OpenCL, one iteration.
    /// </summary>
    [Fact]
    public void AWideStyleImageAtACoarseScaleIsRaisedNotFed()
    {
        var gpu = Devices.Get("opencl");
        var loss = new LossSettings();
        using var network = new Vgg19(gpu, RandomVggWeights.Create(5), PoolingKind.Max, loss.Layers);
        var observer = new RecordingObserver();
        var run = new RunSettings { Size = 40, Scales = 1, Iterations = 1 };
        var result = Stylizer.Run(network, TestImages.Smooth(40, 30), [new StyleImage(TestImages.Uniform(3, 200, 20))], loss, run,
            observer, TestContext.Current.CancellationToken);
        Assert.Equal((40, 30), (result.Image.Width, result.Image.Height));
        Assert.Contains(observer.Messages, m => m.Contains("style 1 155×16: raised to the 16 px short side", StringComparison.Ordinal));
        Assert.True(float.IsFinite(result.FinalLoss.Total));
    }
}
