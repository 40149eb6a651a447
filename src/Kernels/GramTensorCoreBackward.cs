// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/GramTensorCoreTests.cs
using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels.TensorCores;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;
using GramBackwardLauncher = global::System.Action<global::ILGPU.Runtime.AcceleratorStream, global::ILGPU.KernelConfig, global::ILGPU.Runtime.SpecializedValue<int>,
    global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, int, int, float, int, long, long>;

// Gram backward on TF32 tensor cores (gram=tf32, opt-in): the gradient of G = scale · F Fᵀ,
//   df[i, p] (+)= scale · Σ_j S[i, j] · F[j, p],   S = dG + dGᵀ (C × C),   F = f as C rows × P pixels,
// as the GEMM A·B with M = C rows i, N = P pixels, K = C channels j: A[i][j] = S[i, j], B[j][p] = F[j, p], on the
// forward's machinery (GramTensorCore.cs): warp-level m16n8k8 TF32 products, FP32 accumulation, the same main loop
// (TensorCoreProduct, with cp.async under gramasync=2) and shared layout. S is formed once per call in FP32 (SymmetricSumKernel, GramBlocked.cs) and
// is exactly symmetric, so A stored k-major — A[i][j] at j·72 + (i's column) — is row j of S: both tiles of a stage are
// 32 consecutive rows j of a row-major matrix (S's 64 columns i0 …, F's 64 pixels p0 …), loaded with consecutive
// work-items on consecutive addresses and stored to shared memory without bank conflicts (B's k-rows j and j + 4 side
// by side, as one 64-bit store). TF32 interior stages (every value exists) are held in registers across the previous
// stage's products, each thread 8 rows × 4 columns (one view per row, the columns constant offsets: Load, Store);
// edge stages are stored as loaded, each thread one column of every row (Fill).
// Group: 2 warps (64 threads) own a 64 × 64 block of df — rows i0 = 64·y …, pixels p0 = 64·x … (grid (⌈P/64⌉,
// ⌈C/64⌉)) — warp w its pixels p0 + 32·w … as one 64 × 32 warp tile. Stages of 32 channels j (4 mma k-steps),
// double-buffered; shared memory as the forward (two buffers of both tiles, then the emulation's exchange areas:
// 38 400 bytes, static). Rows past C, channels past C and pixels past P load as 0, so any C and P work. No
// split-K: K = C is at most a few hundred, and the P blocks already fill the device. Deterministic: every output is
// one accumulator summed over j in ascending order (no atomics), then scaled, then stored or added once.
public static partial class Gram
{
    /// <summary>Grid (⌈P/64⌉, ⌈C/64⌉), group 64 (see the file comment): df (+)= scale · S · F with S = dG + dGᵀ given.</summary>
    /// <remarks><paramref name="mode"/>: TensorCoreBf16Mode | TensorCoreAsync; <paramref name="fAddress"/>, <paramref name="sAddress"/>: device addresses, for cp.async.</remarks>
    private static void BackwardTensorCoreKernel(SpecializedValue<int> mode, View f, View s, View df, int c, int p, float scale, int accumulate,
        long fAddress, long sAddress)
    {
        var pairs = SharedMemory.Allocate<SharedGemm.Float2>(TensorCoreSharedFloats / 2); // the kernel's only shared array (AsyncCopy names it), 8-byte aligned
        var shared = pairs.Cast<float>();
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
        int p0 = Grid.IdxX * TensorCoreBlock, i0 = Grid.IdxY * TensorCoreBlock;
        int stages = (c + TensorCoreStageK - 1) / TensorCoreStageK;
        uint sharedAddress = (mode.Value & TensorCoreAsync) != 0 ? AsyncCopy.SharedArrayAddress() : 0u; // once: cp.async's destinations
        var fill = new GramTensorCoreBackwardFill(f, s, shared, pairs, sharedAddress, c, p, i0, p0, tid, mode.Value & TensorCoreBf16Mode,
            mode.Value & TensorCoreNearestEven, fAddress, sAddress);
        var acc = TensorCoreProduct(fill, shared, pairs, stages, tid, mode.Value);
        acc.Store(new GramTensorCoreBackwardStore(df, c, p, scale, accumulate), i0 + g, p0 + warp * 32 + 2 * q);
    }

    /// <summary>
    /// Stage s: channels j0 = 32·s … j0 + 31 of S (columns i0 … i0 + 63: tile A, A[i][j] = S[j, i] = S[i, j]) and of F (pixels
    /// p0 … p0 + 63: tile B); 0 past C or P. Thread tid holds column tid of every k-row of both tiles (consecutive threads,
    /// consecutive addresses), fixed when the kernel starts; the k-rows are written out 8 at a time (B's as 4 pairs).
    /// </summary>
    private readonly struct GramTensorCoreBackwardFill(View f, View s, ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int c, int p, int i0, int p0, int tid, int bf16,
        int nearestEven, long fAddress, long sAddress) : IGramTensorCoreFill
    {
        /// <summary>Whether stage <paramref name="stage"/> is interior: the block's 64 columns of S below C and of F below P, its 32 channels below C.</summary>
        public bool Holds(int stage) => (i0 + TensorCoreBlock <= c) & (p0 + TensorCoreBlock <= p) & ((stage + 1) * TensorCoreStageK <= c);

        /// <summary>
        /// This thread's values of interior stage <paramref name="stage"/>, loaded without tests — not Fill's share (any
        /// thread may store any value before the barrier): rows r = r0 + 4·n (n = 0 … 7, r0 = 0, 2, 1, 3 for tid / 16 = 0 … 3)
        /// and columns cg + 16·m (m = 0 … 3, cg = tid mod 16) of both tiles, run n holding row r's four columns — one view
        /// per row, the columns constant offsets from it (a per-value row would cost an index and an address each). A
        /// warp's loads read two rows' 16 consecutive columns; its stores hit 32 banks (rows 2 apart: 16 banks; see Store).
        /// </summary>
        public GramTensorCoreHeld Load(int stage)
        {
            int r = stage * TensorCoreStageK + HeldRow, cg = tid & 15;
            return GramTensorCoreHeld.Rows(s, r * c + i0 + cg, 4 * c, f, r * p + p0 + cg, 4 * p, 16);
        }

        /// <summary>The first k-row r0 of this thread's held rows: 0, 2, 1, 3 for tid / 16 = 0 … 3 (a warp's two rows 2 apart).</summary>
        private int HeldRow => ((tid >> 4) & 1) * 2 + (tid >> 5);

        /// <summary>
        /// <see cref="Load"/>'s values rounded into buffer <paramref name="buffer"/>, where Fill puts them: A's (k-row r,
        /// column col) at r·72 + TensorCoreRowPairColumn(col) (= … + 16·m for col = cg + 16·m), B's k-rows (8·t + r0,
        /// 8·t + r0 + 4) — runs 2·t and 2·t + 1 — as pair row 4·t + r0.
        /// </summary>
        public void Store(in GramTensorCoreHeld h, int buffer)
        {
            if (bf16 != 0)
            {
                StorePacked(h, buffer);
                return;
            }
            int r0 = HeldRow, cg = tid & 15;
            var a = shared.SubView(buffer * TensorCoreTileFloats + r0 * TensorCoreStride + TensorCoreRowPairColumn(cg), 28 * TensorCoreStride + 48 + 1);
            StoreRow(a, h.A0, 0, nearestEven);
            StoreRow(a, h.A1, 4 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A2, 8 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A3, 12 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A4, 16 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A5, 20 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A6, 24 * TensorCoreStride, nearestEven);
            StoreRow(a, h.A7, 28 * TensorCoreStride, nearestEven);
            const int row = TensorCorePairPitch / 2; // one pair row, in Float2s
            var b = pairs.SubView((2 + buffer) * (TensorCoreTileFloats / 2) + r0 * row + cg, 12 * row + 48 + 1);
            StorePairs(b, h.B0, h.B1, 0, nearestEven);       // k-rows r0 and r0 + 4: pair row r0
            StorePairs(b, h.B2, h.B3, 4 * row, nearestEven); // k-rows 8 + r0 and 12 + r0: pair row 4 + r0
            StorePairs(b, h.B4, h.B5, 8 * row, nearestEven);
            StorePairs(b, h.B6, h.B7, 12 * row, nearestEven);
        }

        /// <summary>
        /// BF16: <see cref="Load"/>'s values (the same share) rounded, packed and stored where FillPacked puts them: A's
        /// k-rows (r0 + 8·u, r0 + 8·u + 4) — runs 2·u and 2·u + 1 — as word-row TensorCorePackedRow(r0 + 8·u) = 4·u + r0; B's
        /// channels r0 + 16·t + 0, 4 (low word) and 8, 12 (high word) — runs 4·t … 4·t + 3 — as pair row 4·t + r0.
        /// </summary>
        private void StorePacked(in GramTensorCoreHeld h, int buffer)
        {
            int r0 = HeldRow, cg = tid & 15;
            const int word = 4 * TensorCoreStride, row = TensorCorePairPitch / 2;
            var a = shared.SubView(buffer * TensorCoreTileFloats + r0 * TensorCoreStride + TensorCoreRowPairColumn(cg), 3 * word + 48 + 1);
            StoreWords(a, h.A0, h.A1, 0);
            StoreWords(a, h.A2, h.A3, word);
            StoreWords(a, h.A4, h.A5, 2 * word);
            StoreWords(a, h.A6, h.A7, 3 * word);
            var b = pairs.SubView((2 + buffer) * (TensorCoreTileFloats / 2) + r0 * row + cg, 4 * row + 48 + 1);
            StorePackedQuads(b, h.B0, h.B1, h.B2, h.B3, 0);
            StorePackedQuads(b, h.B4, h.B5, h.B6, h.B7, 4 * row);
        }

        /// <summary>Four columns cg + 16·m of a word-row from <paramref name="at"/>: (<paramref name="low"/>'s value m, <paramref name="high"/>'s value m) packed.</summary>
        private static void StoreWords(ArrayView<float> a, in SharedGemm.Float4 low, in SharedGemm.Float4 high, int at)
        {
            a[at] = PackedWord(low.X, high.X);
            a[at + 16] = PackedWord(low.Y, high.Y);
            a[at + 32] = PackedWord(low.Z, high.Z);
            a[at + 48] = PackedWord(low.W, high.W);
        }

        /// <summary>Four columns of a B pair row from <paramref name="at"/>: (pack(c0, c4), pack(c8, c12)) of channels r0 + 16·t + 0, 4, 8, 12.</summary>
        private static void StorePackedQuads(ArrayView<SharedGemm.Float2> b, in SharedGemm.Float4 c0, in SharedGemm.Float4 c4, in SharedGemm.Float4 c8,
            in SharedGemm.Float4 c12, int at)
        {
            b[at] = new SharedGemm.Float2 { X = PackedWord(c0.X, c4.X), Y = PackedWord(c8.X, c12.X) };
            b[at + 16] = new SharedGemm.Float2 { X = PackedWord(c0.Y, c4.Y), Y = PackedWord(c8.Y, c12.Y) };
            b[at + 32] = new SharedGemm.Float2 { X = PackedWord(c0.Z, c4.Z), Y = PackedWord(c8.Z, c12.Z) };
            b[at + 48] = new SharedGemm.Float2 { X = PackedWord(c0.W, c4.W), Y = PackedWord(c8.W, c12.W) };
        }

        /// <summary>A k-row's four columns cg + 16·m, from <paramref name="at"/>.</summary>
        private static void StoreRow(ArrayView<float> a, in SharedGemm.Float4 run, int at, int even)
        {
            a[at] = Tf32.Round(run.X, even);
            a[at + 16] = Tf32.Round(run.Y, even);
            a[at + 32] = Tf32.Round(run.Z, even);
            a[at + 48] = Tf32.Round(run.W, even);
        }

        /// <summary>A pair row's four columns cg + 16·m from <paramref name="at"/>: (<paramref name="low"/>'s value m, <paramref name="high"/>'s value m).</summary>
        private static void StorePairs(ArrayView<SharedGemm.Float2> b, in SharedGemm.Float4 low, in SharedGemm.Float4 high, int at, int even)
        {
            b[at] = RoundedPair(low.X, high.X, even);
            b[at + 16] = RoundedPair(low.Y, high.Y, even);
            b[at + 32] = RoundedPair(low.Z, high.Z, even);
            b[at + 48] = RoundedPair(low.W, high.W, even);
        }

        public void Fill<TPut>(int stage, int buffer) where TPut : struct, IStagePut
        {
            if (bf16 != 0)
            {
                // cp.async cannot pack: BF16's values are loaded, rounded, packed and stored when the stage is put.
                if (default(TPut).ReadsSource) FillPacked(stage, buffer);
                return;
            }
            // The 4 groups of 8 channels written out (ILGPU keeps a loop as a loop, and ptxas cannot issue one trip's loads
            // before the previous trip's stores).
            Put8<TPut>(stage, buffer, 0);
            Put8<TPut>(stage, buffer, 8);
            Put8<TPut>(stage, buffer, 16);
            Put8<TPut>(stage, buffer, 24);
        }

        /// <summary>
        /// Channels j = 32·<paramref name="stage"/> + <paramref name="r"/> … j + 7 (rows of S and F, c and p apart; k-rows r …
        /// of the stage) of this thread's column of both tiles; 0 past C or outside the column. A: k-rows r …, B: pair rows r / 2 ….
        /// </summary>
        private void Put8<TPut>(int stage, int buffer, int r) where TPut : struct, IStagePut
        {
            int j = stage * TensorCoreStageK + r;
            // A: row tid's column (floats); B: column tid of the pair rows (a Float2 index, TensorCorePairIndex(r, tid) / 2).
            int a = buffer * TensorCoreTileFloats + TensorCoreRowPairColumn(tid) + r * TensorCoreStride;
            int bPair = (2 + buffer) * (TensorCoreTileFloats / 2) + tid + r / 2 * (TensorCorePairPitch / 2);
            int colA = i0 + tid, colB = p0 + tid, srcA = j * c + colA;
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, a, TensorCoreStride, s, sAddress, srcA, c, colA < c, j, 1, c, nearestEven);
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, a + 4 * TensorCoreStride, TensorCoreStride, s, sAddress, srcA + 4 * c, c, colA < c, j + 4, 1, c,
                nearestEven);
            StagePipeline.PutPairs<TPut>(shared, pairs, sharedAddress, bPair, TensorCorePairPitch / 2, f, fAddress, new PairSources(j * p + colB, p, 4 * p, colB < p, j, 1, 4, c), 4,
                nearestEven);
        }

        /// <summary>
        /// BF16 stage packed (<see cref="TensorCorePackedRow"/>): thread tid holds column tid of every word-row of A
        /// (word-row 4·n + q: channels j and j + 4 of S's column i0 + tid, j = j0 + 8·n + q; 16 words) and of every pair row
        /// of B (channels j, j + 4, j + 8, j + 12 of F's pixel p0 + tid, j = j0 + 16·t + q; 8 pairs of words); consecutive
        /// threads, consecutive addresses. Written out.
        /// </summary>
        private void FillPacked(int stage, int buffer)
        {
            int j0 = stage * TensorCoreStageK, colA = i0 + tid, colB = p0 + tid;
            int aBase = buffer * TensorCoreTileFloats + TensorCoreRowPairColumn(tid), bPair = (2 + buffer) * (TensorCoreTileFloats / 2) + tid;
            // A: channels j0 + 8·n + q and 4 further (q = 0 … 3) in word-rows TensorCorePackedRow(8·n + q) = 4·n + q.
            var a = new PairSources(j0 * c + colA, c, 4 * c, colA < c, j0, 1, 4, c);
            int wordRow = TensorCorePackedRow(1) * TensorCoreStride;
            StagePipeline.StorePackedWords(shared, aBase, wordRow, s, a);
            StagePipeline.StorePackedWords(shared, aBase + TensorCorePackedRow(8) * TensorCoreStride, wordRow, s, a.Further(8, c));
            StagePipeline.StorePackedWords(shared, aBase + TensorCorePackedRow(16) * TensorCoreStride, wordRow, s, a.Further(16, c));
            StagePipeline.StorePackedWords(shared, aBase + TensorCorePackedRow(24) * TensorCoreStride, wordRow, s, a.Further(24, c));
            // Pair rows 4·t + q (q = 0 … 3): channels j0 + 16·t + q, + 4 (low word) and + 8, + 12 (high word).
            var b = new PairSources(j0 * p + colB, p, 4 * p, colB < p, j0, 1, 4, c);
            StagePipeline.StoreQuads(pairs, bPair, TensorCorePairPitch / 2, f, b, b.Further(8, p), 4);
            StagePipeline.StoreQuads(pairs, bPair + 4 * (TensorCorePairPitch / 2), TensorCorePairPitch / 2, f, b.Further(16, p), b.Further(24, p), 4);
        }
    }

    /// <summary>Writes df[i, p] = scale · v, or adds it when accumulating; nothing past C or P.</summary>
    private readonly struct GramTensorCoreBackwardStore(View df, int c, int p, float scale, int accumulate) : IFragmentStore
    {
        public void Store(MmaAccumulator v, int row, int col)
        {
            Put(row, col, v.C0);
            Put(row, col + 1, v.C1);
            Put(row + 8, col, v.C2);
            Put(row + 8, col + 1, v.C3);
        }

        private void Put(int i, int pixel, float v)
        {
            if (i >= c || pixel >= p) return;
            Output.Store(df, i * p + pixel, scale * v, accumulate);
        }
    }

    /// <summary>
    /// Backward from the tensor-core kernel <paramref name="kind"/> with <paramref name="asyncBuffers"/> cp.async buffers (0
    /// or 2) instead of the plan's (tests, bench), and TF32's rounding to nearest even where <paramref name="tf32NearestEven"/>
    /// says (null: where the device has the instruction); otherwise as <see cref="Backward(Tensor, Tensor, Tensor, float, bool, GramKernelKind)"/>.
    /// </summary>
    public static void BackwardTensorCore(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, GramKernelKind kind, int asyncBuffers,
        bool? tf32NearestEven = null)
    {
        if (!kind.IsTensorCore()) throw new ArgumentException($"gram backward: {kind} is not a tensor-core kernel.");
        BackwardTensorCore(f, dG, df, scale, accumulate, kind == GramKernelKind.TensorCoreBf16, asyncBuffers, tf32NearestEven);
    }

    /// <summary>
    /// Backward from the tensor-core kernel (TF32, or BF16 when <paramref name="bf16"/>; cp.async with <paramref name="asyncBuffers"/> 2): S = dG + dGᵀ into scratch, then
    /// the GEMM. Throws <see cref="InvalidOperationException"/> on a device without tensor cores.
    /// </summary>
    private static void BackwardTensorCore(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, bool bf16, int asyncBuffers, bool? nearestEven = null)
    {
        string op = bf16 ? "gram backward (bf16 tensor cores)" : "gram backward (tf32 tensor cores)";
        CheckBackward(op, f, dG, df);
        var gpu = f.Gpu;
        Conv2d.RequireTensorCores(gpu, op);
        int c = f.Shape.C, p = f.Shape.Plane;
        var s = SymmetricSum(f, dG);
        var config = new KernelConfig(new Index2D(Gpu.DivUp(p, TensorCoreBlock), Gpu.DivUp(c, TensorCoreBlock)), new Index2D(TensorCoreGroup, 1));
        var mode = TensorCoreMode(gpu, op, bf16, asyncBuffers, nearestEven);
        // With cp.async stages, ILGPU's PTX goes through the depot rewrite before the driver loads it (RewrittenPtxKernels).
        var kernel = asyncBuffers > 0
            ? gpu.RewrittenPtxKernel<GramBackwardLauncher>(BackwardTensorCoreKernel, mode)
            : gpu.Kernel(BackwardTensorCoreKernel,
                a => a.LoadKernel<SpecializedValue<int>, View, View, View, int, int, float, int, long, long>(BackwardTensorCoreKernel));
        kernel(gpu.Stream, config, mode, f.View, s.View, df.View, c, p, scale, accumulate ? 1 : 0,
            AsyncCopy.DeviceAddress(f.View), AsyncCopy.DeviceAddress(s.View));
    }
}
