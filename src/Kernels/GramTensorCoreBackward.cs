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
// work-items on consecutive addresses (128-byte segments per warp) and stored to shared memory without bank conflicts
// (B's k-rows j and j + 4 side by side, as one 64-bit store).
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
        var fill = new GramTensorCoreBackwardFill(f, s, shared, pairs, sharedAddress, c, p, i0, p0, tid, mode.Value & TensorCoreBf16Mode, fAddress, sAddress);
        var acc = TensorCoreProduct(fill, shared, pairs, stages, tid, mode.Value);
        acc.Store(new GramTensorCoreBackwardStore(df, c, p, scale, accumulate), i0 + g, p0 + warp * 32 + 2 * q);
    }

    /// <summary>
    /// Stage s: channels j0 = 32·s … j0 + 31 of S (columns i0 … i0 + 63: tile A, A[i][j] = S[j, i] = S[i, j]) and of F (pixels
    /// p0 … p0 + 63: tile B); 0 past C or P. Thread tid holds column tid of every k-row of both tiles (consecutive threads,
    /// consecutive addresses), fixed when the kernel starts; the k-rows are written out 8 at a time (B's as 4 pairs).
    /// </summary>
    private readonly struct GramTensorCoreBackwardFill(View f, View s, ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int c, int p, int i0, int p0, int tid, int bf16,
        long fAddress, long sAddress) : IGramTensorCoreFill
    {
        /// <summary>Whether stage <paramref name="stage"/> is interior: the block's 64 columns of S below C and of F below P, its 32 channels below C.</summary>
        public bool Holds(int stage) => (i0 + TensorCoreBlock <= c) & (p0 + TensorCoreBlock <= p) & ((stage + 1) * TensorCoreStageK <= c);

        /// <summary>
        /// This thread's values of interior stage <paramref name="stage"/>, Fill's share without tests: value r (run r / 4,
        /// place r mod 4) of A is S[j0 + r, i0 + tid], of B F[j0 + r, p0 + tid].
        /// </summary>
        public GramTensorCoreHeld Load(int stage)
        {
            int j0 = stage * TensorCoreStageK;
            var a = s.SubView(j0 * c + i0 + tid, 31 * c + 1);
            var b = f.SubView(j0 * p + p0 + tid, 31 * p + 1);
            return new GramTensorCoreHeld
            {
                A0 = Run(a, c, 0), A1 = Run(a, c, 4), A2 = Run(a, c, 8), A3 = Run(a, c, 12),
                A4 = Run(a, c, 16), A5 = Run(a, c, 20), A6 = Run(a, c, 24), A7 = Run(a, c, 28),
                B0 = Run(b, p, 0), B1 = Run(b, p, 4), B2 = Run(b, p, 8), B3 = Run(b, p, 12),
                B4 = Run(b, p, 16), B5 = Run(b, p, 20), B6 = Run(b, p, 24), B7 = Run(b, p, 28),
            };
        }

        /// <summary>Rows r … r + 3 of a column (<paramref name="rowStep"/> apart).</summary>
        private static SharedGemm.Float4 Run(View column, int rowStep, int r) => new()
        {
            X = column[r * rowStep], Y = column[(r + 1) * rowStep], Z = column[(r + 2) * rowStep], W = column[(r + 3) * rowStep],
        };

        /// <summary>
        /// <see cref="Load"/>'s values rounded into buffer <paramref name="buffer"/>, where Put8 puts them: A's k-row r at
        /// a[r·72], B's k-rows (8·t + q, 8·t + q + 4) as pair row 4·t + q.
        /// </summary>
        public void Store(in GramTensorCoreHeld h, int buffer)
        {
            var a = shared.SubView(buffer * TensorCoreTileFloats + TensorCoreRowPairColumn(tid), 31 * TensorCoreStride + 1);
            StoreRun(a, h.A0, 0);
            StoreRun(a, h.A1, 4);
            StoreRun(a, h.A2, 8);
            StoreRun(a, h.A3, 12);
            StoreRun(a, h.A4, 16);
            StoreRun(a, h.A5, 20);
            StoreRun(a, h.A6, 24);
            StoreRun(a, h.A7, 28);
            const int row = TensorCorePairPitch / 2; // one pair row, in Float2s
            var b = pairs.SubView((2 + buffer) * (TensorCoreTileFloats / 2) + tid, 15 * row + 1);
            StorePairs(b, h.B0, h.B1, 0);       // k-rows 0 … 3 with 4 … 7: pair rows 0 … 3
            StorePairs(b, h.B2, h.B3, 4 * row); // k-rows 8 … 11 with 12 … 15
            StorePairs(b, h.B4, h.B5, 8 * row);
            StorePairs(b, h.B6, h.B7, 12 * row);
        }

        private static void StoreRun(ArrayView<float> a, in SharedGemm.Float4 run, int r)
        {
            a[r * TensorCoreStride] = Tf32.Round(run.X);
            a[(r + 1) * TensorCoreStride] = Tf32.Round(run.Y);
            a[(r + 2) * TensorCoreStride] = Tf32.Round(run.Z);
            a[(r + 3) * TensorCoreStride] = Tf32.Round(run.W);
        }

        /// <summary>Pair rows q = 0 … 3 from <paramref name="at"/>: (<paramref name="low"/>'s value q, <paramref name="high"/>'s value q).</summary>
        private static void StorePairs(ArrayView<SharedGemm.Float2> b, in SharedGemm.Float4 low, in SharedGemm.Float4 high, int at)
        {
            const int row = TensorCorePairPitch / 2;
            b[at] = RoundedPair(low.X, high.X);
            b[at + row] = RoundedPair(low.Y, high.Y);
            b[at + 2 * row] = RoundedPair(low.Z, high.Z);
            b[at + 3 * row] = RoundedPair(low.W, high.W);
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
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, a, TensorCoreStride, s, sAddress, srcA, c, colA < c, j, 1, c);
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, a + 4 * TensorCoreStride, TensorCoreStride, s, sAddress, srcA + 4 * c, c, colA < c, j + 4, 1, c);
            StagePipeline.PutPairs<TPut>(shared, pairs, sharedAddress, bPair, TensorCorePairPitch / 2, f, fAddress, new PairSources(j * p + colB, p, 4 * p, colB < p, j, 1, 4, c), 4);
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
    /// or 2) instead of the plan's (tests, bench); otherwise as <see cref="Backward(Tensor, Tensor, Tensor, float, bool, GramKernelKind)"/>.
    /// </summary>
    public static void BackwardTensorCore(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, GramKernelKind kind, int asyncBuffers)
    {
        if (!kind.IsTensorCore()) throw new ArgumentException($"gram backward: {kind} is not a tensor-core kernel.");
        BackwardTensorCore(f, dG, df, scale, accumulate, kind == GramKernelKind.TensorCoreBf16, asyncBuffers);
    }

    /// <summary>
    /// Backward from the tensor-core kernel (TF32, or BF16 when <paramref name="bf16"/>; cp.async with <paramref name="asyncBuffers"/> 2): S = dG + dGᵀ into scratch, then
    /// the GEMM. Throws <see cref="InvalidOperationException"/> on a device without tensor cores.
    /// </summary>
    private static void BackwardTensorCore(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, bool bf16, int asyncBuffers)
    {
        string op = bf16 ? "gram backward (bf16 tensor cores)" : "gram backward (tf32 tensor cores)";
        CheckBackward(op, f, dG, df);
        var gpu = f.Gpu;
        Conv2d.RequireTensorCores(gpu, op);
        int c = f.Shape.C, p = f.Shape.Plane;
        var s = SymmetricSum(f, dG);
        var config = new KernelConfig(new Index2D(Gpu.DivUp(p, TensorCoreBlock), Gpu.DivUp(c, TensorCoreBlock)), new Index2D(TensorCoreGroup, 1));
        var mode = TensorCoreMode(bf16, asyncBuffers);
        // With cp.async stages, ILGPU's PTX goes through the depot rewrite before the driver loads it (RewrittenPtxKernels).
        var kernel = asyncBuffers > 0
            ? gpu.RewrittenPtxKernel<GramBackwardLauncher>(BackwardTensorCoreKernel, mode)
            : gpu.Kernel(BackwardTensorCoreKernel,
                a => a.LoadKernel<SpecializedValue<int>, View, View, View, int, int, float, int, long, long>(BackwardTensorCoreKernel));
        kernel(gpu.Stream, config, mode, f.View, s.View, df.View, c, p, scale, accumulate ? 1 : 0,
            AsyncCopy.DeviceAddress(f.View), AsyncCopy.DeviceAddress(s.View));
    }
}
