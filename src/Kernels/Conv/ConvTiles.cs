// Reference: the blockings are tested against ConvReference · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs, tests/IlgpuStyle.Tests/Kernels/TuningPlanTests.cs
using System.Text.Json.Serialization;

namespace IlgpuStyle.Kernels;

/// <summary>The implicit-GEMM kernels of the 3×3 fast path (see doc/PERFORMANCE.md for why there are several).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ConvKernelKind>))]
public enum ConvKernelKind
{
    /// <summary>
    /// No shared memory, no barriers: each work-item keeps an 8-output-channel × 8-pixel block in registers and
    /// reads weights and a zero-padded copy of the input straight from global memory (caches are the tile store).
    /// Both operands of the block are contiguous, so CPU OpenCL compilers turn each work-item into 8-wide SIMD.
    /// </summary>
    RegisterBlocked,

    /// <summary>
    /// Classic GPU tiling: the group stages an input patch and a weight block in shared memory between barriers;
    /// each work-item accumulates a 4-channel × 4-row block; consecutive work-items read consecutive addresses.
    /// </summary>
    SharedTiles,

    /// <summary>
    /// <see cref="RegisterBlocked"/> with an 8-channel × 8-pixel block (64 accumulators): fits a register file of 16
    /// 256-bit registers (AVX2), where the 16-channel block spills (Conv2dRegisterBlocked8Kernel.cs).
    /// </summary>
    RegisterBlocked8,

    /// <summary>
    /// TF32 tensor cores (Conv2dTensorCoreKernel.cs): warp-level mma.sync m16n8k8 products with FP32 accumulation, inputs
    /// rounded to TF32 (10 mantissa bits), so results differ from the FP32 kernels by TF32's rounding. CUDA devices of
    /// compute capability 8.0 or newer only (and the 32-lane-warp CPU simulator the tests use); never a default plan.
    /// <see cref="ConvTiles.GroupX"/> = warps along pixels (1, 2 or 4), <see cref="ConvTiles.GroupY"/> = warps along
    /// channels (1 or 2), <see cref="ConvTiles.InputChunk"/> = 8 (channels per stage).
    /// </summary>
    TensorCoreTf32,

    /// <summary>
    /// <see cref="TensorCoreTf32"/>'s kernel on BF16 tensor cores (mma.sync m16n8k16; inputs rounded to 7 mantissa bits,
    /// FP32 accumulation): twice TF32's rate per instruction, 8× its rounding error. Same blockings and devices;
    /// <see cref="ConvTiles.InputChunk"/> = 16 (a stage's channels: one m16n8k16 per tap).
    /// </summary>
    TensorCoreBf16,

    /// <summary>
    /// The implicit GEMM as a shared-memory SGEMM for GPUs (Conv2dSharedGemmKernel.cs): a group of gx × gy work-items
    /// owns 8·gy output channels × 8·gx consecutive pixels, stages 8 reduction rows of both operands per step in shared
    /// memory (two buffers) and each work-item accumulates an 8 × 8 block — 64 multiply-adds per 16 shared reads, where
    /// <see cref="SharedTiles"/>' 4 × 4 block does 16 per up to 8. gx, gy in {4, 8, 16} (<see cref="WinogradTiles.SharedSides"/>);
    /// <see cref="ConvTiles.InputChunk"/> unused.
    /// </summary>
    SharedGemm,
}

/// <summary>The tensor-core kinds.</summary>
public static class ConvKernelKinds
{
    /// <summary>True for the tensor-core kernels (TF32 or BF16).</summary>
    public static bool IsTensorCore(this ConvKernelKind kind) => kind is ConvKernelKind.TensorCoreTf32 or ConvKernelKind.TensorCoreBf16;
}

/// <summary>
/// Blocking of the 3×3 stride-1 padding-1 fast path of <see cref="Conv2d"/>: which kernel, the group shape
/// <see cref="GroupX"/>×<see cref="GroupY"/> (work-items along x cover consecutive pixels, along y output
/// channels), and for <see cref="ConvKernelKind.SharedTiles"/> the input channels staged per step
/// (<see cref="InputChunk"/>). The group shape and chunk are compile-time constants of the generated kernel
/// (ILGPU kernel specialization), so its loops have constant trip counts. Chosen per device by <see cref="TuningPlan"/>.
/// </summary>
public readonly record struct ConvTiles(ConvKernelKind Kind, int GroupX, int GroupY, int InputChunk)
{
    /// <summary>Output channels one work-item of the register-blocked kernel accumulates.</summary>
    public const int BlockedChannels = 16;

    /// <summary>Output channels one work-item of the 8-channel register-blocked kernel accumulates.</summary>
    public const int Blocked8Channels = 8;

    /// <summary>Consecutive output pixels (along x) one work-item of the register-blocked kernel accumulates.</summary>
    public const int BlockedPixels = 8;

    /// <summary>Output channels (and pixels) one work-item of the shared-SGEMM kernel accumulates (an 8×8 block).</summary>
    public const int SharedGemmBlock = 8;

    /// <summary>Output channels / rows one work-item of the shared-tiles kernel accumulates (a 4×4 block).</summary>
    public const int SharedBlock = 4;

    /// <summary>
    /// Tensor-core kinds: 0 — each stage is loaded into registers, rounded and stored to shared memory by the group before
    /// the current one is multiplied (two buffers); 2, 3 or 4 — that many shared buffers filled by cp.async (AsyncCopy.cs),
    /// the next 1 to 3 stages in flight while the current one is multiplied, values rounded in place once they landed
    /// (tiles past the static 48 KiB in dynamic shared memory: Conv2d.TensorCoreDynamicShared). Same bytes either way.
    /// Plan key async (ILGPU_STYLE_TILES=…,async=2).
    /// </summary>
    public int AsyncBuffers { get; init; }

    /// <summary>
    /// Tensor-core kinds with 4 cp.async buffers: the stages one barrier publishes, 1 or 2 (StagePipeline.cs: two stages
    /// are waited for, rounded and published together, then the next two issued: half the barriers, the next 2 stages in
    /// flight instead of 3). Same bytes. Plan key bar (ILGPU_STYLE_TILES=…,async=4,bar=2).
    /// </summary>
    public int StagesPerBarrier
    {
        get => stagesPerBarrierBeyondOne + 1;
        init => stagesPerBarrierBeyondOne = value - 1;
    }

    // Stored less one, so that default(ConvTiles) and every blocking written without it publish one stage per barrier.
    private readonly int stagesPerBarrierBeyondOne;

    /// <summary>
    /// Split-K's target (kind=sgemm and the tensor-core kinds; <see cref="SplitK"/>): 0 — none (sgemm spreads a small
    /// map's grid by narrower groups instead, <see cref="Conv2d.SharedGemmGroups"/>); T ≥ 1 — a grid with fewer than
    /// T × 256 work-items per multiprocessor is multiplied by cutting the reduction into slices, their partial sums added
    /// in order by a second pass. Split-K changes the order of each output's sum, so the bytes depend on T and the
    /// device's multiprocessors (not on the run). Plan key ks (ILGPU_STYLE_TILES=kind=sgemm,…,ks=2).
    /// </summary>
    public int SplitTarget { get; init; }

    /// <summary>
    /// kind=tf32: the inputs (the weight operand and the stages) are rounded to TF32 to nearest with ties to even — on CUDA
    /// <c>cvt.rn.tf32.f32</c>, one instruction on sm_90+ where the default <c>cvt.rna</c> takes four — instead of ties away
    /// from zero. Not the tuner's choice: the launch sets it where the device has the instruction
    /// (<see cref="Conv2d.TensorCoreRoundingOf"/>, <see cref="TensorCores.Tf32.HasNearestEven"/>); a plan may ask for it
    /// elsewhere (plan key round=even: the tests, off CUDA; a CUDA device before sm_90 refuses it). Either is TF32's rounding
    /// to nearest; they differ on exact ties only. Not in JSON.
    /// </summary>
    [JsonIgnore]
    public bool Tf32NearestEven
    {
        get => tf32NearestEven != 0;
        init => tf32NearestEven = value ? 1 : 0;
    }

    // An int, not a bool: the struct is a kernel's specialized value, which ILGPU turns into IR constants field by field.
    private readonly int tf32NearestEven;

    /// <summary>The largest <see cref="SplitTarget"/>.</summary>
    public const int MaxSplitTarget = 64;

    /// <summary>The values <see cref="AsyncBuffers"/> may take.</summary>
    public static readonly int[] SupportedAsyncBuffers = [0, 2, 3, 4];

    /// <summary>Output channels per group.</summary>
    [JsonIgnore]
    public int GroupChannels => GroupY * Kind switch
    {
        ConvKernelKind.RegisterBlocked => BlockedChannels,
        ConvKernelKind.RegisterBlocked8 => Blocked8Channels,
        ConvKernelKind.SharedGemm => SharedGemmBlock,
        var kind when kind.IsTensorCore() => Conv2d.TensorCoreWarpChannels,
        _ => SharedBlock,
    };

    /// <summary>Work-items per group: GroupX·GroupY, or 32 per warp for the tensor-core kinds.</summary>
    [JsonIgnore]
    public int WorkItems => Kind.IsTensorCore() ? 32 * GroupX * GroupY : GroupX * GroupY;

    /// <summary>Warps along pixels (GroupX) the tensor-core kernel supports.</summary>
    public static readonly int[] TensorCoreWarpsAlongPixels = [1, 2, 4];

    /// <summary>Warps along channels (GroupY) the tensor-core kernel supports.</summary>
    public static readonly int[] TensorCoreWarpsAlongChannels = [1, 2];

    /// <summary>Shared-tiles kernel: floats of the shared input patch, InputChunk × (4 + 2) × (GroupX + 2).</summary>
    [JsonIgnore]
    public int PatchFloats => InputChunk * (SharedBlock + 2) * (GroupX + 2);

    /// <summary>Shared-tiles kernel: floats of the shared weight block, InputChunk·9 × GroupChannels.</summary>
    [JsonIgnore]
    public int WeightFloats => InputChunk * 9 * GroupChannels;

    /// <summary>Input-channel steps the shared-tiles kernel is written for (each an unrolled sequence of channels).</summary>
    public static readonly int[] SupportedInputChunks = [1, 2, 4, 8];

    /// <summary>Throws <see cref="ArgumentException"/> unless the blocking fits the device and the kernels' shared arrays.</summary>
    public void Validate(int maxGroupSize)
    {
        if (GroupX < 1 || GroupY < 1)
            throw new ArgumentException($"conv tiles {this}: group sizes must be ≥ 1.");
        if (WorkItems > maxGroupSize)
            throw new ArgumentException($"conv tiles {this}: {WorkItems} work-items per group exceed the device's {maxGroupSize}.");
        if (SplitTarget < 0 || SplitTarget > MaxSplitTarget)
            throw new ArgumentException($"conv tiles {this}: ks must be between 0 and {MaxSplitTarget} (split-K's work-items per multiprocessor, in groups of 256; 0: none).");
        if (SplitTarget != 0 && !(Kind == ConvKernelKind.SharedGemm || Kind.IsTensorCore()))
            throw new ArgumentException($"conv tiles {this}: ks (split-K) applies to kind=sgemm and the tensor-core kinds only.");
        if (Tf32NearestEven && Kind != ConvKernelKind.TensorCoreTf32)
            throw new ArgumentException($"conv tiles {this}: rounding to nearest even applies to kind=tf32 only.");
        if (Kind.IsTensorCore())
        {
            if (!TensorCoreWarpsAlongPixels.Contains(GroupX) || !TensorCoreWarpsAlongChannels.Contains(GroupY) || InputChunk != Conv2d.TensorCoreStageChannels(Kind))
                throw new ArgumentException(
                    $"conv tiles {this}: kind={KindName(Kind)} needs gx (warps along pixels) in {{{string.Join(", ", TensorCoreWarpsAlongPixels)}}}, " +
                    $"gy (warps along channels) in {{{string.Join(", ", TensorCoreWarpsAlongChannels)}}} and ci={Conv2d.TensorCoreStageChannels(Kind)} (the channels of a stage: 8 for tf32, 16 for bf16).");
            if (!SupportedAsyncBuffers.Contains(AsyncBuffers))
                throw new ArgumentException($"conv tiles {this}: async must be one of {string.Join(", ", SupportedAsyncBuffers)} (shared buffers filled by cp.async; 0: none).");
            if (StagesPerBarrier is not (1 or 2) || (StagesPerBarrier == 2 && AsyncBuffers != 4))
                throw new ArgumentException($"conv tiles {this}: bar (stages a barrier publishes) must be 1, or 2 with async=4.");
            int need = Conv2d.TensorCoreSharedNeed(this);
            if (!Conv2d.TensorCoreSharedFits(need))
                throw new ArgumentException(
                    $"conv tiles {this}: needs {Conv2d.TensorCoreDynamicFloats(need)} shared floats, more than the tensor-core kernel's {Conv2d.TensorCoreDynamicSharedFloats}.");
            return;
        }
        if (AsyncBuffers != 0 || StagesPerBarrier != 1)
            throw new ArgumentException($"conv tiles {this}: async and bar (cp.async stages) apply to the tensor-core kinds only.");
        if (Kind == ConvKernelKind.SharedGemm && (!WinogradTiles.SharedSides.Contains(GroupX) || !WinogradTiles.SharedSides.Contains(GroupY)))
            throw new ArgumentException($"conv tiles {this}: kind=sgemm takes groups of gx, gy in {{{string.Join(", ", WinogradTiles.SharedSides)}}}.");
        if (Kind != ConvKernelKind.SharedTiles) return;
        if (!SupportedInputChunks.Contains(InputChunk))
            throw new ArgumentException($"conv tiles {this}: ci must be one of {string.Join(", ", SupportedInputChunks)}.");
        if (GroupX * GroupY > Conv2d.MaxSharedGroup)
            throw new ArgumentException($"conv tiles {this}: the shared-tiles kernel supports at most {Conv2d.MaxSharedGroup} work-items per group.");
        if (PatchFloats > Conv2d.PatchSharedFloats || WeightFloats > Conv2d.WeightSharedFloats)
            throw new ArgumentException(
                $"conv tiles {this}: needs {PatchFloats} + {WeightFloats} shared floats, more than the kernel's " +
                $"{Conv2d.PatchSharedFloats} + {Conv2d.WeightSharedFloats}.");
    }

    public override string ToString() =>
        $"kind={KindName(Kind)},gx={GroupX},gy={GroupY},ci={InputChunk}" + (AsyncBuffers != 0 ? $",async={AsyncBuffers}" : "")
        + (StagesPerBarrier != 1 ? $",bar={StagesPerBarrier}" : "") + (SplitTarget != 0 ? $",ks={SplitTarget}" : "") + (Tf32NearestEven ? ",round=even" : "");

    /// <summary>The name of <paramref name="kind"/> in ILGPU_STYLE_TILES (kind=blocked|blocked8|shared|sgemm|tf32|bf16).</summary>
    public static string KindName(ConvKernelKind kind) => kind switch
    {
        ConvKernelKind.RegisterBlocked => "blocked",
        ConvKernelKind.RegisterBlocked8 => "blocked8",
        ConvKernelKind.SharedGemm => "sgemm",
        ConvKernelKind.TensorCoreTf32 => "tf32",
        ConvKernelKind.TensorCoreBf16 => "bf16",
        _ => "shared",
    };
}
