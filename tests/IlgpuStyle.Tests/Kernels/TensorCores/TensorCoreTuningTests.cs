using IlgpuStyle.Kernels;
using ILGPU.Runtime;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The autotuner's tensor-core half (<see cref="Autotuner.ApplyTensorCores"/>, <see cref="Autotuner.TuneTensorCores"/>):
/// from the plan --precision tf32 makes, it times the warp blockings with and without cp.async, split-K's targets on the
/// winner and the Gram's variants, returns one of them (valid for the device) and leaves the device's plan as it was; a
/// plan that is not a tensor-core one is refused. The cache keeps a plan per precision (an entry without one is FP32's).
/// No tuning with ILGPU_STYLE_TILES set, --autotune off or on the CPU simulator; --precision tf32 keeps a TF32 blocking the
/// plan already has. Here on the 32-lane-warp simulator (the emulated mma; the kernels every candidate runs are checked
/// against the FP32 reference in Conv2dTensorCoreTests and GramTensorCoreTests); timings on a GPU: bench/gpu.
/// </summary>
public sealed class TensorCoreTuningTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-tc-tuning-").FullName;
    private static readonly TuningKey Key = new("Cuda NVIDIA H200", "CUDA driver 13.0", "0.4.0.0");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void TheTuningTimesBlockingsCpAsyncSplitsAndGramVariantsAndRestoresThePlan()
    {
        using var gpu = DeviceCatalog.OpenWarp32Simulator(); // its own: the tuning changes the device's plan while it times
        Assert.Equal(Precision.Tf32, Precisions.Apply(gpu, Precision.Tf32, out _));
        var start = gpu.Plan;
        int maxGroup = gpu.Accelerator.MaxNumThreadsPerGroup;
        var plans = new List<TuningPlan>();
        // Tiny shapes (the mechanism; the real ones are Autotuner.GpuConv and GpuGram): 12 → 20 channels (ragged tiles), 8 px.
        var result = Autotuner.TuneTensorCores(gpu, AutotuneMode.Quick, [new(12, 20, 8)], [new(20, 20, 6)], (p, _) => plans.Add(p));
        log.WriteLine(result.ToString());
        Assert.Equal(start, gpu.Plan);

        Assert.All(plans, p => Assert.Equal(ConvKernelKind.TensorCoreTf32, p.Conv.Kind));
        Assert.All(plans, p => Assert.Equal(GramKernelKind.TensorCoreTf32, p.Gram));
        Assert.All(plans, p => p.Validate(maxGroup));
        Assert.Contains(plans, p => p.Conv.AsyncBuffers == 2);   // cp.async
        Assert.Contains(plans, p => p.Conv.SplitTarget == 1);    // split-K
        Assert.Contains(plans, p => p.Conv.SplitTarget == 2);
        Assert.Contains(plans, p => p.GramAsyncBuffers == 2);    // the Gram's cp.async
        Assert.Contains(plans, p => p.GramTarget == 8);

        var candidates = Autotuner.TensorCoreBlockings(start, maxGroup, full: false).Append(start)
            .SelectMany(b => Autotuner.TensorCoreSplits(b, full: false))
            .SelectMany(c => Autotuner.TensorCoreGramCandidates(c, full: false).Append(c));
        Assert.Contains(result.Plan, candidates);
        result.Plan.Validate(maxGroup);
        Assert.StartsWith("tf32 blocking autotuned quick", result.Source);
        Assert.True(result.Milliseconds <= result.DefaultMilliseconds, "the tuned blocking must not be slower than the start on its own measurements");
    }

    [Fact]
    public void TheCandidatesFitTheDeviceAndCoverTheMeasuredWinners()
    {
        var start = TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, 1024) with
        {
            Conv = Precisions.TensorCoreConv(ConvKernelKind.TensorCoreTf32, 1024), Gram = GramKernelKind.TensorCoreTf32, WinogradMinChannels = 0,
        };
        var quick = Autotuner.TensorCoreBlockings(start, 1024, full: false).Select(p => p.Conv).ToList();
        // The first GPU run's winners: gx=4 gy=2 (most layers), cp.async with gx=2 gy=2 (conv4_x at 512²).
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8), quick);
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 }, quick);
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 2 }, quick);
        // Stages two and three ahead for the 128 × 128 block (dynamic shared memory: 3 buffers exceed 48 KiB); the others keep 2 in the quick tuning.
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 3 }, quick);
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 4 }, quick);
        // … and its 4 buffers publishing two stages a barrier (the one such candidate, quick or full).
        Assert.Contains(new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 4, StagesPerBarrier = 2 }, quick);
        Assert.Single(quick, t => t.StagesPerBarrier == 2);
        Assert.DoesNotContain(quick, t => t.AsyncBuffers > 2 && (t.GroupX, t.GroupY) != (4, 2));
        var full = Autotuner.TensorCoreBlockings(start, 1024, full: true).ToList();
        Assert.All(full, p => p.Validate(1024));
        Assert.Contains(full, p => p.Conv is { GroupX: 1, GroupY: 1, AsyncBuffers: 3 });
        Assert.Contains(full, p => p.Conv is { GroupX: 4, GroupY: 2, AsyncBuffers: 4 });
        Assert.Single(full, p => p.Conv.StagesPerBarrier == 2);
        Assert.Contains(full, p => Conv2d.TensorCoreDynamicShared(Conv2d.TensorCoreSharedNeed(p.Conv)));
        // A 128-work-item device gets no 8-warp blocking.
        Assert.All(Autotuner.TensorCoreBlockings(start, 128, full: true), p => Assert.True(p.Conv.WorkItems <= 128));
        Assert.Equal([0, 1, 2], Autotuner.TensorCoreSplits(start, full: false).Select(p => p.Conv.SplitTarget));
        // The GPU shapes: a 512 px image's stages, as the Gram's.
        Assert.Equal([512, 256, 128, 64, 32], Autotuner.GpuConv.Select(s => s.Side));
        Assert.Throws<ArgumentException>(() => Autotuner.TuneTensorCores(Devices.Get("cpu"), AutotuneMode.Quick, [new(4, 4, 4)], [new(4, 4, 4)]));
    }

    [Fact]
    public void TheCacheKeepsAPlanPerPrecision()
    {
        var cache = new PlanCache(Path.Combine(dir, "tuning-plans.json"));
        var fp32 = TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, 1024) with { WinogradMinChannels = 64 };
        var tf32 = fp32 with { Conv = new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 }, Gram = GramKernelKind.TensorCoreTf32, WinogradMinChannels = 0 };
        var bf16 = tf32 with { Conv = tf32.Conv with { Kind = ConvKernelKind.TensorCoreBf16, InputChunk = 16 }, Gram = GramKernelKind.TensorCoreBf16 };
        cache.Store(Key, AutotuneMode.Quick, fp32, 10, 12);
        Assert.Null(cache.Find(Key, AutotuneMode.Quick, tf32, 1024, out _, Precision.Tf32));
        cache.Store(Key, AutotuneMode.Quick, tf32, 5, 6, Precision.Tf32);
        cache.Store(Key, AutotuneMode.Quick, bf16, 7, 8, Precision.Bf16);
        Assert.Equal(fp32, cache.Find(Key, AutotuneMode.Quick, fp32, 1024, out _));
        Assert.Equal(tf32, cache.Find(Key, AutotuneMode.Quick, fp32, 1024, out _, Precision.Tf32));
        Assert.Equal(bf16, cache.Find(Key, AutotuneMode.Quick, fp32, 1024, out _, Precision.Bf16));
        Assert.Equal(3, cache.Read(out _).Count);
        // An entry written before entries named their precision is FP32's.
        var text = File.ReadAllText(cache.Path);
        File.WriteAllText(cache.Path, text.Replace("\"precision\": \"fp32\",", ""));
        Assert.DoesNotContain("\"fp32\"", File.ReadAllText(cache.Path));
        Assert.Equal(fp32, cache.Find(Key, AutotuneMode.Quick, fp32, 1024, out _));
        Assert.Equal(tf32, cache.Find(Key, AutotuneMode.Quick, fp32, 1024, out _, Precision.Tf32));
    }

    [Fact]
    public void NoTuningWhenOffOnTheSimulatorOrUnderTheOverrideAndAnOverriddenBlockingIsKept()
    {
        using var gpu = DeviceCatalog.OpenWarp32Simulator();
        var cache = new PlanCache(Path.Combine(dir, "tuning-plans.json"));
        var fp32 = gpu.Plan;
        var tuning = new AutotuneResult(fp32, "defaults; the CPU simulator is not tuned");
        var (used, result) = Precisions.ApplyAfterTuning(gpu, Precision.Tf32, tuning, AutotuneMode.Quick, cache, null, out var note);
        Assert.Equal(Precision.Tf32, used);
        Assert.Null(note);
        Assert.Equal(gpu.Plan, result.Plan);
        Assert.Contains("--precision tf32: default tf32 blocking; the CPU simulator is not tuned", result.Source);
        Assert.False(File.Exists(cache.Path));

        gpu.UsePlan(fp32);
        (_, result) = Precisions.ApplyAfterTuning(gpu, Precision.Tf32, tuning, AutotuneMode.Off, cache, null, out _);
        Assert.Contains("autotuning off", result.Source);

        // A plan already on TF32's kernels (as ILGPU_STYLE_TILES=kind=tf32,gx=1,gy=2,async=2 makes it) keeps its blocking.
        var forced = fp32 with { Conv = new ConvTiles(ConvKernelKind.TensorCoreTf32, 1, 2, 8) { AsyncBuffers = 2 } };
        gpu.UsePlan(forced);
        Precisions.Apply(gpu, Precision.Tf32, out _);
        Assert.Equal(forced.Conv, gpu.Plan.Conv);
        // … but not for BF16, whose kernels differ.
        gpu.UsePlan(forced);
        Precisions.Apply(gpu, Precision.Bf16, out _);
        Assert.Equal(Precisions.TensorCoreConv(ConvKernelKind.TensorCoreBf16, gpu.Accelerator.MaxNumThreadsPerGroup), gpu.Plan.Conv);
    }
}
