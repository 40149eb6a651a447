using System.Diagnostics;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Bench;

/// <summary>
/// Median wall time of one kernel call and the rate it implies. <see cref="CpuMs"/> is this process's CPU time per
/// call (mean over the timed calls): on a CPU device (PoCL runs kernels on threads of this process) it measures the
/// work done regardless of other load on the machine; on a GPU it is only the host's share. <see cref="Algorithm"/>: what
/// the plan ran for it (Conv2d.PlannedKernel3x3, the Gram kernel), empty where the kernel has one form.
/// </summary>
public sealed record KernelTiming(string Layer, string Kernel, string Shape, double Flops, double MedianMs, double MinMs, double CpuMs,
    string Algorithm = "")
{
    public double Gflops => MedianMs > 0 ? Flops / (MedianMs * 1e6) : 0;

    /// <summary>GFLOP per CPU-second of this process (see <see cref="CpuMs"/>).</summary>
    public double GflopsPerCpuSecond => CpuMs > 0 ? Flops / (CpuMs * 1e6) : 0;
}

/// <summary>Everything one kernel benchmark run measured.</summary>
public sealed record KernelBenchReport(
    string Device,
    int Size,
    int Runs,
    int Warmup,
    string Kernels,
    string Plan,
    IReadOnlyList<KernelTiming> Timings,
    double VggForwardMs,
    double VggBackwardDataMs,
    double GramForwardMs,
    double GramBackwardMs,
    long PeakBytes,
    long Allocations,
    long AllocationsWhileTiming,
    double LoadAverageBefore,
    double LoadAverageAfter);

/// <summary>
/// Times the kernels style transfer spends its time in, one op at a time, on random data (the bench measures
/// kernels, not a network): every VGG19 3×3 convolution shape (forward with fused bias + ReLU, and backward to
/// the input) and the Gram matrix forward/backward of the style layers. Each timing: warm-up calls excluded
/// (they compile the kernels), then the median of <see cref="Options.Runs"/> calls, each bracketed by device
/// synchronization. Layers with the same shape (conv3_2…conv3_4, …) are measured once.
/// </summary>
public sealed class KernelBench(Gpu gpu, KernelBench.Options options)
{
    public sealed record Options(int Size, int Runs, int Warmup, IReadOnlySet<string>? Layers, KernelSet Kernels);

    /// <summary>
    /// Which convolution kernels to time: the library's choice (the 3×3 fast path as the device's <see cref="Gpu.Plan"/>
    /// says), or the general-geometry shared-memory tiled kernels (the first kernels; what non-3×3 convolutions run).
    /// The Gram kernels are always the plan's (choose them with ILGPU_STYLE_TILES=gram=blocked|tiled).
    /// </summary>
    public enum KernelSet { Default, Tiled }

    private long allocationsWhileTiming;

    public KernelBenchReport Run()
    {
        double loadBefore = ReadLoadAverage();
        gpu.ResetPeak();
        long allocationsBefore = gpu.AllocationCount;
        var timings = new List<KernelTiming>();
        var byShape = new Dictionary<(int, int, int), (KernelTiming Fwd, KernelTiming Bwd)>();
        double vggFwd = 0, vggBwd = 0;
        foreach (var layer in Vgg19Shapes.Convolutions(options.Size).Where(l => Selected(l.Name)))
        {
            var key = (layer.Cin, layer.Cout, layer.Size);
            if (!byShape.TryGetValue(key, out var pair))
                byShape[key] = pair = TimeConv(layer);
            timings.Add(pair.Fwd with { Layer = layer.Name });
            timings.Add(pair.Bwd with { Layer = layer.Name });
            if (Vgg19Shapes.UpToRelu51(layer))
            {
                vggFwd += pair.Fwd.MedianMs;
                vggBwd += pair.Bwd.MedianMs;
            }
        }
        double gramFwd = 0, gramBwd = 0;
        foreach (var style in Vgg19Shapes.StyleLayers(options.Size).Where(l => Selected(l.Name)))
        {
            var (fwd, bwd) = TimeGram(style);
            timings.Add(fwd);
            timings.Add(bwd);
            gramFwd += fwd.MedianMs;
            gramBwd += bwd.MedianMs;
        }

        return new KernelBenchReport(gpu.Info.Id + " " + gpu.Name, options.Size, options.Runs, options.Warmup,
            options.Kernels.ToString().ToLowerInvariant(), gpu.Plan.ToString(), timings, vggFwd, vggBwd, gramFwd, gramBwd, gpu.PeakBytes,
            gpu.AllocationCount - allocationsBefore, allocationsWhileTiming, loadBefore, ReadLoadAverage());
    }

    private bool Selected(string name) => options.Layers is null || options.Layers.Contains(name);

    private (KernelTiming, KernelTiming) TimeConv(ConvLayerShape l)
    {
        var p = Conv2dParams.Same3x3;
        var xShape = Shape4.Image(l.Cin, l.Size, l.Size);
        var yShape = Shape4.Image(l.Cout, l.Size, l.Size);
        var wShape = p.WeightShape(l.Cout, l.Cin);
        float wScale = MathF.Sqrt(6f / (l.Cin * 9)); // He-uniform range keeps activations O(1)
        using var x = gpu.FromHost(xShape, Random(1, xShape.Count, 1f));
        using var w = gpu.FromHost(wShape, Random(2, wShape.Count, wScale));
        using var b = gpu.FromHost(Shape4.Vector(l.Cout), Random(3, l.Cout, 0.1f));
        using var y = gpu.Allocate(yShape);
        using var dy = gpu.FromHost(yShape, Random(4, yShape.Count, 1f));
        using var dx = gpu.Allocate(xShape);
        // The default kernels get their operands prepared once, as VGG19 does (Vgg19: Conv2d.Prepare3x3), so the timing
        // is the network's and not the per-call weight rearrangement (Winograd's U, the direct kernels' K-major layout).
        using var prepared = Conv2d.Prepare3x3(w);
        string shape = $"{l.Cin}→{l.Cout} @ {l.Size}×{l.Size}";
        bool planned = options.Kernels == KernelSet.Default;
        string forwardAlgorithm = planned ? Conv2d.PlannedKernel3x3(gpu.Plan, l.Cin, l.Cout) : "tiled (general kernel)";
        string backwardAlgorithm = planned ? Conv2d.PlannedKernel3x3(gpu.Plan, l.Cout, l.Cin) : "tiled (general kernel)";

        Action forward = options.Kernels switch
        {
            KernelSet.Tiled => () => Conv2d.ForwardTiled(x, w, b, y, p, fuseRelu: true),
            _ => () => Conv2d.Forward(x, prepared, b, y, fuseRelu: true),
        };
        Action backward = options.Kernels switch
        {
            KernelSet.Default => () => Conv2d.BackwardData(dy, prepared, dx, accumulate: false),
            _ => () => Conv2d.BackwardDataTiled(dy, w, dx, p, accumulate: false),
        };
        var fwd = Time(l.Name, "conv forward+bias+relu", shape, l.Flops, forward) with { Algorithm = forwardAlgorithm };
        var bwd = Time(l.Name, "conv backward-data", shape, l.Flops, backward) with { Algorithm = backwardAlgorithm };
        return (fwd, bwd);
    }

    private (KernelTiming Forward, KernelTiming Backward) TimeGram(GramShape s)
    {
        var fShape = Shape4.Image(s.Channels, s.Size, s.Size);
        var gShape = Gram.OutputShape(fShape);
        float scale = 1f / fShape.Count;
        using var f = gpu.FromHost(fShape, Random(5, fShape.Count, 1f));
        using var g = gpu.Allocate(gShape);
        using var dG = gpu.FromHost(gShape, Random(6, gShape.Count, 1f));
        using var df = gpu.Allocate(fShape);
        string shape = $"{s.Channels} @ {s.Size}×{s.Size}";
        string algorithm = $"gram={TuningPlan.GramName(gpu.Plan.Gram)}";
        var forward = Time(s.Name, "gram forward", shape, s.Flops, () => Gram.Forward(f, g, scale)) with { Algorithm = algorithm };
        // The blocked backward runs the Winograd product with the plan's gblock; the shared one with the shared block.
        string backwardAlgorithm = gpu.Plan.Gram == GramKernelKind.Blocked ? $"{algorithm} gblock={WinogradTiles.BlockName(gpu.Plan.GramBlock)}"
            : gpu.Plan.Gram == GramKernelKind.Shared ? $"{algorithm} gblock=shared" : algorithm;
        var backward = Time(s.Name, "gram backward", shape, s.Flops, () => Gram.Backward(f, dG, df, scale, accumulate: false))
            with { Algorithm = backwardAlgorithm };
        return (forward, backward);
    }

    private KernelTiming Time(string layer, string kernel, string shape, double flops, Action call)
    {
        for (int i = 0; i < options.Warmup; i++) call();
        gpu.Synchronize();
        long allocations = gpu.AllocationCount;
        var ms = new double[options.Runs];
        var clock = new Stopwatch();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        for (int r = 0; r < options.Runs; r++)
        {
            gpu.Synchronize();
            clock.Restart();
            call();
            gpu.Synchronize();
            ms[r] = clock.Elapsed.TotalMilliseconds;
        }
        process.Refresh();
        double cpuMs = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / options.Runs;
        allocationsWhileTiming += gpu.AllocationCount - allocations;
        Array.Sort(ms);
        double median = ms.Length % 2 == 1 ? ms[ms.Length / 2] : (ms[ms.Length / 2 - 1] + ms[ms.Length / 2]) / 2;
        return new KernelTiming(layer, kernel, shape, flops, median, ms[0], cpuMs);
    }

    /// <summary>The 1-minute load average (Linux /proc/loadavg), or −1 where there is none.</summary>
    public static double ReadLoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }

    private static float[] Random(int seed, int n, float range)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = range * (2f * (float)rng.NextDouble() - 1f);
        return a;
    }
}
