using IlgpuStyle.Cli.Commands;
using IlgpuStyle.Stylize;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// The progress line's ETA (src/Cli/Commands/EtaEstimate.cs): later scales at rate · (4^k)^α, α measured between scales
/// once the current one has settled, the default before; and the observer feeding it the previous scale's final rate.
/// The rates are those of a default 512 px run on PoCL (2 cores of a Zen 5): 128×96 at 0.16 s/it, 256×192 at 0.36,
/// 512×384 at 1.09, 200 iterations per scale.
/// </summary>
public class EtaEstimateTests
{
    private static IterationReport Report(int scale, int width, int height, int iteration, double rate) =>
        new(scale, 3, width, height, iteration, 200, new LossValues(1f, 1f, 0f, 2f), rate, 0);

    [Fact]
    public void TheFirstScaleCountsLaterScalesWithTheDefaultExponent()
    {
        var r = Report(1, 128, 96, 100, 0.16);
        double expected = (100 + 200 * Math.Pow(4, EtaEstimate.DefaultExponent) + 200 * Math.Pow(16, EtaEstimate.DefaultExponent)) * 0.16;
        Assert.Equal(expected, EtaEstimate.Seconds(r, null), 9);
    }

    [Fact]
    public void FromTheSecondScaleOnTheExponentIsMeasuredOnceTheScaleHasSettled()
    {
        var previous = new EtaEstimate.ScaleRate(128 * 96, 0.16);
        double measured = Math.Log(0.36 / 0.16) / Math.Log(4); // 0.585
        var settled = Report(2, 256, 192, 50, 0.36);
        Assert.Equal(measured, EtaEstimate.Exponent(settled, previous), 9);
        Assert.Equal((150 + 200 * Math.Pow(4, measured)) * 0.36, EtaEstimate.Seconds(settled, previous), 9);

        // Its first iterations carry the line search's start (1.80 s/it at iteration 1 in that run): not measured.
        var early = Report(2, 256, 192, EtaEstimate.SettledIterations - 1, 1.80);
        Assert.Equal(EtaEstimate.DefaultExponent, EtaEstimate.Exponent(early, previous));
    }

    [Theory]
    [InlineData(100.0, EtaEstimate.MaxExponent)]  // far more than the pixels
    [InlineData(0.01, EtaEstimate.MinExponent)]   // faster at the larger size
    public void TheMeasuredExponentIsClamped(double rate, double expected) =>
        Assert.Equal(expected, EtaEstimate.Exponent(Report(2, 256, 192, 50, rate), new EtaEstimate.ScaleRate(128 * 96, 0.16)));

    [Fact]
    public void TheLastScaleIsItsRemainingIterationsAtItsRate() =>
        Assert.Equal(50 * 1.09, EtaEstimate.Seconds(Report(3, 512, 384, 150, 1.09), new EtaEstimate.ScaleRate(256 * 192, 0.36)), 9);

    [Fact]
    public void OnTheMeasuredRunTheFirstScalesEtaIsNeitherShortNorTwiceTheTimeLeft()
    {
        // At the end of the first scale 200 iterations at 0.36 and 200 at 1.09 s were left: 290 s. The old estimate (α = 1) said 640 s.
        double left = 200 * 0.36 + 200 * 1.09, eta = EtaEstimate.Seconds(Report(1, 128, 96, 200, 0.16), null);
        Assert.InRange(eta, left, 1.5 * left);
    }

    [Fact]
    public void TheObserverMeasuresTheExponentFromThePreviousScalesFinalRate()
    {
        using var err = new StringWriter();
        using (var observer = new ConsoleObserver(quiet: false, printEvery: 1, reportPath: null, err))
        {
            observer.Iteration(Report(1, 128, 96, 200, 0.16));
            observer.Iteration(Report(2, 256, 192, 0, 0));
            observer.Iteration(Report(2, 256, 192, 100, 0.36));
        }
        double eta = EtaEstimate.Seconds(Report(2, 256, 192, 100, 0.36), new EtaEstimate.ScaleRate(128 * 96, 0.16));
        string last = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.EndsWith($"ETA {(int)(eta / 60)}m{(int)(eta % 60):D2}s", last.TrimEnd());
    }
}
