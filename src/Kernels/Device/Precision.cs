// Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/PrecisionTests.cs
namespace IlgpuStyle.Kernels;

/// <summary>
/// The arithmetic of the convolutions and Gram matrices (the CLI's --precision): <see cref="Fp32"/> everywhere, or
/// <see cref="Tf32"/>: TF32 tensor cores (inputs rounded to 10 mantissa bits, FP32 accumulation; issue #11) for the
/// 3×3 convolutions (forward and backward-data) and the Gram matrices (forward and backward), on CUDA devices of compute capability 8.0 or
/// newer; or <see cref="Bf16"/>: BF16 tensor cores (inputs rounded to 7 mantissa bits, FP32 accumulation) for the same
/// ops on the same devices. Every other op stays FP32, and so do the convolutions of at most 4 outputs (conv1_1's
/// backward-data: the few-outputs kernel, Conv2dFewOutputsKernel.cs, on every GPU plan).
/// </summary>
public enum Precision { Fp32, Tf32, Bf16 }

/// <summary>Applies a <see cref="Precision"/> to a device's tuning plan.</summary>
public static class Precisions
{
    /// <summary>
    /// The tensor-core blocking --precision tf32 (<paramref name="kind"/> TensorCoreTf32) or bf16 (TensorCoreBf16) uses on
    /// a device allowing <paramref name="maxGroupSize"/> work-items per group: 4 warps along pixels × 2 along channels
    /// (stages of 8 channels, BF16's of 16), else 2 × 2, else 2 × 1, else 1 × 1. 4 × 2 first since the first GPU run (H200, 2026-12-04,
    /// TF32, per layer): faster than 2 × 2 on every VGG19 convolution at 1024² (conv forward 7.32 vs 8.28 ms in all,
    /// backward-data 7.67 vs 9.49) and on all but conv5_x at 512² (2.29 vs 2.60 ms forward).
    /// </summary>
    public static ConvTiles TensorCoreConv(ConvKernelKind kind, int maxGroupSize)
    {
        foreach (var (gx, gy) in new[] { (4, 2), (2, 2), (2, 1), (1, 1) })
        {
            var tiles = new ConvTiles(kind, gx, gy, Conv2d.TensorCoreStageChannels(kind));
            if (tiles.WorkItems <= maxGroupSize) return tiles;
        }
        throw new ArgumentException($"--precision {ConvTiles.KindName(kind)}: a group of {maxGroupSize} work-items cannot hold one 32-lane warp.");
    }

    /// <summary>
    /// Why <paramref name="gpu"/> needs no FP32 tuning under <paramref name="wanted"/>, or null when it does: a tensor-core
    /// precision on a device with tensor cores takes every 3×3 convolution and Gram matrix onto the tensor cores with
    /// Winograd off (<see cref="Apply"/>), so what an FP32 tuning chooses (those kernels, Winograd's threshold and tiles) is
    /// never used — on a fresh machine it would only add its seconds to the first run (#11: 10 s, start-up included).
    /// A cached FP32 plan is still applied (<see cref="Autotuner.Apply"/>).
    /// </summary>
    public static string? NoFp32TuningBecause(Gpu gpu, Precision wanted) =>
        wanted != Precision.Fp32 && Conv2d.WhyNoTensorCores(gpu.Accelerator) is null
            ? $"--precision {Name(wanted)} puts the convolutions and Gram matrices an FP32 tuning would choose on the tensor cores"
            : null;

    /// <summary>"fp32", "tf32" or "bf16".</summary>
    public static string Name(Precision p) => p.ToString().ToLowerInvariant();

    /// <summary>The precision named <paramref name="name"/> ("fp32", "tf32", "bf16"; as <see cref="Name"/> writes it).</summary>
    public static Precision Parse(string name) => name switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        "bf16" => Precision.Bf16,
        _ => throw new ArgumentException($"precision must be fp32, tf32 or bf16, not '{name}'."),
    };

    /// <summary>
    /// <see cref="Apply(Gpu, Precision, out string?)"/> right after the autotuner chose <paramref name="tuning"/>, then, for
    /// a tensor-core precision, the tensor-core blocking under <paramref name="mode"/> (<see cref="Autotuner.ApplyTensorCores"/>:
    /// cached, or timed once per device and precision; <paramref name="say"/> hears it, <paramref name="timed"/> every plan timed). Returns the precision used and
    /// the tuning result to print and report — <paramref name="tuning"/> itself for FP32, else the plan now in force, its
    /// source saying what --precision did.
    /// </summary>
    public static (Precision Used, AutotuneResult Tuning) ApplyAfterTuning(Gpu gpu, Precision wanted, AutotuneResult tuning, AutotuneMode mode,
        PlanCache cache, Action<string>? say, out string? note, Action<TuningPlan, double>? timed = null)
    {
        var used = Apply(gpu, wanted, out note);
        if (used == Precision.Fp32) return (used, tuning);
        var blocking = Autotuner.ApplyTensorCores(gpu, used, mode, cache, say, timed: timed);
        return (used, blocking with { Source = $"{tuning.Source}, then --precision {Name(used)}: {blocking.Source}" });
    }

    /// <summary>
    /// Makes <paramref name="gpu"/>'s plan compute in <paramref name="wanted"/> (call it after the FP32 autotuner, which
    /// times FP32 kernels only). FP32 changes nothing. TF32 and BF16 take the tensor-core kernels for every 3×3
    /// convolution (Winograd off; the blocking <see cref="TensorCoreConv"/>'s unless the plan already has one of that
    /// kind) and the Gram matrices. TF32 or BF16 on a device without tensor cores changes
    /// nothing either and says so in <paramref name="note"/> (OpenCL and CPU devices stay FP32). Returns what the device
    /// now computes in.
    /// </summary>
    public static Precision Apply(Gpu gpu, Precision wanted, out string? note)
    {
        note = null;
        if (wanted == Precision.Fp32) return Precision.Fp32;
        if (Conv2d.WhyNoTensorCores(gpu.Accelerator) is string why)
        {
            note = $"--precision {Name(wanted)}: {gpu.Name} {why} Running FP32.";
            return Precision.Fp32;
        }
        gpu.UsePlan(OnTensorCores(gpu.Plan, wanted, gpu.Accelerator.MaxNumThreadsPerGroup));
        return wanted;
    }

    /// <summary>
    /// <paramref name="plan"/> on <paramref name="precision"/>'s (TF32 or BF16) tensor-core kernels for every 3×3
    /// convolution and Gram matrix, on a device allowing <paramref name="maxGroupSize"/> work-items per group: the
    /// blocking <see cref="TensorCoreConv"/>'s unless the plan already has one of that kind, Winograd off.
    /// </summary>
    public static TuningPlan OnTensorCores(TuningPlan plan, Precision precision, int maxGroupSize)
    {
        if (precision == Precision.Fp32) throw new ArgumentException("FP32 has no tensor-core plan.", nameof(precision));
        bool bf16 = precision == Precision.Bf16;
        var kind = bf16 ? ConvKernelKind.TensorCoreBf16 : ConvKernelKind.TensorCoreTf32;
        // A plan already on this precision's kernels (ILGPU_STYLE_TILES=kind=tf32,gx=2,… with --precision tf32) keeps its blocking.
        var conv = plan.Conv.Kind == kind ? plan.Conv : TensorCoreConv(kind, maxGroupSize);
        // Winograd off: it is FP32 and would take every 3×3 layer from its threshold on (winograd=64 on the H200: all
        // but conv1_1), so the tensor cores would run conv1_1 and the Gram matrices only (the first GPU run, 2026-12-04).
        return plan with { Conv = conv, Gram = bf16 ? GramKernelKind.TensorCoreBf16 : GramKernelKind.TensorCoreTf32, WinogradMinChannels = 0 };
    }
}
