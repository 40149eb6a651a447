using System.Text.Json;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// The JSON report counts objective evaluations (issue #13: the line search's cost must be visible): each iteration
/// line says how many it took — 1 for iteration 0 and for every Adam step, ≥ 1 for an L-BFGS step — and the final
/// line's totals agree with the lines. Tiny random weights, synthetic images, the fastest device present.
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
}
