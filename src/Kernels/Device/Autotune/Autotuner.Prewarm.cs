// Test: tests/IlgpuStyle.Tests/Kernels/TuningPrewarmTests.cs (each tuning, run whole, loads nothing it did not prewarm),
// tests/IlgpuStyle.Tests/Kernels/ShippedPtxTests.cs (the prewarm itself, with a stand-in driver)
namespace IlgpuStyle.Kernels;

/// <summary>
/// The driver's JIT before a tuning on CUDA (issue #11: a first run's start-up counts). A tuning loads dozens of kernel
/// variants one after another, and on a machine whose driver cache is empty each load waits for the driver to compile
/// its PTX on one core (ptxas 12.4 on this project's CPUs: ~0.5 s per tensor-core kernel, ~0.1 s for the others). Before
/// it times anything, a tuning hands the PTX of what it may load to the driver on every core at once
/// (<see cref="PtxKernelCache.Prewarm(ILGPU.Runtime.Cuda.CudaAccelerator, IEnumerable{CudaKernelVariants.Variant}, int)"/>),
/// so the loads find the machine code in the driver's cache.
/// </summary>
public static partial class Autotuner
{
    /// <summary>
    /// The kernels a run loads besides its convolutions and Gram matrices, and a few it may not: every kernel without
    /// specialized values (54: element-wise, reductions, losses, L-BFGS's vector sets, the operand layouts, the few-outputs convolution, …; ~0.07 s of
    /// the driver's JIT each on one core) and max pooling's modes. Prewarmed with a first tensor-core tuning, so the
    /// stylization that follows finds them compiled too; the few it never loads cost the cores less than the loads' one by
    /// one compilation of the rest.
    /// </summary>
    public static IEnumerable<CudaKernelVariants.Variant> PlainKernels() =>
        CudaKernelVariants.All().Where(v => v.Launched && (v.Specialized.Length == 0 || v.Method.DeclaringType == typeof(Pooling)));

    /// <summary>
    /// What an FP32 tuning on a CUDA device may load, and the run after it: every variant the CUDA path launches except the
    /// tensor-core ones (<see cref="IsTensorCore"/>) — the shared tiles, shared-SGEMM and Winograd candidates of the GPU
    /// search with their transforms and paddings, every Gram kernel it weighs, and the <see cref="PlainKernels"/>. The search
    /// is greedy (what it tries next depends on what won), so this is the union over its paths: 145 variants (144 before the few-outputs kernel), ~15 s of
    /// the driver's JIT on one core of a Zen 5 (ptxas 12.4), where one path of the quick search loads 38 of them (full: 43)
    /// and the stylization after it ~30 more, one by one (~7 s): even on 2 cores the prewarm costs no more, on a GPU
    /// machine's 16 it takes ~1 s.
    /// </summary>
    public static IEnumerable<CudaKernelVariants.Variant> Fp32TuningVariants() =>
        CudaKernelVariants.All().Where(v => v.Launched && !IsTensorCore(v.Method));

    /// <summary>Whether <paramref name="kernel"/> is a tensor-core kernel (the convolution's or a Gram's; --precision tf32|bf16 only).</summary>
    public static bool IsTensorCore(System.Reflection.MethodInfo kernel) =>
        kernel.Name == "TensorCore3x3Kernel"
        || (kernel.DeclaringType == typeof(Gram) && kernel.Name.EndsWith("TensorCoreKernel", StringComparison.Ordinal));

    /// <summary>
    /// On CUDA, before a tuning: the driver compiles <paramref name="variants"/>' PTX on every core at once, where the
    /// tuning's loads would compile them one by one. $ILGPU_STYLE_PREWARM=off skips it, and so does CUDA_CACHE_DISABLE=1
    /// (no driver cache to fill); <paramref name="say"/> hears what it did, <paramref name="what"/> naming the kernels.
    /// </summary>
    private static void Prewarm(Gpu gpu, IEnumerable<CudaKernelVariants.Variant> variants, string what, Action<string>? say)
    {
        if (gpu.Accelerator is not ILGPU.Runtime.Cuda.CudaAccelerator cuda || gpu.KernelCache is not { } cache) return;
        if (string.Equals(Environment.GetEnvironmentVariable(PtxKernelCache.PrewarmVariable)?.Trim(), "off", StringComparison.OrdinalIgnoreCase)) return;
        // Without the driver's cache the loads would compile everything again: the prewarm would only double it.
        if (Environment.GetEnvironmentVariable("CUDA_CACHE_DISABLE")?.Trim() == "1") return;
        int threads = Environment.ProcessorCount;
        var (kernels, seconds, error) = cache.Prewarm(cuda, variants.Where(v => v.RunsOn(cuda.Architecture)), threads);
        var stopped = error is null ? "" : $" (stopped: {error})";
        say?.Invoke(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"prewarm: the driver compiled {kernels} kernels ({what}) in {seconds:F1} s on {threads} threads{stopped}"));
    }
}
