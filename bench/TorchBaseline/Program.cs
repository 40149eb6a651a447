using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IlgpuStyle.Bench;
using IlgpuStyle.Stylize;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.TorchReference;
using static TorchSharp.torch;

namespace IlgpuStyle.TorchBaseline;

/// <summary>
/// The yardstick: in one process, times our kernels and whole iterations (the code paths of `ilgpu-style bench`:
/// <see cref="KernelBench"/>, <see cref="IterationBench"/>) and the identical computation in libtorch (TorchSharp,
/// float32, CPU, 2 threads) with the same weights, images, sizes and loss formulas, alternating ours and libtorch
/// item by item so both see the same machine load; prints ours / libtorch per VGG19 conv shape and per iteration,
/// after checking that both compute the same loss and gradient at the same image.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var sizesOption = new Option<string[]>("--sizes")
        {
            Description = "Sides of the square images (comma- or space-separated, each ≥ 16).",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => ["256", "512"],
        };
        var runsOption = new Option<int>("--runs") { Description = "Timed calls / iterations; the median is reported.", DefaultValueFactory = _ => 3 };
        var warmupOption = new Option<int>("--warmup") { Description = "Untimed calls / iterations first (at least 1 iteration).", DefaultValueFactory = _ => 1 };
        var deviceOption = new Option<string>("--device") { Description = "Our device: auto, cuda, opencl, cpu (with :index).", DefaultValueFactory = _ => "auto" };
        var weightsOption = new Option<string?>("--weights") { Description = "VGG19 .ilgw file or 'random' (default: the file stylize finds, else random weights; both sides use the same)." };
        var historyOption = new Option<int>("--lbfgs-history") { Description = "L-BFGS history (both sides).", DefaultValueFactory = _ => 5 };
        var threadsOption = new Option<int>("--threads") { Description = "libtorch intra-op threads.", DefaultValueFactory = _ => 2 };
        var noLayers = new Option<bool>("--no-layers") { Description = "Skip the per-layer convolution comparison." };
        var noIteration = new Option<bool>("--no-iteration") { Description = "Skip the whole-iteration comparison." };
        var noCheck = new Option<bool>("--no-check") { Description = "Skip the loss/gradient agreement check." };
        var jsonOption = new Option<bool>("--json") { Description = "Print one JSON document instead of tables." };

        var root = new RootCommand("VGG19 convolutions and whole style-transfer iterations: ours vs libtorch (TorchSharp, CPU), same weights and sizes.");
        foreach (var o in new Option[] { sizesOption, runsOption, warmupOption, deviceOption, weightsOption, historyOption, threadsOption, noLayers, noIteration, noCheck, jsonOption })
            root.Options.Add(o);
        root.SetAction(p =>
        {
            var sizes = new List<int>();
            foreach (var text in (p.GetValue(sizesOption) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int s) || s < 16)
                {
                    Console.Error.WriteLine($"torch-baseline: --sizes: '{text}' is not a size ≥ 16.");
                    return 2;
                }
                sizes.Add(s);
            }
            int runs = p.GetValue(runsOption), warmup = p.GetValue(warmupOption), history = p.GetValue(historyOption), threads = p.GetValue(threadsOption);
            if (sizes.Count == 0 || runs < 1 || warmup < 0 || history < 1 || threads < 1)
            {
                Console.Error.WriteLine("torch-baseline: need at least one size, --runs ≥ 1, --warmup ≥ 0, --lbfgs-history ≥ 1, --threads ≥ 1.");
                return 2;
            }
            bool json = p.GetValue(jsonOption);
            set_num_threads(threads);
            using var gpu = DeviceCatalog.Open(p.GetValue(deviceOption) ?? "auto", out var why);
            if (!json) Console.WriteLine(why);
            // The plan users get: autotuned (ILGPU_STYLE_AUTOTUNE, default quick; cached per device), so the ratio is
            // measured on what `stylize` runs.
            var tuning = Autotuner.Apply(gpu, AutotuneModes.Resolve(null), new PlanCache(PlanCache.DefaultPath), Console.Error.WriteLine);
            if (!json) Console.WriteLine(tuning);
            var weights = BenchWeights.Resolve(p.GetValue(weightsOption));
            var report = Run(gpu, weights, sizes, runs, warmup, history, !p.GetValue(noLayers), !p.GetValue(noIteration), !p.GetValue(noCheck), json);
            if (json) Console.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
            else BaselineTable.Print(report);
            return 0;
        });
        return root.Parse(args).Invoke();
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Waits until libtorch's OpenMP threads have stopped spinning before anything of ours is timed. libgomp's workers
    /// busy-wait after a parallel region (GOMP_SPINCOUNT, 300 000 pause loops: ~20 ms on the Intel Xeon), taking a core
    /// from the next measurement: short layers timed right after libtorch's previous layer ran up to 1.9× slower with
    /// 1.7× the CPU time (conv4_1's forward at 256²: 11–15 ms here against 6.6–8.8 ms alone; stop 24).
    /// </summary>
    private static void AfterLibtorch() => Thread.Sleep(250);

    private static BaselineReport Run(Gpu gpu, BenchWeights weights, IReadOnlyList<int> sizes, int runs, int warmup, int history,
        bool layers, bool iteration, bool check, bool quiet)
    {
        var o = IterationProblem.Loss;
        using var torchNet = new TorchVgg19(weights.Weights);
        var torchTimes = new TorchTimings(runs, warmup);
        void Progress(string what)
        {
            if (!quiet) Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {what}");
        }

        LossCheck? lossCheck = null;
        if (check)
        {
            Progress($"loss check at {sizes.Min()}");
            lossCheck = CheckLoss(gpu, weights, torchNet, o, sizes.Min());
        }
        var results = new List<SizeComparison>();
        foreach (int size in sizes)
        {
            AfterLibtorch(); // the loss check, or the previous size's libtorch iterations
            double loadBefore = KernelBench.ReadLoadAverage();
            var comparisons = new List<LayerComparison>();
            if (layers)
            {
                // Layers of equal shape are timed once; ours and libtorch alternate shape by shape.
                foreach (var group in Vgg19Shapes.Convolutions(size).GroupBy(c => (c.Cin, c.Cout, c.Size)))
                {
                    var l = group.First();
                    Progress($"{size}: {l.Name}");
                    var ours = new KernelBench(gpu, new KernelBench.Options(size, runs, warmup, new HashSet<string> { l.Name }, KernelBench.KernelSet.Default)).Run();
                    var (tf, tb) = torchTimes.Conv(l);
                    AfterLibtorch();
                    var (of, ob) = (ours.Timings[0], ours.Timings[1]);
                    comparisons.Add(new LayerComparison(string.Join(", ", group.Select(c => c.Name)), $"{l.Cin}→{l.Cout} @ {l.Size}×{l.Size}",
                        group.Count(), l.Flops, of.MedianMs, tf.MedianMs, ob.MedianMs, tb.MedianMs, of.CpuMs, tf.CpuMs, ob.CpuMs, tb.CpuMs));
                }
            }
            IterationComparison? it = null;
            if (iteration)
            {
                AfterLibtorch();
                Progress($"{size}: iteration, ours");
                var ours = new IterationBench(gpu, weights, new IterationBench.Options([size], runs, warmup, history)).TimeSize(size);
                Progress($"{size}: iteration, libtorch");
                using var scope = NewDisposeScope();
                var content = ToTorch(IterationProblem.RandomImage(size, IterationProblem.ContentSeed).Data, size);
                var style = ToTorch(IterationProblem.RandomImage(size, IterationProblem.StyleSeed).Data, size);
                using var loss = new TorchGatysLoss(torchNet, content, style, o);
                it = new IterationComparison(ours, torchTimes.Iteration(loss, content, history));
            }
            results.Add(new SizeComparison(size, comparisons, it, loadBefore, KernelBench.ReadLoadAverage()));
        }
        return new BaselineReport(gpu.Info.Id + " " + gpu.Name, gpu.Plan.ToString(), $"libtorch {TorchSharp.torch.__version__} (TorchSharp, CPU, float32)",
            get_num_threads(), weights.Description, weights.IsReal, IterationBench.OptimizerDescription(history), runs, warmup, lossCheck, results);
    }

    /// <summary>Both losses at the same random image: the three terms, the total and the gradient.</summary>
    private static LossCheck CheckLoss(Gpu gpu, BenchWeights weights, TorchVgg19 torchNet, LossSettings o, int size)
    {
        var contentImage = IterationProblem.RandomImage(size, IterationProblem.ContentSeed).Data;
        var styleImage = IterationProblem.RandomImage(size, IterationProblem.StyleSeed).Data;
        var probe = IterationProblem.RandomImage(size, IterationProblem.ProbeSeed).Data;
        var shape = Shape4.Image(3, size, size);

        LossValues ours;
        float[] oursGradient;
        using (var network = new Vgg19(gpu, weights.Weights, IterationProblem.Pooling, o.Layers))
        using (var content = gpu.FromHost(shape, contentImage))
        using (var style = gpu.FromHost(shape, styleImage))
        using (var loss = new GatysLoss(network, content, [(style, 1f)], o))
        using (var x = gpu.FromHost(shape, probe))
        using (var gradient = gpu.Allocate(shape))
        {
            loss.Evaluate(x, gradient);
            ours = loss.Last;
            oursGradient = gradient.ToHost();
        }

        using var scope = NewDisposeScope();
        using var torchLoss = new TorchGatysLoss(torchNet, ToTorch(contentImage, size), ToTorch(styleImage, size), o);
        var (theirs, theirGradient) = TorchTimings.Evaluate(torchLoss, ToTorch(probe, size));
        using var net64 = new TorchVgg19(weights.Weights, ScalarType.Float64);
        using var loss64 = new TorchGatysLoss(net64, ToTorch(contentImage, size, ScalarType.Float64), ToTorch(styleImage, size, ScalarType.Float64), o);
        var (_, gradient64) = TorchTimings.Evaluate(loss64, ToTorch(probe, size, ScalarType.Float64));
        return new LossCheck(size, ours.Content, theirs.Content, ours.Style, theirs.Style, ours.Tv, theirs.Tv, ours.Total, theirs.Total,
            RelativeL2(oursGradient, theirGradient), RelativeL2(theirGradient, gradient64));
    }

    /// <summary>‖a − b‖₂ / ‖b‖₂.</summary>
    private static double RelativeL2(float[] a, float[] b)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            diff += d * d;
            norm += (double)b[i] * b[i];
        }
        return Math.Sqrt(diff / Math.Max(norm, 1e-300));
    }

    private static TorchSharp.torch.Tensor ToTorch(float[] rgb, int size, ScalarType dtype = ScalarType.Float32) =>
        tensor(rgb, [1, 3, size, size]).to(dtype);
}
