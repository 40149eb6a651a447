using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize;

/// <summary>One optimizer iteration (0 = the initial image), as reported to observers and the JSON report.</summary>
public sealed record IterationReport(
    int Scale, int Scales, int Width, int Height, int Iteration, int Iterations, LossValues Loss,
    double SecondsPerIteration, double ElapsedSeconds)
{
    /// <summary>
    /// Objective evaluations (forward + backward passes) this iteration took: 1 for iteration 0 (the initial image) and
    /// for every Adam step; an L-BFGS step takes one per line-search trial.
    /// </summary>
    public int Evaluations { get; init; } = 1;

    /// <summary>Evaluations per iteration at this scale so far (iteration 0's initial evaluation not counted); 0 at iteration 0.</summary>
    public double EvaluationsPerIteration { get; init; }
}

/// <summary>
/// What a run reports while it works (the CLI's progress bar, JSON report and --save-every files implement it).
/// Every member has an empty default: implement only what you need.
/// </summary>
public interface IStylizeObserver
{
    void Message(string text) { }
    void Iteration(IterationReport report) { }
    /// <summary>Every <see cref="RunSettings.SnapshotEvery"/> iterations: the current image, as the result would be.</summary>
    void Snapshot(IterationReport report, RgbImage image) { }
    /// <summary>At the start of each scale: how it runs within the memory budget (untiled or tiles, L-BFGS history).</summary>
    void Plan(int scale, MemoryPlan plan) { }
    /// <summary>During a tiled evaluation, after each tile (both passes counted): <paramref name="done"/> of <paramref name="total"/>.</summary>
    void Tile(int done, int total) { }
}

/// <summary>
/// The outcome of <see cref="Stylizer.Run"/>: the image (at the last scale reached), the final loss values, the
/// time, whether the run was cancelled (then the image is the best iterate of the scale it stopped in), every
/// iteration report, and <see cref="Failure"/> when the loss became NaN or infinite (the optimization stopped there;
/// the image is the best finite iterate, the sentence says where and the likely cause).
/// </summary>
public sealed record StylizeResult(RgbImage Image, LossValues FinalLoss, double Seconds, bool Cancelled,
    IReadOnlyList<IterationReport> Iterations, string? Failure = null)
{
    /// <summary>How each scale reached ran within the memory budget, in order.</summary>
    public IReadOnlyList<MemoryPlan> Plans { get; init; } = [];

    public int Width => Image.Width;
    public int Height => Image.Height;
}
