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
/// One warp's 64 × 32 tile of a TF32 GEMM (rows × columns): 4 × 4 m16n8 accumulator fragments, M{i}N{j} for rows 16·i …
/// and columns 8·j … of the warp tile. Passed and returned by value so they stay in registers.
/// </summary>
internal struct WarpTile64x32
{
    public MmaAccumulator M0N0, M0N1, M0N2, M0N3, M1N0, M1N1, M1N2, M1N3, M2N0, M2N1, M2N2, M2N3, M3N0, M3N1, M3N2, M3N3;

    /// <summary>
    /// One mma k-step over 8 k of a shared stage that holds A and B k-major (A[m][k] at k·sa + m, B[k][n] at k·sb + n):
    /// A fragments of the 4 row tiles, B fragments of the 4 column tiles, 16 products. <paramref name="a"/> is the
    /// index of A[g][q] of the warp's first row tile (k-row q, column g), likewise <paramref name="b"/> of B[q][g]: so
    /// a0 = A[g][q] at a, a1 = A[g + 8][q] at a + 8, a2, a3 four k-rows further; b0 = B[q][g] at b, b1 four k-rows
    /// further (the layout in WarpMma.cs); the stage's values are rounded to TF32 (StagePipeline). <paramref name="x"/>: the
    /// warp's exchange area. <paramref name="keep"/>: which B values count (<see cref="ColumnMasks"/>; the others are read as 0).
    /// </summary>
    public readonly WarpTile64x32 Step(ArrayView<float> s, int a, int sa, int b, int sb, ColumnMasks keep, ArrayView<float> x)
    {
        // One view at each of the four places the lane reads from (k-rows q and q + 4 of A and of B): every fragment value is
        // a constant offset from one of them, which the loads carry (ILGPU widens an index to 64 bits before adding it to an
        // address, so s[a + 8] would cost an addition and a shift of its own).
        ArrayView<float> ra = s.SubView(a, 57), ra4 = s.SubView(a + 4 * sa, 57), rb = s.SubView(b, 25), rb4 = s.SubView(b + 4 * sb, 25);
        float a00 = ra[0], a01 = ra[8], a02 = ra4[0], a03 = ra4[8];
        float a10 = ra[16], a11 = ra[24], a12 = ra4[16], a13 = ra4[24];
        float a20 = ra[32], a21 = ra[40], a22 = ra4[32], a23 = ra4[40];
        float a30 = ra[48], a31 = ra[56], a32 = ra4[48], a33 = ra4[56];
        float b00 = Kept(rb[0], keep.N0), b01 = Kept(rb4[0], keep.N0);
        float b10 = Kept(rb[8], keep.N1), b11 = Kept(rb4[8], keep.N1);
        float b20 = Kept(rb[16], keep.N2), b21 = Kept(rb4[16], keep.N2);
        float b30 = Kept(rb[24], keep.N3), b31 = Kept(rb4[24], keep.N3);
        var r = this;
        r.M0N0 = WarpMma.Tf32(a00, a01, a02, a03, b00, b01, r.M0N0, x);
        r.M0N1 = WarpMma.Tf32(a00, a01, a02, a03, b10, b11, r.M0N1, x);
        r.M0N2 = WarpMma.Tf32(a00, a01, a02, a03, b20, b21, r.M0N2, x);
        r.M0N3 = WarpMma.Tf32(a00, a01, a02, a03, b30, b31, r.M0N3, x);
        r.M1N0 = WarpMma.Tf32(a10, a11, a12, a13, b00, b01, r.M1N0, x);
        r.M1N1 = WarpMma.Tf32(a10, a11, a12, a13, b10, b11, r.M1N1, x);
        r.M1N2 = WarpMma.Tf32(a10, a11, a12, a13, b20, b21, r.M1N2, x);
        r.M1N3 = WarpMma.Tf32(a10, a11, a12, a13, b30, b31, r.M1N3, x);
        r.M2N0 = WarpMma.Tf32(a20, a21, a22, a23, b00, b01, r.M2N0, x);
        r.M2N1 = WarpMma.Tf32(a20, a21, a22, a23, b10, b11, r.M2N1, x);
        r.M2N2 = WarpMma.Tf32(a20, a21, a22, a23, b20, b21, r.M2N2, x);
        r.M2N3 = WarpMma.Tf32(a20, a21, a22, a23, b30, b31, r.M2N3, x);
        r.M3N0 = WarpMma.Tf32(a30, a31, a32, a33, b00, b01, r.M3N0, x);
        r.M3N1 = WarpMma.Tf32(a30, a31, a32, a33, b10, b11, r.M3N1, x);
        r.M3N2 = WarpMma.Tf32(a30, a31, a32, a33, b20, b21, r.M3N2, x);
        r.M3N3 = WarpMma.Tf32(a30, a31, a32, a33, b30, b31, r.M3N3, x);
        return r;
    }

    /// <summary>
    /// A value as a stage holds it for <see cref="Step"/> (rounded to TF32) or, when <paramref name="bf16"/> ≠ 0,
    /// <see cref="StepBf16"/> (rounded to BF16): the kernels round each value once, when they store it in shared memory.
    /// </summary>
    public static float StageValue(float v, int bf16) => bf16 != 0 ? Bf16.Round(v) : Tf32.Round(v);

    /// <summary><paramref name="v"/> when <paramref name="mask"/> is ~0, +0 when it is 0 (a <see cref="ColumnMasks"/> word).</summary>
    private static float Kept(float v, uint mask) => Interop.IntAsFloat(Interop.FloatAsInt(v) & mask);

    /// <summary>The .bf16x2 register {x[i], y[i]} of two values the stage holds rounded to BF16.</summary>
    private static uint Bf16At(ArrayView<float> x, ArrayView<float> y, int i) => Bf16.Pack(x[i], y[i]);

    /// <summary>
    /// One BF16 mma k-step over 16 k-rows of the same stage layout as <see cref="Step"/>: the values of two TF32 steps,
    /// packed in pairs as WarpMma.Bf16 documents — A's k-rows q, q + 4 and q + 8, q + 12 from <paramref name="a"/>, B's
    /// k-rows q, q + 4 of the first step from <paramref name="bLow"/> (its values kept by <paramref name="keepLow"/>) and
    /// of the second from <paramref name="bHigh"/> (<paramref name="keepHigh"/>); a GEMM stage whose B k-rows follow each
    /// other has bHigh = bLow + 8·sb. <paramref name="lowerOnly"/> ≠ 0: only the first 8 k-rows exist (the rest of the
    /// stage is another k range), the upper registers are zero. The stage's values are rounded to BF16 (StagePipeline).
    /// </summary>
    public readonly WarpTile64x32 StepBf16(ArrayView<float> s, int a, int sa, int bLow, ColumnMasks keepLow, int bHigh, ColumnMasks keepHigh,
        int sb, ArrayView<float> x, int lowerOnly)
    {
        var r = this;
        // As in Step: a view at each k-row the lane reads (q, q + 4, q + 8, q + 12 of A and of B), the values at constant offsets.
        var rows = new Bf16Rows.KRows(s.SubView(a, 57), s.SubView(a + 4 * sa, 57), s.SubView(a + 8 * sa, 57), s.SubView(a + 12 * sa, 57));
        var low = new Bf16Columns(s.SubView(bLow, 25), s.SubView(bLow + 4 * sb, 25), keepLow);
        var high = lowerOnly != 0 ? default : new Bf16Columns(s.SubView(bHigh, 25), s.SubView(bHigh + 4 * sb, 25), keepHigh);
        (r.M0N0, r.M0N1, r.M0N2, r.M0N3) = new Bf16Rows(rows, 0, lowerOnly).Mma(low, high, r.M0N0, r.M0N1, r.M0N2, r.M0N3, x);
        (r.M1N0, r.M1N1, r.M1N2, r.M1N3) = new Bf16Rows(rows, 16, lowerOnly).Mma(low, high, r.M1N0, r.M1N1, r.M1N2, r.M1N3, x);
        (r.M2N0, r.M2N1, r.M2N2, r.M2N3) = new Bf16Rows(rows, 32, lowerOnly).Mma(low, high, r.M2N0, r.M2N1, r.M2N2, r.M2N3, x);
        (r.M3N0, r.M3N1, r.M3N2, r.M3N3) = new Bf16Rows(rows, 48, lowerOnly).Mma(low, high, r.M3N0, r.M3N1, r.M3N2, r.M3N3, x);
        return r;
    }

    /// <summary>
    /// A's four BF16 registers of one 16-row tile (rows <paramref name="m"/> + g and + g + 8): a0 = {A[g][q], A[g][q + 4]},
    /// a1 the same 8 rows down, a2, a3 the same 8 k-rows further (zero when <paramref name="lowerOnly"/> ≠ 0).
    /// </summary>
    private readonly struct Bf16Rows
    {
        private readonly uint A0, A1, A2, A3;

        /// <summary>Views at the lane's first A value in k-rows q, q + 4, q + 8 and q + 12.</summary>
        public readonly struct KRows(ArrayView<float> q0, ArrayView<float> q4, ArrayView<float> q8, ArrayView<float> q12)
        {
            public readonly ArrayView<float> Q0 = q0, Q4 = q4, Q8 = q8, Q12 = q12;
        }

        public Bf16Rows(KRows k, int m, int lowerOnly)
        {
            A0 = Bf16At(k.Q0, k.Q4, m);
            A1 = Bf16At(k.Q0, k.Q4, m + 8);
            A2 = lowerOnly != 0 ? 0u : Bf16At(k.Q8, k.Q12, m);
            A3 = lowerOnly != 0 ? 0u : Bf16At(k.Q8, k.Q12, m + 8);
        }

        /// <summary>This row tile times the 4 column tiles (B registers of the lower and upper 8 k-rows), added to c0 … c3.</summary>
        public (MmaAccumulator, MmaAccumulator, MmaAccumulator, MmaAccumulator) Mma(Bf16Columns low, Bf16Columns high,
            MmaAccumulator c0, MmaAccumulator c1, MmaAccumulator c2, MmaAccumulator c3, ArrayView<float> x) =>
            (WarpMma.Bf16(A0, A1, A2, A3, low.N0, high.N0, c0, x), WarpMma.Bf16(A0, A1, A2, A3, low.N1, high.N1, c1, x),
             WarpMma.Bf16(A0, A1, A2, A3, low.N2, high.N2, c2, x), WarpMma.Bf16(A0, A1, A2, A3, low.N3, high.N3, c3, x));
    }

    /// <summary>
    /// B's register of 8 k-rows for the warp tile's 4 column tiles: {B[q][g], B[q + 4][g]} at columns 0, 8, 16, 24, each
    /// kept or zeroed by its column's mask (both halves belong to one column).
    /// </summary>
    private readonly struct Bf16Columns(ArrayView<float> q, ArrayView<float> q4, ColumnMasks keep)
    {
        public readonly uint N0 = Bf16At(q, q4, 0) & keep.N0, N1 = Bf16At(q, q4, 8) & keep.N1,
            N2 = Bf16At(q, q4, 16) & keep.N2, N3 = Bf16At(q, q4, 24) & keep.N3;
    }

    /// <summary>Hands every fragment to <paramref name="e"/>: <paramref name="o"/> = the tile's first row + g, <paramref name="p"/> = its first column + 2q.</summary>
    public readonly void Store<TStore>(TStore e, int o, int p) where TStore : struct, IFragmentStore
    {
        e.Store(M0N0, o, p); e.Store(M0N1, o, p + 8); e.Store(M0N2, o, p + 16); e.Store(M0N3, o, p + 24);
        e.Store(M1N0, o + 16, p); e.Store(M1N1, o + 16, p + 8); e.Store(M1N2, o + 16, p + 16); e.Store(M1N3, o + 16, p + 24);
        e.Store(M2N0, o + 32, p); e.Store(M2N1, o + 32, p + 8); e.Store(M2N2, o + 32, p + 16); e.Store(M2N3, o + 32, p + 24);
        e.Store(M3N0, o + 48, p); e.Store(M3N1, o + 48, p + 8); e.Store(M3N2, o + 48, p + 16); e.Store(M3N3, o + 48, p + 24);
    }
}

