using IlgpuStyle.Autodiff;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// The scale schedule options crowsonkb/style-transfer-pytorch has: √2 steps (RunSettings.ScalesPerOctave 2) against
/// its gen_scales written out, the first scale's own iteration count (InitialIterations) and a fixed style size
/// (StyleSize), the last two through a whole run with a random VGG19 to relu2_1 (on Devices.QuickestForOptionTests:
/// 17 s on the CPU simulator).
/// </summary>
public sealed class ScaleScheduleTests
{
    /// <summary>
    /// crowsonkb's gen_scales(start, end), transcribed: end, round(end / 2^(1/2)), round(end / 2^(2/2)), … while at
    /// least start, sorted (Python's round: halves to even).
    /// </summary>
    private static List<int> GenScales(int start, int end)
    {
        var scales = new SortedSet<int>();
        int scale = end;
        for (int i = 1; scale >= start; i++)
        {
            scales.Add(scale);
            scale = (int)Math.Round(end / Math.Pow(2, i / 2.0), MidpointRounding.ToEven);
        }
        return [.. scales];
    }

    [Theory]
    [InlineData(128, 512)]
    [InlineData(64, 1024)]
    [InlineData(100, 300)]
    [InlineData(16, 2000)]
    [InlineData(200, 999)]
    [InlineData(512, 512)]
    public void TwoScalesPerOctaveAreCrowsonkbsScales(int start, int end)
    {
        int scales = RunSettings.ScalesFrom(start, end, scalesPerOctave: 2);
        var run = new RunSettings { Size = end, Scales = scales, ScalesPerOctave = 2 };
        Assert.Equal(GenScales(start, end), Enumerable.Range(1, scales).Select(run.LongSide));
    }

    [Fact]
    public void OneScalePerOctaveHalvesAsBefore()
    {
        var run = new RunSettings { Size = 500, Scales = 4 };
        Assert.Equal([62, 125, 250, 500], Enumerable.Range(1, 4).Select(run.LongSide));   // 62.5 to even, as Math.Round did
        Assert.Equal(3, RunSettings.ScalesFrom(100, 500, 1));
    }

    [Fact]
    public void SkippedScalesFollowTheSchedule()
    {
        // 48 px with 4 scales at √2: 17, 24, 34, 48 — relu5_1 needs 16 px, a 2:1 image's short side reaches it at 34.
        var run = new RunSettings { Size = 48, Scales = 4, ScalesPerOctave = 2 };
        Assert.Equal(3, Stylizer.FirstScale("relu5_1", 200, 100, run));
        Assert.Equal(1, Stylizer.FirstScale("relu2_1", 200, 100, run));
    }

    [Theory]
    [InlineData(0, null, null, "--scales-per-octave 0 must be 1 to 8.")]
    [InlineData(2, 0, null, "--initial-iterations 0 must be at least 1.")]
    [InlineData(2, null, 8, "--style-size 8 is too small (at least 16).")]
    public void BadScheduleSettingsAreUsageErrors(int perOctave, int? initial, int? styleSize, string message) =>
        Assert.Equal(message, Assert.Throws<StylizeUsageException>(() =>
            new RunSettings { ScalesPerOctave = perOctave, InitialIterations = initial, StyleSize = styleSize }.Validate()).Message);

    [Fact]
    public void TheFirstScaleRunsItsOwnIterationsAndStylesKeepTheirSize()
    {
        var gpu = Devices.Get(Devices.QuickestForOptionTests);
        var loss = new LossSettings { ContentLayers = ["relu1_2"], StyleLayers = ["relu1_1", "relu2_1"] };
        using var network = new Vgg19(gpu, TinyWeights.Create(3), PoolingKind.Max, loss.Layers);
        var content = Imaging.TestImages.Smooth(40, 30);
        StyleImage[] styles = [new(Imaging.TestImages.Uniform(3, 50, 25))];
        var run = new RunSettings { Size = 40, Scales = 3, ScalesPerOctave = 2, Iterations = 2, InitialIterations = 4, StyleSize = 20, Optimizer = OptimizerKind.Adam };
        var observer = new RecordingObserver();
        Stylizer.Run(network, content, styles, loss, run, observer, TestContext.Current.CancellationToken);

        // Scales 20, 28, 40 px (40 / √2 = 28.3): 4 iterations at the first, 2 at the others, each report saying so (Adam:
        // L-BFGS may end a scale early when its line search spends the evaluations).
        var perScale = observer.Reports.Where(r => r.Iteration > 0).GroupBy(r => (r.Scale, r.Width, r.Height, r.Iterations))
            .Select(g => (g.Key.Scale, g.Key.Width, g.Key.Height, g.Key.Iterations, Count: g.Count())).ToList();
        Assert.Equal([(1, 20, 15, 4, 4), (2, 28, 21, 2, 2), (3, 40, 30, 2, 2)], perScale);
        // The style image's long side is 20 at every scale.
        Assert.Equal(3, observer.Messages.Count(m => m.Contains("style long side 20")));
    }
}
