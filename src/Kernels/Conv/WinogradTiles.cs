// Reference: the blockings are tested against ConvReference · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs, tests/IlgpuStyle.Tests/Kernels/TuningPlanTests.cs
using System.Text.Json.Serialization;

namespace IlgpuStyle.Kernels;

/// <summary>
/// The register block of one work-item of the Winograd product (Conv2dWinogradGemmKernel.cs): rows (output channels) ×
/// tiles. Accumulators = rows × tiles: 128 for 16 × 8 (fits AVX-512's 32 registers), 64 for 8 × 8, 128 in 16 vectors
/// for 8 × 16, 96 in 12 vectors for 4 × 24 (AVX2's 16 registers hold them with 3 tile vectors and a broadcast), 256 in
/// 16 float16 vectors for 16 × 16 (OpenCL C vectors, VectorProduct16.cs: one zmm each with AVX-512 code; spills with AVX2's).
/// <see cref="WinogradBlock.Shared"/> is the GPU-shaped product (WinogradSharedProductKernel.cs): 8 × 8 per work-item,
/// strided across a group that stages (8·gy) × 8 of U and 8 × (8·gx) of V in shared memory per step.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<WinogradBlock>))]
public enum WinogradBlock
{
    Rows16Tiles8,
    Rows8Tiles8,
    Rows8Tiles16,
    Rows4Tiles24,
    Rows16Tiles16,
    Shared,
}

/// <summary>
/// The Winograd convolution's variant and its product's blocking: the register block, the group shape (work-items along
/// tiles × along rows), and the output tile (2: F(2×2, 3×3), 4: F(4×4, 3×3)).
/// </summary>
public readonly record struct WinogradTiles(WinogradBlock Block, int GroupX, int GroupY, int OutputTile = 2)
{
    /// <summary>The output tiles there are kernels for: F(2×2, 3×3) and F(4×4, 3×3).</summary>
    public static readonly int[] OutputTiles = [2, 4];

    /// <summary>Output channels (rows of M) one work-item accumulates.</summary>
    public int Rows => Block switch
    {
        WinogradBlock.Rows16Tiles8 or WinogradBlock.Rows16Tiles16 => 16,
        WinogradBlock.Rows4Tiles24 => 4,
        _ => 8,
    };

    /// <summary>Consecutive tiles (columns of M) one work-item accumulates; the chunk's tile count is rounded up to it.</summary>
    public int Tiles => Block switch
    {
        WinogradBlock.Rows8Tiles16 or WinogradBlock.Rows16Tiles16 => 16,
        WinogradBlock.Rows4Tiles24 => 24,
        _ => 8,
    };

    /// <summary>The most tiles any block takes (the tile-count rounding the scratch estimate assumes).</summary>
    public const int MaxTiles = 24;

    /// <summary>The register blocks (CPU devices), in the order the autotuner tries them there.</summary>
    public static readonly WinogradBlock[] Blocks = [WinogradBlock.Rows16Tiles8, WinogradBlock.Rows8Tiles8, WinogradBlock.Rows8Tiles16, WinogradBlock.Rows4Tiles24, WinogradBlock.Rows16Tiles16];

    /// <summary>Every block: the register blocks and the GPU-shaped <see cref="WinogradBlock.Shared"/>.</summary>
    public static readonly WinogradBlock[] AllBlocks = [.. Blocks, WinogradBlock.Shared];

    /// <summary>The widest group side of <see cref="WinogradBlock.Shared"/> (its shared arrays hold 8 · 16 rows or tiles).</summary>
    public const int MaxSharedSide = 16;

    /// <summary>The block's name in ILGPU_STYLE_TILES (wblock=16x8|8x8|8x16|4x24|16x16|shared).</summary>
    public static string BlockName(WinogradBlock block) => block switch
    {
        WinogradBlock.Rows16Tiles8 => "16x8",
        WinogradBlock.Rows8Tiles8 => "8x8",
        WinogradBlock.Rows8Tiles16 => "8x16",
        WinogradBlock.Rows16Tiles16 => "16x16",
        WinogradBlock.Shared => "shared",
        _ => "4x24",
    };

    /// <summary>The block named <paramref name="name"/> (see <see cref="BlockName"/>), or null.</summary>
    public static WinogradBlock? ParseBlock(string name) =>
        AllBlocks.Cast<WinogradBlock?>().FirstOrDefault(b => BlockName(b!.Value) == name);

    /// <summary>The group sides the shared block takes (each work-item then stages 64 / side ≤ 16 floats of an operand per step).</summary>
    public static readonly int[] SharedSides = [4, 8, MaxSharedSide];

    /// <summary>Throws <see cref="ArgumentException"/> unless the group fits a device allowing <paramref name="maxGroupSize"/> work-items.</summary>
    public void Validate(int maxGroupSize)
    {
        if (GroupX < 1 || GroupY < 1 || GroupX * GroupY > maxGroupSize)
            throw new ArgumentException($"Winograd tiles {this}: the group must have 1 to {maxGroupSize} work-items.");
        if (Block == WinogradBlock.Shared && (!SharedSides.Contains(GroupX) || !SharedSides.Contains(GroupY)))
            throw new ArgumentException($"Winograd tiles {this}: the shared block takes groups of gx, gy in {{{string.Join(", ", SharedSides)}}}.");
        if (!OutputTiles.Contains(OutputTile))
            throw new ArgumentException($"Winograd tiles {this}: the output tile must be 2 or 4, not {OutputTile}.");
    }

    public override string ToString() => $"wtile={OutputTile},wblock={BlockName(Block)},gx={GroupX},gy={GroupY}";
}
