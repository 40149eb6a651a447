// Test: tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (every variant generates PTX that ptxas assembles for sm_80 and sm_90,
// no spills in the launched hot ones), tests/IlgpuStyle.Tests/Kernels/ShippedPtxTests.cs (the variants a CUDA run's plans
// launch are listed; the shipped files are the ones a run reads)
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Every kernel variant the library may load on a CUDA device: each kernel method (a static void method named *Kernel
/// in this assembly) once, and a kernel with <see cref="SpecializedValue{T}"/> parameters once per value set the CUDA path
/// can launch it with — its defaults, every candidate of the autotuner's GPU searches (FP32, and the tensor-core blockings
/// of --precision tf32|bf16 mapped to each layer's channels as <see cref="Conv2d.TensorCoreTilesFor"/> maps them), and the
/// values only an override (ILGPU_STYLE_TILES) reaches, marked not <see cref="Variant.Launched"/>. What PtxasTests
/// assembles offline and `ilgpu-style kernels precompile` ships (<see cref="ShippedPtx"/>). A specialized kernel missing
/// from the table fails <see cref="All"/>: add the values the library passes on a GPU.
/// </summary>
public static class CudaKernelVariants
{
    /// <summary>
    /// One compilation of a kernel: its name with the variant's label, the method, the specialized values (empty for a
    /// kernel without them), whether the CUDA path launches it without an override (defaults, tuning candidates,
    /// --precision), and whether it is loaded with ILGPU's asm operand depots rewritten (<see cref="RewrittenPtxKernels"/>:
    /// the kernels with cp.async stages). <paramref name="MinimumMajor"/> and <paramref name="BelowMajor"/> (0: no bound) bound the
    /// compute capabilities it is compiled and launched for (<see cref="RunsOn"/>): a variant whose code needs sm_90's
    /// instructions, or one that an sm_90 variant replaces there.
    /// </summary>
    public sealed record Variant(string Name, MethodInfo Method, object[] Specialized, bool Launched, bool RewriteDepots, int MinimumMajor = 0, int BelowMajor = 0)
    {
        /// <summary>Whether the CUDA path compiles and launches this variant on a device of <paramref name="architecture"/>.</summary>
        public bool RunsOn(CudaArchitecture architecture) => architecture.Major >= MinimumMajor && (BelowMajor == 0 || architecture.Major < BelowMajor);
    }

    /// <summary>Threads per group of the CUDA devices the values are for (every CUDA GPU since Fermi).</summary>
    public const int CudaMaxGroupSize = 1024;

    /// <summary>The output channel counts of VGG19's 3×3 convolutions, forward and backward-data (conv1_1's backward: 3).</summary>
    private static readonly int[] LayerChannels = [3, 64, 128, 256, 512];

    private sealed record Values(string Label, bool Launched, object[] Specialized, bool RewriteDepots = false, int MinimumMajor = 0, int BelowMajor = 0);

    /// <summary>The variants, ordered by class and method name, then as listed.</summary>
    public static IEnumerable<Variant> All()
    {
        var specialized = SpecializedValues();
        var kernels = typeof(Gpu).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal) && m.ReturnType == typeof(void) && !m.IsGenericMethodDefinition)
            .OrderBy(m => m.DeclaringType!.Name, StringComparer.Ordinal).ThenBy(m => m.Name, StringComparer.Ordinal);
        foreach (var method in kernels)
        {
            var name = $"{method.DeclaringType!.Name}.{method.Name}";
            if (!method.GetParameters().Any(p => SpecializedCompilation.IsSpecialized(p.ParameterType)))
            {
                yield return new Variant(name, method, [], Launched: true, RewriteDepots: false);
                continue;
            }
            if (!specialized.TryGetValue(name, out var sets))
                throw new InvalidOperationException($"{name} has specialized parameters but no CUDA values in CudaKernelVariants");
            foreach (var v in sets)
                yield return new Variant($"{name} [{v.Label}]", method, v.Specialized, v.Launched, v.RewriteDepots, v.MinimumMajor, v.BelowMajor);
        }
    }

    private static Dictionary<string, Values[]> SpecializedValues()
    {
        var defaults = TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: CudaMaxGroupSize);
        // The GPU default's shared tiles and the FP32 tuning's (quick and full) candidates of that kind.
        var sharedTiles = new[] { defaults.Conv }
            .Concat(Autotuner.ConvCandidates(defaults, CudaMaxGroupSize, full: true).Select(p => p.Conv).Where(t => t.Kind == ConvKernelKind.SharedTiles))
            .Distinct();
        int[] sides = [.. WinogradTiles.SharedSides];
        return new Dictionary<string, Values[]>
        {
            ["Conv2d.SharedTiles3x3Kernel"] =
                [.. sharedTiles.Select(t => new Values($"{t.GroupX}x{t.GroupY} ci{t.InputChunk}", true, [SpecializedValue.New(t)]))],
            // kind=tf32|bf16: gx warps along pixels × gy along channels; async=N: N shared buffers filled by cp.async (AsyncCopy.cs).
            // TF32 rounds with cvt.rna below compute capability 9.0 and to nearest even from it on (Conv2d.TensorCoreRoundingOf).
            ["Conv2d.TensorCore3x3Kernel"] =
            [
                .. TensorCoreTiles().SelectMany(t => t.Kind == ConvKernelKind.TensorCoreTf32
                    ? new[] { (Tiles: t, Minimum: 0, Below: 9), (Tiles: t with { Tf32NearestEven = true }, Minimum: 9, Below: 0) }
                    : [(Tiles: t, Minimum: 0, Below: 0)])
                    .Select(v => new Values(TensorCoreLabel(v.Tiles), true, [SpecializedValue.New(v.Tiles)], RewriteDepots: v.Tiles.AsyncBuffers > 0,
                        MinimumMajor: v.Minimum, BelowMajor: v.Below)),
            ],
            // The CPU-shaped kernel (16 channels × 8 pixels per work-item) runs on a GPU only when ILGPU_STYLE_TILES asks for
            // kind=blocked; rowStore is 1 for maps at least TuningPlan.RowStoreMinWidth (128) wide, else 0.
            ["Conv2d.RegisterBlocked3x3Kernel"] = [new("rowStore=0, override only", false, [SpecializedValue.New(0)]), new("rowStore=1, override only", false, [SpecializedValue.New(1)])],
            // The 8-channel variant (kind=blocked8): likewise a CPU blocking, on a GPU only by override.
            ["Conv2d.RegisterBlocked8x8Kernel"] = [new("rowStore=0, override only", false, [SpecializedValue.New(0)]), new("rowStore=1, override only", false, [SpecializedValue.New(1)])],
            // Winograd's transforms (on a GPU with the shared product when the autotuner finds it faster). The input transform
            // in row mode (0) and flat mode (32); the output transform's modes (Conv2dWinograd.cs: ReLU 1, accumulate 2,
            // bias 4, edges 8, exact 16, flat 32).
            ["Conv2d.WinogradInputKernel"] = WinogradInputModes(),
            ["Conv2d.WinogradInput4Kernel"] = WinogradInputModes(),
            ["Conv2d.WinogradOutputKernel"] = WinogradOutputModes(),
            ["Conv2d.WinogradOutput4Kernel"] = WinogradOutputModes(),
            // The 16x16 block's vector output transform (WinogradVectorOutput; on CUDA its scalar body): a CPU block.
            ["Conv2d.WinogradOutput4VectorKernel"] =
                [new("bias + ReLU, override only", false, [SpecializedValue.New(1 | 4)]), new("plain, override only", false, [SpecializedValue.New(0)]),
                 new("accumulate, override only", false, [SpecializedValue.New(2)])],
            // Winograd's CPU product blocks (Conv2dWinogradGemmKernel.cs): the convolution's U in panels (ProductPanelsU, on a GPU
            // only by override), and the Gram backward with gram=blocked (plain; writing, or accumulating).
            ["Conv2d.WinogradGemm16Kernel"] = ProductOptions(),
            ["Conv2d.WinogradGemm8Kernel"] = ProductOptions(),
            ["Conv2d.WinogradGemm8x16Kernel"] = ProductOptions(),
            ["Conv2d.WinogradGemm4x24Kernel"] = ProductOptions(),
            ["Conv2d.WinogradGemm16x16Kernel"] = ProductOptions(),
            // The GPU-shaped Gram forward (GramShared.cs, gram=shared): square groups of each shared side.
            ["Gram.ForwardSharedKernel"] = [.. sides.Select(s => new Values($"{s}x{s}", true, [SpecializedValue.New(s)]))],
            // The direct convolution as a shared SGEMM (Conv2dSharedGemmKernel.cs, kind=sgemm): its groups are fitted to the
            // layer's channels and map (SharedGemm.FitSide, Conv2d.SharedGemmGroups), every pair of shared sides.
            ["Conv2d.SharedGemm3x3Kernel"] =
                [.. sides.SelectMany(gx => sides.Select(gy => new Values($"{gx}x{gy}", true, [SpecializedValue.New(Conv2d.SharedGemmGroup(gx, gy))])))],
            // The GPU-shaped Winograd product (WinogradSharedProductKernel.cs): the convolution's (U in panels) and the Gram
            // backward's (plain, writing or accumulating), the group fitted to the rows and columns (every pair of sides).
            ["Conv2d.WinogradGemmSharedKernel"] =
            [
                .. new[] { (Conv2d.ProductPanelsU, "U in panels (conv)"), (0, "plain (gram backward)"), (Conv2d.ProductAccumulate, "plain, accumulate (gram backward)") }
                    .SelectMany(o => sides.SelectMany(gx => sides.Select(gy =>
                        new Values($"{o.Item2} {gx}x{gy}", true, [SpecializedValue.New(Conv2d.SharedProductOptions(o.Item1, gx, gy))])))),
            ],
            // Max pooling's forward: whole windows (0) and checked (1).
            ["Pooling.MaxForwardKernel"] = [new("whole windows", true, [SpecializedValue.New(0)]), new("checked", true, [SpecializedValue.New(1)])],
            // Max pooling's backward, every mode: whole windows (0) or checked (2), writing or accumulating (+1).
            ["Pooling.MaxBackwardKernel"] =
            [
                new("whole windows", true, [SpecializedValue.New(0)]), new("whole windows, accumulate", true, [SpecializedValue.New(1)]),
                new("checked", true, [SpecializedValue.New(2)]), new("checked, accumulate", true, [SpecializedValue.New(3)]),
            ],
            // Its whole-window form on 64-bit words (even widths): writing (0) or accumulating (1).
            ["Pooling.MaxBackwardPairsKernel"] = [new("write", true, [SpecializedValue.New(0)]), new("accumulate", true, [SpecializedValue.New(1)])],
            // The tensor-core Gram kernels: TF32 (0) and BF16 (1), each with cp.async stages (+2, gramasync=2).
            ["Gram.ForwardTensorCoreKernel"] = GramTensorCoreModes(),
            ["Gram.BackwardTensorCoreKernel"] = GramTensorCoreModes(),
            // The input split by column phase: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3); the checked part also along the rows (+8);
            // backward-data through a ReLU gates the copy (+16; the gated bulk only where the padding gates: CPU devices).
            ["Conv2d.WinogradPadRunsKernel"] = [new("2 phases", true, [SpecializedValue.New(2)]), new("4 phases", true, [SpecializedValue.New(4)])],
            ["Conv2d.WinogradPadRunsGatedKernel"] = [new("2 phases", false, [SpecializedValue.New(2)]), new("4 phases", false, [SpecializedValue.New(4)])],
            ["Conv2d.WinogradPadCheckedKernel"] =
            [
                new("2 phases", true, [SpecializedValue.New(2)]), new("4 phases", true, [SpecializedValue.New(4)]),
                new("2 phases along rows", true, [SpecializedValue.New(2 | 8)]), new("4 phases along rows", true, [SpecializedValue.New(4 | 8)]),
                new("4 phases gated", true, [SpecializedValue.New(4 | 16)]), new("4 phases along rows gated", true, [SpecializedValue.New(4 | 8 | 16)]),
            ],
            // The direct kernels' zero padding, plain and gated (backward-data through a ReLU).
            ["Conv2d.ZeroPadKernel"] = [new("plain", true, [SpecializedValue.New(0)]), new("gated", true, [SpecializedValue.New(1)])],
        };
    }

    /// <summary>
    /// The tensor-core blockings a CUDA run can launch: for TF32 and BF16, --precision's default and every blocking the
    /// tensor-core tuning tries (quick and full), as each layer's channel count maps it, split-K left out (one kernel
    /// serves every split target, Conv2dFast3x3).
    /// </summary>
    public static IEnumerable<ConvTiles> TensorCoreTiles()
    {
        var defaults = TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: CudaMaxGroupSize);
        var all = new List<ConvTiles>();
        foreach (var precision in new[] { Precision.Tf32, Precision.Bf16 })
        {
            var start = Precisions.OnTensorCores(defaults, precision, CudaMaxGroupSize);
            foreach (var plan in Autotuner.TensorCoreBlockings(start, CudaMaxGroupSize, full: true).Prepend(start))
                foreach (int m in LayerChannels)
                    all.Add(Conv2d.TensorCoreTilesFor(plan.Conv, m) with { SplitTarget = 0 });
        }
        return all.Distinct();
    }

    /// <summary>"tf32 gx=4 gy=2", "tf32 nearest-even gx=4 gy=2" or "bf16 gx=2 gy=2 async=2".</summary>
    public static string TensorCoreLabel(ConvTiles t) =>
        $"{ConvTiles.KindName(t.Kind)}{(t.Tf32NearestEven ? " nearest-even" : "")} gx={t.GroupX} gy={t.GroupY}{(t.AsyncBuffers > 0 ? $" async={t.AsyncBuffers}" : "")}{(t.StagesPerBarrier > 1 ? $" bar={t.StagesPerBarrier}" : "")}";

    /// <summary>
    /// The tensor-core Gram kernels' modes (GramTensorCore.cs: BF16 1, cp.async 2, TF32 rounded to nearest even 4): TF32
    /// rounds with cvt.rna below compute capability 9.0 and to nearest even (cvt.rn.tf32, sm_90+) from it on (Tf32.HasNearestEven).
    /// </summary>
    private static Values[] GramTensorCoreModes() =>
    [
        new("tf32", true, [SpecializedValue.New(0)], BelowMajor: 9),
        new("tf32 nearest-even", true, [SpecializedValue.New(Gram.TensorCoreNearestEven)], MinimumMajor: 9),
        new("bf16", true, [SpecializedValue.New(1)]),
        new("tf32 gramasync=2", true, [SpecializedValue.New(2)], RewriteDepots: true, BelowMajor: 9),
        new("tf32 nearest-even gramasync=2", true, [SpecializedValue.New(Gram.TensorCoreNearestEven | 2)], RewriteDepots: true, MinimumMajor: 9),
        new("bf16 gramasync=2", true, [SpecializedValue.New(3)], RewriteDepots: true),
    ];

    /// <summary>Winograd's input transform: row mode and flat mode.</summary>
    private static Values[] WinogradInputModes() => [new("rows", true, [SpecializedValue.New(0)]), new("flat", true, [SpecializedValue.New(32)])];

    /// <summary>
    /// Winograd's output transform: forward (bias + ReLU), backward-data writing or accumulating, each over whole tiles,
    /// exact groups, the edges (checked) and flat chunks (checked).
    /// </summary>
    private static Values[] WinogradOutputModes() =>
    [
        .. new[] { (1 | 4, "bias + ReLU"), (0, "plain"), (2, "accumulate") }.SelectMany(f => new[]
        {
            new Values($"whole tiles, {f.Item2}", true, [SpecializedValue.New(f.Item1)]),
            new Values($"exact groups, {f.Item2}", true, [SpecializedValue.New(f.Item1 | 16)]),
            new Values($"edges, {f.Item2}", true, [SpecializedValue.New(f.Item1 | 8)]),
            new Values($"flat, {f.Item2}", true, [SpecializedValue.New(f.Item1 | 8 | 32)]),
        }),
    ];

    /// <summary>The option sets the library launches Winograd's CPU product blocks with (Conv2d.ProductPanelsU, Conv2d.ProductAccumulate).</summary>
    private static Values[] ProductOptions() =>
    [
        new("U in panels (conv), override only", false, [SpecializedValue.New(Conv2d.ProductPanelsU)]),
        new("plain (gram backward), gram=blocked only", false, [SpecializedValue.New(0)]),
        new("plain, accumulate (gram backward), gram=blocked only", false, [SpecializedValue.New(Conv2d.ProductAccumulate)]),
    ];
}
