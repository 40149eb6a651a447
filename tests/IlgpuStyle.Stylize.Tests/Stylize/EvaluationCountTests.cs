using System.Text.Json;
using IlgpuStyle.Autodiff;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// The JSON report counts objective evaluations (issue #13: the line search's cost must be visible): each iteration
/// line says how many it took — 1 for iteration 0 and for every Adam step, ≥ 1 for an L-BFGS step — and the final
/// line's totals agree with the lines; a scale that L-BFGS ends before --iterations says why. Tiny random weights,
/// synthetic images, the fastest device present.
/// </summary>
public sealed class EvaluationCountTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-evaluations-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("lbfgs")]
    [InlineData("adam")]
    public void EveryIterationLineCountsItsEvaluationsAndTheFinalLineSumsThem(string optimizer)
    {
        var device = Devices.FastestForRuns;
        var content = Path.Combine(dir, "content.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(48, 32), content);
        var report = Path.Combine(dir, $"{optimizer}.jsonl");
        var (code, _, err) = CliRunner.Run(["stylize", "--quiet", "--content", content, "--style", content,
            "--output", Path.Combine(dir, $"{optimizer}.png"), "--weights", TinyWeights.Write(dir), "--device", device,
            "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1", "--init", "noise",
            "--size", "32", "--scales", "2", "--iterations", "4", "--optimizer", optimizer, "--report", report]);
        Assert.True(code == 0, err);
        var lines = File.ReadAllLines(report).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var iterations = lines.Where(l => l.TryGetProperty("iteration", out _)).ToList();
        var final = lines[^1];
        foreach (var line in iterations) log.WriteLine(line.ToString());
        log.WriteLine(final.ToString());

        int starts = iterations.Count(l => l.GetProperty("iteration").GetInt32() == 0);
        int steps = iterations.Count - starts;
        Assert.Equal(2, starts);
        if (optimizer == "adam") Assert.Equal(2 * 4, steps);
        else Assert.InRange(steps, 2, 2 * 4); // L-BFGS may stop early when it no longer makes progress
        foreach (var line in iterations)
        {
            int evaluations = line.GetProperty("evaluations").GetInt32();
            if (line.GetProperty("iteration").GetInt32() == 0 || optimizer == "adam") Assert.Equal(1, evaluations);
            else Assert.InRange(evaluations, 1, 25); // the strong-Wolfe search tries at most 25 points
        }
        int sum = iterations.Sum(l => l.GetProperty("evaluations").GetInt32());
        Assert.Equal(sum, final.GetProperty("evaluations").GetInt32());
        double perIteration = (sum - starts) / (double)steps; // the initial evaluations are not iterations
        Assert.Equal(perIteration, final.GetProperty("evaluations_per_iteration").GetDouble(), 3);
        if (optimizer == "adam") Assert.Equal(1.0, perIteration);
    }

    /// <summary>
    /// L-BFGS (tolerances off) stops a scale early only when its evaluation budget, ⌈1.25 × iterations⌉ + 1, is spent or
    /// the direction no longer goes downhill; the run then says so in one line per scale, and only then. With 4 iterations
    /// the budget is 6, and the strong-Wolfe search spends 3 evaluations on the tiny first step (extrapolating): here
    /// every scale stops early, so the line is checked where it must appear as well as where it must not.
    /// </summary>
    [Fact]
    public void AScaleThatLbfgsEndsEarlySaysWhy()
    {
        var gpu = Devices.Get(Devices.FastestForRuns);
        var loss = new LossSettings { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1"] };
        using var network = new Vgg19(gpu, TinyWeights.Create(), PoolingKind.Max, loss.Layers);
        var observer = new RecordingObserver();
        var run = new RunSettings { Size = 32, Scales = 2, Iterations = 4, Init = InitKind.Noise };
        Stylizer.Run(network, Imaging.TestImages.Smooth(48, 32), [new StyleImage(Imaging.TestImages.Blocks(4, 4, 8))], loss, run,
            observer, TestContext.Current.CancellationToken);
        foreach (var m in observer.Messages) log.WriteLine(m);
        int early = 0;
        foreach (var scale in observer.Reports.GroupBy(r => r.Scale))
        {
            int steps = scale.Max(r => r.Iteration);
            var lines = observer.Messages.Where(m => m.StartsWith($"scale {scale.Key}/2: L-BFGS stopped", StringComparison.Ordinal)).ToList();
            if (steps == run.Iterations) Assert.Empty(lines);
            else
            {
                early++;
                Assert.StartsWith($"scale {scale.Key}/2: L-BFGS stopped after {steps} of 4 iterations: ", Assert.Single(lines));
            }
        }
        Assert.True(early > 0, "no scale stopped early: the early-stop line was not exercised");
    }
}
