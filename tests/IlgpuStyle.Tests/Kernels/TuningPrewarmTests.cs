using System.Collections.Concurrent;
using ILGPU.Runtime;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// What a tuning on CUDA hands the driver before it times anything (Autotuner.Prewarm.cs) covers what it then loads: each
/// tuning runs whole, on the GPU's plans and tuning shapes, on a 32-lane simulator of 1024-thread groups (a CUDA GPU's
/// limit, as <see cref="CudaKernelVariants"/> assumes) whose kernels a recorder stands in for — it notes every variant
/// loaded and runs nothing, so the timings are noise and the search takes whichever path they give; whatever it loads on
/// that path must be in the prewarmed set.
/// </summary>
public class TuningPrewarmTests(ITestOutputHelper log)
{
    /// <summary>A variant a tuning loaded: its kernel and whether its depots are rewritten.</summary>
    private readonly record struct Load(System.Reflection.MethodInfo Method, bool Rewrite);

    /// <summary>A simulator whose kernels only record their variants (by <see cref="PtxKernelCache.VariantName"/>), on <paramref name="plan"/>.</summary>
    private static Gpu Recording(ConcurrentDictionary<string, Load> loaded, Func<int, TuningPlan> plan)
    {
        var gpu = DeviceCatalog.OpenWarp32Simulator(warpsPerGroup: CudaKernelVariants.CudaMaxGroupSize / 32, (_, method, specialized, rewrite) =>
        {
            loaded[PtxKernelCache.VariantName(method, specialized)] = new Load(method, rewrite);
            return (_, _, _) => { };
        });
        gpu.UsePlan(plan(gpu.Accelerator.MaxNumThreadsPerGroup));
        return gpu;
    }

    private static TuningPlan CudaDefaults(int maxGroup) => TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: maxGroup);

    /// <summary>The loads not among <paramref name="prewarmed"/> (by name and rewriting), one per line.</summary>
    private static string Missing(ConcurrentDictionary<string, Load> loaded, IEnumerable<CudaKernelVariants.Variant> prewarmed)
    {
        var set = prewarmed.Select(v => (PtxKernelCache.VariantName(v.Method, v.Specialized), v.RewriteDepots)).ToHashSet();
        return string.Join("\n", loaded.Where(l => !set.Contains((l.Key, l.Value.Rewrite))).Select(l => l.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(AutotuneMode.Quick)]
    [InlineData(AutotuneMode.Full)]
    public void AnFp32TuningLoadsNothingItDidNotPrewarm(AutotuneMode mode)
    {
        var loaded = new ConcurrentDictionary<string, Load>();
        using var gpu = Recording(loaded, CudaDefaults);
        Autotuner.Tune(gpu, mode);
        var prewarmed = Autotuner.Fp32TuningVariants().ToList();
        Assert.Equal("", Missing(loaded, prewarmed));
        Assert.DoesNotContain(prewarmed, v => Autotuner.IsTensorCore(v.Method));
        // The search went through the GPU candidates: the shared SGEMM, Winograd's GPU product and the shared Gram.
        foreach (var kernel in new[] { "Conv2d.SharedGemm3x3Kernel", "Conv2d.WinogradGemmSharedKernel", "Gram.ForwardSharedKernel" })
            Assert.Contains(loaded.Keys, k => k.StartsWith(kernel + " [", StringComparison.Ordinal));
        log.WriteLine($"{mode}: {loaded.Count} variants loaded, {prewarmed.Count} prewarmed");
    }

    [Theory]
    [InlineData(Precision.Tf32, AutotuneMode.Quick)]
    [InlineData(Precision.Bf16, AutotuneMode.Full)]
    public void ATensorCoreTuningLoadsNothingItDidNotPrewarm(Precision precision, AutotuneMode mode)
    {
        var loaded = new ConcurrentDictionary<string, Load>();
        using var gpu = Recording(loaded, maxGroup => Precisions.OnTensorCores(CudaDefaults(maxGroup), precision, maxGroup));
        var start = gpu.Plan;
        Autotuner.TuneTensorCores(gpu, mode);
        bool full = mode == AutotuneMode.Full;
        // The prewarm keeps the device's variants (CudaKernelVariants.Variant.RunsOn). The simulator rounds TF32 as a CUDA
        // device before sm_90 does (cvt.rna: Tf32.HasNearestEven is false), so its loads are an sm_80 device's.
        var all = Autotuner.TensorCoreTuningVariants(start, gpu.Accelerator.MaxNumThreadsPerGroup, full, Autotuner.GpuConv).ToList();
        var prewarmed = all.Where(v => v.RunsOn(ILGPU.Runtime.Cuda.CudaArchitecture.SM_80)).Concat(Autotuner.PlainKernels()).ToList();
        // On sm_90 the same variants but TF32's, the Gram's modes and the convolution's tiles, which round to nearest even there.
        var sm90 = all.Where(v => v.RunsOn(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90)).ToList();
        Assert.Equal(all.Count(v => v.RunsOn(ILGPU.Runtime.Cuda.CudaArchitecture.SM_80)), sm90.Count);
        Assert.All(sm90.Where(v => v.Specialized is [SpecializedValue<int> m] && (m.Value & Gram.TensorCoreBf16Mode) == 0),
            v => Assert.True((((SpecializedValue<int>)v.Specialized[0]).Value & Gram.TensorCoreNearestEven) != 0, $"{v.Name} on sm_90"));
        Assert.All(sm90.Where(v => v.Specialized is [SpecializedValue<ConvTiles> t]),
            v => Assert.Equal(((SpecializedValue<ConvTiles>)v.Specialized[0]).Value.Kind == ConvKernelKind.TensorCoreTf32,
                ((SpecializedValue<ConvTiles>)v.Specialized[0]).Value.Tf32NearestEven));
        Assert.Contains(sm90, v => v.Specialized is [SpecializedValue<ConvTiles>]);
        Assert.Equal("", Missing(loaded, prewarmed));
        // Every tensor-core variant prewarmed was loaded: the prewarm asks the driver for nothing the tuning does not try.
        var loadedTensorCores = loaded.Where(l => Autotuner.IsTensorCore(l.Value.Method)).Select(l => l.Key).ToHashSet();
        var prewarmedTensorCores = prewarmed.Where(v => Autotuner.IsTensorCore(v.Method)).Select(v => PtxKernelCache.VariantName(v.Method, v.Specialized)).ToHashSet();
        Assert.True(prewarmedTensorCores.SetEquals(loadedTensorCores),
            $"prewarmed, not loaded: {string.Join("; ", prewarmedTensorCores.Except(loadedTensorCores))}; loaded, not prewarmed: {string.Join("; ", loadedTensorCores.Except(prewarmedTensorCores))}");
        log.WriteLine($"{precision} {mode}: {loaded.Count} variants loaded ({loadedTensorCores.Count} tensor-core), {prewarmed.Count} prewarmed");
    }
}
