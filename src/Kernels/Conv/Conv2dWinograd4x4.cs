// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs (through the whole Winograd convolution) · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞): 4×4 output tiles from
// 6×6 input patches, 36 positions ξ = 6·i + j, so the product (Conv2dWinogradGemmKernel.cs, shared with F(2×2, 3×3))
// does 36·C·K multiply-adds per 16 output pixels — 2.25 per pixel and channel pair, against 4 for F(2×2, 3×3) and 9
// for the direct kernels — and V and M hold 36/16 floats per pixel and channel instead of 16/4. The driver is
// Conv2dWinograd.cs (RunWinograd with WinogradTiles.OutputTile = 4).
//   Bᵀ = [4  0 −5  0 1 0;  0 −4 −4  1 1 0;  0 4 −4 −1 1 0;  0 −2 −1 2 1 0;  0 2 −1 −2 1 0;  0 4 0 −5 0 1]
//   G  = [¼ 0 0;  −⅙ −⅙ −⅙;  −⅙ ⅙ −⅙;  1/24 1/12 ⅙;  1/24 −1/12 ⅙;  0 0 1]
//   Aᵀ = [1 1 1 1 1 0;  0 1 −1 2 −2 0;  0 1 1 4 4 0;  0 1 −1 8 −8 1]
// The larger coefficients cost accuracy: rounding errors grow about tenfold against F(2×2, 3×3) (measured by the kernel
// tests against the double reference), still far below what a stylization notices.
public static partial class Conv2d
{
    /// <summary>
    /// U[ξ][c][k] = (G g Gᵀ)[ξ] (6×6, ξ = 6·row + column) of the 3×3 kernel g from reduction channel c to output channel k,
    /// as <see cref="WinogradWeightKernel"/> does for F(2×2, 3×3). Grid (⌈kp / group⌉, reduce, 1).
    /// </summary>
    private static void WinogradWeight4Kernel(View w, int cout, int cin, int kp, int transpose, View u)
    {
        int k = Grid.IdxX * Group.DimX + Group.IdxX, c = Grid.IdxY;
        if (k >= kp) return;
        var g = new KernelRows(w, cout, cin, transpose, k, c);
        // Rows: t = G g (6 × 3); columns: U = t Gᵀ, written at U[ξ][c][k].
        int plane = (transpose != 0 ? cout : cin) * kp, q = WinogradUIndex(c, k, transpose != 0 ? cout : cin);
        Row3.Combine(0.25f, g.G0, 0f, g.G1, 0f, g.G2).PutTransformed4(u, q, plane, 0);
        Row3.Combine(-1f / 6, g.G0, -1f / 6, g.G1, -1f / 6, g.G2).PutTransformed4(u, q, plane, 6);
        Row3.Combine(-1f / 6, g.G0, 1f / 6, g.G1, -1f / 6, g.G2).PutTransformed4(u, q, plane, 12);
        Row3.Combine(1f / 24, g.G0, 1f / 12, g.G1, 1f / 6, g.G2).PutTransformed4(u, q, plane, 18);
        Row3.Combine(1f / 24, g.G0, -1f / 12, g.G1, 1f / 6, g.G2).PutTransformed4(u, q, plane, 24);
        g.G2.PutTransformed4(u, q, plane, 30);
    }

    /// <summary>
    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for tile t = (ty − ty0)·tilesX + tx of the chunk at tile row ty0, d the 6×6 input patch at
    /// rows 4·ty − 1 …, columns 4·tx − 1 … of the image: padded columns 4·tx … 4·tx + 5 of the input split by column
    /// phase mod 4 (<see cref="WinogradPad"/> with 4 phases of <paramref name="quarter"/> columns each), so every
    /// read is unit-stride across work-items (in row mode) and needs no bounds check. Launch: as WinogradInputKernel.
    /// </summary>
    private static void WinogradInput4Kernel(SpecializedValue<int> flat, View padded, int channels, int hp, int quarter, TileSlots slots, View v)
    {
        var (tx, tyLocal, c, column) = slots.Slot(flat.Value);
        if (slots.PastEnd(flat.Value, tx)) return;
        int rowStride = 4 * quarter, r = (c * hp + 4 * (slots.Ty0 + tyLocal)) * rowStride + tx;
        Input4Tile(padded, r, quarter, rowStride, v, c * slots.Tp + column, channels * slots.Tp);
    }

    /// <summary>
    /// <see cref="WinogradInput4Kernel"/> for 16 tiles per work-item in OpenCL C vectors (<see cref="WinogradVectorInput"/>),
    /// the Winograd16x16 block's transform: tiles Tx0 + 16·x … + 15 of tile row Ty0 + Grid.IdxY (row mode; the launch covers
    /// whole vectors, the row's last tiles go to the scalar kernel). Grid (⌈vectors / group⌉, tile rows, channels).
    /// </summary>
    private static void WinogradInput4VectorKernel(View padded, int channels, int hp, int quarter, TileSlots slots, View v)
    {
        var (tx, tyLocal, c, column, past) = slots.VectorSlot(WinogradVectorInput.Tiles);
        if (past) return;
        int rowStride = 4 * quarter, r = (c * hp + 4 * (slots.Ty0 + tyLocal)) * rowStride + tx;
        WinogradVectorInput.Transform(padded, r, quarter, rowStride, v, c * slots.Tp + column, channels * slots.Tp);
    }

    /// <summary>
    /// V[ξ][q] = (Bᵀ d B)[ξ] (planes of <paramref name="plane"/> floats) of the tile whose 6×6 patch starts at
    /// padded[r] (rows <paramref name="rowStride"/> apart, each split in 4 phases of <paramref name="quarter"/> columns).
    /// </summary>
    internal static void Input4Tile(View padded, int r, int quarter, int rowStride, View v, int q, int plane)
    {
        // Bᵀ d, row by row (the rows of Bᵀ above), then each row · B. Each input row is read just before its first use
        // (d5 after stores, which the compiler may not move it above): at most 24 of the 36 inputs are live at once.
        // PoCL's code for it has 12 % fewer stack references and takes 5–11 % less time than with every row read first
        // (doc/PERFORMANCE.md, stop 28); reading d0 after the stores too made its reads gathers.
        var d0 = Row6.LoadSplit(padded, r, quarter);
        var d2 = Row6.LoadSplit(padded, r + 2 * rowStride, quarter);
        var d4 = Row6.LoadSplit(padded, r + 4 * rowStride, quarter);
        Row6.Combine(4f, d0, -5f, d2, 1f, d4).PutTransformed(v, q, plane, 0);
        var d1 = Row6.LoadSplit(padded, r + rowStride, quarter);
        var d3 = Row6.LoadSplit(padded, r + 3 * rowStride, quarter);
        Row6.Combine(-4f, Row6.Add(d1, d2), 1f, Row6.Add(d3, d4)).PutTransformed(v, q, plane, 6);
        Row6.Combine(4f, Row6.Sub(d1, d2), 1f, Row6.Sub(d4, d3)).PutTransformed(v, q, plane, 12);
        Row6.Combine(2f, Row6.Sub(d3, d1), 1f, Row6.Sub(d4, d2)).PutTransformed(v, q, plane, 18);
        Row6.Combine(2f, Row6.Sub(d1, d3), 1f, Row6.Sub(d4, d2)).PutTransformed(v, q, plane, 24);
        Row6.Combine(4f, d1, -5f, d3, 1f, Row6.LoadSplit(padded, r + 5 * rowStride, quarter)).PutTransformed(v, q, plane, 30);
    }

    /// <summary>
    /// out[k, 4·ty + i, 4·tx + j] (+)= (Aᵀ M_t[k] A)[i, j] (+ bias, ReLU), as <see cref="WinogradOutputKernel"/> does for
    /// F(2×2, 3×3) (<paramref name="mode"/>: the same compile-time flags).
    /// </summary>
    private static void WinogradOutput4Kernel(SpecializedValue<int> mode, View product, int channels, int h, int w, TileSlots slots,
        View bias, View output)
    {
        int flags = mode.Value;
        var (tx, tyLocal, k, column) = slots.Slot(flags);
        if (slots.PastEnd(flags, tx)) return;
        int plane = channels * slots.Tp, q = k * slots.Tp + column;
        var (o0, o1, o2, o3) = OutputRows4(product, q, plane);
        if (slots.PastChunk(flags, column)) return;
        float b = (flags & WinogradBias) != 0 ? bias[k] : 0f;
        int y = 4 * (slots.Ty0 + tyLocal), x = 4 * tx;
        var put = new TilePut(output, k * h * w, h, w, b, flags & WinogradRelu, flags & WinogradAccumulate);
        if ((flags & WinogradEdges) == 0)
        {
            o0.PutOutputs(put, y, x);
            o1.PutOutputs(put, y + 1, x);
            o2.PutOutputs(put, y + 2, x);
            o3.PutOutputs(put, y + 3, x);
        }
        else
        {
            o0.PutOutputsChecked(put, y, x);
            o1.PutOutputsChecked(put, y + 1, x);
            o2.PutOutputsChecked(put, y + 2, x);
            o3.PutOutputsChecked(put, y + 3, x);
        }
    }

    /// <summary>The four rows of Aᵀ M of the tile in column q of M (planes of <paramref name="plane"/> floats).</summary>
    private static (Row6, Row6, Row6, Row6) OutputRows4(View product, int q, int plane)
    {
        var m0 = Row6.LoadPositions(product, q, plane, 0);
        var m1 = Row6.LoadPositions(product, q, plane, 6);
        var m2 = Row6.LoadPositions(product, q, plane, 12);
        var m3 = Row6.LoadPositions(product, q, plane, 18);
        var m4 = Row6.LoadPositions(product, q, plane, 24);
        var m5 = Row6.LoadPositions(product, q, plane, 30);
        // Aᵀ M: with s = m1 + m2, d = m1 − m2, s' = m3 + m4, d' = m3 − m4:
        // rows m0 + s + s', d + 2d', s + 4s', d + 8d' + m5; then each row · A.
        Row6 s = Row6.Add(m1, m2), d = Row6.Sub(m1, m2), s2 = Row6.Add(m3, m4), d2 = Row6.Sub(m3, m4);
        return (Row6.Add(Row6.Add(m0, s), s2), Row6.Combine(1f, d, 2f, d2), Row6.Combine(1f, s, 4f, s2),
            Row6.Add(Row6.Combine(1f, d, 8f, d2), m5));
    }

    /// <summary>
    /// The output transform of one whole tile (inside the image) as WinogradOutput4Kernel's whole-tile mode computes it: M's
    /// column q, outputs (+ bias, ReLU when <paramref name="relu"/> ≠ 0; stored, or added when <paramref name="accumulate"/>
    /// ≠ 0) at output[o + i·w + j], i, j &lt; 4. The scalar body of WinogradVectorOutput.Transform.
    /// </summary>
    internal static void Output4WholeTile(View product, int q, int plane, View output, int o, int w, float bias, int relu, int accumulate)
    {
        var (o0, o1, o2, o3) = OutputRows4(product, q, plane);
        var put = new TilePut(output, o, int.MaxValue, w, bias, relu, accumulate);
        o0.PutOutputs(put, 0, 0);
        o1.PutOutputs(put, 1, 0);
        o2.PutOutputs(put, 2, 0);
        o3.PutOutputs(put, 3, 0);
    }

    /// <summary>
    /// WinogradOutput4Kernel's whole tiles 16 per work-item in OpenCL C vectors (<see cref="WinogradVectorOutput"/>), the
    /// 16x16 block's output transform: tiles Tx0 + 16·x … + 15 of tile row TyLocal0 + Grid.IdxY (row mode, whole tiles; the
    /// launch covers whole vectors, the rest goes to the scalar kernel). <paramref name="mode"/>: WinogradBias | WinogradRelu
    /// | WinogradAccumulate. Grid (⌈vectors / group⌉, tile rows, output channels).
    /// </summary>
    private static void WinogradOutput4VectorKernel(SpecializedValue<int> mode, View product, int channels, int h, int w,
        TileSlots slots, View bias, View output)
    {
        int flags = mode.Value;
        var (tx, tyLocal, k, column, past) = slots.VectorSlot(WinogradVectorOutput.Tiles);
        if (past) return;
        float b = (flags & WinogradBias) != 0 ? bias[k] : 0f;
        int y = 4 * (slots.Ty0 + tyLocal);
        WinogradVectorOutput.Transform(product, k * slots.Tp + column, channels * slots.Tp, output,
            (k * h + y) * w + 4 * tx, w, b, flags & WinogradRelu, flags & WinogradAccumulate);
    }

    /// <summary>Six values along x: a row of a 6×6 patch, of Bᵀ d or of Aᵀ M.</summary>
    private readonly struct Row6(float a0, float a1, float a2, float a3, float a4, float a5)
    {
        public readonly float A0 = a0, A1 = a1, A2 = a2, A3 = a3, A4 = a4, A5 = a5;

        /// <summary>Six consecutive padded columns 4·i … 4·i + 5 from a row split by phase mod 4 (quarters of q columns).</summary>
        public static Row6 LoadSplit(View s, int i, int q) =>
            new(s[i], s[i + q], s[i + 2 * q], s[i + 3 * q], s[i + 1], s[i + q + 1]);

        /// <summary>M[ξ0 … ξ0 + 5] of one tile (planes of <paramref name="plane"/> floats).</summary>
        public static Row6 LoadPositions(View m, int q, int plane, int xi0) =>
            new(m[xi0 * plane + q], m[(xi0 + 1) * plane + q], m[(xi0 + 2) * plane + q],
                m[(xi0 + 3) * plane + q], m[(xi0 + 4) * plane + q], m[(xi0 + 5) * plane + q]);

        public static Row6 Add(Row6 p, Row6 q) => new(p.A0 + q.A0, p.A1 + q.A1, p.A2 + q.A2, p.A3 + q.A3, p.A4 + q.A4, p.A5 + q.A5);

        public static Row6 Sub(Row6 p, Row6 q) => new(p.A0 - q.A0, p.A1 - q.A1, p.A2 - q.A2, p.A3 - q.A3, p.A4 - q.A4, p.A5 - q.A5);

        /// <summary>a·p + b·q.</summary>
        public static Row6 Combine(float a, Row6 p, float b, Row6 q) =>
            new(a * p.A0 + b * q.A0, a * p.A1 + b * q.A1, a * p.A2 + b * q.A2,
                a * p.A3 + b * q.A3, a * p.A4 + b * q.A4, a * p.A5 + b * q.A5);

        /// <summary>a·p + b·q + c·r.</summary>
        public static Row6 Combine(float a, Row6 p, float b, Row6 q, float c, Row6 r) =>
            new(a * p.A0 + b * q.A0 + c * r.A0, a * p.A1 + b * q.A1 + c * r.A1, a * p.A2 + b * q.A2 + c * r.A2,
                a * p.A3 + b * q.A3 + c * r.A3, a * p.A4 + b * q.A4 + c * r.A4, a * p.A5 + b * q.A5 + c * r.A5);

        /// <summary>Writes (row · B) — the rows of Bᵀ applied along x — at ξ = xi0 … xi0 + 5.</summary>
        public void PutTransformed(View v, int q, int plane, int xi0)
        {
            v[xi0 * plane + q] = 4f * A0 - 5f * A2 + A4;
            v[(xi0 + 1) * plane + q] = A3 + A4 - 4f * (A1 + A2);
            v[(xi0 + 2) * plane + q] = 4f * (A1 - A2) + A4 - A3;
            v[(xi0 + 3) * plane + q] = 2f * (A3 - A1) + A4 - A2;
            v[(xi0 + 4) * plane + q] = 2f * (A1 - A3) + A4 - A2;
            v[(xi0 + 5) * plane + q] = 4f * A1 - 5f * A3 + A5;
        }

        // The four outputs of a row of Aᵀ M (row · A).
        private float Out0 => A0 + A1 + A2 + A3 + A4;
        private float Out1 => A1 - A2 + 2f * (A3 - A4);
        private float Out2 => A1 + A2 + 4f * (A3 + A4);
        private float Out3 => A1 - A2 + 8f * (A3 - A4) + A5;

        /// <summary>Output pixels (y, x … x + 3), known to be inside the image.</summary>
        public void PutOutputs(TilePut put, int y, int x)
        {
            put.Inside(y, x, Out0, Out1);
            put.Inside(y, x + 2, Out2, Out3);
        }

        /// <summary>Output pixels (y, x … x + 3), those outside the image skipped.</summary>
        public void PutOutputsChecked(TilePut put, int y, int x)
        {
            put.At(y, x, Out0);
            put.At(y, x + 1, Out1);
            put.At(y, x + 2, Out2);
            put.At(y, x + 3, Out3);
        }
    }
}
