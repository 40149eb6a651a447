// Reference: the kernels it chooses are tested in GramTests, Conv2dFastPathTests · Test: tests/IlgpuStyle.Tests/Kernels/TuningPlanTests.cs
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>The Gram kernel pairs (forward and backward); see doc/PERFORMANCE.md.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GramKernelKind>))]
public enum GramKernelKind
{
    /// <summary>Register-blocked, no shared memory (GramBlocked.cs): 4×4 blocks of G, 8-lane loads; CPU OpenCL vectorizes it.</summary>
    Blocked,

    /// <summary>Shared-memory tiled GEMMs over Tile×Tile groups (GramTiled.cs): the classic GPU shape.</summary>
    Tiled,

    /// <summary>
    /// Forward and backward on TF32 tensor cores (GramTensorCore.cs, GramTensorCoreBackward.cs; inputs rounded to 10
    /// mantissa bits). Opt-in, on CUDA devices of compute capability 8.0 or newer only (like kind=tf32).
    /// </summary>
    TensorCoreTf32,

    /// <summary><see cref="TensorCoreTf32"/>'s kernels on BF16 tensor cores (mma.sync m16n8k16, inputs rounded to 7 mantissa bits).</summary>
    TensorCoreBf16,

    /// <summary>
    /// GPU-shaped shared-memory SGEMMs in FP32 (GramShared.cs forward: 128 × 128 blocks of G from 16 × 16 groups, 8 × 8
    /// per work-item; backward: Winograd's shared product, WinogradSharedProductKernel.cs). A GPU candidate of the autotuner.
    /// </summary>
    Shared,
}

/// <summary>The tensor-core Gram kinds.</summary>
public static class GramKernelKinds
{
    /// <summary>True for the tensor-core Gram kernels (TF32 or BF16).</summary>
    public static bool IsTensorCore(this GramKernelKind kind) => kind is GramKernelKind.TensorCoreTf32 or GramKernelKind.TensorCoreBf16;
}

/// <summary>
/// Every launch decision for one accelerator, made once when the <see cref="Gpu"/> opens (<see cref="For"/>) and read
/// by the kernels' host code: which 3×3 convolution kernel and its blocking, from which output width the
/// register-blocked kernel stores row by row, which Gram kernel and how far its forward pass splits the column sum,
/// and the group sizes of the 1-D, row-grid and 2-D tiled launches. A plan is plain data: build one from explicit
/// values (tests, autotuning), print it (<see cref="ToString"/>, which <see cref="Parse"/> reads back) or serialize
/// it to JSON. The same plan on the same device gives the same bytes run to run: no decision depends on timing.
/// </summary>
public sealed record TuningPlan
{
    /// <summary>Blocking of the 3×3 stride-1 padding-1 fast path (<see cref="Conv2d.HasFastPath"/>).</summary>
    public required ConvTiles Conv { get; init; }

    /// <summary>Output width from which the register-blocked 3×3 kernel stores channel by channel (0: always).</summary>
    public required int RowStoreMinWidth { get; init; }

    /// <summary>Which Gram kernels <see cref="Kernels.Gram.Forward(Tensor, Tensor, float)"/> and <see cref="Kernels.Gram.Backward(Tensor, Tensor, Tensor, float, bool)"/> run.</summary>
    public required GramKernelKind Gram { get; init; }

    /// <summary>
    /// The tensor-core Gram kernels (gram=tf32|bf16): 0 — stages stored from registers; 2 — copied by cp.async into two
    /// buffers while the current stage is multiplied (GramTensorCore.cs; the same bytes). Key gramasync.
    /// </summary>
    public int GramAsyncBuffers { get; init; }

    /// <summary>
    /// Parallel work per compute unit the Gram forward's split-K aims for (<see cref="Kernels.Gram.SplitCount"/>): work-items
    /// (one per 4×4 block of G) for <see cref="GramKernelKind.Blocked"/>, Tile×Tile groups for <see cref="GramKernelKind.Tiled"/>,
    /// 64-work-item groups (one 64×64 block of G) for <see cref="GramKernelKind.TensorCoreTf32"/>.
    /// </summary>
    public required int GramTarget { get; init; }

    /// <summary>
    /// The register block of the <see cref="GramKernelKind.Blocked"/> backward, which runs as the Winograd product
    /// (Gram.BackwardAsProduct; key gblock), apart from the convolution's <see cref="WinogradBlock"/>: the five VGG19 Gram
    /// backwards at 512² on the Intel Xeon (sums of minima) took 119 / 112 / 95 / 120 ms with the 16x8 / 8x8 / 8x16 / 4x24
    /// blocks in AVX-512 code and 137 / 111 / 205 / 202 ms in AVX2 code, where the convolutions prefer 16x8 or 8x16.
    /// Default <see cref="DefaultGramBlock"/>; the autotuner tries every block.
    /// </summary>
    public WinogradBlock GramBlock { get; init; } = DefaultGramBlock;

    /// <summary>The default <see cref="GramBlock"/>: 8x8, the best with AVX2 code and within 18 % of the best with AVX-512 code.</summary>
    public const WinogradBlock DefaultGramBlock = WinogradBlock.Rows8Tiles8;

    /// <summary>
    /// The side of the block of G one work-item of the <see cref="GramKernelKind.Blocked"/> forward computes (key gfblock):
    /// 4 (default) or 3, see <see cref="Kernels.Gram.ForwardBlocks"/> — 4×4 fits AVX-512 code's 32 registers, 3×3 AVX2's
    /// 16. The autotuner tries both.
    /// </summary>
    public int GramForwardBlock { get; init; } = DefaultGramForwardBlock;

    /// <summary>The default <see cref="GramForwardBlock"/>: 4.</summary>
    public const int DefaultGramForwardBlock = 4;

    /// <summary>
    /// Winograd (F(2×2, 3×3) or F(4×4, 3×3), <see cref="WinogradOutputTile"/>) for the 3×3 fast path (Conv2dWinograd.cs) on layers whose input and output channels are both at
    /// least this many, its product blocked as <see cref="WinogradTiles"/>; 0: never. CPU devices:
    /// <see cref="DefaultWinogradMinChannels"/> (every VGG19 layer but conv1_1's 3-channel side); GPUs: 0 by default (their
    /// product block is <see cref="WinogradBlock.Shared"/>, WinogradSharedProductKernel.cs, not yet timed on a GPU; the
    /// autotuner tries it against the direct kernel).
    /// </summary>
    public int WinogradMinChannels { get; init; }

    /// <summary>The register block of the Winograd product (key wblock); its group is <see cref="Conv"/>'s gx × gy.</summary>
    public WinogradBlock WinogradBlock { get; init; }

    /// <summary>
    /// The Winograd variant (key wtile): 2 for F(2×2, 3×3), 4 for F(4×4, 3×3) (Conv2dWinograd4x4.cs: 1.78× fewer
    /// multiply-adds than F(2×2, 3×3), wider rounding).
    /// </summary>
    public int WinogradOutputTile { get; init; } = DefaultWinogradOutputTile;

    /// <summary>The Winograd variant and its product's blocking: <see cref="ProductTiles"/> of <see cref="WinogradBlock"/>.</summary>
    [JsonIgnore]
    public WinogradTiles WinogradTiles => ProductTiles(WinogradBlock);

    /// <summary>
    /// The product blocking of <paramref name="block"/> with this plan's output tile: the register blocks take
    /// <see cref="Conv"/>'s group shape (the direct kernels' work-items: the same register budget); the shared block a
    /// square group of its own, the largest side in <see cref="WinogradTiles.SharedSides"/> up to <see cref="Tile"/> (16 × 16
    /// where groups hold 256 work-items; 4 × 4 on the CPU simulator), whatever the convolution's kind.
    /// </summary>
    public WinogradTiles ProductTiles(WinogradBlock block)
    {
        if (block != WinogradBlock.Shared) return new(block, Conv.GroupX, Conv.GroupY, WinogradOutputTile);
        int side = WinogradTiles.SharedSides.LastOrDefault(s => s <= Tile, WinogradTiles.SharedSides[0]);
        return new(block, side, side, WinogradOutputTile);
    }

    /// <summary>
    /// The CPU devices' default <see cref="WinogradMinChannels"/>: 64. From 64 channels on Winograd F(2×2, 3×3) beat the
    /// direct kernels on every VGG19 layer at 256² with AVX-512 code and from 128 on with AVX2 code; F(4×4, 3×3) beats them
    /// from 64 on with both (doc/PERFORMANCE.md). The autotuner also tries 0, 128 and 256.
    /// </summary>
    public const int DefaultWinogradMinChannels = 64;

    /// <summary>
    /// The default <see cref="WinogradOutputTile"/>: 4. F(4×4, 3×3) beat F(2×2, 3×3) on every VGG19 layer from conv1_2 to
    /// conv5_1 at 256², with AVX-512 and AVX2 code (doc/PERFORMANCE.md: those eight layers 249 → 175 ms and 350 → 255 ms on a
    /// Zen 5); the autotuner also tries 2.
    /// </summary>
    public const int DefaultWinogradOutputTile = 4;

    /// <summary>Work-items per group of 1-D kernels (elementwise ops, reductions).</summary>
    public required int Group1D { get; init; }

    /// <summary>Work-items along x of <see cref="Gpu.RowGrid"/> launches (padding, pooling, weight layout).</summary>
    public required int RowGroup { get; init; }

    /// <summary>Side of the square group of the 2-D tiled kernels (general convolution, tiled Gram), at most <see cref="Gpu.MaxTile"/>.</summary>
    public required int Tile { get; init; }

    /// <summary>The override variable: any subset of the keys of <see cref="ToString"/>, e.g. "gram=tiled,rowstore=64,kind=shared".</summary>
    public const string EnvironmentVariable = "ILGPU_STYLE_TILES";

    /// <summary>Default <see cref="RowStoreMinWidth"/>: measured on PoCL (see Conv2dRegisterBlockedKernel.cs).</summary>
    public const int DefaultRowStoreMinWidth = 128;

    /// <summary><see cref="GramTarget"/> when the plan does not say: 32 work-items per unit (blocked), 2 groups (shared: two fit an SM), 4 groups (tiled, tf32).</summary>
    public static int DefaultGramTarget(GramKernelKind kind) => kind switch
    {
        GramKernelKind.Blocked => 32,
        GramKernelKind.Shared => 2,
        _ => 4,
    };

    /// <summary>The name of <paramref name="kind"/> in <see cref="EnvironmentVariable"/> (gram=blocked|tiled|shared|tf32|bf16).</summary>
    public static string GramName(GramKernelKind kind) => kind switch
    {
        GramKernelKind.Blocked => "blocked",
        GramKernelKind.TensorCoreTf32 => "tf32",
        GramKernelKind.TensorCoreBf16 => "bf16",
        GramKernelKind.Shared => "shared",
        _ => "tiled",
    };

    /// <summary>
    /// The table of defaults. CPU devices (an OpenCL CPU device such as PoCL, or the ILGPU CPU simulator): the
    /// register-blocked 3×3 convolution with 2×8 work-items, Winograd F(4×4, 3×3) from 64 channels on, and the blocked
    /// Gram kernels (all vectorize on CPU OpenCL). GPUs (CUDA, OpenCL GPUs): the shared-tiles convolution, 16×16 work-items and 8 input channels per step
    /// (8×8 and 4 where a group holds fewer than 256), and the shared-memory Gram kernels (gram=shared: on the H200,
    /// 2026-12-04, 1.5–5× faster than gram=tiled on every Gram layer of a 512 px image, forward and backward; doc/PERFORMANCE.md);
    /// Winograd off, its product (and the blocked Gram backward's) the shared block whenever a tuning or an override turns it on. Group sizes: 1-D groups of up to 256,
    /// row grids 32 wide, 16×16 tiles (4×4 where a group holds fewer than 256 work-items, e.g. the CPU simulator's 16).
    /// </summary>
    public static TuningPlan Default(AcceleratorType type, bool cpuDevice, int maxGroupSize)
    {
        bool cpu = type == AcceleratorType.CPU || cpuDevice;
        var conv = cpu ? new ConvTiles(ConvKernelKind.RegisterBlocked, 2, 8, 1)
            : maxGroupSize >= 256 ? new ConvTiles(ConvKernelKind.SharedTiles, 16, 16, 8)
            : new ConvTiles(ConvKernelKind.SharedTiles, 8, 8, 4);
        var gram = cpu ? GramKernelKind.Blocked : GramKernelKind.Shared;
        int group1D = Math.Min(256, maxGroupSize);
        return new TuningPlan
        {
            Conv = conv,
            RowStoreMinWidth = DefaultRowStoreMinWidth,
            WinogradMinChannels = cpu ? DefaultWinogradMinChannels : 0,
            WinogradOutputTile = DefaultWinogradOutputTile,
            // GPUs: the GPU-shaped product for Winograd and the blocked Gram backward, whenever they run.
            WinogradBlock = cpu ? default : WinogradBlock.Shared,
            GramBlock = cpu ? DefaultGramBlock : WinogradBlock.Shared,
            Gram = gram,
            GramTarget = DefaultGramTarget(gram),
            Group1D = group1D,
            RowGroup = Math.Min(group1D, 32),
            Tile = maxGroupSize >= Gpu.MaxTile * Gpu.MaxTile ? Gpu.MaxTile : 4,
        };
    }

    /// <summary>
    /// The plan for <paramref name="accelerator"/>: <see cref="Default"/>, overridden by <see cref="EnvironmentVariable"/>,
    /// validated (a kind=tf32 override on a device without TF32 tensor cores is a <see cref="TuningPlanException"/>).
    /// </summary>
    public static TuningPlan For(Accelerator accelerator) =>
        Resolve(accelerator.AcceleratorType,
            Gpu.IsOpenClCpu(accelerator),
            accelerator.MaxNumThreadsPerGroup, Conv2d.WhyNoTensorCores(accelerator));

    /// <summary>The plan a device listed by <see cref="DeviceCatalog.List"/> gets when opened (same rules as <see cref="For(Accelerator)"/>).</summary>
    public static TuningPlan For(DeviceInfo device) =>
        Resolve(device.Kind, device.Kind == AcceleratorType.OpenCL && device.Type.StartsWith("CPU", StringComparison.Ordinal),
            device.MaxGroupSize, whyNoTensorCores: null);

    /// <summary>
    /// <see cref="Default"/> overridden by the variable, validated; <paramref name="whyNoTensorCores"/>: why the device
    /// cannot run kind=tf32 (null: it can, or it is not known here).
    /// </summary>
    private static TuningPlan Resolve(AcceleratorType type, bool cpuDevice, int maxGroup, string? whyNoTensorCores)
    {
        var plan = Default(type, cpuDevice, maxGroup);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(env))
        {
            plan.Validate(maxGroup);
            return plan;
        }
        try
        {
            plan = Parse(env, plan);
            if (plan.Conv.Kind.IsTensorCore() && whyNoTensorCores is not null)
                throw new ArgumentException($"kind={ConvTiles.KindName(plan.Conv.Kind)} {whyNoTensorCores}");
            if (plan.Gram.IsTensorCore() && whyNoTensorCores is not null)
                throw new ArgumentException($"gram={GramName(plan.Gram)} {whyNoTensorCores}");
            plan.Validate(maxGroup);
            return plan;
        }
        catch (ArgumentException e) when (e is not TuningPlanException)
        {
            throw new TuningPlanException($"{EnvironmentVariable}='{env}' is invalid: {e.Message}", e);
        }
    }

    private const string Keys = "kind, gx, gy, ci, async, bar, ks, round, rowstore, winograd, wtile, wblock, gram, gramtarget, gblock, gfblock, gramasync, group1d, rowgroup, tile";

    /// <summary>
    /// Reads comma-separated "key=value" pairs over <paramref name="defaults"/>. Convolution: kind=blocked|blocked8|shared|sgemm|tf32,
    /// gx, gy, ci (tf32: gx/gy are warps along pixels/channels, ci=8, and only CUDA devices with compute capability ≥ 8.0
    /// accept it, see <see cref="For(Accelerator)"/>); rowstore (width); gram=blocked|tiled|shared|tf32|bf16, gramtarget, gblock, gfblock, gramasync; group1d, rowgroup,
    /// tile; async (tensor-core conv: cp.async buffers), bar (its stages per barrier, <see cref="ConvTiles.StagesPerBarrier"/>); ks (kind=sgemm: split-K's target, <see cref="ConvTiles.SplitTarget"/>);
    /// round=even (kind=tf32: to nearest even where the device would not, <see cref="ConvTiles.Tf32NearestEven"/>). Choosing a Gram kernel without gramtarget takes that kernel's default target. Throws <see cref="ArgumentException"/> naming the variable.
    /// </summary>
    public static TuningPlan Parse(string text, TuningPlan defaults)
    {
        var plan = defaults;
        bool targetGiven = false;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            string key = kv[0].ToLowerInvariant();
            if (kv.Length != 2 || kv[1].Length == 0)
                throw new ArgumentException($"{EnvironmentVariable}: '{part}' is not key=value (keys: {Keys}).");
            string value = kv[1].ToLowerInvariant();
            switch (key)
            {
                case "kind":
                    plan = plan with
                    {
                        Conv = plan.Conv with
                        {
                            Kind = value switch
                            {
                                "blocked" => ConvKernelKind.RegisterBlocked,
                                "blocked8" => ConvKernelKind.RegisterBlocked8,
                                "shared" => ConvKernelKind.SharedTiles,
                                "sgemm" => ConvKernelKind.SharedGemm,
                                "tf32" => ConvKernelKind.TensorCoreTf32,
                                "bf16" => ConvKernelKind.TensorCoreBf16,
                                _ => throw new ArgumentException($"{EnvironmentVariable}: kind must be 'blocked', 'blocked8', 'shared', 'sgemm', 'tf32' or 'bf16', not '{kv[1]}'."),
                            },
                        },
                    };
                    continue;
                case "wblock":
                    plan = plan with { WinogradBlock = ParseBlock(key, value, kv[1]) };
                    continue;
                case "gblock":
                    plan = plan with { GramBlock = ParseBlock(key, value, kv[1]) };
                    continue;
                case "round":
                    plan = value == "even"
                        ? plan with { Conv = plan.Conv with { Tf32NearestEven = true } }
                        : throw new ArgumentException($"{EnvironmentVariable}: round must be 'even' (kind=tf32 to nearest even; without it, the device's rounding), not '{kv[1]}'.");
                    continue;
                case "gram":
                    plan = plan with
                    {
                        Gram = value switch
                        {
                            "blocked" => GramKernelKind.Blocked,
                            "tiled" => GramKernelKind.Tiled,
                            "tf32" => GramKernelKind.TensorCoreTf32,
                            "bf16" => GramKernelKind.TensorCoreBf16,
                            "shared" => GramKernelKind.Shared,
                            _ => throw new ArgumentException($"{EnvironmentVariable}: gram must be 'blocked', 'tiled', 'shared', 'tf32' or 'bf16', not '{kv[1]}'."),
                        },
                    };
                    continue;
            }
            if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
                throw new ArgumentException($"{EnvironmentVariable}: '{part}' is not key=value with an integer value (keys: {Keys}).");
            plan = key switch
            {
                "gx" => plan with { Conv = plan.Conv with { GroupX = v } },
                "gy" => plan with { Conv = plan.Conv with { GroupY = v } },
                "ci" => plan with { Conv = plan.Conv with { InputChunk = v } },
                "async" => plan with { Conv = plan.Conv with { AsyncBuffers = v } },
                "bar" => plan with { Conv = plan.Conv with { StagesPerBarrier = v } },
                "ks" => plan with { Conv = plan.Conv with { SplitTarget = v } },
                "gramasync" => plan with { GramAsyncBuffers = v },
                "gfblock" => plan with { GramForwardBlock = v },
                "rowstore" => plan with { RowStoreMinWidth = v },
                "winograd" => plan with { WinogradMinChannels = v },
                "wtile" => plan with { WinogradOutputTile = v },
                "gramtarget" => plan with { GramTarget = v },
                "group1d" => plan with { Group1D = v },
                "rowgroup" => plan with { RowGroup = v },
                "tile" => plan with { Tile = v },
                _ => throw new ArgumentException($"{EnvironmentVariable}: unknown key '{kv[0]}' (keys: {Keys})."),
            };
            targetGiven |= key == "gramtarget";
        }
        if (!targetGiven && plan.Gram != defaults.Gram) plan = plan with { GramTarget = DefaultGramTarget(plan.Gram) };
        return plan;
    }

    /// <summary>The product block <paramref name="value"/> names for <paramref name="key"/> (wblock, gblock); <paramref name="raw"/>, as given, for the error.</summary>
    private static WinogradBlock ParseBlock(string key, string value, string raw) =>
        WinogradTiles.ParseBlock(value)
            ?? throw new ArgumentException($"{EnvironmentVariable}: {key} must be one of {string.Join(", ", WinogradTiles.AllBlocks.Select(WinogradTiles.BlockName))}, not '{raw}'.");

    /// <summary>Throws <see cref="ArgumentException"/> unless every decision fits a device allowing <paramref name="maxGroupSize"/> work-items per group.</summary>
    public void Validate(int maxGroupSize)
    {
        Conv.Validate(maxGroupSize);
        if (RowStoreMinWidth < 0)
            throw new ArgumentException($"tuning plan {this}: rowstore must be ≥ 0.");
        if (WinogradMinChannels < 0)
            throw new ArgumentException($"tuning plan {this}: winograd must be ≥ 0 (0: never).");
        if (!WinogradTiles.OutputTiles.Contains(WinogradOutputTile))
            throw new ArgumentException($"tuning plan {this}: wtile must be 2 or 4.");
        if (GramTarget < 1)
            throw new ArgumentException($"tuning plan {this}: gramtarget must be ≥ 1.");
        if (!Kernels.Gram.ForwardBlocks.Contains(GramForwardBlock))
            throw new ArgumentException($"tuning plan {this}: gfblock must be {string.Join(" or ", Kernels.Gram.ForwardBlocks)}.");
        if (GramAsyncBuffers is not (0 or 2))
            throw new ArgumentException($"tuning plan {this}: gramasync must be 0 or 2 (cp.async buffers of the tensor-core Gram kernels; 0: none).");
        if (GramAsyncBuffers != 0 && !Gram.IsTensorCore())
            throw new ArgumentException($"tuning plan {this}: gramasync applies to the tensor-core Gram kernels (gram=tf32 or bf16) only.");
        if (Gram.IsTensorCore() && maxGroupSize < Kernels.Gram.TensorCoreGroup)
            throw new ArgumentException($"tuning plan {this}: gram={GramName(Gram)} needs {Kernels.Gram.TensorCoreGroup} work-items per group; the device allows {maxGroupSize}.");
        if (Group1D < 1 || Group1D > maxGroupSize)
            throw new ArgumentException($"tuning plan {this}: group1d must be between 1 and the device's {maxGroupSize}.");
        if (RowGroup < 1 || RowGroup > maxGroupSize)
            throw new ArgumentException($"tuning plan {this}: rowgroup must be between 1 and the device's {maxGroupSize}.");
        if (Tile < 1 || Tile > Gpu.MaxTile || Tile * Tile > maxGroupSize)
            throw new ArgumentException(
                $"tuning plan {this}: tile must be between 1 and {Gpu.MaxTile} with tile² ≤ the device's {maxGroupSize} work-items per group.");
    }

    /// <summary>One line of key=value pairs, in the override variable's syntax (<see cref="Parse"/> reads it back).</summary>
    public override string ToString()
    {
        var s = new StringBuilder(Conv.ToString());
        s.Append(CultureInfo.InvariantCulture, $",rowstore={RowStoreMinWidth},winograd={WinogradMinChannels},wtile={WinogradOutputTile},wblock={WinogradTiles.BlockName(WinogradBlock)},gram={GramName(Gram)}");
        s.Append(CultureInfo.InvariantCulture, $",gramtarget={GramTarget},gblock={WinogradTiles.BlockName(GramBlock)},group1d={Group1D},rowgroup={RowGroup},tile={Tile}");
        if (GramForwardBlock != DefaultGramForwardBlock) s.Append(CultureInfo.InvariantCulture, $",gfblock={GramForwardBlock}");
        if (GramAsyncBuffers != 0) s.Append(CultureInfo.InvariantCulture, $",gramasync={GramAsyncBuffers}");
        return s.ToString();
    }
}

/// <summary>An invalid <see cref="TuningPlan.EnvironmentVariable"/>: the user's input, reported in one line (exit code 2 in the CLI).</summary>
public sealed class TuningPlanException(string message, Exception inner) : ArgumentException(message, inner);
