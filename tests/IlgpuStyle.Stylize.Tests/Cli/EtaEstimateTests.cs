using IlgpuStyle.Cli.Commands;
using IlgpuStyle.Stylize;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// The progress line's ETA (src/Cli/Commands/EtaEstimate.cs): later scales at rate · (4^k)^α, α measured between scales
/// once the current one has settled and never below the default; a scale's rate predicted from the previous one until
/// it has settled; and the observer feeding it the previous scale's final rate. The rates are those of default 512 px
/// runs on PoCL (2 cores of a Zen 5): 128×96 at 0.16 s/it, 256×192 at 0.35–0.36, 512×384 at 1.03–1.09 (6.14 s at its
/// first iteration: the line search's start), 200 iterations per scale.
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

    /// <summary>
    /// With the run's settings the later scales are its own: crowsonkb's √2 steps (twice the pixels a scale) and
    /// 500 iterations after a first scale of 1000.
    /// </summary>
    [Fact]
    public void TheRunsScheduleGivesTheLaterScalesSizesAndIterations()
    {
        var run = new RunSettings { Size = 512, Scales = 5, ScalesPerOctave = 2, Iterations = 500, InitialIterations = 1000 };
        var r = new IterationReport(1, 5, 128, 96, 100, 1000, new LossValues(1f, 1f, 0f, 2f), 0.16, 0);
        double a = EtaEstimate.DefaultExponent;
        // Long sides 181, 256, 362, 512 over 128: pixel ratios (181/128)², 4, (362/128)², 16.
        double later = 500 * (Math.Pow(Math.Pow(181 / 128.0, 2), a) + Math.Pow(4, a) + Math.Pow(Math.Pow(362 / 128.0, 2), a) + Math.Pow(16, a));
        Assert.Equal((900 + later) * 0.16, EtaEstimate.Seconds(r, null, run), 9);
    }

    [Fact]
    public void FromTheSecondScaleOnTheExponentIsMeasuredOnceTheScaleHasSettled()
    {
        // A 4-scale run whose third scale grew faster than the default from the second: 0.36 → 1.20 s/it.
        var previous = new EtaEstimate.ScaleRate(256 * 192, 0.36);
        double measured = Math.Log(1.20 / 0.36) / Math.Log(4); // 0.87
        var settled = new IterationReport(3, 4, 512, 384, 50, 200, new LossValues(1f, 1f, 0f, 2f), 1.20, 0);
        Assert.True(measured > EtaEstimate.DefaultExponent);
        Assert.Equal(measured, EtaEstimate.Exponent(settled, previous), 9);
        Assert.Equal((150 + 200 * Math.Pow(4, measured)) * 1.20, EtaEstimate.Seconds(settled, previous), 9);

        // Its first iterations carry the line search's start: not measured.
        var early = settled with { Iteration = EtaEstimate.SettledIterations - 1, SecondsPerIteration = 6.14 };
        Assert.Equal(EtaEstimate.DefaultExponent, EtaEstimate.Exponent(early, previous));
    }

    [Fact]
    public void AMeasuredExponentBelowTheDefaultIsNotTrusted()
    {
        // 128 → 256 px grew as pixels^0.57; 256 → 512 then grew as pixels^0.78: counting the last scale at 0.57 promised
        // 2 min 29 s for 3 min 26 s. At the second scale's end the ETA must cover the last scale's 200 × 1.03 s.
        var previous = new EtaEstimate.ScaleRate(128 * 96, 0.16);
        var end = Report(2, 256, 192, 200, 0.35);
        Assert.Equal(EtaEstimate.DefaultExponent, EtaEstimate.Exponent(end, previous));
        Assert.InRange(EtaEstimate.Seconds(end, previous), 200 * 1.03, 1.2 * 200 * 1.03);
    }

    [Fact]
    public void AScaleThatHasNotSettledGoesByThePreviousScalesRate()
    {
        // Iteration 1 of the last scale ran 5 evaluations (6.14 s); the scale then ran at 1.03 s/it: 199 iterations left.
        var previous = new EtaEstimate.ScaleRate(256 * 192, 0.35);
        var first = Report(3, 512, 384, 1, 6.14);
        double predicted = 0.35 * Math.Pow(4, EtaEstimate.DefaultExponent);
        Assert.Equal(predicted, EtaEstimate.Rate(first, previous, EtaEstimate.DefaultExponent), 9);
        Assert.InRange(EtaEstimate.Seconds(first, previous), 199 * 1.03, 1.2 * 199 * 1.03);
        // Settled: its own rate.
        Assert.Equal(1.03, EtaEstimate.Rate(Report(3, 512, 384, EtaEstimate.SettledIterations, 1.03), previous, 0.8));
    }

    [Fact]
    public void TheFirstScalesEtaIsUnknownUntilItHasSettled()
    {
        // Its first iteration also compiles the kernels: 6.03 s for a 0.13 s iteration at 64 px (an ETA of 4 h 25 min).
        Assert.True(double.IsNaN(EtaEstimate.Seconds(Report(1, 64, 48, 1, 6.03), null)));
        Assert.True(double.IsNaN(EtaEstimate.Seconds(Report(1, 64, 48, EtaEstimate.SettledIterations - 1, 0.2), null)));
        Assert.False(double.IsNaN(EtaEstimate.Seconds(Report(1, 64, 48, EtaEstimate.SettledIterations, 0.13), null)));
        Assert.True(double.IsNaN(EtaEstimate.Seconds(Report(2, 128, 96, 0, 0), new EtaEstimate.ScaleRate(64 * 48, 0.13))));

        using var err = new StringWriter();
        using (var observer = new ConsoleObserver(quiet: false, printEvery: 1, reportPath: null, err))
            observer.Iteration(Report(1, 64, 48, 1, 6.03));
        Assert.EndsWith("ETA ?", err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd());
    }

    [Theory]
    [InlineData(100.0, EtaEstimate.MaxExponent)]      // far more than the pixels
    [InlineData(0.01, EtaEstimate.DefaultExponent)]   // faster at the larger size
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
