// Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/TensorCoreTuningTests.cs · the kernels every candidate chooses: Conv2dTensorCoreTests, GramTensorCoreTests
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>
/// The tensor-core half of the autotuner (--precision tf32|bf16, issue #11): the FP32 search (<see cref="Tune"/>) times
/// FP32 kernels only, and <see cref="Precisions.Apply"/> then puts every 3×3 convolution and Gram matrix on one fixed
/// tensor-core blocking (gx=4 gy=2). The first GPU run (H200, 2026-12-04) measured that blocking best on most layers but
/// not all: cp.async with gx=2 gy=2 on conv4_x at 512² (0.198 vs 0.235 ms forward), split-K on conv5_x at 32² (0.211 →
/// 0.095 ms with ks=2). So, the first time a device is asked for a tensor-core precision, the blockings are timed the
/// same way (<see cref="Best"/>, <see cref="Confirm"/>) on the VGG19 stages of a 512 px image (<see cref="GpuConv"/>,
/// <see cref="GpuGram"/>: the default size; a GPU's CPU-sized shapes last microseconds, where launches decide), starting
/// from <see cref="Precisions.Apply"/>'s plan: the warp blocking with and without cp.async, then split-K's target on the
/// winner, then the Gram's cp.async and split target. The choice is cached per device and precision
/// (<see cref="PlanCache"/>'s entries carry the precision); the same plan gives the same bytes run to run.
/// </summary>
public static partial class Autotuner
{
    /// <summary>
    /// The convolutions a GPU's tensor-core tuning times: conv1_2 … conv5_1 of a 512 px image, one shape per VGG19 stage,
    /// weighted like <see cref="FullConv"/> (stage 2: conv2_1 + conv2_2 = 1.5 of conv2_2's multiply-adds, stages 3 and 4
    /// four layers = 3.5 of the shape's) — so the sum is about the convolutions' time in an iteration at 512². ~370 MiB.
    /// </summary>
    public static readonly Shape[] GpuConv = [new(64, 64, 512, 1), new(128, 128, 256, 1.5), new(256, 256, 128, 3.5), new(512, 512, 64, 3.5), new(512, 512, 32, 1)];

    /// <summary>Warp blockings (gx warps along pixels, gy along channels) tried, best first by the first GPU run's measurements.</summary>
    private static readonly (int Gx, int Gy)[] TensorCoreGroups = [(4, 2), (2, 2), (4, 1), (2, 1)];

    /// <summary>
    /// The blockings tried over <paramref name="start"/> (a tensor-core plan): each of <see cref="TensorCoreGroups"/> (full:
    /// also 1 × 2 and 1 × 1) with register staging and with cp.async (2 buffers; full: also 3 and 4), and the first
    /// blocking (4 × 2: --precision's) with 3 and 4 cp.async buffers in dynamic shared memory (stages two and three ahead,
    /// as cuDNN's and CUTLASS's multistage kernels keep them) — its 4 buffers also publishing two stages a barrier
    /// (<see cref="ConvTiles.StagesPerBarrier"/>: half the barriers) —, where the group and its shared tiles fit; split-K stays as
    /// <paramref name="start"/> has it (tried next, on the winner).
    /// </summary>
    public static IEnumerable<TuningPlan> TensorCoreBlockings(TuningPlan start, int maxGroup, bool full)
    {
        (int Gx, int Gy)[] groups = full ? [.. TensorCoreGroups, (1, 2), (1, 1)] : TensorCoreGroups;
        foreach (var (gx, gy) in groups)
            foreach (var buffers in full ? [0, 2, 3, 4] : (gx, gy) == TensorCoreGroups[0] ? new[] { 0, 2, 3, 4 } : [0, 2])
                foreach (var perBarrier in buffers == 4 && (gx, gy) == TensorCoreGroups[0] ? [1, 2] : new[] { 1 })
                {
                    var plan = start with { Conv = start.Conv with { GroupX = gx, GroupY = gy, AsyncBuffers = buffers, StagesPerBarrier = perBarrier } };
                    if (Fits(plan, maxGroup)) yield return plan;
                }
    }

    /// <summary>
    /// Split-K targets tried over the chosen blocking (<see cref="ConvTiles.SplitTarget"/>: only grids with fewer than T × 256
    /// work-items per multiprocessor split, so the big maps keep theirs): none, 1, 2 (full: also 4).
    /// </summary>
    public static IEnumerable<TuningPlan> TensorCoreSplits(TuningPlan plan, bool full) =>
        (full ? new[] { 0, 1, 2, 4 } : [0, 1, 2]).Select(t => plan with { Conv = plan.Conv with { SplitTarget = t } });

    /// <summary>The tensor-core Gram's variants tried: register staging or cp.async, split targets 2, 4, 8 groups per multiprocessor (full: 1 … 16).</summary>
    public static IEnumerable<TuningPlan> TensorCoreGramCandidates(TuningPlan plan, bool full)
    {
        int[] targets = full ? [1, 2, 4, 8, 16] : [2, 4, 8];
        foreach (var buffers in new[] { 0, 2 })
            foreach (var t in targets)
                yield return plan with { GramAsyncBuffers = buffers, GramTarget = t };
    }

    /// <summary>
    /// Right after <see cref="Precisions.Apply"/> put <paramref name="gpu"/> on <paramref name="precision"/>'s tensor-core
    /// kernels: the blocking it should use under <paramref name="mode"/>, applied — the plan as it is when ILGPU_STYLE_TILES
    /// is set, the mode is off or the device is the CPU simulator; else the cached choice for this device and precision,
    /// else a fresh tuning (stored; <paramref name="timed"/> hears every plan timed). Like <see cref="Apply"/>, a tuning whose buffers do not fit keeps the plan and stores nothing.
    /// </summary>
    public static AutotuneResult ApplyTensorCores(Gpu gpu, Precision precision, AutotuneMode mode, PlanCache cache, Action<string>? say = null,
        Shape[]? convShapes = null, Shape[]? gramShapes = null, Action<TuningPlan, double>? timed = null)
    {
        string name = Precisions.Name(precision);
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TuningPlan.EnvironmentVariable)))
            return new AutotuneResult(gpu.Plan, $"{name} blocking of {TuningPlan.EnvironmentVariable} or the default");
        if (mode == AutotuneMode.Off) return new AutotuneResult(gpu.Plan, $"default {name} blocking; autotuning off");
        if (gpu.Kind == ILGPU.Runtime.AcceleratorType.CPU) return new AutotuneResult(gpu.Plan, $"default {name} blocking; the CPU simulator is not tuned");

        return CachedOrTuned(gpu, mode, cache, precision, $"{gpu.Name}'s {name} tensor-core blockings", $"{name} blocking ", $"default {name} blocking",
            say, () => TuneTensorCores(gpu, mode, convShapes, gramShapes, timed, say));
    }

    /// <summary>
    /// Times the tensor-core candidates over <paramref name="gpu"/>'s plan (which must be a tensor-core one: what
    /// <see cref="Precisions.Apply"/> made) and returns the fastest (not applied, not stored; the plan is restored):
    /// the convolution's blocking (<see cref="TensorCoreBlockings"/>), then its split-K target (<see cref="TensorCoreSplits"/>),
    /// then the Gram's variant (<see cref="TensorCoreGramCandidates"/>), each by <see cref="Best"/>'s rule, the result
    /// against the start by <see cref="Confirm"/>. Shapes: null takes <see cref="GpuConv"/> and <see cref="GpuGram"/>.
    /// <paramref name="timed"/> hears every plan timed; a candidate that fails to compile or launch is skipped (<see cref="Guard"/>).
    /// </summary>
    public static AutotuneResult TuneTensorCores(Gpu gpu, AutotuneMode mode, Shape[]? convShapes = null, Shape[]? gramShapes = null,
        Action<TuningPlan, double>? timed = null, Action<string>? say = null)
    {
        var start = gpu.Plan;
        if (!start.Conv.Kind.IsTensorCore() || !start.Gram.IsTensorCore())
            throw new ArgumentException($"the tensor-core tuning starts from a tensor-core plan, not {start}.");
        bool full = mode == AutotuneMode.Full;
        int maxGroup = gpu.Accelerator.MaxNumThreadsPerGroup;
        Prewarm(gpu, TensorCoreTuningVariants(start, maxGroup, full, convShapes ?? GpuConv).Concat(PlainKernels()), "the tuning's tensor-core kernels and the run's others", say);
        using var bench = new Workload(gpu, convShapes ?? GpuConv, gramShapes ?? GpuGram, timed);
        var conv = Guard(bench.Conv, start, say);
        var grams = Guard(bench.Grams, start, say);
        try
        {
            double startConv = conv(start), startGram = grams(start);
            var (best, bestConv) = Best(start, startConv, TensorCoreBlockings(start, maxGroup, full), conv);
            (best, bestConv) = Best(best, bestConv, TensorCoreSplits(best, full), conv);
            var (tuned, bestGram) = Best(best, grams(best), TensorCoreGramCandidates(best, full).Where(p => Fits(p, maxGroup)), grams);
            var (plan, ms) = Confirm(start, startConv + startGram, tuned, bestConv + bestGram, p => conv(p) + grams(p));
            return new AutotuneResult(plan, $"{Precisions.Name(PrecisionOf(plan))} blocking autotuned {mode.ToString().ToLowerInvariant()}", ms, startConv + startGram);
        }
        finally
        {
            gpu.UsePlan(start);
            gpu.ReleaseScratch();
        }
    }

    /// <summary>
    /// The tensor-core kernel variants a tuning from <paramref name="start"/> loads: the convolution of every blocking it
    /// tries (<see cref="TensorCoreBlockings"/>; split-K needs no other kernel) as each shape's output channel count maps it
    /// (forward: the shape's outputs, backward-data: its inputs; <see cref="Conv2d.TensorCoreTilesFor"/>), and the Gram
    /// kernels of the precision, with and without cp.async — for every architecture (TF32 rounds differently before and from
    /// sm_90, the convolution and the Gram alike: the prewarm keeps the device's, <see cref="CudaKernelVariants.Variant.RunsOn"/>).
    /// </summary>
    public static IEnumerable<CudaKernelVariants.Variant> TensorCoreTuningVariants(TuningPlan start, int maxGroup, bool full, Shape[] convShapes)
    {
        var channels = convShapes.SelectMany(s => new[] { s.In, s.Out }).Distinct().ToList();
        var convs = TensorCoreBlockings(start, maxGroup, full).Prepend(start)
            .SelectMany(p => channels.Select(m => Conv2d.TensorCoreTilesFor(p.Conv, m) with { SplitTarget = 0 })).ToHashSet();
        int bf16 = start.Gram == GramKernelKind.TensorCoreBf16 ? Gram.TensorCoreBf16Mode : 0;
        return CudaKernelVariants.All().Where(v => IsTensorCore(v.Method) && v.Specialized switch
        {
            [SpecializedValue<ConvTiles> tiles] => convs.Contains(tiles.Value with { Tf32NearestEven = false }), // the launch's rounding: either
            [SpecializedValue<int> mode] => (mode.Value & Gram.TensorCoreBf16Mode) == bf16,
            _ => false,
        });
    }

    private static Precision PrecisionOf(TuningPlan plan) => plan.Conv.Kind == ConvKernelKind.TensorCoreBf16 ? Precision.Bf16 : Precision.Tf32;
}
