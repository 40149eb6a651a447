using System.Diagnostics;
using IlgpuStyle.Autodiff;
using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Stylize;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Tiling;

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
    double LoadAverageAfter)
{
    /// <summary>Height of the image (<see cref="Size"/> is its width).</summary>
    public int Height { get; init; } = Size;
    /// <summary>How the evaluation ran within the memory budget (MemoryPlanner): untiled or tiles, L-BFGS history.</summary>
    public string Plan { get; init; } = "";
    /// <summary>Tiles per evaluation (1 = untiled).</summary>
    public int Tiles { get; init; } = 1;
    /// <summary>With --compare-untiled and tiles: the median untiled evaluation at the same size (null when it does not fit the device).</summary>
    public double? UntiledEvaluateMedianSeconds { get; init; }
    /// <summary>With --profile: one more evaluation after the timed ones, op by op (the device synchronized after each; see OpProfile).</summary>
    public IReadOnlyList<OpTiming>? Ops { get; init; }
    /// <summary>With --profile: that evaluation's wall time, milliseconds (the ops' sum plus what is outside the tape).</summary>
    public double? ProfiledEvaluationMs { get; init; }
}

/// <summary>An image size of the whole-iteration bench: width × height (a plain side is a square).</summary>
public readonly record struct BenchSize(int Width, int Height)
{
    public static implicit operator BenchSize(int side) => new(side, side);

    /// <summary>"512" or "3840x2160" (also ×); null when the text is neither.</summary>
    public static BenchSize? Parse(string text)
    {
        var parts = text.Split('x', '×', 'X');
        if (parts.Length == 1 && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int side))
            return new BenchSize(side, side);
        if (parts.Length == 2 && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int h))
            return new BenchSize(w, h);
        return null;
    }

    public override string ToString() => $"{Width}×{Height}";
}

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
    public sealed record Options(IReadOnlyList<BenchSize> Sizes, int Runs, int Warmup, int LbfgsHistory)
    {
        /// <summary>Plan within this many device bytes and cap the device there (null: the device's memory; tiles only when needed).</summary>
        public long? MaxMemoryBytes { get; init; }
        /// <summary>Force tiles of at most this side.</summary>
        public int? TileSide { get; init; }
        /// <summary>When a size runs in tiles, also time its untiled evaluation if that fits the device: the tiling overhead.</summary>
        public bool CompareUntiled { get; init; }
        /// <summary>After the timed iterations, one more evaluation op by op (<see cref="IterationTiming.Ops"/>).</summary>
        public bool Profile { get; init; }
    }

    public IterationBenchReport Run() =>
        new(gpu.Info.Id + " " + gpu.Name, weights.Description, weights.IsReal, OptimizerDescription(options.LbfgsHistory),
            options.Runs, Math.Max(1, options.Warmup), options.Sizes.Select(s => Time(s.Width, s.Height)).ToList());

    public static string OptimizerDescription(int history) => $"L-BFGS, history {history}, fixed step 1 (no line search)";

    public IterationTiming TimeSize(int size) => Time(size, size);

    /// <summary>
    /// Times iterations at <paramref name="width"/>×<paramref name="height"/>, planned by <see cref="MemoryPlanner"/>
    /// within <see cref="Options.MaxMemoryBytes"/> (the device is capped there for the run: the peak cannot exceed it).
    /// </summary>
    public IterationTiming Time(int width, int height)
    {
        if (Math.Min(width, height) < 16) throw new ArgumentOutOfRangeException(nameof(width), $"{width}×{height}", "VGG19 to relu5_1 needs at least 16×16 pixels.");
        long? previousLimit = gpu.MemoryLimitBytes;
        if (options.MaxMemoryBytes is long cap) gpu.MemoryLimitBytes = Math.Min(cap, previousLimit ?? long.MaxValue);
        try
        {
            return TimePlanned(width, height);
        }
        finally
        {
            gpu.MemoryLimitBytes = previousLimit;
        }
    }

    private IterationTiming TimePlanned(int width, int height)
    {
        int warmup = Math.Max(1, options.Warmup);
        int iterations = warmup + options.Runs;
        double loadBefore = KernelBench.ReadLoadAverage();
        gpu.ReleaseScratch();
        gpu.ResetPeak();
        long liveBefore = gpu.LiveBytes;

        using var network = new Vgg19(gpu, weights.Weights, IterationProblem.Pooling, IterationProblem.Loss.Layers);
        var run = new RunSettings { LbfgsHistory = options.LbfgsHistory, TileSide = options.TileSide };
        var plan = MemoryPlanner.Plan(width, height, [(width, height)], network.DeepestLayer, IterationProblem.Loss, run,
            Stylizer.PlannedLiveBytes(gpu), Stylizer.BudgetBytes(gpu, run));
        using var content = ImageTensors.ToDevice(gpu, IterationProblem.RandomImage(width, height, IterationProblem.ContentSeed));
        double? untiled = plan.Tiles is not null && options.CompareUntiled ? TimeUntiledEvaluation(network, content, width, height) : null;
        GatysLoss loss;
        using (var style = ImageTensors.ToDevice(gpu, IterationProblem.RandomImage(width, height, IterationProblem.StyleSeed)))
            loss = new GatysLoss(network, content, [(style, 1f)], IterationProblem.Loss, plan.TileSide);
        using (loss)
        using (var x = gpu.Allocate(content.Shape))
        using (var lbfgs = new Lbfgs(gpu, x.Shape, plan.History, IterationProblem.LearningRate, LineSearch.None,
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
                    $"iteration bench at {width}×{height}: L-BFGS stopped after {result.Iterations} of {iterations} iterations ({result.Reason}, loss {result.Loss}).");

            IReadOnlyList<OpTiming>? ops = null;
            double? profiledMs = null;
            if (options.Profile)
            {
                using var gradient = gpu.Allocate(x.Shape);
                var profile = new OpProfile();
                loss.Profile = profile;
                var profiled = Stopwatch.StartNew();
                loss.Evaluate(x, gradient);
                profiledMs = profiled.Elapsed.TotalMilliseconds;
                loss.Profile = null;
                ops = profile.Rows;
            }

            var timed = Enumerable.Range(warmup + 1, options.Runs).ToList();
            var wall = timed.Select(k => marks[k].Wall - marks[k - 1].Wall).ToList();
            var steps = timed.Select(k => marks[k].Wall - marks[k - 1].Wall - evaluations[k]).ToList();
            double cpu = (marks[iterations].Cpu - marks[warmup].Cpu) / options.Runs;
            long afterFirst = marks[iterations].Allocations - marks[1].Allocations;
            return new IterationTiming(width, options.Runs, Median(wall), wall.Min(), Median(timed.Select(k => evaluations[k])),
                Median(steps), cpu, gpu.PeakBytes, liveBefore, marks[1].Allocations - marks[0].Allocations, afterFirst,
                (double)afterFirst / (iterations - 1), initialLoss, result.Loss, loadBefore, KernelBench.ReadLoadAverage())
            {
                Height = height, Plan = plan.ToString(), Tiles = plan.Tiles?.Count ?? 1, UntiledEvaluateMedianSeconds = untiled,
                Ops = ops, ProfiledEvaluationMs = profiledMs,
            };
        }
    }

    /// <summary>
    /// Median of <see cref="Options.Runs"/> untiled evaluations (after one untimed) at this size, when the planner says
    /// the whole image fits the device without a cap; else null. The loss is disposed and the scratch released before
    /// the tiled run, so its peak is measured on its own (the peak is reset).
    /// </summary>
    private double? TimeUntiledEvaluation(Vgg19 network, Tensor content, int width, int height)
    {
        long? cap = gpu.MemoryLimitBytes;
        gpu.MemoryLimitBytes = null;
        try
        {
            var run = new RunSettings { LbfgsHistory = 1 };
            var plan = MemoryPlanner.Plan(width, height, [(width, height)], network.DeepestLayer, IterationProblem.Loss, run,
                Stylizer.PlannedLiveBytes(gpu), Stylizer.BudgetBytes(gpu, run));
            if (plan.Tiles is not null) return null;
            var seconds = new List<double>();
            using (var style = ImageTensors.ToDevice(gpu, IterationProblem.RandomImage(width, height, IterationProblem.StyleSeed)))
            using (var loss = new GatysLoss(network, content, [(style, 1f)], IterationProblem.Loss))
            using (var gradient = gpu.Allocate(content.Shape))
            {
                for (int i = 0; i <= options.Runs; i++)
                {
                    var clock = Stopwatch.StartNew();
                    loss.Evaluate(content, gradient);
                    if (i > 0) seconds.Add(clock.Elapsed.TotalSeconds);
                }
            }
            return Median(seconds);
        }
        finally
        {
            gpu.ReleaseScratch();
            gpu.MemoryLimitBytes = cap;
            gpu.ResetPeak();
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
