using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>Which scales a run can use: VGG19's minimum side per layer, and coarse scales skipped for wide images.</summary>
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
        var messages = new List<string>();
        int first = Stylizer.FirstScale("relu5_1", 760, 400, new RunSettings { Size = 96, Scales = 3 }, new Recorder(messages));
        Assert.Equal(2, first);
        Assert.Contains(messages, m => m.Contains("skipped"));
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

    private sealed class Recorder(List<string> messages) : IStylizeObserver
    {
        public void Message(string text) => messages.Add(text);
    }
}
