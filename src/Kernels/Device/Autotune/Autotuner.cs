// Test: tests/IlgpuStyle.Tests/Kernels/AutotunerTests.cs · the kernels every candidate chooses: Conv2dFastPathTests, GramTests
using System.Diagnostics;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>Where a device's plan came from, and what the tuning measured (null when nothing was timed).</summary>
public sealed record AutotuneResult(TuningPlan Plan, string Source, double? Milliseconds = null, double? DefaultMilliseconds = null)
{
    /// <summary>One line for the console: "tuning plan (autotuned quick, 412 ms vs the default's 530 ms): kind=…".</summary>
    public override string ToString() => Milliseconds is { } ms && DefaultMilliseconds is { } d
        ? $"tuning plan ({Source}, {ms:0} ms vs the default's {d:0} ms on the tuning shapes): {Plan}"
        : $"tuning plan ({Source}): {Plan}";
}

/// <summary>
/// Chooses a device's <see cref="TuningPlan"/> the way cuDNN's benchmark mode does: the first time a device (its
/// <see cref="TuningKey"/>) is met, time the candidate plans on a few VGG19 layer shapes — the 3×3 convolution forward
/// and backward-data, then the Gram forward and backward — keep the fastest, and store it in the <see cref="PlanCache"/>
/// so later runs start at once. Candidates are per device class: register-blocked convolutions with 16- and 8-channel
/// blocks (AVX-512 vs AVX2 register files) and several group shapes on CPU OpenCL devices; shared-tiles blockings on
/// GPUs; both Gram kernels and split targets everywhere. The search is greedy (convolution blocking first, then the
/// Winograd output tile, product block and channel threshold (register-blocked kinds; on GPUs the output tile and
/// threshold with the shared product), then the row-store threshold (full
/// only), then the direct kernels' channel block on the layers that run direct (conv1_1), then the Gram kernels and the
/// blocked backward's product block), and a candidate must beat the incumbent by <see cref="Margin"/>, and a fresh
/// timing of it (<see cref="Best"/>), to replace it, so noise does not flip the choice. Every plan a candidate can
/// produce is one the kernel tests cover; a chosen plan gives the same bytes run to run (nothing at launch depends on
/// timing).
/// Not tuned: the CPU simulator (tests only), and any device when ILGPU_STYLE_TILES sets the plan.
/// </summary>
public static partial class Autotuner
{
    /// <summary>A candidate replaces the incumbent only when at least this much faster (3 %).</summary>
    public const double Margin = 0.97;

    /// <summary>A candidate that loses by less than this factor is timed twice (<see cref="Best"/>).</summary>
    public const double CloseCall = 1.25;

    /// <summary>
    /// A layer shape to time: input channels, output channels, side of the (square) map, and how many times its time counts
    /// (<paramref name="Weight"/>): the multiply-adds of the VGG19 layers it stands for over its own, so that the weighted
    /// sum is about the time of those layers in one iteration at the shapes' image size.
    /// </summary>
    public readonly record struct Shape(int In, int Out, int Side, double Weight = 1);

    /// <summary>
    /// Quick: conv1_2, conv3_2, conv4_2 of a 256 px image — equal multiply-adds each; conv3_2 also stands for stage 2 (conv2_1,
    /// conv2_2: 1.5 of it) and stage 3 (conv3_1 … conv3_4: 3.5), conv4_2 for stage 4 (3.5) and conv5_1 (0.25), so they weigh 1,
    /// 5 and 3.75; Gram of relu3_1 (standing for relu1_1 … relu3_1: weight 3) and relu4_1 (relu4_1, relu5_1: 1.25) of a
    /// 128 px image. Until stop 30 the conv shapes were those of a 128 px image, unweighted: with AVX2 code on a Zen 5 the
    /// quick tuning then kept the spilling 16x8 Winograd block over 8x8 in two runs of three (their sums within 10 %, 16x8
    /// ahead on the 64-channel layer, which is 10 % of an iteration's multiply-adds but was a third of the sum), and an
    /// iteration took 1.2–1.3× the time it takes with 8x8 (0.48 vs 0.37 s at 256², 1.61 vs 1.19–1.38 s at 512²). The
    /// larger maps also give the Winograd product the tile counts of a real run (conv4_2 had 16 tiles at 128 px). A quick
    /// tuning takes ~25 s there with PoCL's kernel cache warm (12–14 s before).
    /// </summary>
    public static readonly Shape[] QuickConv = [new(64, 64, 256, 1), new(256, 256, 64, 5), new(512, 512, 32, 3.75)];
    public static readonly Shape[] QuickGram = [new(256, 256, 32, 3), new(512, 512, 16, 1.25)];

    /// <summary>Full: conv1_2 … conv5_1 stages of a 256 px image (weights: stage 2 is conv2_1 + conv2_2, stages 3 and 4 four layers); Gram of relu1_1 … relu5_1.</summary>
    public static readonly Shape[] FullConv = [new(64, 64, 256, 1), new(128, 128, 128, 1.5), new(256, 256, 64, 3.5), new(512, 512, 32, 3.5), new(512, 512, 16, 1)];
    public static readonly Shape[] FullGram = [new(64, 64, 256), new(128, 128, 128), new(256, 256, 64), new(512, 512, 32), new(512, 512, 16)];

    /// <summary>
    /// GPUs (GPU-shaped default plans), quick and full: the Gram of relu1_1 … relu5_1 of a 512 px image. The CPU devices'
    /// shapes last well under 0.1 ms on a GPU, where the launch and the host's synchronization decide the ranking: on the
    /// H200 (2026-12-04) the quick tuning kept <c>gram=tiled</c>, which at 512² took 1.5–5× the time of <c>gram=shared</c>
    /// on every layer (forward and backward 4.06 ms against 1.32 of a 15.3 ms iteration; bench-kernels.json vs
    /// bench-winograd-f4.json of that run). ~250 MiB of tensors.
    /// </summary>
    public static readonly Shape[] GpuGram = [new(64, 64, 512), new(128, 128, 256), new(256, 256, 128), new(512, 512, 64), new(512, 512, 32)];

    /// <summary>The Gram shapes a tuning from <paramref name="defaults"/> times: <see cref="GpuGram"/> on GPUs, else the mode's.</summary>
    public static Shape[] GramShapes(TuningPlan defaults, bool full) => GpuShaped(defaults.Conv.Kind) ? GpuGram : full ? FullGram : QuickGram;

    /// <summary>
    /// The plan <paramref name="gpu"/> should use under <paramref name="mode"/>, applied to it (<see cref="Gpu.UsePlan"/>):
    /// ILGPU_STYLE_TILES's when set, the defaults when off or on the CPU simulator, else the cached choice, else a
    /// fresh tuning (stored). <paramref name="say"/> hears what is being done (a tuning takes seconds).
    /// Shapes: tests pass small ones; null takes the mode's. <paramref name="timed"/> hears every plan a tuning times
    /// (bench prints them). <paramref name="noTuningBecause"/> set: a cached plan is still applied, but none is timed —
    /// the defaults stay, the source giving the reason (--precision tf32|bf16 on a tensor-core device replaces every
    /// kernel an FP32 tuning chooses: a fresh machine's first run would time them for nothing).
    /// </summary>
    public static AutotuneResult Apply(Gpu gpu, AutotuneMode mode, PlanCache cache, Action<string>? say = null,
        Shape[]? convShapes = null, Shape[]? gramShapes = null, Action<TuningPlan, double>? timed = null, string? noTuningBecause = null)
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TuningPlan.EnvironmentVariable)))
            return new AutotuneResult(gpu.Plan, TuningPlan.EnvironmentVariable);
        if (mode == AutotuneMode.Off) return new AutotuneResult(gpu.Plan, "defaults; autotuning off");
        if (gpu.Kind == AcceleratorType.CPU) return new AutotuneResult(gpu.Plan, "defaults; the CPU simulator is not tuned");

        return CachedOrTuned(gpu, mode, cache, Precision.Fp32, gpu.Name, "", "defaults", say,
            () => Tune(gpu, mode, convShapes, gramShapes, timed, say), noTuningBecause);
    }

    /// <summary>
    /// The plan stored for <paramref name="gpu"/>, <paramref name="mode"/> and <paramref name="precision"/>, applied; else
    /// <paramref name="tune"/>'s (timing <paramref name="what"/>), applied and stored. Sources start with
    /// <paramref name="label"/>; <paramref name="untuned"/> names the plan kept when the tuning's buffers do not fit — a
    /// --max-memory cap or a small device: that run stores nothing, so a later run with room still tunes. With
    /// <paramref name="noTuningBecause"/> set, nothing cached keeps the plan (the source says why), untimed and unstored.
    /// </summary>
    private static AutotuneResult CachedOrTuned(Gpu gpu, AutotuneMode mode, PlanCache cache, Precision precision, string what, string label,
        string untuned, Action<string>? say, Func<AutotuneResult> tune, string? noTuningBecause = null)
    {
        var key = TuningKey.For(gpu);
        var cached = cache.Find(key, mode, gpu.Plan, gpu.Accelerator.MaxNumThreadsPerGroup, out var problem, precision);
        if (problem is not null) say?.Invoke(problem);
        if (cached is not null)
        {
            gpu.UsePlan(cached);
            return new AutotuneResult(cached, $"{label}cached in {cache.Path}");
        }

        if (noTuningBecause is not null) return new AutotuneResult(gpu.Plan, $"{untuned}; not tuned: {noTuningBecause}");
        say?.Invoke($"autotuning {what} ({mode.ToString().ToLowerInvariant()}; once per device, kept in {cache.Path}) …");
        AutotuneResult result;
        try
        {
            result = tune();
        }
        catch (DeviceOutOfMemoryException e)
        {
            return new AutotuneResult(gpu.Plan, $"{untuned}; autotuning skipped, its buffers do not fit — {e.Message.TrimEnd('.')}");
        }
        gpu.UsePlan(result.Plan);
        try
        {
            cache.Store(key, mode, result.Plan, result.Milliseconds!.Value, result.DefaultMilliseconds!.Value, precision);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            say?.Invoke($"could not store the tuning in {cache.Path}: {e.Message}");
        }
        return result;
    }

    /// <summary>
    /// Times the candidates and returns the fastest plan (not applied, not stored); the device's plan is restored.
    /// <paramref name="timed"/> hears every plan timed and its milliseconds (tests). A candidate other than the defaults
    /// whose kernels fail to compile or launch (any exception but running out of device memory) counts as infinitely
    /// slow, and <paramref name="say"/> hears which and why: a kernel no device has run yet (the GPU candidates) must not
    /// take the whole run down with it. The defaults' own failures are the run's. On CUDA the driver first compiles every
    /// kernel the search may load on all cores (<see cref="Fp32TuningVariants"/>, Autotuner.Prewarm.cs).
    /// </summary>
    public static AutotuneResult Tune(Gpu gpu, AutotuneMode mode, Shape[]? convShapes = null, Shape[]? gramShapes = null,
        Action<TuningPlan, double>? timed = null, Action<string>? say = null)
    {
        bool full = mode == AutotuneMode.Full;
        convShapes ??= full ? FullConv : QuickConv;
        gramShapes ??= GramShapes(gpu.Plan, full);
        var defaults = gpu.Plan;
        int maxGroup = gpu.Accelerator.MaxNumThreadsPerGroup;
        Prewarm(gpu, Fp32TuningVariants(), "the FP32 tuning's candidates and the run's other kernels", say);
        using var bench = new Workload(gpu, convShapes, gramShapes, timed);
        var conv = Guard(bench.Conv, defaults, say);
        var grams = Guard(bench.Grams, defaults, say);
        try
        {
            double defaultConv = conv(defaults), defaultGram = grams(defaults);
            var (best, bestConv) = Best(defaults, defaultConv, ConvCandidates(defaults, maxGroup, full), conv);
            if (best.Conv.Kind is ConvKernelKind.RegisterBlocked or ConvKernelKind.RegisterBlocked8)
            {
                // Winograd's own variant first (with it on), then the threshold: deciding the threshold with an untuned
                // block let the default 16x8 block — slow with AVX2 code — lose the 64-channel layers to the direct
                // kernel by noise (Intel Xeon, stop 23: winograd=256 chosen, conv1_2 … conv3_1 then 1.3–1.6x libtorch's time).
                var on = best.WinogradMinChannels > 0 ? best : best with { WinogradMinChannels = TuningPlan.DefaultWinogradMinChannels };
                double onMs = on == best ? bestConv : conv(on);
                (on, onMs) = Best(on, onMs, WinogradTiles.OutputTiles.Select(t => on with { WinogradOutputTile = t }), conv);
                (on, onMs) = Best(on, onMs, WinogradTiles.Blocks.Select(b => on with { WinogradBlock = b }), conv);
                (best, bestConv) = Best(on, onMs, WinogradThresholds.Select(n => on with { WinogradMinChannels = n }), conv);
            }
            else if (GpuShaped(best.Conv.Kind))
            {
                // GPUs: Winograd with the GPU-shaped product (WinogradSharedProductKernel.cs, its own 16 × 16 groups),
                // against the best direct kernel (shared tiles or shared SGEMM; threshold 0) by the same rule.
                var on = best with { WinogradMinChannels = TuningPlan.DefaultWinogradMinChannels, WinogradBlock = WinogradBlock.Shared };
                double onMs = conv(on);
                (on, onMs) = Best(on, onMs, WinogradTiles.OutputTiles.Select(t => on with { WinogradOutputTile = t }), conv);
                (best, bestConv) = Best(on, onMs, WinogradThresholds.Select(n => on with { WinogradMinChannels = n }), conv);
            }
            if (full)
                (best, bestConv) = Best(best, bestConv, new[] { 0, 64, 256, int.MaxValue }.Select(r => best with { RowStoreMinWidth = r }), conv);
            if (best.Conv.Kind is ConvKernelKind.RegisterBlocked or ConvKernelKind.RegisterBlocked8)
            {
                var direct = DirectKind(gpu, best, convShapes, maxGroup);
                if (direct != best) (best, bestConv) = (direct, conv(direct));
            }
            // The blocked forward's block first (its 4×4 spills with AVX2 code), so that the Gram kernels and targets
            // are compared with the block the device runs best.
            var forwardBlocks = best.Gram == GramKernelKind.Blocked ? Gram.ForwardBlocks.Select(b => best with { GramForwardBlock = b }) : [];
            var (tuned, bestGram) = Best(best, grams(best), forwardBlocks, grams);
            (tuned, bestGram) = Best(tuned, bestGram, GramCandidates(tuned, full), grams);
            // The blocked backward's product block, apart from the convolution's (AVX2 code prefers 8x8 there, AVX-512 8x16).
            if (tuned.Gram == GramKernelKind.Blocked)
            {
                // GPUs (GPU-shaped convolutions) try the GPU-shaped product; CPU devices the register blocks.
                var blocks = GpuShaped(tuned.Conv.Kind) ? [WinogradBlock.Shared] : WinogradTiles.Blocks;
                (tuned, bestGram) = Best(tuned, bestGram, blocks.Select(b => tuned with { GramBlock = b }).Where(p => Fits(p, maxGroup)), grams);
            }
            var (plan, ms) = Confirm(defaults, defaultConv + defaultGram, tuned, bestConv + bestGram, p => conv(p) + grams(p));
            return new AutotuneResult(plan, $"autotuned {mode.ToString().ToLowerInvariant()}", ms, defaultConv + defaultGram);
        }
        finally
        {
            gpu.UsePlan(defaults);
            gpu.ReleaseScratch(); // the tuning shapes' scratch (Winograd's V and M, Gram partials) is not the run's
        }
    }

    /// <summary>
    /// The direct kernels' channel block (kind blocked: 16 channels, blocked8: 8) for <paramref name="plan"/>, timed on the
    /// convolutions it runs direct: conv1_1's shape (3 input channels, the smallest output count and largest side of
    /// <paramref name="convShapes"/>: 3 → 64 at 256 px for the quick and full shapes) and any tuning shape under the
    /// Winograd threshold. The stages before it time the kind only through Winograd layers, whose product takes the
    /// group shape alone, so a tie kept blocked: with AVX2 code on a Zen 5 that left conv1_1's forward at 4.3–4.8 ms
    /// where blocked8 takes 2.6–3.9 (256², three rounds); AVX-512 code keeps blocked (9.3–10.6 against 10.0–10.7 ms at 512²).
    /// </summary>
    private static TuningPlan DirectKind(Gpu gpu, TuningPlan plan, Shape[] convShapes, int maxGroup)
    {
        using var bench = new Workload(gpu, DirectShapes(plan, convShapes), []);
        var kinds = new[] { ConvKernelKind.RegisterBlocked, ConvKernelKind.RegisterBlocked8 }
            .Select(k => plan with { Conv = plan.Conv with { Kind = k } }).Where(p => Fits(p, maxGroup));
        return Best(plan, bench.Conv(plan), kinds, bench.Conv).Plan;
    }

    /// <summary>The shapes <see cref="DirectKind"/> times: conv1_1's (see there), then the tuning shapes <paramref name="plan"/> runs direct.</summary>
    public static Shape[] DirectShapes(TuningPlan plan, Shape[] convShapes) =>
        [new(3, convShapes.Min(s => s.Out), convShapes.Max(s => s.Side)), .. convShapes.Where(s => !Conv2d.UsesWinograd(plan, s.In, s.Out))];

    /// <summary>
    /// <paramref name="time"/>, except that a plan other than <paramref name="defaults"/> whose timing throws (anything but
    /// running out of device memory: a kernel that fails to compile or launch) takes +∞ ms and <paramref name="say"/>
    /// hears which and why, so <see cref="Best"/> passes over it.
    /// </summary>
    public static Func<TuningPlan, double> Guard(Func<TuningPlan, double> time, TuningPlan defaults, Action<string>? say) => plan =>
    {
        if (plan == defaults) return time(plan);
        try
        {
            return time(plan);
        }
        catch (Exception e) when (!DeviceOutOfMemoryException.IsOutOfMemory(e))
        {
            say?.Invoke($"autotuning: candidate {plan} failed and is skipped: {e.GetType().Name}: {e.Message}");
            return double.PositiveInfinity;
        }
    };

    /// <summary>
    /// The fastest of <paramref name="incumbent"/> and <paramref name="candidates"/> by <paramref name="time"/>. A
    /// candidate that beats the incumbent by <see cref="Margin"/> is checked once more against a fresh timing of the
    /// incumbent (the lower of its two times counts): noise on a shared machine only ever slows a run down, and an
    /// incumbent timed during a slow spell let a worse candidate through (stop 24: a fresh quick tuning on the Intel Xeon
    /// chose F(2×2, 3×3) with the 4x24 block, 40 % slower than F(4×4, 3×3) on the tuning shapes themselves). Likewise a
    /// candidate that loses by less than <see cref="CloseCall"/> is timed once more (the lower time counts), so a slow
    /// spell during its own timing does not throw it out (stop 30: with AVX2 code on a Zen 5, quick tunings kept the
    /// spilling 16x8 Winograd block over 8x8, 10 % faster on the tuning shapes, in two runs of three).
    /// </summary>
    public static (TuningPlan Plan, double Milliseconds) Best(TuningPlan incumbent, double incumbentMs, IEnumerable<TuningPlan> candidates, Func<TuningPlan, double> time)
    {
        foreach (var candidate in candidates.Distinct())
        {
            if (candidate == incumbent) continue;
            double ms = time(candidate);
            if (ms >= incumbentMs * Margin && ms < incumbentMs * CloseCall) ms = Math.Min(ms, time(candidate));
            if (ms >= incumbentMs * Margin) continue;
            incumbentMs = Math.Min(incumbentMs, time(incumbent));
            if (ms < incumbentMs * Margin) (incumbent, incumbentMs) = (candidate, ms);
        }
        return (incumbent, incumbentMs);
    }

    /// <summary>
    /// The search's result against the defaults, whole. Each stage's winner beat its own incumbent, but the Gram stage
    /// starts from a fresh timing of the plan so far, so noise can leave the tuned sum (<paramref name="tunedMs"/>) at or
    /// above the defaults' (AutotunerTests' tiny shapes beside a running test suite: 1 tuning in 12). Such a plan must
    /// then beat the defaults timed whole by <paramref name="time"/>, by <see cref="Best"/>'s rule; the defaults
    /// themselves, timed twice, count the lower time. So the result is never slower than the defaults on the tuner's own
    /// measurements.
    /// </summary>
    public static (TuningPlan Plan, double Milliseconds) Confirm(TuningPlan defaults, double defaultMs, TuningPlan tuned, double tunedMs,
        Func<TuningPlan, double> time)
    {
        if (tuned == defaults) return (defaults, Math.Min(tunedMs, defaultMs));
        return tunedMs < defaultMs ? (tuned, tunedMs) : Best(defaults, defaultMs, [tuned], time);
    }

    /// <summary>
    /// Channel thresholds of Winograd tried after the blocking (register-blocked kinds only): never, and from 64,
    /// 128, 256 channels on (the tuning shapes have 64, 256 and 512).
    /// </summary>
    public static readonly int[] WinogradThresholds = [0, 64, 128, 256];

    /// <summary>The convolution blockings tried on a device whose default plan is <paramref name="defaults"/>.</summary>
    public static IEnumerable<TuningPlan> ConvCandidates(TuningPlan defaults, int maxGroup, bool full)
    {
        IEnumerable<ConvTiles> tiles = GpuShaped(defaults.Conv.Kind)
            ? [new(ConvKernelKind.SharedTiles, 16, 16, 8), new(ConvKernelKind.SharedTiles, 16, 16, 4), new(ConvKernelKind.SharedTiles, 16, 8, 8),
               new(ConvKernelKind.SharedTiles, 8, 8, 4), new(ConvKernelKind.SharedGemm, 16, 16, 8), new(ConvKernelKind.SharedGemm, 16, 8, 8),
               new(ConvKernelKind.SharedGemm, 16, 16, 8) { SplitTarget = 2 }, // small maps: split-K instead of narrower groups
               .. full ? new ConvTiles[] { new(ConvKernelKind.SharedTiles, 8, 16, 8), new(ConvKernelKind.SharedTiles, 16, 4, 8),
                   new(ConvKernelKind.SharedGemm, 8, 16, 8), new(ConvKernelKind.SharedGemm, 8, 8, 8),
                   new(ConvKernelKind.SharedGemm, 16, 8, 8) { SplitTarget = 2 }, new(ConvKernelKind.SharedGemm, 16, 16, 8) { SplitTarget = 4 } } : []]
            : [new(ConvKernelKind.RegisterBlocked, 2, 8, 1), new(ConvKernelKind.RegisterBlocked8, 2, 8, 1), new(ConvKernelKind.RegisterBlocked8, 2, 16, 1),
               new(ConvKernelKind.RegisterBlocked, 1, 8, 1), new(ConvKernelKind.RegisterBlocked8, 1, 16, 1),
               .. full ? new ConvTiles[] { new(ConvKernelKind.RegisterBlocked, 4, 4, 1), new(ConvKernelKind.RegisterBlocked8, 4, 8, 1), new(ConvKernelKind.RegisterBlocked, 2, 4, 1) } : []];
        foreach (var t in tiles)
        {
            var plan = defaults with { Conv = t };
            if (Fits(plan, maxGroup)) yield return plan;
        }
    }

    /// <summary>The Gram kernels and split targets tried over <paramref name="plan"/> (the shared kernels on GPUs only).</summary>
    public static IEnumerable<TuningPlan> GramCandidates(TuningPlan plan, bool full)
    {
        int[] blockedTargets = full ? [8, 16, 32, 64, 128] : [16, 32, 64];
        int[] tiledTargets = full ? [1, 2, 4, 8, 16] : [2, 4, 8];
        foreach (var t in blockedTargets) yield return plan with { Gram = GramKernelKind.Blocked, GramTarget = t };
        foreach (var t in tiledTargets) yield return plan with { Gram = GramKernelKind.Tiled, GramTarget = t };
        // GPUs (GPU-shaped convolutions): the GPU-shaped shared SGEMMs, 1, 2 or 4 groups per multiprocessor.
        if (GpuShaped(plan.Conv.Kind))
            foreach (var t in new[] { 1, 2, 4 }) yield return plan with { Gram = GramKernelKind.Shared, GramTarget = t };
    }

    /// <summary>The GPU-shaped direct kinds (shared tiles, shared SGEMM): a GPU's plan, whose candidates are GPU-shaped too.</summary>
    private static bool GpuShaped(ConvKernelKind kind) => kind is ConvKernelKind.SharedTiles or ConvKernelKind.SharedGemm;

    private static bool Fits(TuningPlan plan, int maxGroup)
    {
        try
        {
            plan.Validate(maxGroup);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// The tensors of the tuning shapes (random values, allocated once) and the timing of a plan on them: per shape the
    /// fastest of <see cref="TimedRuns"/> calls, since a machine's noise (other processes, a VM's neighbours) only adds time.
    /// </summary>
    private sealed class Workload : IDisposable
    {
        private const int TimedRuns = 5;

        private readonly Gpu gpu;
        private readonly List<(Tensor X, PreparedConv3x3 W, Tensor Bias, Tensor Y, Tensor DX, double Weight)> convs = new();
        private readonly List<(Tensor F, Tensor G, Tensor DF, float Scale, double Weight)> grams = new();
        private readonly List<IDisposable> owned = new();

        private readonly Action<TuningPlan, double>? timed;

        public Workload(Gpu gpu, Shape[] convShapes, Shape[] gramShapes, Action<TuningPlan, double>? timed = null)
        {
            this.gpu = gpu;
            this.timed = timed;
            var random = new Random(1);
            Tensor RandomTensor(Shape4 shape)
            {
                var t = gpu.Allocate(shape);
                owned.Add(t);
                var data = new float[t.Count];
                for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() - 0.5);
                t.CopyFromHost(data);
                return t;
            }
            try
            {
                foreach (var s in convShapes)
                {
                    var w = Conv2d.Prepare3x3(RandomTensor(new Shape4(s.Out, s.In, 3, 3)));
                    owned.Add(w);
                    convs.Add((RandomTensor(Shape4.Image(s.In, s.Side, s.Side)), w, RandomTensor(Shape4.Vector(s.Out)), RandomTensor(Shape4.Image(s.Out, s.Side, s.Side)),
                        RandomTensor(Shape4.Image(s.In, s.Side, s.Side)), s.Weight));
                }
                foreach (var s in gramShapes)
                {
                    var f = RandomTensor(Shape4.Image(s.Out, s.Side, s.Side));
                    grams.Add((f, RandomTensor(Gram.OutputShape(f.Shape)), RandomTensor(f.Shape), 1f / f.Count, s.Weight));
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>Σ over the shapes of weight × the fastest of <see cref="TimedRuns"/> forward + backward-data pairs (after one that compiles).</summary>
        public double Conv(TuningPlan plan) => Time(plan, convs.Select(c => ((Action)(() =>
        {
            Conv2d.Forward(c.X, c.W, c.Bias, c.Y, fuseRelu: true);
            Conv2d.BackwardData(c.Y, c.W, c.DX, accumulate: false); // into its own tensor: the values stay bounded
        }), c.Weight)));

        /// <summary>Σ over the shapes of weight × the fastest of <see cref="TimedRuns"/> Gram forward + backward pairs.</summary>
        public double Grams(TuningPlan plan) => Time(plan, grams.Select(g => ((Action)(() =>
        {
            Kernels.Gram.Forward(g.F, g.G, g.Scale);
            Kernels.Gram.Backward(g.F, g.G, g.DF, g.Scale, accumulate: false);
        }), g.Weight)));

        private double Time(TuningPlan plan, IEnumerable<(Action Run, double Weight)> work)
        {
            gpu.UsePlan(plan);
            double total = 0;
            foreach (var (run, weight) in work)
            {
                run();
                gpu.Synchronize();
                double fastest = double.MaxValue;
                for (int i = 0; i < TimedRuns; i++)
                {
                    var clock = Stopwatch.StartNew();
                    run();
                    gpu.Synchronize();
                    fastest = Math.Min(fastest, clock.Elapsed.TotalMilliseconds);
                }
                total += weight * fastest;
            }
            timed?.Invoke(plan, total);
            return total;
        }

        public void Dispose()
        {
            foreach (var o in owned) o.Dispose();
        }
    }
}
