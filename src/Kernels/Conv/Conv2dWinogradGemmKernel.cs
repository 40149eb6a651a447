// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs (through the whole Winograd convolution) · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The product of the Winograd convolution (Conv2dWinograd.cs), 16 independent matrix products:
//   M[ξ][k, t] = Σ_c U[ξ][c, k] · V[ξ][c, t],   U: 16 × C × kp,  V: 16 × C × tp,  M: 16 × K × tp.
// Register-blocked like the direct kernels (no shared memory, no barrier): a work-item owns 16 (or 8) rows k × 8
// consecutive tiles t of one ξ. Per c it loads the 8 tiles of V (one vector; contiguous) and uses each of the 16
// weights U[ξ][c, k0 …] as a broadcast — the orientation the row-store epilogue of the direct kernel showed PoCL
// vectorizes without shuffles (doc/PERFORMANCE.md, finding 11): vectors along the tiles, stores of 8 consecutive tiles
// per row. The work-items of a group column (same tiles, other rows) read the same V values (L1 hits).
public static partial class Conv2d
{
    /// <summary>
    /// Options of the product (its <c>options</c> argument, a compile-time constant): <see cref="ProductPanelsU"/> — U[ξ]
    /// stored in panels, below; <see cref="ProductAccumulate"/> — M += the product instead of M = (the Gram backward when
    /// df already holds a gradient).
    /// </summary>
    public const int ProductPanelsU = 1, ProductAccumulate = 2;

    /// <summary>
    /// U[ξ] in panels (<see cref="ProductPanelsU"/>): panel k / 16 holds rows
    /// k0 … k0 + 15 for every reduction channel, reduce × 16 floats, so a work-item reads its 16 (or 8, 4) weights per
    /// channel from one unit-stride stream instead of jumping kp floats (2 KiB at 512 channels) per channel, past what CPU
    /// prefetchers follow. The convolution writes U so (WinogradWeightKernel, WinogradWeight4Kernel); the Gram backward
    /// passes its plain S. V stays plain: its panel layout (tried) made the input transform's stores scattered — with AVX2
    /// code conv1_2 at 256² went 28 → 48 ms (doc/PERFORMANCE.md, stop 23).
    /// </summary>
    internal const int WinogradPanelRows = ConvTiles.BlockedChannels;

    /// <summary>
    /// Offset of U[c][k] within one position's plane in the panel layout: panel k / 16, row c, column k mod 16 (kp, the
    /// padded row count, is a multiple of the panel: PaddedChannels). k ≥ 0 and the panel a power of two: k mod 16 is a mask
    /// (PTX's rem costs ptxas a division: ConstantDivision).
    /// </summary>
    internal static int WinogradUIndex(int c, int k, int reduce) =>
        (k / WinogradPanelRows * reduce + c) * WinogradPanelRows + (k & (WinogradPanelRows - 1));

    /// <summary>
    /// Grid (⌈columns / (8·gx)⌉, ⌈K / (16·gy)⌉, 16), group (gx, gy): work-item (tx, ty) of group (bx, by, ξ) owns rows
    /// k0 … k0 + 15 (k0 = 16·(gy·by + ty)) and tiles t0 … t0 + 7 (t0 = 8·(gx·bx + tx)) of M[ξ]. columns (≤ tp, the row
    /// length of V and M) is a multiple of 8 and kp ≥ k0 + 16, so no load needs a bounds check; rows past K are not stored.
    /// </summary>
    private static void WinogradGemm16Kernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        var b = new ProductBlock(options, 16, 8, c, k, kp, tp, columns);
        if (!b.Inside) return;
        var lo = default(Rows8);
        var hi = default(Rows8);
        for (int ci = 0; ci < c; ci++)
        {
            var tiles = Tiles8.Load(v, b.V(ci));
            lo = Rows8.Step(lo, tiles, u, b.U(ci));
            hi = Rows8.Step(hi, tiles, u, b.U(ci) + 8);
        }
        lo.Store(product, b.Q, tp, b.RowsLeft, b.Accumulate);
        hi.Store(product, b.Q + 8 * tp, tp, b.RowsLeft - 8, b.Accumulate);
    }

    /// <summary><see cref="WinogradGemm16Kernel"/> with 8 rows per work-item (64 accumulators: fits AVX2's 16 registers); grid y = ⌈K / (8·gy)⌉.</summary>
    private static void WinogradGemm8Kernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        var b = new ProductBlock(options, 8, 8, c, k, kp, tp, columns);
        if (!b.Inside) return;
        var rows = default(Rows8);
        for (int ci = 0; ci < c; ci++)
            rows = Rows8.Step(rows, Tiles8.Load(v, b.V(ci)), u, b.U(ci));
        rows.Store(product, b.Q, tp, b.RowsLeft, b.Accumulate);
    }

    /// <summary>
    /// 8 rows × 16 tiles per work-item (two vectors per row, 16 accumulators): per reduction channel 2 vector loads and 8
    /// broadcasts for 16 vector multiply-adds, against 1 + 8 for 8 in the 8 × 8 block. Grid x = ⌈columns / (16·gx)⌉, columns a multiple of 16.
    /// </summary>
    private static void WinogradGemm8x16Kernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        var b = new ProductBlock(options, 8, 16, c, k, kp, tp, columns);
        if (!b.Inside) return;
        var lo = default(Rows8);
        var hi = default(Rows8);
        for (int ci = 0; ci < c; ci++)
        {
            lo = Rows8.Step(lo, Tiles8.Load(v, b.V(ci)), u, b.U(ci));
            hi = Rows8.Step(hi, Tiles8.Load(v, b.V(ci) + 8), u, b.U(ci));
        }
        lo.Store(product, b.Q, tp, b.RowsLeft, b.Accumulate);
        hi.Store(product, b.Q + 8, tp, b.RowsLeft, b.Accumulate);
    }

    /// <summary>
    /// 4 rows × 24 tiles per work-item (three vectors per row, 12 accumulators): with AVX2's 16 registers, 12 accumulators
    /// + 3 tile vectors + 1 broadcast; per reduction channel 3 vector loads and 4 broadcasts for 12 multiply-adds. Grid
    /// x = ⌈columns / (24·gx)⌉, columns a multiple of 24.
    /// </summary>
    private static void WinogradGemm4x24Kernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        var b = new ProductBlock(options, 4, 24, c, k, kp, tp, columns);
        if (!b.Inside) return;
        var r0 = default(Rows4);
        var r8 = default(Rows4);
        var r16 = default(Rows4);
        for (int ci = 0; ci < c; ci++)
        {
            r0 = Rows4.Step(r0, Tiles8.Load(v, b.V(ci)), u, b.U(ci));
            r8 = Rows4.Step(r8, Tiles8.Load(v, b.V(ci) + 8), u, b.U(ci));
            r16 = Rows4.Step(r16, Tiles8.Load(v, b.V(ci) + 16), u, b.U(ci));
        }
        r0.Store(product, b.Q, tp, b.RowsLeft, b.Accumulate);
        r8.Store(product, b.Q + 8, tp, b.RowsLeft, b.Accumulate);
        r16.Store(product, b.Q + 16, tp, b.RowsLeft, b.Accumulate);
    }

    /// <summary>
    /// 16 rows × 16 tiles per work-item in OpenCL C's float16 vectors (<see cref="VectorProduct16"/>: one zmm register per
    /// row with AVX-512 code, 16 accumulators). Grid x = ⌈columns / (16·gx)⌉, columns a multiple of 16.
    /// </summary>
    private static void WinogradGemm16x16Kernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        var b = new ProductBlock(options, VectorProduct16.Rows, VectorProduct16.Tiles, c, k, kp, tp, columns);
        if (!b.Inside) return;
        VectorProduct16.Accumulate(u, v, product, c, tp, b.U(0), b.U(1) - b.U(0), b.V(0), b.Q, b.RowsLeft, b.Accumulate ? 1 : 0);
    }

    /// <summary>
    /// Where a work-item's block of <paramref name="rows"/> rows × <paramref name="tiles"/> tiles of M[ξ] lies (ξ = the
    /// grid's z): rows k0 = rows·(gy·by + ty) …, tiles t0 = tiles·(gx·bx + tx) …; the offsets of its operands at
    /// reduction channel ci, of its first output, and the rows left before K.
    /// </summary>
    private readonly struct ProductBlock
    {
        private readonly int vi, ui, tp, uStride;

        public ProductBlock(SpecializedValue<int> options, int rows, int tiles, int c, int k, int kp, int tp, int columns)
        {
            int t0 = (Grid.IdxX * Group.DimX + Group.IdxX) * tiles;
            int k0 = (Grid.IdxY * Group.DimY + Group.IdxY) * rows;
            int xi = Grid.IdxZ;
            Inside = t0 < columns && k0 < k;
            vi = xi * c * tp + t0;
            bool panels = (options.Value & ProductPanelsU) != 0;
            ui = xi * c * kp + (panels ? WinogradUIndex(0, k0, c) : k0);
            uStride = panels ? WinogradPanelRows : kp;
            Accumulate = (options.Value & ProductAccumulate) != 0;
            this.tp = tp;
            Q = (xi * k + k0) * tp + t0;
            RowsLeft = k - k0;
        }

        /// <summary>False for work-items past the tiles or the rows (the grid is rounded up to whole groups).</summary>
        public bool Inside { get; }

        /// <summary>M[ξ][k0][t0].</summary>
        public int Q { get; }

        public int RowsLeft { get; }

        /// <summary>M += instead of M = (<see cref="ProductAccumulate"/>).</summary>
        public bool Accumulate { get; }

        /// <summary>V[ξ][ci][t0].</summary>
        public int V(int ci) => vi + ci * tp;

        /// <summary>U[ξ][ci][k0].</summary>
        public int U(int ci) => ui + ci * uStride;
    }

    /// <summary>8 consecutive tiles of one row of V or M: one SIMD vector on CPU OpenCL.</summary>
    private struct Tiles8
    {
        public float T0, T1, T2, T3, T4, T5, T6, T7;

        public static Tiles8 Load(View s, int i)
        {
            Tiles8 r;
            r.T0 = s[i]; r.T1 = s[i + 1]; r.T2 = s[i + 2]; r.T3 = s[i + 3];
            r.T4 = s[i + 4]; r.T5 = s[i + 5]; r.T6 = s[i + 6]; r.T7 = s[i + 7];
            return r;
        }

        /// <summary>acc + a·x, lane by lane.</summary>
        public static Tiles8 MulAdd(float a, Tiles8 x, Tiles8 acc)
        {
            acc.T0 = Kernels.MulAdd.Of(a, x.T0, acc.T0); acc.T1 = Kernels.MulAdd.Of(a, x.T1, acc.T1);
            acc.T2 = Kernels.MulAdd.Of(a, x.T2, acc.T2); acc.T3 = Kernels.MulAdd.Of(a, x.T3, acc.T3);
            acc.T4 = Kernels.MulAdd.Of(a, x.T4, acc.T4); acc.T5 = Kernels.MulAdd.Of(a, x.T5, acc.T5);
            acc.T6 = Kernels.MulAdd.Of(a, x.T6, acc.T6); acc.T7 = Kernels.MulAdd.Of(a, x.T7, acc.T7);
            return acc;
        }

        /// <summary>s[i …] = (or, when <paramref name="accumulate"/>, +=) the 8 lanes.</summary>
        public void Store(View s, int i, bool accumulate)
        {
            if (accumulate)
            {
                s[i] += T0; s[i + 1] += T1; s[i + 2] += T2; s[i + 3] += T3;
                s[i + 4] += T4; s[i + 5] += T5; s[i + 6] += T6; s[i + 7] += T7;
                return;
            }
            s[i] = T0; s[i + 1] = T1; s[i + 2] = T2; s[i + 3] = T3;
            s[i + 4] = T4; s[i + 5] = T5; s[i + 6] = T6; s[i + 7] = T7;
        }
    }

    /// <summary>8 rows k0 … k0 + 7 of a work-item's block, each 8 tiles wide.</summary>
    private struct Rows8
    {
        public Tiles8 R0, R1, R2, R3, R4, R5, R6, R7;

        /// <summary>Row r += U[uc + r] · tiles for r = 0 … 7 (one reduction channel).</summary>
        public static Rows8 Step(Rows8 b, Tiles8 tiles, View u, int uc)
        {
            b.R0 = Tiles8.MulAdd(u[uc], tiles, b.R0);
            b.R1 = Tiles8.MulAdd(u[uc + 1], tiles, b.R1);
            b.R2 = Tiles8.MulAdd(u[uc + 2], tiles, b.R2);
            b.R3 = Tiles8.MulAdd(u[uc + 3], tiles, b.R3);
            b.R4 = Tiles8.MulAdd(u[uc + 4], tiles, b.R4);
            b.R5 = Tiles8.MulAdd(u[uc + 5], tiles, b.R5);
            b.R6 = Tiles8.MulAdd(u[uc + 6], tiles, b.R6);
            b.R7 = Tiles8.MulAdd(u[uc + 7], tiles, b.R7);
            return b;
        }

        /// <summary>Stores the first min(<paramref name="rowsLeft"/>, 8) rows at q, q + tp, ….</summary>
        public void Store(View product, int q, int tp, int rowsLeft, bool accumulate)
        {
            if (rowsLeft > 0) R0.Store(product, q, accumulate);
            if (rowsLeft > 1) R1.Store(product, q + tp, accumulate);
            if (rowsLeft > 2) R2.Store(product, q + 2 * tp, accumulate);
            if (rowsLeft > 3) R3.Store(product, q + 3 * tp, accumulate);
            if (rowsLeft > 4) R4.Store(product, q + 4 * tp, accumulate);
            if (rowsLeft > 5) R5.Store(product, q + 5 * tp, accumulate);
            if (rowsLeft > 6) R6.Store(product, q + 6 * tp, accumulate);
            if (rowsLeft > 7) R7.Store(product, q + 7 * tp, accumulate);
        }
    }

    /// <summary>
    /// 4 rows k0 … k0 + 3 of a work-item's block, 8 tiles wide. Rows8 repeats its lines rather than holding two of it:
    /// built from two Rows4, the 16 × 8 product ran 1.5× slower with PoCL's AVX2 code (conv3_2 forward 33.6 vs 23.4 ms,
    /// conv4_2 32.7 vs 21.4 ms: clang packs the nested fields differently).
    /// </summary>
    private struct Rows4
    {
        public Tiles8 R0, R1, R2, R3;

        /// <summary>Row r += U[uc + r] · tiles for r = 0 … 3.</summary>
        public static Rows4 Step(Rows4 b, Tiles8 tiles, View u, int uc)
        {
            b.R0 = Tiles8.MulAdd(u[uc], tiles, b.R0);
            b.R1 = Tiles8.MulAdd(u[uc + 1], tiles, b.R1);
            b.R2 = Tiles8.MulAdd(u[uc + 2], tiles, b.R2);
            b.R3 = Tiles8.MulAdd(u[uc + 3], tiles, b.R3);
            return b;
        }

        /// <summary>Stores the first min(<paramref name="rowsLeft"/>, 4) rows at q, q + tp, ….</summary>
        public void Store(View product, int q, int tp, int rowsLeft, bool accumulate)
        {
            if (rowsLeft > 0) R0.Store(product, q, accumulate);
            if (rowsLeft > 1) R1.Store(product, q + tp, accumulate);
            if (rowsLeft > 2) R2.Store(product, q + 2 * tp, accumulate);
            if (rowsLeft > 3) R3.Store(product, q + 3 * tp, accumulate);
        }
    }
}
