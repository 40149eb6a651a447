using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style bench`: per-kernel timings (median of --runs after a warm-up) and GFLOP/s for every VGG19
/// convolution shape and Gram matrix at --size, plus peak device memory and allocation counts; then whole
/// style-transfer iterations (loss evaluation + L-BFGS step) at each of --iteration-sizes, with the peak device
/// memory and the allocations per iteration.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var device = new Option<string>("--device")
        {
            Description = "Device: auto, cuda, opencl, cpu, optionally with an index (opencl:1).",
            DefaultValueFactory = _ => "auto",
        };
        var size = new Option<int>("--size")
        {
            Description = "Side of the (square) input image in pixels; stage k of VGG19 runs at size / 2^(k-1).",
            DefaultValueFactory = _ => 256,
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Timed calls per kernel, and timed iterations per size of the whole-iteration bench; the median is reported.",
            DefaultValueFactory = _ => 5,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed calls per kernel before timing (the first one compiles the kernel), and untimed iterations (at least 1) after the initial evaluation of the whole-iteration bench.",
            DefaultValueFactory = _ => 1,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of a table." };
        var layers = new Option<string[]>("--layers")
        {
            Description = "Only these layers (comma- or space-separated): conv1_1 … conv5_4, relu1_1 … relu5_1. Default: all.",
            AllowMultipleArgumentsPerToken = true,
        };
        var kernels = new Option<KernelBench.KernelSet>("--kernels")
        {
            Description = "Convolution kernels to time: default (what the device's tuning plan says) or tiled (the general-geometry shared-memory tiled kernels, the first ones). Gram kernels follow the plan (ILGPU_STYLE_TILES=gram=blocked|tiled).",
            DefaultValueFactory = _ => KernelBench.KernelSet.Default,
        };

        var iterationSizes = new Option<string[]>("--iteration-sizes")
        {
            Description = "Image sizes of the whole-iteration bench (comma- or space-separated): a side (512: square) or WxH (3840x2160), each side ≥ 16.",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => ["256", "512"],
        };
        var maxMemory = new Option<string?>("--max-memory")
        {
            Description = "Whole-iteration bench: plan within this much device memory (e.g. 4G) and cap the device there; sizes that do not fit run in tiles.",
        };
        var tileSize = new Option<int?>("--tile-size") { Description = "Whole-iteration bench: evaluate in tiles of at most this side." };
        var profile = new Option<bool>("--profile")
        {
            Description = "Whole-iteration bench: after the timed iterations, time one more evaluation op by op (the device synchronized after each) and print where the time goes.",
        };
        var compareUntiled = new Option<bool>("--compare-untiled")
        {
            Description = "Whole-iteration bench: for sizes that run in tiles, also time the untiled evaluation when it fits the device (the tiling overhead).",
        };
        var noIteration = new Option<bool>("--no-iteration") { Description = "Skip the whole-iteration bench." };
        var noKernels = new Option<bool>("--no-kernels") { Description = "Skip the per-kernel bench." };
        var history = new Option<int>("--lbfgs-history")
        {
            Description = "L-BFGS history of the whole-iteration bench.",
            DefaultValueFactory = _ => 5,
        };
        var weights = new Option<string?>("--weights")
        {
            Description = "VGG19 .ilgw file for the whole-iteration bench, or 'random' (default: the file stylize would find, else random weights; timings do not depend on the values).",
        };

        var command = new Command("bench",
            "Time the convolution and Gram kernels on VGG19 layer shapes (GFLOP/s, memory) and whole style-transfer iterations.");
        var autotune = AutotuneOption.Create();
        var precision = PrecisionOption.Create();
        foreach (var o in new Option[] { device, autotune, precision, size, runs, warmup, json, layers, kernels, iterationSizes, maxMemory, tileSize, compareUntiled, profile, noIteration, noKernels, history, weights })
            command.Options.Add(o);
        command.SetAction(parseResult => CliErrors.Run(() =>
        {
            int s = parseResult.GetValue(size), r = parseResult.GetValue(runs), wu = parseResult.GetValue(warmup);
            if (s < 1 || r < 1 || wu < 0)
                throw new UsageException("bench --size and --runs must be ≥ 1 and --warmup ≥ 0.");
            bool runKernels = !parseResult.GetValue(noKernels), runIteration = !parseResult.GetValue(noIteration);
            var sizes = new List<BenchSize>();
            foreach (var text in (parseResult.GetValue(iterationSizes) ?? [])
                         .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                if (BenchSize.Parse(text) is not { } parsed || Math.Min(parsed.Width, parsed.Height) < 16)
                    throw new UsageException($"bench --iteration-sizes: '{text}' is not a size ≥ 16 (512 or 3840x2160).");
                sizes.Add(parsed);
            }
            long? maxBytes = null;
            if (parseResult.GetValue(maxMemory) is { } m)
            {
                try { maxBytes = ByteSize.Parse(m); }
                catch (ByteSizeException e) { throw new UsageException($"bench --max-memory {e.Message}"); }
                if (maxBytes <= 0) throw new UsageException("bench --max-memory must be > 0.");
            }
            if (parseResult.GetValue(tileSize) is < 16) throw new UsageException("bench --tile-size must be ≥ 16.");
            if (runIteration && sizes.Count == 0)
                throw new UsageException("bench --iteration-sizes is empty (use --no-iteration to skip the whole-iteration bench).");
            if (parseResult.GetValue(history) < 1)
                throw new UsageException("bench --lbfgs-history must be ≥ 1.");
            if (!runKernels && !runIteration)
                throw new UsageException("bench --no-kernels and --no-iteration leave nothing to do.");
            var names = parseResult.GetValue(layers)?
                .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .ToHashSet();
            var known = Vgg19Shapes.Convolutions(s).Select(c => c.Name).Concat(Vgg19Shapes.StyleLayers(s).Select(g => g.Name)).ToHashSet();
            var unknown = names?.Where(n => !known.Contains(n)).ToList();
            if (unknown is { Count: > 0 })
                throw new UsageException($"bench --layers: unknown layer(s) {string.Join(", ", unknown)}; known: {string.Join(", ", known)}.");

            using (var gpu = DeviceCatalog.Open(parseResult.GetValue(device) ?? "auto", out var why))
            {
                bool asJson = parseResult.GetValue(json);
                var mode = AutotuneModes.Resolve(AutotuneOption.Read(parseResult, autotune));
                var cache = new PlanCache(PlanCache.DefaultPath);
                // A first run's tuning prints every plan it times (stderr): the candidates' times are the bench's data too.
                void Timed(TuningPlan plan, double ms) => Console.Error.WriteLine($"  autotuning: {ms,9:0.000} ms  {plan}");
                var wanted = PrecisionOption.Read(parseResult, precision);
                var tuning = Autotuner.Apply(gpu, mode, cache, Console.Error.WriteLine, timed: Timed,
                    noTuningBecause: Precisions.NoFp32TuningBecause(gpu, wanted));
                (var used, tuning) = Precisions.ApplyAfterTuning(gpu, wanted, tuning, mode, cache,
                    Console.Error.WriteLine, out var precisionNote, Timed);
                if (precisionNote is not null) Console.Error.WriteLine(precisionNote);
                if (!asJson) Console.WriteLine($"{why}\n{tuning}");
                KernelBenchReport? kernelReport = null;
                if (runKernels)
                {
                    var options = new KernelBench.Options(s, r, wu, names is { Count: > 0 } ? names : null, parseResult.GetValue(kernels));
                    kernelReport = new KernelBench(gpu, options).Run();
                    if (!asJson) PrintTable(kernelReport);
                }
                IterationBenchReport? iterationReport = null;
                if (runIteration)
                {
                    var benchWeights = BenchWeights.Resolve(parseResult.GetValue(weights));
                    var options = new IterationBench.Options(sizes, r, wu, parseResult.GetValue(history))
                    {
                        MaxMemoryBytes = maxBytes, TileSide = parseResult.GetValue(tileSize), CompareUntiled = parseResult.GetValue(compareUntiled),
                        Profile = parseResult.GetValue(profile),
                    };
                    try
                    {
                        iterationReport = new IterationBench(gpu, benchWeights, options).Run();
                    }
                    catch (IterationBenchException e)
                    {
                        // Not the user's input: the measurement itself failed (exit 1), said in one line.
                        Console.Error.WriteLine($"error: {e.Message}");
                        return 1;
                    }
                    if (!asJson) PrintIterations(iterationReport);
                }
                if (asJson) Console.WriteLine(JsonSerializer.Serialize(new BenchReport(gpu.Info.Id + " " + gpu.Name, gpu.Plan, kernelReport, iterationReport) { Tuning = tuning.Source, Precision = Precisions.Name(used) }, JsonOptions));
            }
            return 0;
        }));
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep → and × readable
    };

    /// <summary>The --json document: the device, the tuning plan in force, and the two parts (null when skipped).</summary>
    public sealed record BenchReport(string Device, TuningPlan Plan, KernelBenchReport? Kernels, IterationBenchReport? Iteration)
    {
        /// <summary>Where the plan came from (autotuned, cached, defaults, ILGPU_STYLE_TILES).</summary>
        public string? Tuning { get; init; }

        /// <summary>What the convolutions and Gram matrices computed in: "fp32", "tf32" or "bf16" (--precision).</summary>
        public string Precision { get; init; } = "fp32";
    }

    private static void PrintIterations(IterationBenchReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"whole iteration (VGG19 to relu5_1, Gram, losses, TV, backward to the pixels + {report.Optimizer}), " +
                          $"device {report.Device}, median of {report.Runs} iterations after the initial evaluation and {report.Warmup} warm-up iteration(s)");
        Console.WriteLine($"weights: {report.Weights}");
        Console.WriteLine($"{"size",-11} {"s/iter",8} {"min s",8} {"evaluate s",10} {"step s",8} {"cpu-s/iter",10} {"peak memory",12} {"allocs 1st",10} {"allocs/iter after",17} {"load",9}");
        foreach (var t in report.Timings)
            Console.WriteLine(string.Format(inv, "{0,-11} {1,8:0.000} {2,8:0.000} {3,10:0.000} {4,8:0.000} {5,10:0.00} {6,12} {7,10} {8,17:0.##} {9,4:0.0}–{10,-4:0.0}",
                $"{t.Size}×{t.Height}", t.MedianSeconds, t.MinSeconds, t.EvaluateMedianSeconds, t.StepMedianSeconds,
                t.CpuSecondsPerIteration, ByteSize.Format(t.PeakBytes), t.AllocationsFirstIteration,
                t.AllocationsPerIterationAfterFirst, t.LoadAverageBefore, t.LoadAverageAfter));
        foreach (var t in report.Timings.Where(t => t.Tiles > 1))
            Console.WriteLine(string.Format(inv, "{0}×{1}: plan {2}; {3}", t.Size, t.Height, t.Plan,
                t.UntiledEvaluateMedianSeconds is double u
                    ? $"untiled evaluation {u:0.000} s: tiled/untiled {t.EvaluateMedianSeconds / u:0.00}×"
                    : "untiled: not timed (no --compare-untiled, or it does not fit the device)"));
        foreach (var t in report.Timings.Where(t => t.Ops is not null))
        {
            double sum = t.Ops!.Sum(o => o.TotalMs);
            Console.WriteLine();
            Console.WriteLine(string.Format(inv, "{0}×{1}: one evaluation op by op (device synchronized after each op): {2:0.0} ms on the tape of {3:0.0} ms in all",
                t.Size, t.Height, sum, t.ProfiledEvaluationMs));
            Console.WriteLine($"{"op",-20} {"calls",5} {"forward ms",11} {"backward ms",12} {"total ms",9} {"share",6}");
            foreach (var o in t.Ops!)
                Console.WriteLine(string.Format(inv, "{0,-20} {1,5} {2,11:0.0} {3,12:0.0} {4,9:0.0} {5,5:0.0}%",
                    o.Op, o.Calls, o.ForwardMs, o.BackwardMs, o.TotalMs, 100 * o.TotalMs / sum));
        }
    }

    private static void PrintTable(KernelBenchReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"device {report.Device}, size {report.Size}, median of {report.Runs} runs after {report.Warmup} warm-up, " +
                          $"kernels: {report.Kernels}, plan {report.Plan}");
        Console.WriteLine(string.Format(inv, "load average {0:0.0} before, {1:0.0} after (1-minute; above the core count, timings are inflated)",
            report.LoadAverageBefore, report.LoadAverageAfter));
        Console.WriteLine($"{"layer",-8} {"kernel",-24} {"shape",-20} {"median ms",10} {"min ms",10} {"GFLOP/s",8} {"GFLOP/cpu-s",11}  algorithm (plan)");
        foreach (var t in report.Timings)
            Console.WriteLine(string.Format(inv, "{0,-8} {1,-24} {2,-20} {3,10:0.000} {4,10:0.000} {5,8:0.0} {6,11:0.0}  {7}",
                t.Layer, t.Kernel, t.Shape, t.MedianMs, t.MinMs, t.Gflops, t.GflopsPerCpuSecond, t.Algorithm));
        Console.WriteLine(string.Format(inv,
            "VGG19 conv1_1…conv5_1: forward {0:0.0} ms, backward-data {1:0.0} ms, sum {2:0.0} ms (layers measured above only)",
            report.VggForwardMs, report.VggBackwardDataMs, report.VggForwardMs + report.VggBackwardDataMs));
        Console.WriteLine(string.Format(inv, "Gram relu1_1…relu5_1: forward {0:0.0} ms, backward {1:0.0} ms (layers measured above only)",
            report.GramForwardMs, report.GramBackwardMs));
        Console.WriteLine($"peak device memory {ByteSize.Format(report.PeakBytes)}, {report.Allocations} allocations " +
                          $"({report.AllocationsWhileTiming} during timed calls)");
    }
}
