using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// StartImages: crowsonkb's gray, uniform and style_mean starts by their definitions (ranges and means, the blend's
/// mean colour computed here from the pixels), the same bytes for the same seed and others for another.
/// </summary>
public sealed class StartImagesTests
{
    private static RgbImage Start(InitKind init, int seed = 1, params (RgbImage, float)[] styles) =>
        StartImages.For(new RunSettings { Init = init, Seed = seed }, 64, 48, new RgbImage(64, 48), styles);

    private static IEnumerable<float> Channel(RgbImage image, int c) => image.Data.Skip(c * image.Width * image.Height).Take(image.Width * image.Height);

    [Fact]
    public void GrayIsMidGreyWithinOneLevel()
    {
        var gray = Start(InitKind.Gray);
        Assert.All(gray.Data, v => Assert.InRange(v, 0.5f, 0.5f + 1f / 255));
        Assert.InRange(gray.Data.Average(), 0.5 + 0.4 / 255, 0.5 + 0.6 / 255);   // uniform noise of one level: mean half a level
    }

    [Fact]
    public void UniformFillsZeroToOne()
    {
        var uniform = Start(InitKind.Uniform);
        Assert.All(uniform.Data, v => Assert.InRange(v, 0f, 1f));
        Assert.InRange(uniform.Data.Average(), 0.48, 0.52);
        Assert.True(uniform.Data.Min() < 0.01 && uniform.Data.Max() > 0.99);
    }

    [Fact]
    public void StyleMeanIsTheBlendsMeanColour()
    {
        var red = new RgbImage(10, 10);
        Array.Fill(red.Data, 0.9f, 0, 100);
        var blue = new RgbImage(20, 5);
        Array.Fill(blue.Data, 0.6f, 200, 100);
        var start = Start(InitKind.StyleMean, 1, (red, 0.75f), (blue, 0.25f));
        float[] expected = [0.75f * 0.9f, 0f, 0.25f * 0.6f];
        for (int c = 0; c < 3; c++)
            Assert.All(Channel(start, c), v => Assert.InRange(v, expected[c] - 1e-6f, expected[c] + 1f / 255 + 1e-6f));
    }

    [Theory]
    [InlineData(InitKind.Gray)]
    [InlineData(InitKind.Uniform)]
    [InlineData(InitKind.Noise)]
    public void TheSeedDecides(InitKind init)
    {
        Assert.Equal(Start(init, 5).Data, Start(init, 5).Data);
        Assert.NotEqual(Start(init, 5).Data, Start(init, 6).Data);
    }
}
