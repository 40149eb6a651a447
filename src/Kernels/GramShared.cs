// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/GramTests.cs, PtxasTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The Gram forward G = scale · F Fᵀ shaped for GPUs (gram=shared; its backward is Winograd's shared product,
// WinogradSharedProductKernel.cs, through BackwardBlocked): the shared-memory SGEMM of SharedGemm.cs. A g × g group owns a
// block of 8g × 8g entries of G on or above the diagonal, over one slice of the P = H·W columns (split-K, as the other
// kernels). Per step of 8 columns it stages F[i-block rows, p0 … p0 + 7] and F[j-block rows, p0 … p0 + 7] in shared
// memory — read along the rows (8 consecutive floats per row: whole 32-byte sectors) and stored transposed into rows of
// Pitch = 132 floats, so the 32 lanes of a warp (4 rows × 8 columns) hit 32 different banks — and each work-item does 8 × 8
// × 8 multiply-adds from registers, its rows and columns in runs of 4 read as 128-bit words (SharedGemm.Steps8Runs). Off-diagonal blocks also store their transpose; on a diagonal block G[i, j] and G[j, i]
// are the same products (fma(a, b, acc) = fma(b, a, acc)) summed in the same order, so G is exactly symmetric. The sums run
// over p in increasing order, slices are added in order (SumSplitsKernel): the same bytes run to run.
public static partial class Gram
{
    /// <summary>Row length of the shared arrays: 8 · 16 + 4 (4 rows × 8 steps of a warp's stores land in 32 banks).</summary>
    private const int SharedPitch = SharedGemm.Side + 4;

    private const int SharedBuffer = SharedGemm.Step * SharedPitch;

    /// <summary>
    /// One 8g × 8g block (bi, bj), bi ≤ bj, of G over the columns [split·chunk, min(P, (split + 1)·chunk)), g (= gx = gy,
    /// in <paramref name="side"/>: 4, 8 or 16) the group side. Grid (pairs, splits): Grid.IdxX enumerates the pairs row by
    /// row. direct ≠ 0 (one split): output = G, written as scale · sum; else output[split·C·C + …] = the unscaled sum.
    /// </summary>
    [LaunchBounds(WinogradTiles.MaxSharedSide * WinogradTiles.MaxSharedSide, 2)]
    private static void ForwardSharedKernel(SpecializedValue<int> side, View f, int c, int p, int blocks, int chunk,
        View output, float scale, int direct)
    {
        // Float4 arrays (16-byte aligned; the pitch is a multiple of 4): the products read 4 floats at a time, the fills write floats.
        var a4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedBuffer / 4);
        var b4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedBuffer / 4);
        var a = a4.Cast<float>();
        var b = b4.Cast<float>();
        int g = side.Value, bs = 8 * g, threads = g * g;
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * g + tx;

        int bi = 0, rest = Grid.IdxX;
        while (rest >= blocks - bi) { rest -= blocks - bi; bi++; }
        int bj = bi + rest;
        int pBegin = Grid.IdxY * chunk, pEnd = IntrinsicMath.Min(p, pBegin + chunk);
        int steps = (pEnd - pBegin + SharedGemm.Step - 1) / SharedGemm.Step;
        var fill = new GramSharedFill(c, p, pEnd, bi * bs, bj * bs, tid, threads, 8 * bs / threads);

        fill.Store(a, 0, fill.LoadRows(f, fill.RowsI, pBegin));
        fill.Store(b, 0, fill.LoadRows(f, fill.RowsJ, pBegin));
        Group.Barrier();
        var acc = default(SharedGemm.Block8x8);
        for (int s = 0; s < steps; s++)
        {
            // Step s + 1's columns are read into registers before step s's products and stored to the other buffer after.
            int current = (s & 1) * SharedBuffer, next = SharedBuffer - current;
            bool more = s + 1 < steps;
            var nextA = default(SharedGemm.Staged16);
            var nextB = default(SharedGemm.Staged16);
            if (more)
            {
                int p0 = pBegin + (s + 1) * SharedGemm.Step;
                nextA = fill.LoadRows(f, fill.RowsI, p0);
                nextB = fill.LoadRows(f, fill.RowsJ, p0);
            }
            acc = acc.Steps8Runs(a4, b4, current / 4 + ty, current / 4 + tx, g, g, SharedPitch / 4);
            if (more)
            {
                fill.Store(a, next, nextA);
                fill.Store(b, next, nextB);
            }
            Group.Barrier();
        }

        int offset = direct != 0 ? 0 : Grid.IdxY * c * c;
        float factor = direct != 0 ? scale : 1f;
        // Rows and columns in runs of 4 (Steps8Runs): row r is i0 + r (r < 4) or i0 + 4g + r − 4, columns likewise from j0.
        int i0 = bi * bs + 4 * ty, j0 = bj * bs + 4 * tx, upper = 4 * g;
        StoreRow(output, acc.R0, offset, c, i0, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R1, offset, c, i0 + 1, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R2, offset, c, i0 + 2, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R3, offset, c, i0 + 3, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R4, offset, c, i0 + upper, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R5, offset, c, i0 + upper + 1, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R6, offset, c, i0 + upper + 2, j0, upper, factor, bi != bj);
        StoreRow(output, acc.R7, offset, c, i0 + upper + 3, j0, upper, factor, bi != bj);
    }

    /// <summary>
    /// G[i, j0 + k] (k &lt; 4) and G[i, j0 + half + k − 4] (k ≥ 4) = factor · row's element k where inside C × C, and G[j, i]
    /// too when <paramref name="mirror"/>.
    /// </summary>
    private static void StoreRow(View output, SharedGemm.Row8 row, int offset, int c, int i, int j0, int half, float factor, bool mirror)
    {
        if (i >= c) return;
        StoreEntry(output, offset, c, i, j0, factor * row.V0, mirror);
        StoreEntry(output, offset, c, i, j0 + 1, factor * row.V1, mirror);
        StoreEntry(output, offset, c, i, j0 + 2, factor * row.V2, mirror);
        StoreEntry(output, offset, c, i, j0 + 3, factor * row.V3, mirror);
        StoreEntry(output, offset, c, i, j0 + half, factor * row.V4, mirror);
        StoreEntry(output, offset, c, i, j0 + half + 1, factor * row.V5, mirror);
        StoreEntry(output, offset, c, i, j0 + half + 2, factor * row.V6, mirror);
        StoreEntry(output, offset, c, i, j0 + half + 3, factor * row.V7, mirror);
    }

    private static void StoreEntry(View output, int offset, int c, int i, int j, float value, bool mirror)
    {
        if (j >= c) return;
        output[offset + i * c + j] = value;
        if (mirror) output[offset + j * c + i] = value;
    }

    /// <summary>
    /// How a group stages 8 columns of its 8g rows of F: element e = tid + threads·i (i &lt; n = 64 / g) is row e / 8,
    /// column p0 + e mod 8 — consecutive work-items read along a row — and goes to shared row e mod 8, column e / 8.
    /// </summary>
    private readonly struct GramSharedFill
    {
        private readonly int c, p, pEnd, tid, threads, n;

        public GramSharedFill(int c, int p, int pEnd, int rowsI, int rowsJ, int tid, int threads, int n)
        {
            this.c = c; this.p = p; this.pEnd = pEnd; RowsI = rowsI; RowsJ = rowsJ; this.tid = tid; this.threads = threads; this.n = n;
        }

        /// <summary>The first row of the i-block and of the j-block.</summary>
        public int RowsI { get; }

        public int RowsJ { get; }

        /// <summary>This work-item's elements of F[row0 …, p0 …] (zero past C or the slice's end; the index is clamped first).</summary>
        public SharedGemm.Staged16 LoadRows(View f, int row0, int p0) => SharedGemm.Load(new RowsStep(this, f, row0, p0), n);

        private readonly struct RowsStep(GramSharedFill fill, View f, int row0, int p0) : SharedGemm.IStepElements
        {
            public float Element(int i) => fill.Element(f, row0, p0, i);
        }

        /// <summary>The staged elements to their shared rows (reduction step e mod 8) of <paramref name="buffer"/>.</summary>
        public void Store(ArrayView<float> shared, int buffer, SharedGemm.Staged16 s) => s.StoreStepsFast(shared, buffer, tid, threads, n, SharedPitch);

        private float Element(View f, int row0, int p0, int i)
        {
            int e = tid + i * threads, r = e / SharedGemm.Step, row = row0 + r, col = p0 + e - r * SharedGemm.Step;
            bool inside = row < c && col < pEnd;
            float value = f[inside ? row * p + col : 0];
            return inside ? value : 0f;
        }
    }

    /// <summary>
    /// The side g of the shared forward's square groups for <paramref name="c"/> channels: the plan's shared side (16 on
    /// GPUs, 4 on the CPU simulator; <see cref="TuningPlan.ProductTiles"/>), halved while half a block still covers C.
    /// </summary>
    internal static int SharedSide(Gpu gpu, int c) => SharedGemm.FitSide(gpu.Plan.ProductTiles(WinogradBlock.Shared).GroupX, c);

    /// <summary>The shared forward (see the file comment) with <paramref name="splits"/> column slices, as <see cref="Forward(Tensor, Tensor, float, GramKernelKind, int)"/>.</summary>
    private static void ForwardShared(Tensor f, Tensor g, float scale, int splits)
    {
        const string op = "gram";
        ShapeCheck.BatchOne(op, "f", f.Shape);
        CheckGram(op, f, "g", g);
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane;
        int side = SharedSide(gpu, c), bs = 8 * side;
        int chunk = SplitChunk(p, SharedGemm.Step, ref splits);
        int blocks = Gpu.DivUp(c, bs), pairs = blocks * (blocks + 1) / 2;
        var kernel = gpu.Kernel(ForwardSharedKernel, acc => acc.LoadStreamKernel<SpecializedValue<int>, View, int, int, int, int, View, float, int>(
            ForwardSharedKernel, LaunchBoundsAttribute.For(acc, ((Delegate)ForwardSharedKernel).Method)));
        RunSplitK((config, fv, cc, pp, chunkSize, output, s, direct) => kernel(config, SpecializedValue.New(side), fv, cc, pp, blocks, chunkSize, output, s, direct),
            new KernelConfig(new Index2D(pairs, splits), new Index2D(side, side)), f, g, scale, chunk, splits);
    }
}
