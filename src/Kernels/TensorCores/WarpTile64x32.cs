// Test: through the kernels that use it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs, GramTensorCoreTests.cs)
using ILGPU;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>Receives one m16n8 C fragment whose element c0 is at (row, col): c1 at (row, col + 1), c2 at (row + 8, col), c3 at (row + 8, col + 1).</summary>
internal interface IFragmentStore
{
    void Store(MmaAccumulator c, int row, int col);
}

/// <summary>
/// Which B values of a warp tile's 4 column tiles a product uses: N{j} for columns 8·j + g (the lane's, g = lane / 4),
/// ~0 to keep them, 0 to read them as 0 (the tensor-core convolution's taps that fall off the image's left or right edge).
/// </summary>
internal readonly struct ColumnMasks(uint n0, uint n1, uint n2, uint n3)
{
    public readonly uint N0 = n0, N1 = n1, N2 = n2, N3 = n3;

    /// <summary>Every value kept (a GEMM without edges; the AND with ~0 folds away).</summary>
    public static ColumnMasks All => new(~0u, ~0u, ~0u, ~0u);
}

/// <summary>
/// A lane's B values of one 8-k mma step for a warp tile's 4 column tiles, as read, with the masks still to apply (the
/// TF32 step masks each value, the BF16 step each packed pair): N{j} = (B[q][c], B[q + 4][c]) for column c = 8·j + g of
/// the warp tile (g = lane / 4, q = lane mod 4), read from a stage whose k-rows q and q + 4 lie side by side
/// (<see cref="Paired"/>: one 64-bit read per column tile; the tensor-core convolution and the Gram kernels).
/// </summary>
internal readonly struct ColumnPairs(SharedGemm.Float2 n0, SharedGemm.Float2 n1, SharedGemm.Float2 n2, SharedGemm.Float2 n3, ColumnMasks keep)
{
    public readonly SharedGemm.Float2 N0 = n0, N1 = n1, N2 = n2, N3 = n3;
    public readonly ColumnMasks Keep = keep;

    /// <summary>
    /// From a paired stage, whose Float2 <paramref name="at"/> + 8·j of <paramref name="p"/> holds (B[q][c], B[q + 4][c])
    /// of the lane's column c in tile j: 4 LDS.64 (8 LDS k-major).
    /// </summary>
    public static ColumnPairs Paired(ArrayView<SharedGemm.Float2> p, int at, ColumnMasks keep) =>
        new(p[at], p[at + 8], p[at + 16], p[at + 24], keep);

    /// <summary><paramref name="v"/> when <paramref name="mask"/> is ~0, +0 when it is 0 (a <see cref="ColumnMasks"/> word).</summary>
    public static float Kept(float v, uint mask) => Interop.IntAsFloat(Interop.FloatAsInt(v) & mask);

}

/// <summary>
/// One warp's 64 × 32 tile of a TF32 GEMM (rows × columns): 4 × 4 m16n8 accumulator fragments, M{i}N{j} for rows 16·i …
/// and columns 8·j … of the warp tile. Passed and returned by value so they stay in registers.
/// </summary>
internal struct WarpTile64x32
{
    public MmaAccumulator M0N0, M0N1, M0N2, M0N3, M1N0, M1N1, M1N2, M1N3, M2N0, M2N1, M2N2, M2N3, M3N0, M3N1, M3N2, M3N3;

    /// <summary>
    /// One mma k-step over 8 k: the A fragments of the warp's 4 row tiles (<paramref name="a"/>, read by the caller from its
    /// stage's layout) times the B fragments of its 4 column tiles (<paramref name="b"/>: <see cref="ColumnPairs"/>, read
    /// from the stage's layout, k-major or paired), 16 products; the stage's values are rounded to TF32 (StagePipeline).
    /// <paramref name="x"/>: the warp's exchange area.
    /// </summary>
    public readonly WarpTile64x32 Step(WarpRows a, ColumnPairs b, ArrayView<float> x)
    {
        float b00 = ColumnPairs.Kept(b.N0.X, b.Keep.N0), b01 = ColumnPairs.Kept(b.N0.Y, b.Keep.N0);
        float b10 = ColumnPairs.Kept(b.N1.X, b.Keep.N1), b11 = ColumnPairs.Kept(b.N1.Y, b.Keep.N1);
        float b20 = ColumnPairs.Kept(b.N2.X, b.Keep.N2), b21 = ColumnPairs.Kept(b.N2.Y, b.Keep.N2);
        float b30 = ColumnPairs.Kept(b.N3.X, b.Keep.N3), b31 = ColumnPairs.Kept(b.N3.Y, b.Keep.N3);
        var r = this;
        r.M0N0 = a.M0.Tf32(b00, b01, r.M0N0, x);
        r.M0N1 = a.M0.Tf32(b10, b11, r.M0N1, x);
        r.M0N2 = a.M0.Tf32(b20, b21, r.M0N2, x);
        r.M0N3 = a.M0.Tf32(b30, b31, r.M0N3, x);
        r.M1N0 = a.M1.Tf32(b00, b01, r.M1N0, x);
        r.M1N1 = a.M1.Tf32(b10, b11, r.M1N1, x);
        r.M1N2 = a.M1.Tf32(b20, b21, r.M1N2, x);
        r.M1N3 = a.M1.Tf32(b30, b31, r.M1N3, x);
        r.M2N0 = a.M2.Tf32(b00, b01, r.M2N0, x);
        r.M2N1 = a.M2.Tf32(b10, b11, r.M2N1, x);
        r.M2N2 = a.M2.Tf32(b20, b21, r.M2N2, x);
        r.M2N3 = a.M2.Tf32(b30, b31, r.M2N3, x);
        r.M3N0 = a.M3.Tf32(b00, b01, r.M3N0, x);
        r.M3N1 = a.M3.Tf32(b10, b11, r.M3N1, x);
        r.M3N2 = a.M3.Tf32(b20, b21, r.M3N2, x);
        r.M3N3 = a.M3.Tf32(b30, b31, r.M3N3, x);
        return r;
    }

    /// <summary>
    /// One BF16 m16n8k16 step over 16 channels packed in pairs (the tensor-core convolution's BF16 stages,
    /// Conv2dTensorCoreOperand.cs): the four words of <paramref name="a"/>'s row tile i are its registers a0 … a3 as they lie,
    /// (<paramref name="b"/>'s pairs) its b0, b1, each masked by its column (both halves of a word belong to one column).
    /// The instruction's k = 2q, 2q + 1, 2q + 8, 2q + 9 stand for the stage's channels q, q + 4, q + 8, q + 12 in A and B
    /// alike (the product sums over k: WarpMma.Bf16). 16 products, no packing in the loop.
    /// </summary>
    public readonly WarpTile64x32 StepPackedBf16(WarpRows a, ColumnPairs b, ArrayView<float> x)
    {
        uint b00 = Word(b.N0.X) & b.Keep.N0, b01 = Word(b.N0.Y) & b.Keep.N0, b10 = Word(b.N1.X) & b.Keep.N1, b11 = Word(b.N1.Y) & b.Keep.N1;
        uint b20 = Word(b.N2.X) & b.Keep.N2, b21 = Word(b.N2.Y) & b.Keep.N2, b30 = Word(b.N3.X) & b.Keep.N3, b31 = Word(b.N3.Y) & b.Keep.N3;
        var r = this;
        r.M0N0 = PackedBf16(a.M0, b00, b01, r.M0N0, x);
        r.M0N1 = PackedBf16(a.M0, b10, b11, r.M0N1, x);
        r.M0N2 = PackedBf16(a.M0, b20, b21, r.M0N2, x);
        r.M0N3 = PackedBf16(a.M0, b30, b31, r.M0N3, x);
        r.M1N0 = PackedBf16(a.M1, b00, b01, r.M1N0, x);
        r.M1N1 = PackedBf16(a.M1, b10, b11, r.M1N1, x);
        r.M1N2 = PackedBf16(a.M1, b20, b21, r.M1N2, x);
        r.M1N3 = PackedBf16(a.M1, b30, b31, r.M1N3, x);
        r.M2N0 = PackedBf16(a.M2, b00, b01, r.M2N0, x);
        r.M2N1 = PackedBf16(a.M2, b10, b11, r.M2N1, x);
        r.M2N2 = PackedBf16(a.M2, b20, b21, r.M2N2, x);
        r.M2N3 = PackedBf16(a.M2, b30, b31, r.M2N3, x);
        r.M3N0 = PackedBf16(a.M3, b00, b01, r.M3N0, x);
        r.M3N1 = PackedBf16(a.M3, b10, b11, r.M3N1, x);
        r.M3N2 = PackedBf16(a.M3, b20, b21, r.M3N2, x);
        r.M3N3 = PackedBf16(a.M3, b30, b31, r.M3N3, x);
        return r;
    }

    /// <summary>c + row tile <paramref name="t"/> (its four words: registers a0 … a3) × (<paramref name="b0"/>, <paramref name="b1"/>), BF16 products.</summary>
    private static MmaAccumulator PackedBf16(RowTile t, uint b0, uint b1, MmaAccumulator c, ArrayView<float> x) =>
        WarpMma.Bf16(Word(t.A0), Word(t.A1), Word(t.A2), Word(t.A3), b0, b1, c, x);

    /// <summary>A shared word read as a float, as the register it is.</summary>
    private static uint Word(float v) => Interop.FloatAsInt(v);

    /// <summary>Hands every fragment to <paramref name="e"/>: <paramref name="o"/> = the tile's first row + g, <paramref name="p"/> = its first column + 2q.</summary>
    public readonly void Store<TStore>(TStore e, int o, int p) where TStore : struct, IFragmentStore
    {
        e.Store(M0N0, o, p); e.Store(M0N1, o, p + 8); e.Store(M0N2, o, p + 16); e.Store(M0N3, o, p + 24);
        e.Store(M1N0, o + 16, p); e.Store(M1N1, o + 16, p + 8); e.Store(M1N2, o + 16, p + 16); e.Store(M1N3, o + 16, p + 24);
        e.Store(M2N0, o + 32, p); e.Store(M2N1, o + 32, p + 8); e.Store(M2N2, o + 32, p + 16); e.Store(M2N3, o + 32, p + 24);
        e.Store(M3N0, o + 48, p); e.Store(M3N1, o + 48, p + 8); e.Store(M3N2, o + 48, p + 16); e.Store(M3N3, o + 48, p + 24);
    }
}

