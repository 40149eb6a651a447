// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs (through the whole Winograd convolution) and GramReference (the
// Gram backward's product) · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs, GramTests.cs, PtxasTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The Winograd product M[ξ][k, t] = Σ_c U[ξ][c, k] · V[ξ][c, t] (Conv2dWinogradGemmKernel.cs) shaped for GPUs: the
// classic shared-memory SGEMM. A group of gx × gy work-items owns a block of BM = 8·gy rows k × BN = 8·gx tiles t of
// one M[ξ]. Per step of 8 reduction channels it stages U[ξ][c0 … c0 + 7, k-block] and V[ξ][c0 … c0 + 7, t-block] in
// shared memory — both operands have the reduction along their rows and the block's rows or tiles contiguous, so the
// fills are unit-stride across work-items (coalesced; U in panels reads 16 consecutive floats per panel row) — and
// every work-item does 8 × 8 × 8 multiply-adds from registers: rows 4·ty … 4·ty + 3 and 4·gy + 4·ty …, tiles likewise
// with tx, gx — runs of 4, read as 128-bit words (SharedGemm.Steps8Runs: 4 shared reads per 64 multiply-adds, not 16).
// A warp's reads are conflict-free (consecutive tx read consecutive 16-byte words; the work-items of a warp that share
// a ty read the same word: a broadcast) and its stores of M runs of 4 consecutive floats per row. Two shared
// buffers: the fill of step s + 1 goes to the other buffer before the product of step s, one barrier per step.
// Each M element is Σ_c in increasing c with one fused multiply-add per term, the order of the register blocks: the
// same bytes as they give on the same device, and run to run.
public static partial class Conv2d
{
    private const int SharedProductStep = SharedGemm.Step, SharedProductSide = SharedGemm.Side, SharedProductBuffer = SharedGemm.Buffer;

    /// <summary>
    /// <see cref="WinogradGemm16Kernel"/>'s product for GPUs (see the file comment). Group (gx, gy) ≤ 16 × 16, grid
    /// (⌈columns / (8·gx)⌉, ⌈K / (8·gy)⌉, positions); options as there (ProductPanelsU, ProductAccumulate) and the group
    /// shape (<see cref="SharedProductOptions"/>). Reads past the
    /// reduction channels, past kp or past the columns are replaced by zeros, so any c, K and columns work; only M's
    /// rows &lt; K and columns &lt; columns are stored.
    /// </summary>
    [LaunchBounds(WinogradTiles.MaxSharedSide * WinogradTiles.MaxSharedSide, 2)] // ≤ 128 registers: two groups of 256 per SM
    private static void WinogradGemmSharedKernel(SpecializedValue<int> options, int c, int k, int kp, int tp, int columns,
        View u, View v, View product)
    {
        // Float4 arrays (16-byte aligned): the products read them 4 floats at a time; the fills write floats.
        var us4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedProductBuffer / 4);
        var vs4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedProductBuffer / 4);
        var us = us4.Cast<float>();
        var vs = vs4.Cast<float>();
        // The group shape comes in the specialized options (SharedProductOptions): the strides below are constants, and
        // every shared read of a step is [base + immediate].
        int gx = (options.Value >> SharedGroupXShift) & 0xFF, gy = (options.Value >> SharedGroupYShift) & 0xFF;
        int tx = Group.IdxX, ty = Group.IdxY;
        var fill = new SharedProductFill(options, c, kp, tp, columns, Grid.IdxZ, Grid.IdxY * 8 * gy, Grid.IdxX * 8 * gx,
            ty * gx + tx, gx * gy, 8 * gy, 8 * gx);
        int steps = (c + SharedProductStep - 1) / SharedProductStep;

        fill.StoreU(us, 0, fill.LoadU(u, 0));
        fill.StoreV(vs, 0, fill.LoadV(v, 0));
        Group.Barrier();
        var acc = default(SharedGemm.Block8x8);
        for (int s = 0; s < steps; s++)
        {
            // Step s + 1's operands are read from global memory into registers before step s's product and stored to the
            // other buffer after it, so the product runs while the reads are in flight.
            int current = (s & 1) * SharedProductBuffer, next = SharedProductBuffer - current;
            bool more = s + 1 < steps;
            var nextU = default(SharedGemm.Staged16);
            var nextV = default(SharedGemm.Staged16);
            if (more)
            {
                nextU = fill.LoadU(u, (s + 1) * SharedProductStep);
                nextV = fill.LoadV(v, (s + 1) * SharedProductStep);
            }
            acc = acc.Steps8Runs(us4, vs4, current / 4 + ty, current / 4 + tx, gy, gx, SharedProductSide / 4);
            if (more)
            {
                fill.StoreU(us, next, nextU);
                fill.StoreV(vs, next, nextV);
            }
            Group.Barrier();
        }

        // Rows and tiles in runs of 4 (Steps8Runs): row i is k0 + i (i < 4) or k0 + 4·gy + i − 4, the tiles t0 … t0 + 3 and
        // t0 + 4·gx … t0 + 4·gx + 3.
        int k0 = Grid.IdxY * 8 * gy + 4 * ty, t0 = Grid.IdxX * 8 * gx + 4 * tx;
        int q = (Grid.IdxZ * k + k0) * tp + t0, upper = 4 * gy;
        bool accumulate = (options.Value & ProductAccumulate) != 0;
        int rowsLeft = k - k0, tilesLeft = columns - t0, half = 4 * gx;
        acc.R0.StoreRuns(product, q, half, tilesLeft, rowsLeft > 0, accumulate);
        acc.R1.StoreRuns(product, q + tp, half, tilesLeft, rowsLeft > 1, accumulate);
        acc.R2.StoreRuns(product, q + 2 * tp, half, tilesLeft, rowsLeft > 2, accumulate);
        acc.R3.StoreRuns(product, q + 3 * tp, half, tilesLeft, rowsLeft > 3, accumulate);
        acc.R4.StoreRuns(product, q + upper * tp, half, tilesLeft, rowsLeft > upper, accumulate);
        acc.R5.StoreRuns(product, q + (upper + 1) * tp, half, tilesLeft, rowsLeft > upper + 1, accumulate);
        acc.R6.StoreRuns(product, q + (upper + 2) * tp, half, tilesLeft, rowsLeft > upper + 2, accumulate);
        acc.R7.StoreRuns(product, q + (upper + 3) * tp, half, tilesLeft, rowsLeft > upper + 3, accumulate);
    }

    /// <summary>Bit positions of the group's gx and gy in the shared product's specialized options.</summary>
    private const int SharedGroupXShift = 8, SharedGroupYShift = 16;

    /// <summary>
    /// The shared product's specialized options: <paramref name="options"/> (ProductPanelsU, ProductAccumulate) with the
    /// group shape gx × gy it must be launched with.
    /// </summary>
    public static int SharedProductOptions(int options, int gx, int gy) => options | gx << SharedGroupXShift | gy << SharedGroupYShift;

    /// <summary>Launches <see cref="WinogradGemmSharedKernel"/> (see <see cref="WinogradProduct"/> for the operands).</summary>
    private static void WinogradProductShared(Gpu gpu, WinogradTiles tiles, int options, int reduce, int m, int kp, int tp, int columns,
        int positions, View u, View v, View product)
    {
        var gemm = gpu.Kernel(WinogradGemmSharedKernel,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, int, int, int, int, int, View, View, View>(WinogradGemmSharedKernel,
                LaunchBoundsAttribute.For(acc, ((Delegate)WinogradGemmSharedKernel).Method)));
        // Rows of the group fitted to K (64-channel layers: 64-row blocks, not 128 with half of them zeros), tiles to the
        // columns (conv5_x at 512², F(4×4): 64 tiles, not blocks of 128 with half of them zeros). Each element's sum is the
        // same at any group shape, so the bytes do not change.
        int gx = SharedGemm.FitSide(tiles.GroupX, columns), gy = SharedGemm.FitSide(tiles.GroupY, m);
        gemm(new KernelConfig(new Index3D(Gpu.DivUp(columns, 8 * gx), Gpu.DivUp(m, 8 * gy), positions), new Index3D(gx, gy, 1)),
            SpecializedValue.New(SharedProductOptions(options, gx, gy)), reduce, m, kp, tp, columns, u, v, product);
    }

    /// <summary>
    /// How a group fills the shared buffers with one step of U[ξ] (rows k0 … k0 + bm − 1) and V[ξ] (tiles t0 … t0 + bn − 1):
    /// element e = tid + threads·i of a step (i &lt; 8·bm / threads, a constant: 64 / gx for U, 64 / gy for V — at most 16
    /// with gx, gy ∈ {4, 8, 16}) is reduction channel c0 + e / bm (or bn), row (or tile) e mod bm; consecutive work-items
    /// read consecutive rows or tiles. Loads go to registers (<see cref="SharedGemm.Staged16"/>) and are stored to shared memory apart.
    /// </summary>
    private readonly struct SharedProductFill
    {
        private readonly int c, kp, tp, columns, uPlane, vPlane, k0, t0, tid, threads, bm, bn;
        private readonly bool panels;

        public SharedProductFill(SpecializedValue<int> options, int c, int kp, int tp, int columns, int xi, int k0, int t0,
            int tid, int threads, int bm, int bn)
        {
            panels = (options.Value & ProductPanelsU) != 0;
            this.c = c; this.kp = kp; this.tp = tp; this.columns = columns;
            uPlane = xi * c * kp; vPlane = xi * c * tp;
            this.k0 = k0; this.t0 = t0; this.tid = tid; this.threads = threads; this.bm = bm; this.bn = bn;
        }

        /// <summary>This work-item's elements of U[ξ][c0 …, k0 …] (zero past c or kp; the index is clamped first, so no read leaves the buffer).</summary>
        public SharedGemm.Staged16 LoadU(View u, int c0) => SharedGemm.Load(new UStep(this, u, c0), SharedProductStep * bm / threads);

        /// <summary>This work-item's elements of V[ξ][c0 …, t0 …] (zero past c or columns).</summary>
        public SharedGemm.Staged16 LoadV(View v, int c0) => SharedGemm.Load(new VStep(this, v, c0), SharedProductStep * bn / threads);

        private readonly struct UStep(SharedProductFill fill, View u, int c0) : SharedGemm.IStepElements
        {
            public float Element(int i) => fill.U(u, c0, i);
        }

        private readonly struct VStep(SharedProductFill fill, View v, int c0) : SharedGemm.IStepElements
        {
            public float Element(int i) => fill.V(v, c0, i);
        }

        /// <summary>us[buffer + j·SharedProductSide + r] = the staged U elements (j = e / bm, r = e mod bm).</summary>
        public void StoreU(ArrayView<float> us, int buffer, SharedGemm.Staged16 s) => s.StoreRowsFast(us, buffer, tid, threads, bm, SharedProductStep * bm / threads, SharedProductSide);

        /// <summary>vs[buffer + j·SharedProductSide + r] = the staged V elements (j = e / bn, r = e mod bn).</summary>
        public void StoreV(ArrayView<float> vs, int buffer, SharedGemm.Staged16 s) => s.StoreRowsFast(vs, buffer, tid, threads, bn, SharedProductStep * bn / threads, SharedProductSide);

        private float U(View u, int c0, int i)
        {
            int e = tid + i * threads, j = e / bm, r = e - j * bm, ci = c0 + j, kk = k0 + r;
            bool inside = ci < c && kk < kp;
            float value = u[inside ? uPlane + (panels ? WinogradUIndex(ci, kk, c) : ci * kp + kk) : 0];
            return inside ? value : 0f;
        }

        private float V(View v, int c0, int i)
        {
            int e = tid + i * threads, j = e / bn, r = e - j * bn, ci = c0 + j, t = t0 + r;
            bool inside = ci < c && t < columns;
            float value = v[inside ? vPlane + ci * tp + t : 0];
            return inside ? value : 0f;
        }
    }
}
