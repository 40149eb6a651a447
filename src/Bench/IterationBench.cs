using System.Diagnostics;
using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Stylize;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

namespace IlgpuStyle.Bench;

/// <summary>
/// Whole-iteration timings at one image size. An iteration is one L-BFGS iteration with the fixed step: the
/// two-loop direction and the step x ← x + t·d, then one <see cref="GatysLoss.Evaluate"/> (VGG19 forward to relu5_1,
/// Gram matrices, losses, TV, backward to the pixels, loss values read back). Times are medians over the timed
/// iterations; <see cref="StepMedianSeconds"/> is the median of (iteration − its evaluation).
/// <see cref="PeakBytes"/> is the device memory high-water mark of the whole run at this size (network weights,
/// loss targets, tape buffers, scratch buffers, optimizer history), measured from <see cref="LiveBytesBefore"/>.
/// Allocations: during the initial evaluation and iteration 1, and during all later iterations (must be 0).
/// </summary>
public sealed record IterationTiming(
    int Size,
    int TimedIterations,
    double MedianSeconds,
    double MinSeconds,
    double EvaluateMedianSeconds,
    double StepMedianSeconds,
    double CpuSecondsPerIteration,
    long PeakBytes,
    long LiveBytesBefore,
    long AllocationsFirstIteration,
    long AllocationsAfterFirstIteration,
    double AllocationsPerIterationAfterFirst,
    float InitialLoss,
    float FinalLoss,
    double LoadAverageBefore,
    double LoadAverageAfter);

/// <summary>Everything one whole-iteration benchmark run measured.</summary>
public sealed record IterationBenchReport(
    string Device,
    string Weights,
    bool RealWeights,
    string Optimizer,
    int Runs,
    int Warmup,
    IReadOnlyList<IterationTiming> Timings);

/// <summary>
/// Times whole style-transfer iterations (<see cref="IterationProblem"/>) through the same code as `stylize`:
/// <see cref="Vgg19"/>, <see cref="GatysLoss"/> and <see cref="Lbfgs"/>.Minimize with the fixed step, one Minimize
/// call of Warmup + Runs iterations per size. Iteration k is timed from the end of iteration k−1 to the end of
/// iteration k (the callback Minimize makes after each iteration); its evaluation is timed inside the objective.
/// The initial evaluation and the first Warmup iterations (at least 1: the first includes compiling the optimizer's
/// kernels) are not timed. Before each size the device's scratch buffers are released and its peak reset, so the
/// peak is this size's own.
/// </summary>
public sealed class IterationBench(Gpu gpu, BenchWeights weights, IterationBench.Options options)
{
    /// <param name="Warmup">Untimed iterations after the initial evaluation; at least 1.</param>
    public sealed record Options(IReadOnlyList<int> Sizes, int Runs, int Warmup, int LbfgsHistory);

    public IterationBenchReport Run() =>
        new(gpu.Info.Id + " " + gpu.Name, weights.Description, weights.IsReal, OptimizerDescription(options.LbfgsHistory),
            options.Runs, Math.Max(1, options.Warmup), options.Sizes.Select(TimeSize).ToList());

    public static string OptimizerDescription(int history) => $"L-BFGS, history {history}, fixed step 1 (no line search)";

    public IterationTiming TimeSize(int size)
    {
        if (size < 16) throw new ArgumentOutOfRangeException(nameof(size), size, "VGG19 to relu5_1 needs at least 16×16 pixels.");
        int warmup = Math.Max(1, options.Warmup);
        int iterations = warmup + options.Runs;
        double loadBefore = KernelBench.ReadLoadAverage();
        gpu.ReleaseScratch();
        gpu.ResetPeak();
        long liveBefore = gpu.LiveBytes;

        using var network = new Vgg19(gpu, weights.Weights, IterationProblem.Pooling, IterationProblem.Loss.Layers);
        using var content = ImageTensors.ToDevice(gpu, IterationProblem.RandomImage(size, IterationProblem.ContentSeed));
        GatysLoss loss;
        using (var style = ImageTensors.ToDevice(gpu, IterationProblem.RandomImage(size, IterationProblem.StyleSeed)))
            loss = new GatysLoss(network, content, [(style, 1f)], IterationProblem.Loss);
        using (loss)
        using (var x = gpu.Allocate(content.Shape))
        using (var lbfgs = new Lbfgs(gpu, x.Shape, options.LbfgsHistory, IterationProblem.LearningRate, LineSearch.None,
                   toleranceGradient: -1, toleranceChange: -1))
        {
            x.CopyFrom(content); // stylize's default init
            var process = Process.GetCurrentProcess();
            var clock = Stopwatch.StartNew();
            var evaluations = new List<double>(); // seconds; [0] = the initial evaluation, [k] = iteration k's
            var marks = new List<(double Wall, double Cpu, long Allocations)>(); // [0] = start, [k] = end of iteration k
            (double, double, long) Mark()
            {
                process.Refresh();
                return (clock.Elapsed.TotalSeconds, process.TotalProcessorTime.TotalSeconds, gpu.AllocationCount);
            }
            float initialLoss = float.NaN;
            float Objective(Tensor point, Tensor gradient)
            {
                double start = clock.Elapsed.TotalSeconds;
                float l = loss.Evaluate(point, gradient); // ends with a host read: synchronized
                evaluations.Add(clock.Elapsed.TotalSeconds - start);
                if (evaluations.Count == 1) initialLoss = l;
                return l;
            }

            gpu.Synchronize();
            marks.Add(Mark());
            var result = lbfgs.Minimize(x, Objective, iterations, (_, _) => marks.Add(Mark()));
            if (result.Iterations != iterations)
                throw new IterationBenchException(
                    $"iteration bench at {size}×{size}: L-BFGS stopped after {result.Iterations} of {iterations} iterations ({result.Reason}, loss {result.Loss}).");

            var timed = Enumerable.Range(warmup + 1, options.Runs).ToList();
            var wall = timed.Select(k => marks[k].Wall - marks[k - 1].Wall).ToList();
            var steps = timed.Select(k => marks[k].Wall - marks[k - 1].Wall - evaluations[k]).ToList();
            double cpu = (marks[iterations].Cpu - marks[warmup].Cpu) / options.Runs;
            long afterFirst = marks[iterations].Allocations - marks[1].Allocations;
            return new IterationTiming(size, options.Runs, Median(wall), wall.Min(), Median(timed.Select(k => evaluations[k])),
                Median(steps), cpu, gpu.PeakBytes, liveBefore, marks[1].Allocations - marks[0].Allocations, afterFirst,
                (double)afterFirst / (iterations - 1), initialLoss, result.Loss, loadBefore, KernelBench.ReadLoadAverage());
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var a = values.ToArray();
        if (a.Length == 0) throw new ArgumentException("median of nothing");
        Array.Sort(a);
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }
}

/// <summary>The optimizer stopped before the requested iterations (e.g. a non-finite loss): nothing to time.</summary>
public sealed class IterationBenchException(string message) : Exception(message);
