// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs,
// PtxasTests.cs (its machine code)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The 3×3 fast path's implicit GEMM (Conv2dFast3x3.cs)
//   out[o, p] = Σ_k a[k·mp + o] · B[k, p],  k = c·9 + 3·kh + kw,  B[k, p] = in[c, y + kh − 1, x + kw − 1] (0 outside),
// as the classic shared-memory SGEMM for GPUs, built from the pieces of Winograd's GPU product (SharedGemm.cs). A group
// of gx × gy work-items owns BM = 8·gy output channels × BN = 8·gx consecutive pixels p = y·W + x of the flattened image
// (a block may span image rows). The reduction runs tap by tap: a step is 8 channels c0 … c0 + 7 at one tap (rows
// c·9 + tap of a, read at stride 9; channels past the input's are zeros), so each work-item finds its pixel's offset for
// the tap and whether it is inside the image once per step, not per element. Per step it stages a's rows (BM consecutive
// floats of one row: coalesced) and B's rows (BN consecutive pixels gathered from the input, the padding's zeros
// included: consecutive work-items read consecutive x) in shared memory; every work-item then does 8 × 8 × 8
// multiply-adds from registers:
// channels 4·ty … 4·ty + 3 and 4·gy + 4·ty … + 3, pixels likewise with tx, gx — runs of 4 read as 128-bit words
// (SharedGemm.Steps8Runs), conflict-free (consecutive tx, consecutive 16-byte words; one word for the lanes sharing a
// ty) — and stores runs of 4 consecutive pixels, consecutive across tx. Two buffers: the next step's operands are
// read into registers before the current step's products and stored to the other buffer after them, one barrier a step.
// Bias and ReLU are fused into the stores. Each output is summed over the taps, and within a tap over the channels in
// increasing order, one fused multiply-add per term, whatever the blocking: the same bytes at any gx, gy, run to run.
// Split-K (ConvTiles.SplitTarget, for small maps): grid z cuts the steps into consecutive slices, each group sums its
// slice into a scratch block without bias or ReLU, and SplitK.Sum adds the slices in order, then the epilogue — the
// same bytes for the same slices.
public static partial class Conv2d
{
    /// <summary>
    /// out[o, p] (+)= Σ_k a[k·mp + o] · B[k, p] (+ bias, ReLU) — see the file comment. Group (gx, gy) with gx, gy in
    /// <see cref="WinogradTiles.SharedSides"/>, both in <paramref name="group"/> (<see cref="SharedGemmGroup"/>: the strides
    /// are constants of the generated code); grid (⌈H·W / (8·gx)⌉, ⌈M / (8·gy)⌉, slices): slice z sums steps z·stepsPerSplit …
    /// into output[z·M·H·W …]. Channels ≥ reduce, columns ≥ mp and
    /// pixels ≥ H·W load as zeros and nothing outside M × H·W is stored, so any reduce, M, H, W works.
    /// </summary>
    [LaunchBounds(WinogradTiles.MaxSharedSide * WinogradTiles.MaxSharedSide, 2)] // ≤ 128 registers: two groups of 256 per SM
    private static void SharedGemm3x3Kernel(SpecializedValue<int> group, int reduce, int m, int mp, int h, int w,
        View input, View a, View bias, int epilogue, View output, int stepsPerSplit)
    {
        // Float4 arrays (16-byte aligned): the products read them 4 floats at a time; the fills write floats.
        var us4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedGemm.Buffer / 4);
        var vs4 = SharedMemory.Allocate<SharedGemm.Float4>(2 * SharedGemm.Buffer / 4);
        var us = us4.Cast<float>();
        var vs = vs4.Cast<float>();
        int gx = group.Value & 0xFF, gy = group.Value >> 8;
        int tx = Group.IdxX, ty = Group.IdxY;
        int hw = h * w, o0 = Grid.IdxY * 8 * gy, p0 = Grid.IdxX * 8 * gx;
        var fill = new ImplicitGemmFill(input, a, reduce, mp, h, w, ty * gx + tx, gx * gy, 8 * gy, 8 * gx, o0, p0);
        // Split-K (grid z): this group sums steps [first, last) of the reduction into slice z of the output.
        int first = Grid.IdxZ * stepsPerSplit, last = IntrinsicMath.Min(fill.Steps, first + stepsPerSplit);
        int tap = first / fill.Chunks, chunk = first - tap * fill.Chunks; // of step s + 1 below, counted along (no division per step)

        fill.StoreA(us, 0, fill.LoadA(tap, chunk * SharedGemm.Step));
        fill.StoreB(vs, 0, fill.LoadB(tap, chunk * SharedGemm.Step));
        Group.Barrier();
        var acc = default(SharedGemm.Block8x8);
        for (int s = first; s < last; s++)
        {
            int current = ((s - first) & 1) * SharedGemm.Buffer, next = SharedGemm.Buffer - current;
            bool more = s + 1 < last;
            if (++chunk == fill.Chunks)
            {
                chunk = 0;
                tap++;
            }
            var nextA = default(SharedGemm.Staged16);
            var nextB = default(SharedGemm.Staged16);
            if (more)
            {
                nextA = fill.LoadA(tap, chunk * SharedGemm.Step);
                nextB = fill.LoadB(tap, chunk * SharedGemm.Step);
            }
            acc = acc.Steps8Runs(us4, vs4, current / 4 + ty, current / 4 + tx, gy, gx, SharedGemm.Side / 4);
            if (more)
            {
                fill.StoreA(us, next, nextA);
                fill.StoreB(vs, next, nextB);
            }
            Group.Barrier();
        }

        var slice = SplitK.Slice(output, m * hw); // slice z of a split-K launch (the output itself without one)
        var store = new ImplicitGemmStore(slice, bias, (epilogue & EpilogueBias) != 0, (epilogue & EpilogueRelu) != 0,
            (epilogue & EpilogueAccumulate) != 0, m, hw, o0 + 4 * ty, p0 + 4 * tx, gy, gx);
        store.Row(acc.R0, 0);
        store.Row(acc.R1, 1);
        store.Row(acc.R2, 2);
        store.Row(acc.R3, 3);
        store.Row(acc.R4, 4);
        store.Row(acc.R5, 5);
        store.Row(acc.R6, 6);
        store.Row(acc.R7, 7);
    }

    /// <summary>The specialized value of <see cref="SharedGemm3x3Kernel"/>: its group shape gx × gy.</summary>
    public static int SharedGemmGroup(int gx, int gy) => gx | gy << 8;

    /// <summary>
    /// Launches <see cref="SharedGemm3x3Kernel"/> (operands as in <see cref="Run3x3"/>). Without a split target the grid
    /// is spread by <see cref="SharedGemmGroups"/>; with one (<see cref="ConvTiles.SplitTarget"/>) the pixel blocks are
    /// only fitted to the map (<see cref="SharedGemm.FitSide"/>) and a grid short of the target is multiplied by split-K (<see cref="SplitK"/>): each slice of the reduction writes its partial block to a
    /// scratch buffer and a second pass adds them in slice order, then bias and ReLU, stored or added.
    /// </summary>
    private static void RunSharedGemm3x3(Gpu gpu, ConvTiles tiles, int reduce, int m, int mp, int h, int width,
        View input, View a, View bias, int hasBias, int relu, int accumulate, View output)
    {
        var kernel = gpu.Kernel(SharedGemm3x3Kernel,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, int, int, int, int, int, View, View, View, int, View, int>(
                SharedGemm3x3Kernel, LaunchBoundsAttribute.For(acc, ((Delegate)SharedGemm3x3Kernel).Method)));
        // Channel blocks fitted to M (a 64-channel layer: 64-row blocks, not 128 with half of them zeros), then the pixel
        // blocks to the device. Each output's sum does not depend on the blocking, so neither do the bytes (split-K
        // changes the order of the sum: the same bytes for the same split).
        int hw = h * width, steps = SharedGemmSteps(reduce), sms = gpu.Accelerator.NumMultiprocessors;
        var (gx, gy) = tiles.SplitTarget > 0
            ? (SharedGemm.FitSide(tiles.GroupX, hw), SharedGemm.FitSide(tiles.GroupY, m))
            : SharedGemmGroups(tiles.GroupX, SharedGemm.FitSide(tiles.GroupY, m), hw, m, sms);
        var grid = new Index3D(Gpu.DivUp(hw, 8 * gx), Gpu.DivUp(m, 8 * gy), 1);
        int splits = SplitK.Slices(tiles.SplitTarget, grid.X * grid.Y * gx * gy, steps, (long)m * hw, sms, out int stepsPerSplit);
        var group = SpecializedValue.New(SharedGemmGroup(gx, gy));
        SplitK.Launch(gpu, splits, m, hw, bias, hasBias * EpilogueBias + relu * EpilogueRelu + accumulate * EpilogueAccumulate, output,
            (slices, target, epilogue) => kernel(new KernelConfig(new Index3D(grid.X, grid.Y, slices), new Index3D(gx, gy, 1)), group,
                reduce, m, mp, h, width, input, a, bias, epilogue, target, stepsPerSplit));
    }

    /// <summary>Shared steps of <see cref="SharedGemm3x3Kernel"/>'s reduction over <paramref name="reduce"/> channels: 9 taps × ⌈reduce / 8⌉ chunks.</summary>
    public static int SharedGemmSteps(int reduce) => 9 * Gpu.DivUp(reduce, SharedGemm.Step);

    /// <summary>
    /// The group shape for a map of <paramref name="pixels"/> pixels and <paramref name="m"/> output channels: gx halved
    /// (down to the smallest of <see cref="WinogradTiles.SharedSides"/>) while the grid has fewer groups than the device has
    /// multiprocessors — small maps (conv5_1 at 512²: 1 024 pixels, 512 channels, 32 groups of 16 × 16 for an H100's 132
    /// SMs) get more, smaller blocks instead of leaving most of the device idle.
    /// </summary>
    public static (int Gx, int Gy) SharedGemmGroups(int gx, int gy, int pixels, int m, int multiprocessors)
    {
        int Groups(int x) => Gpu.DivUp(pixels, 8 * x) * Gpu.DivUp(m, 8 * gy);
        while (gx > WinogradTiles.SharedSides[0] && Groups(gx) < multiprocessors) gx /= 2;
        return (gx, gy);
    }

    /// <summary>
    /// How a group fills one step (one tap, channels c0 … c0 + 7) of the shared operands: element e = tid + threads·i of a
    /// step (i &lt; 8·BM / threads for a, 8·BN / threads for B: 64 / gx and 64 / gy, at most 16) is channel c0 + e / BM (or
    /// BN) and output channel (or pixel) e mod BM (BN): consecutive work-items read consecutive output channels or pixels. A work-item's pixels are the same at every
    /// step — one when the group has at least BN work-items, else two (gy = 4: BN = 2·threads, even and odd i) — so their
    /// row and column are found once.
    /// </summary>
    private readonly struct ImplicitGemmFill
    {
        private readonly View input, a;
        private readonly int reduce, chunks, mp, h, w, hw, tid, threads, bm, bn, o0;
        private readonly int y0, x0, y1, x1, pixelBase0, pixelBase1;
        private readonly bool pixel0, pixel1;

        public ImplicitGemmFill(View input, View a, int reduce, int mp, int h, int w, int tid, int threads, int bm, int bn, int o0, int p0)
        {
            this.input = input; this.a = a; this.reduce = reduce; this.mp = mp; this.h = h; this.w = w; hw = h * w;
            chunks = (reduce + SharedGemm.Step - 1) / SharedGemm.Step;
            this.tid = tid; this.threads = threads; this.bm = bm; this.bn = bn; this.o0 = o0;
            int pA = p0 + (tid & (bn - 1)), pB = p0 + ((tid + threads) & (bn - 1)); // bn = 8·gx, a power of two
            y0 = pA / w; x0 = pA - y0 * w; pixel0 = pA < hw; pixelBase0 = pA;
            y1 = pB / w; x1 = pB - y1 * w; pixel1 = pB < hw; pixelBase1 = pB;
        }

        /// <summary>Shared steps of the reduction: 9 taps × ⌈reduce / 8⌉ chunks of 8 channels.</summary>
        public int Steps => 9 * chunks;

        /// <summary>Chunks of 8 channels per tap (the steps of one tap).</summary>
        public int Chunks => chunks;

        /// <summary>This work-item's elements of a's rows for the step of <paramref name="tap"/> and channels c0 … c0 + 7, columns o0 … (zero past reduce or mp).</summary>
        public SharedGemm.Staged16 LoadA(int tap, int c0) => SharedGemm.Load(new AStep(this, tap, c0), SharedGemm.Step * bm / threads);

        /// <summary>This work-item's elements of B's rows for the step of <paramref name="tap"/> and channels c0 … c0 + 7 at the block's pixels (zero outside the image).</summary>
        public SharedGemm.Staged16 LoadB(int tap, int c0)
        {
            int kh = ConstantDivision.Quotient(tap, 3), kw = tap - kh * 3;
            // The tap's offset and whether it falls inside the image, once per step for this work-item's one or two pixels.
            int iy0 = y0 + kh - 1, ix0 = x0 + kw - 1, iy1 = y1 + kh - 1, ix1 = x1 + kw - 1;
            bool inside0 = pixel0 && iy0 >= 0 && iy0 < h && ix0 >= 0 && ix0 < w;
            bool inside1 = pixel1 && iy1 >= 0 && iy1 < h && ix1 >= 0 && ix1 < w;
            int offset = (kh - 1) * w + kw - 1;
            return SharedGemm.Load(new BStep(this, c0, inside0 ? pixelBase0 + offset : -1, inside1 ? pixelBase1 + offset : -1),
                SharedGemm.Step * bn / threads);
        }

        /// <summary>us[buffer + j·Side + r] = the staged a elements (j = e / BM, r = e mod BM).</summary>
        public void StoreA(ArrayView<float> us, int buffer, SharedGemm.Staged16 s) =>
            s.StoreRowsFast(us, buffer, tid, threads, bm, SharedGemm.Step * bm / threads, SharedGemm.Side);

        /// <summary>vs[buffer + j·Side + r] = the staged B elements (j = e / BN, r = e mod BN).</summary>
        public void StoreB(ArrayView<float> vs, int buffer, SharedGemm.Staged16 s) =>
            s.StoreRowsFast(vs, buffer, tid, threads, bn, SharedGemm.Step * bn / threads, SharedGemm.Side);

        private readonly struct AStep(ImplicitGemmFill fill, int tap, int c0) : SharedGemm.IStepElements
        {
            public float Element(int i) => fill.A(tap, c0, i);
        }

        private readonly struct BStep(ImplicitGemmFill fill, int c0, int at0, int at1) : SharedGemm.IStepElements
        {
            public float Element(int i) => fill.B(c0, at0, at1, i);
        }

        /// <summary>a's row k = c·9 + tap for channel c = c0 + e / BM, column o0 + e mod BM.</summary>
        private float A(int tap, int c0, int i)
        {
            int e = tid + i * threads, j = e / bm, c = c0 + j, o = o0 + e - j * bm;
            bool inside = c < reduce && o < mp;
            float value = a[inside ? (c * 9 + tap) * mp + o : 0]; // the index is clamped first: no read leaves the buffer
            return inside ? value : 0f;
        }

        /// <summary>in[c0 + e / BN] at the pixel's tap position <paramref name="at0"/> (or <paramref name="at1"/>: gy = 4, odd i); −1: outside.</summary>
        private float B(int c0, int at0, int at1, int i)
        {
            int e = tid + i * threads, c = c0 + e / bn;
            int at = threads < bn && (i & 1) != 0 ? at1 : at0;
            bool inside = at >= 0 && c < reduce;
            float value = input[inside ? c * hw + at : 0];
            return inside ? value : 0f;
        }
    }

    /// <summary>
    /// The stores of a work-item's 8 × 8 block in runs of 4 (<see cref="SharedGemm.Block8x8.Steps8Runs"/>): row i is channel
    /// o + i (i &lt; 4) or o + 4·gy + i − 4, element j pixel p + j (j &lt; 4) or p + 4·gx + j − 4; + bias[channel], ReLU,
    /// stored or added; only channels &lt; M and pixels &lt; H·W.
    /// </summary>
    private readonly struct ImplicitGemmStore(View output, View bias, bool hasBias, bool relu, bool accumulate, int m, int hw,
        int o, int p, int gy, int gx)
    {
        public void Row(SharedGemm.Row8 values, int i)
        {
            int channel = o + (i < 4 ? i : 4 * gy + i - 4);
            if (channel >= m) return;
            float b = hasBias ? bias[channel] : 0f;
            values.Epilogue(hasBias, b, relu).StoreRuns(output, channel * hw + p, 4 * gx, hw - p, row: true, accumulate);
        }
    }
}
