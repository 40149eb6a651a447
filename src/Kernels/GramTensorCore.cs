// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/GramTensorCoreTests.cs
using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels.TensorCores;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;
using GramForwardLauncher = global::System.Action<global::ILGPU.Runtime.AcceleratorStream, global::ILGPU.KernelConfig, global::ILGPU.Runtime.SpecializedValue<int>,
    global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, int, int, int, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, float, int, long>;

// Gram forward on TF32 tensor cores (gram=tf32, opt-in): G = scale · F Fᵀ as the GEMM A·B with A[i][k] = F[i, k],
// B[k][j] = F[j, k] (k = the pixel), on warp-level m16n8k8 TF32 products with FP32 accumulation (TensorCores/WarpMma.cs).
// Group: 2 warps (64 threads) own a 64 × 64 block (bi, bj), bi ≤ bj, of G — warp w its columns 32·w … 32·w + 31, as
// one 64 × 32 warp tile (WarpTile64x32). Stages of 32 pixels (4 mma k-steps): both 64-row slices of F in shared memory,
// each laid out so that a lane's fragment registers come in 64-bit reads in the order the mma takes them — A k-major
// with rows g and g + 8 side by side (A[m][k] at k·72 + TensorCoreRowPairColumn(m): (a0, a1) and (a2, a3) one read
// each), B with k-rows q and q + 4 side by side (TensorCorePairIndex: (b0, b1) one read); strides ≡ 8 mod 32 banks, so
// the reads are bank-conflict-free (TensorCores/WarpRows.cs, WarpTile64x32.cs) —, rounded to TF32 when stored, two buffers (the next stage is
// loaded while the current one is multiplied, one barrier per stage: TensorCoreProduct, which takes the stage loads
// as an IGramTensorCoreFill: an interior stage — every value exists, as in all of VGG19's but a split's or a ragged
// block's last — is loaded without tests before the current stage's products and rounded and stored after them, its
// loads in flight meanwhile; an edge stage is stored as it is loaded), or with cp.async (plan key gramasync=2, mode bit TensorCoreAsync) copied unrounded into the two
// buffers while the current stage is multiplied and rounded in place by the thread that copied them once they have
// landed (TensorCores/StagePipeline.cs; the same bytes). Three buffers would
// need 57 KB of shared memory, past the 48 KB of a static array. Loads: 8 consecutive pixels of 4 rows per warp
// (32-byte segments), stored with 2-way bank conflicts (A, as pairs) and without (B). Split-K over the pixels exactly as the tiled kernel
// (GramTiled.cs): one split writes scale·G, more write unscaled partials that SumSplitsKernel adds in split order.
// Exact symmetry: an off-diagonal block writes G[i,j] and G[j,i] from the same accumulator; a diagonal block writes
// only i ≤ j and mirrors it. The backward runs on the same loop: GramTensorCoreBackward.cs.
// TF32 rounds with cvt.rna (four SASS instructions a value) before sm_90 and to nearest even from it on (cvt.rn.tf32,
// one: the mode bit TensorCoreNearestEven, Tf32.Round(x, nearestEven); CudaKernelVariants lists each for its architectures).
// BF16 (gram=bf16): the same tiles with two k-rows packed in each word (TensorCorePackedRow), rounded and packed by
// the fills (cvt.rn.bf16x2 on CUDA), two m16n8k16 steps a stage, no packing in the loop; cp.async cannot pack, so
// with gramasync=2 BF16's values are stored as with register staging (the same bytes).
public static partial class Gram
{
    /// <summary>Side of the G block of one tensor-core group.</summary>
    internal const int TensorCoreBlock = 64;

    /// <summary>K per shared-memory stage (pixels in the forward, channels in the backward): 4 mma k-steps.</summary>
    private const int TensorCoreStageK = 32;

    /// <summary>
    /// Pitch of the B tiles' pair rows (k-rows q and q + 4 of one mma step side by side for the block's 64 columns):
    /// 2·64 + 8, ≡ 8 mod 32, so the 16 lanes (g &lt; 4, q) of a half-warp read 64 bits each from 32 distinct banks.
    /// </summary>
    private const int TensorCorePairPitch = 2 * TensorCoreBlock + 8;

    /// <summary>Work-items per group: 2 warps.</summary>
    internal const int TensorCoreGroup = 64;

    /// <summary>Row stride of the A tiles (k-major): 64 + 8 (≡ 8 mod 32 banks).</summary>
    private const int TensorCoreStride = TensorCoreBlock + 8;

    /// <summary>Floats of one tile slot in one buffer: A's 32 k-rows × 72 (B's 16 pair rows × 136 take 2176 of them).</summary>
    private const int TensorCoreTileFloats = TensorCoreStageK * TensorCoreStride;

    /// <summary>
    /// Where value (k, n) of a stage's B tile (k-row k &lt; 32, column n &lt; 64) lies: k-rows q and q + 4 of mma step
    /// t = k / 8 side by side in pair row 4·t + q, so a lane's (b0, b1) is one 64-bit read.
    /// </summary>
    private static int TensorCorePairIndex(int k, int n) => ((k >> 3) * 4 + (k & 3)) * TensorCorePairPitch + 2 * n + ((k >> 2) & 1);

    /// <summary>
    /// The column of row m (&lt; 64) in an A tile's k-row: rows g and g + 8 of each 16-row tile side by side (16·⌊m / 16⌋ +
    /// 2·(m mod 8) + ⌊m / 8⌋ mod 2), so a lane's (a0, a1) and (a2, a3) are one 64-bit read each; a permutation of each
    /// 32 consecutive rows (a warp storing them hits 32 banks).
    /// </summary>
    private static int TensorCoreRowPairColumn(int m) => 16 * (m >> 4) + 2 * (m & 7) + ((m >> 3) & 1);

    /// <summary>
    /// BF16 (gram=bf16): the word-row of a stage's tiles holding k-rows k and k + 4 packed (Bf16.RoundPack: k in bits 0–15),
    /// for k = 16·t + 8·h + q (t: the m16n8k16 step, h = 0, 1, q = 0 … 3; <paramref name="k"/> &lt; 32 with k mod 8 &lt; 4):
    /// 8·t + 4·h + q. In A (k-major, rows g and g + 8 side by side as for TF32) word-rows (t, 0, q) and (t, 1, q) hold a
    /// lane's (a0, a1) and (a2, a3) of step t, 4 rows apart as TF32's k-rows q and q + 4; in B, whose pair rows (B's
    /// TensorCorePairIndex with k-row 8t + q) hold (word-row (t, 0, q), word-row (t, 1, q)) side by side, a lane's (b0, b1).
    /// The instruction's k = 2q, 2q + 1, 2q + 8, 2q + 9 stand for the step's k-rows q, q + 4, q + 8, q + 12 in A and B
    /// alike (WarpTile64x32.StepPackedBf16). The 16 word-rows fill half a TF32 tile slot.
    /// </summary>
    private static int TensorCorePackedRow(int k) => ((k >> 4) << 3) + (((k >> 3) & 1) << 2) + (k & 3);

    /// <summary>Shared floats: A and B tiles × 2 buffers, then the 2 warps' exchange areas of the emulated product.</summary>
    private const int TensorCoreSharedFloats = 4 * TensorCoreTileFloats + 2 * WarpMma.ExchangeFloats;

    /// <summary>
    /// The Gram tensor-core kernels' mode (a compile-time constant): BF16 products, cp.async stages (2 buffers), and TF32's
    /// rounding to nearest even (<see cref="Tf32.Round(float, int)"/>: one instruction on sm_90+ where the default cvt.rna
    /// takes four — a quarter to a third of the held TF32 stages' instructions; TensorCoreNearestEven only with TF32).
    /// </summary>
    internal const int TensorCoreBf16Mode = 1, TensorCoreAsync = 2, TensorCoreNearestEven = 4;

    /// <summary>
    /// The mode of a Gram tensor-core launch (<see cref="TensorCoreBf16Mode"/> | <see cref="TensorCoreAsync"/> |
    /// <see cref="TensorCoreNearestEven"/>): TF32 rounds to nearest even where <paramref name="nearestEven"/> says, by default
    /// where the device has the instruction (<see cref="Tf32.HasNearestEven"/>); asked for on a CUDA device without it,
    /// throws (<see cref="Conv2d.RequireTf32NearestEven"/>, "<paramref name="op"/>: …").
    /// </summary>
    private static SpecializedValue<int> TensorCoreMode(Gpu gpu, string op, bool bf16, int asyncBuffers, bool? nearestEven)
    {
        if (asyncBuffers is not (0 or 2))
            throw new ArgumentException($"gram (tensor cores): {asyncBuffers} cp.async buffers; 0 or 2 are supported.");
        if (nearestEven == true && !bf16) Conv2d.RequireTf32NearestEven(gpu, op); // the default is the device's: nothing to check
        bool even = !bf16 && (nearestEven ?? Tf32.HasNearestEven(gpu.Accelerator));
        return SpecializedValue.New((bf16 ? TensorCoreBf16Mode : 0) | (asyncBuffers != 0 ? TensorCoreAsync : 0) | (even ? TensorCoreNearestEven : 0));
    }

    /// <summary>
    /// Forward from the tensor-core kernel <paramref name="kind"/> (TensorCoreTf32 or TensorCoreBf16) with
    /// <paramref name="asyncBuffers"/> cp.async buffers (0 or 2) instead of the plan's <see cref="TuningPlan.GramAsyncBuffers"/>
    /// (tests, bench), and TF32's rounding to nearest even where <paramref name="tf32NearestEven"/> says (null: where the
    /// device has the instruction); otherwise as <see cref="Forward(Tensor, Tensor, float, GramKernelKind, int)"/>.
    /// </summary>
    public static void ForwardTensorCore(Tensor f, Tensor g, float scale, GramKernelKind kind, int splits, int asyncBuffers, bool? tf32NearestEven = null)
    {
        if (!kind.IsTensorCore()) throw new ArgumentException($"gram: {kind} is not a tensor-core kernel.");
        ForwardTensorCore(f, g, scale, splits, kind == GramKernelKind.TensorCoreBf16, asyncBuffers, tf32NearestEven);
    }

    /// <summary>
    /// Grid (pairs, splits), group 64 (see the file comment). <paramref name="direct"/> ≠ 0: output = G (scale·sum);
    /// else output[split·C·C + …] = the unscaled partial sum of the split's pixels. <paramref name="mode"/>:
    /// TensorCoreBf16Mode | TensorCoreAsync; <paramref name="fAddress"/>: f's device address, for cp.async.
    /// </summary>
    private static void ForwardTensorCoreKernel(SpecializedValue<int> mode, View f, int c, int p, int chunk, View output, float scale, int direct,
        long fAddress)
    {
        // The kernel's only shared array (AsyncCopy names it), of Float2s so that PTX declares it 8-byte aligned (the fragments'
        // 64-bit reads); used as floats.
        var pairs = SharedMemory.Allocate<SharedGemm.Float2>(TensorCoreSharedFloats / 2);
        var shared = pairs.Cast<float>();
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;

        // Grid.IdxX enumerates the blocks (bi, bj), bi ≤ bj, row by row.
        int blocks = (c + TensorCoreBlock - 1) / TensorCoreBlock;
        int bi = 0, rest = Grid.IdxX;
        while (rest >= blocks - bi) { rest -= blocks - bi; bi++; }
        int bj = bi + rest;

        int pBegin = Grid.IdxY * chunk, pEnd = IntrinsicMath.Min(p, pBegin + chunk);
        int stages = (pEnd - pBegin + TensorCoreStageK - 1) / TensorCoreStageK;
        int bf16 = mode.Value & TensorCoreBf16Mode, nearestEven = mode.Value & TensorCoreNearestEven;
        uint sharedAddress = (mode.Value & TensorCoreAsync) != 0 ? AsyncCopy.SharedArrayAddress() : 0u; // once: cp.async's destinations
        var fill = new GramTensorCoreFill(f, shared, pairs, sharedAddress, c, p, pBegin, pEnd, bi * TensorCoreBlock, bj * TensorCoreBlock, tid, bf16, nearestEven, fAddress);
        var acc = TensorCoreProduct(fill, shared, pairs, stages, tid, mode.Value);

        var store = new GramTensorCoreStore(output, c, direct != 0 ? 0 : Grid.IdxY * c * c, direct != 0 ? scale : 1f, bi == bj ? 1 : 0);
        acc.Store(store, bi * TensorCoreBlock + g, bj * TensorCoreBlock + warp * 32 + 2 * q);
    }

    /// <summary>
    /// The main loop of both Gram tensor-core kernels, for a group of 2 warps: the 64 × 64 product A·B over
    /// <paramref name="stages"/> stages of 32 k, double-buffered (<see cref="StagePipeline"/>: the next stage is stored — or
    /// copied by cp.async with <see cref="TensorCoreAsync"/> — while the current one is multiplied). <paramref name="fill"/>
    /// puts stage s (32 k-rows) into a buffer: A[m][k] at buffer·TileFloats + k·72 + <see cref="TensorCoreRowPairColumn"/>(m)
    /// (m &lt; 64), B[k][n] at (2 + buffer)·TileFloats + <see cref="TensorCorePairIndex"/>(k, n) (n &lt; 64); 0 outside the matrices.
    /// <paramref name="pairs"/> is the shared array as Float2s. Returns warp w's 64 × 32 tile (columns 32·w …
    /// of B), summed over k in ascending order. <paramref name="mode"/> has <see cref="TensorCoreBf16Mode"/>: BF16 products,
    /// 2 m16n8k16 steps per stage instead of 4 TF32 ones, from tiles whose values are packed two to a word
    /// (<see cref="TensorCorePackedRow"/>: the fills round and pack them; half of each tile slot used).
    /// </summary>
    private static WarpTile64x32 TensorCoreProduct<TFill>(TFill fill, ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, int stages, int tid, int mode)
        where TFill : struct, IGramTensorCoreFill
    {
        int warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
        var pipeline = new StagePipeline((mode & TensorCoreAsync) != 0 ? 2 : 0);
        // Register staging holds interior stages (every value exists: no tests) in registers while the warps multiply
        // (GramTensorCoreHeld); the other stages — a ragged block's or split's edge — are stored as they are loaded.
        bool mayHold = pipeline.Copy == 0;
        pipeline.Prologue(fill, stages);
        var acc = default(WarpTile64x32);
        var exchange = shared.SubView(4 * TensorCoreTileFloats + warp * WarpMma.ExchangeFloats, WarpMma.ExchangeFloats);
        const int A8 = 8 * TensorCoreStride / 2, A4 = A8 / 2, B8 = 2 * TensorCorePairPitch; // one mma k-step further (A: 8 k-rows; B: 4 pair rows), in Float2s
        for (int s = 0; s < stages; s++)
        {
            // Held: stage s + 1's loads go out before stage s's products and are rounded and stored after them (the loads'
            // latency passes under the products, as in the convolution's 4 × 2 blocking: HeldStage.cs).
            bool hold = mayHold && s + 1 < stages && fill.Holds(s + 1);
            var next = default(GramTensorCoreHeld);
            if (hold) next = fill.Load(s + 1);
            else pipeline.Advance(fill, s, stages);
            int buffer = pipeline.Buffer(s);
            // One view per stage and operand at the lane's first pair (pair row q; A's 64 rows, this warp's 32 columns of B):
            // every read is a constant offset from it, which the loads carry (an index a + c would cost an addition and a
            // shift each: ILGPU widens an index to 64 bits before adding it to an address).
            var a = pairs.SubView(buffer * (TensorCoreTileFloats / 2) + q * (TensorCoreStride / 2) + g, 3 * A8 + A4 + 25);
            var b = pairs.SubView((2 + buffer) * (TensorCoreTileFloats / 2) + q * (TensorCorePairPitch / 2) + warp * 32 + g, 3 * B8 + 25);
            if ((mode & TensorCoreBf16Mode) != 0)
            {
                // The stage's 32 k packed two to a word (TensorCorePackedRow): 16 word-rows, two m16n8k16 steps.
                acc = acc.StepPackedBf16(Fragments(a, 0), Columns(b, 0), exchange);
                acc = acc.StepPackedBf16(Fragments(a, A8), Columns(b, B8), exchange);
            }
            else
            {
                acc = acc.Step(Fragments(a, 0), Columns(b, 0), exchange);
                acc = acc.Step(Fragments(a, A8), Columns(b, B8), exchange);
                acc = acc.Step(Fragments(a, 2 * A8), Columns(b, 2 * B8), exchange);
                acc = acc.Step(Fragments(a, 3 * A8), Columns(b, 3 * B8), exchange);
            }
            if (hold) fill.Store(next, pipeline.Buffer(s + 1));
            pipeline.Finish();
        }
        return acc;
    }

    /// <summary>
    /// A Gram tensor-core fill (<see cref="IStageFill"/>) that can also hold an interior stage in registers: <see cref="Holds"/>
    /// says whether every value of stage s exists (no row past C, no k past the end), <see cref="Load"/> loads this
    /// thread's 64 values of such a stage without tests, <see cref="Store"/> rounds them to TF32 and stores them where
    /// Fill&lt;StoreRounded&gt; would have: the same bytes.
    /// </summary>
    private interface IGramTensorCoreFill : IStageFill
    {
        bool Holds(int s);

        GramTensorCoreHeld Load(int s);

        void Store(in GramTensorCoreHeld held, int buffer);
    }

    /// <summary>
    /// A thread's 64 values of a held Gram stage, as loaded (unrounded): 8 runs of 4 for tile A, 8 for tile B (what a run
    /// holds is the fill's: <see cref="GramTensorCoreFill"/>, <see cref="GramTensorCoreBackwardFill"/>). Written out as
    /// fields: ILGPU keeps an array in local memory.
    /// </summary>
    private struct GramTensorCoreHeld
    {
        public SharedGemm.Float4 A0, A1, A2, A3, A4, A5, A6, A7, B0, B1, B2, B3, B4, B5, B6, B7;

        /// <summary>
        /// Run i (i = 0 … 7) of A from row a + i·<paramref name="aRow"/> of <paramref name="aSrc"/>, of B from row
        /// b + i·<paramref name="bRow"/> of <paramref name="bSrc"/>, each run 4 values <paramref name="step"/> apart
        /// (<see cref="Run"/>): the TF32 held loads of both Gram kernels.
        /// </summary>
        public static GramTensorCoreHeld Rows(View aSrc, int a, int aRow, View bSrc, int b, int bRow, int step) => new()
        {
            A0 = Run(aSrc, a, 0, step), A1 = Run(aSrc, a + aRow, 0, step), A2 = Run(aSrc, a + 2 * aRow, 0, step), A3 = Run(aSrc, a + 3 * aRow, 0, step),
            A4 = Run(aSrc, a + 4 * aRow, 0, step), A5 = Run(aSrc, a + 5 * aRow, 0, step), A6 = Run(aSrc, a + 6 * aRow, 0, step), A7 = Run(aSrc, a + 7 * aRow, 0, step),
            B0 = Run(bSrc, b, 0, step), B1 = Run(bSrc, b + bRow, 0, step), B2 = Run(bSrc, b + 2 * bRow, 0, step), B3 = Run(bSrc, b + 3 * bRow, 0, step),
            B4 = Run(bSrc, b + 4 * bRow, 0, step), B5 = Run(bSrc, b + 5 * bRow, 0, step), B6 = Run(bSrc, b + 6 * bRow, 0, step), B7 = Run(bSrc, b + 7 * bRow, 0, step),
        };

        /// <summary>
        /// src[index + at + i·<paramref name="step"/>] for i = 0 … 3, from one view at <paramref name="index"/>: with constant
        /// <paramref name="at"/> and <paramref name="step"/> the offsets ride in the loads.
        /// </summary>
        public static SharedGemm.Float4 Run(View src, int index, int at, int step)
        {
            var v = src.SubView(index, at + 3 * step + 1);
            return new SharedGemm.Float4 { X = v[at], Y = v[at + step], Z = v[at + 2 * step], W = v[at + 3 * step] };
        }
    }

    /// <summary>Value <paramref name="i"/> (0 … 3, a constant) of a held run.</summary>
    private static float Held(in SharedGemm.Float4 run, int i) => i == 0 ? run.X : i == 1 ? run.Y : i == 2 ? run.Z : run.W;

    /// <summary>Two held values rounded to BF16 and packed into one word (Bf16.RoundPack: <paramref name="low"/> in bits 0–15), as a float's bits.</summary>
    private static float PackedWord(float low, float high) => Interop.IntAsFloat(Bf16.RoundPack(low, high));

    /// <summary>
    /// Two held values rounded to TF32 (<see cref="Tf32.Round(float, int)"/>), as one pair of a tile (k-rows q and q + 4, or rows
    /// g and g + 8, side by side).
    /// </summary>
    private static SharedGemm.Float2 RoundedPair(float low, float high, int nearestEven) =>
        new() { X = Tf32.Round(low, nearestEven), Y = Tf32.Round(high, nearestEven) };

    /// <summary>B's fragments of a k-step whose pair (B[q][g], B[q + 4][g]) (first column tile) is at <paramref name="b"/> of a stage's view, every column kept.</summary>
    private static ColumnPairs Columns(ArrayView<SharedGemm.Float2> s, int b) => ColumnPairs.Paired(s, b, ColumnMasks.All);

    /// <summary>A's fragments of a k-step whose pair (A[g][q], A[g + 8][q]) (first row tile) is at <paramref name="a"/> of a stage's view.</summary>
    private static WarpRows Fragments(ArrayView<SharedGemm.Float2> s, int a) => WarpRows.RowPairs(s, a, 4 * TensorCoreStride / 2);

    /// <summary>
    /// Stage s: the 32 pixels from k0 = <c>pBegin</c> + 32·s of rows i0 … i0 + 63 (tile A) and j0 … j0 + 63 (tile B) of F,
    /// k-major; 0 past C or past the split's last pixel <c>pEnd</c>. Thread tid holds pixels k0 + r0 + 8·hi (r0 = tid mod 8,
    /// hi = 0 … 3) of rows rb + 8·lo (rb = ⌊tid / 8⌋, lo = 0 … 7) in both tiles: 8 consecutive threads read 8 consecutive
    /// pixels of a row (32-byte segments) and store them without bank conflicts. The share is fixed when the kernel
    /// starts and the 8 rows are written out, so a value costs its load, rounding and store and little index arithmetic.
    /// </summary>
    private readonly struct GramTensorCoreFill(View f, ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int c, int p, int pBegin, int pEnd, int i0, int j0, int tid,
        int bf16, int nearestEven, long fAddress) : IGramTensorCoreFill
    {
        /// <summary>Whether stage <paramref name="s"/> is interior: both tiles' 64 rows below C, its 32 pixels before pEnd.</summary>
        public bool Holds(int s) => (i0 + TensorCoreBlock <= c) & (j0 + TensorCoreBlock <= c) & (pBegin + (s + 1) * TensorCoreStageK <= pEnd);

        /// <summary>
        /// This thread's values of interior stage <paramref name="s"/>, Fill's share without tests: run lo of A is row
        /// i0 + rb + 8·lo (of B, row j0 + rb + 8·lo), its value hi pixel k0 + r0 + 8·hi — one view per row, the pixels
        /// constant offsets from it (the loads carry them).
        /// </summary>
        public GramTensorCoreHeld Load(int s)
        {
            if (bf16 != 0) return LoadPacked(s);
            int r0 = tid & 7, rb = tid >> 3, k = pBegin + s * TensorCoreStageK + r0, row8 = 8 * p;
            return GramTensorCoreHeld.Rows(f, (i0 + rb) * p + k, row8, f, (j0 + rb) * p + k, row8, 8);
        }

        /// <summary><see cref="Load"/>'s values rounded into buffer <paramref name="buffer"/>, where Put8 puts them.</summary>
        public void Store(in GramTensorCoreHeld held, int buffer)
        {
            if (bf16 != 0)
            {
                StorePacked(held, buffer);
                return;
            }
            int r0 = tid & 7, rb = tid >> 3;
            // A: k-row r0 + 8·hi's pair (rows rb + 16·i, rb + 16·i + 8) at a[hi·8·36 + 8·i]; B: its column rb + 8·lo at b[hi·4·136 + 16·lo].
            var a = pairs.SubView(buffer * (TensorCoreTileFloats / 2) + r0 * (TensorCoreStride / 2) + rb, 3 * 8 * (TensorCoreStride / 2) + 3 * 8 + 1);
            var b = shared.SubView((2 + buffer) * TensorCoreTileFloats + TensorCorePairIndex(r0, rb), 3 * 4 * TensorCorePairPitch + 7 * 16 + 1);
            StoreK(held, a, b, 0, nearestEven);
            StoreK(held, a, b, 1, nearestEven);
            StoreK(held, a, b, 2, nearestEven);
            StoreK(held, a, b, 3, nearestEven);
        }

        /// <summary>
        /// BF16: this thread's values of interior stage <paramref name="s"/>, FillPacked's share without tests — rows
        /// rb + 16·lo of A and of B (q = tid mod 4, rb = ⌊tid / 4⌋), pixels k0 + q + 4·v (v = 0 … 7): runs 2·lo and 2·lo + 1
        /// hold v = 0 … 3 and 4 … 7 (one view per row).
        /// </summary>
        private GramTensorCoreHeld LoadPacked(int s)
        {
            int q = tid & 3, rb = tid >> 2, k = pBegin + s * TensorCoreStageK + q, row16 = 16 * p;
            int a = (i0 + rb) * p + k, b = (j0 + rb) * p + k;
            return new GramTensorCoreHeld
            {
                A0 = Run4(a, 0), A1 = Run4(a, 16), A2 = Run4(a + row16, 0), A3 = Run4(a + row16, 16),
                A4 = Run4(a + 2 * row16, 0), A5 = Run4(a + 2 * row16, 16), A6 = Run4(a + 3 * row16, 0), A7 = Run4(a + 3 * row16, 16),
                B0 = Run4(b, 0), B1 = Run4(b, 16), B2 = Run4(b + row16, 0), B3 = Run4(b + row16, 16),
                B4 = Run4(b + 2 * row16, 0), B5 = Run4(b + 2 * row16, 16), B6 = Run4(b + 3 * row16, 0), B7 = Run4(b + 3 * row16, 16),
            };
        }

        /// <summary>f[index + at], f[index + at + 4], f[index + at + 8], f[index + at + 12] (one row's pixels v = at / 4 … + 3).</summary>
        private SharedGemm.Float4 Run4(int index, int at) => GramTensorCoreHeld.Run(f, index, at, 4);

        /// <summary>
        /// BF16: <see cref="LoadPacked"/>'s values rounded, packed and stored where FillPacked puts them: row rb + 16·lo's
        /// A words n = 0 … 3 (pixels v = 2n, 2n + 1) in word-rows q + 4·n; its B quads t = 0, 1 ((v = 4t, 4t + 1), (4t + 2, 4t + 3))
        /// in pair rows 4·t + q.
        /// </summary>
        private void StorePacked(in GramTensorCoreHeld h, int buffer)
        {
            int q = tid & 3, rb = tid >> 2;
            const int word = 4 * TensorCoreStride; // TensorCorePackedRow(8) word-rows on
            var a = shared.SubView(buffer * TensorCoreTileFloats + TensorCorePackedRow(q) * TensorCoreStride + TensorCoreRowPairColumn(rb), 3 * word + 48 + 1);
            var b = pairs.SubView((2 + buffer) * (TensorCoreTileFloats / 2) + (TensorCorePairIndex(q, rb) >> 1), 2 * TensorCorePairPitch + 48 + 1);
            PackedRow(a, b, h.A0, h.A1, h.B0, h.B1, 0);
            PackedRow(a, b, h.A2, h.A3, h.B2, h.B3, 16);
            PackedRow(a, b, h.A4, h.A5, h.B4, h.B5, 32);
            PackedRow(a, b, h.A6, h.A7, h.B6, h.B7, 48);
        }

        /// <summary>One row's A words and B quads (<see cref="StorePacked"/>), <paramref name="at"/> columns on (16·lo: rows 16 apart).</summary>
        private static void PackedRow(ArrayView<float> a, ArrayView<SharedGemm.Float2> b, in SharedGemm.Float4 a0, in SharedGemm.Float4 a1,
            in SharedGemm.Float4 b0, in SharedGemm.Float4 b1, int at)
        {
            const int word = 4 * TensorCoreStride;
            a[at] = PackedWord(a0.X, a0.Y);
            a[at + word] = PackedWord(a0.Z, a0.W);
            a[at + 2 * word] = PackedWord(a1.X, a1.Y);
            a[at + 3 * word] = PackedWord(a1.Z, a1.W);
            b[at] = new SharedGemm.Float2 { X = PackedWord(b0.X, b0.Y), Y = PackedWord(b0.Z, b0.W) };
            b[at + 2 * TensorCorePairPitch] = new SharedGemm.Float2 { X = PackedWord(b1.X, b1.Y), Y = PackedWord(b1.Z, b1.W) }; // pair row 4 + q
        }

        private static void StoreK(in GramTensorCoreHeld h, ArrayView<SharedGemm.Float2> a, ArrayView<float> b, int hi, int even)
        {
            int at = hi * 8 * (TensorCoreStride / 2), bt = hi * 4 * TensorCorePairPitch;
            a[at] = RoundedPair(Held(h.A0, hi), Held(h.A1, hi), even);
            a[at + 8] = RoundedPair(Held(h.A2, hi), Held(h.A3, hi), even);
            a[at + 16] = RoundedPair(Held(h.A4, hi), Held(h.A5, hi), even);
            a[at + 24] = RoundedPair(Held(h.A6, hi), Held(h.A7, hi), even);
            b[bt] = Tf32.Round(Held(h.B0, hi), even);
            b[bt + 16] = Tf32.Round(Held(h.B1, hi), even);
            b[bt + 32] = Tf32.Round(Held(h.B2, hi), even);
            b[bt + 48] = Tf32.Round(Held(h.B3, hi), even);
            b[bt + 64] = Tf32.Round(Held(h.B4, hi), even);
            b[bt + 80] = Tf32.Round(Held(h.B5, hi), even);
            b[bt + 96] = Tf32.Round(Held(h.B6, hi), even);
            b[bt + 112] = Tf32.Round(Held(h.B7, hi), even);
        }

        public void Fill<TPut>(int s, int buffer) where TPut : struct, IStagePut
        {
            if (bf16 != 0)
            {
                // cp.async moves bytes and cannot pack: BF16's values are loaded, rounded, packed and stored when the stage
                // is put (with gramasync=2 when it is issued, the same bytes).
                if (default(TPut).ReadsSource) FillPacked(s, buffer);
                return;
            }
            int r0 = tid & 7, rb = tid >> 3;
            // A: Float2 (rows rb + 16·i and rb + 16·i + 8 of k-row r0 + 8·hi: TensorCoreRowPairColumn) at aPair + hi·8·36 + 8·i;
            // B: k-row r0 + 8·hi, column rb + 8·j at bBase + hi·4·136 + 16·j (TensorCorePairIndex).
            // The 4 k-rows r0 + 8·hi written out (ILGPU keeps a loop as a loop: its index arithmetic every trip, and ptxas
            // cannot issue one trip's loads before the previous trip's stores).
            Put8<TPut>(s, buffer, 0);
            Put8<TPut>(s, buffer, 1);
            Put8<TPut>(s, buffer, 2);
            Put8<TPut>(s, buffer, 3);
        }

        /// <summary>This thread's 16 values of stage <paramref name="s"/>'s k-row r0 + 8·<paramref name="hi"/>: 8 rows of A (4 pairs), 8 columns of B (2 runs).</summary>
        private void Put8<TPut>(int s, int buffer, int hi) where TPut : struct, IStagePut
        {
            int r0 = tid & 7, rb = tid >> 3, first = j0 + rb, k = pBegin + s * TensorCoreStageK + r0 + 8 * hi;
            bool inside = k < pEnd;
            int aPair = buffer * (TensorCoreTileFloats / 2) + r0 * (TensorCoreStride / 2) + rb + hi * 8 * (TensorCoreStride / 2);
            StagePipeline.PutPairs<TPut>(shared, pairs, sharedAddress, aPair, 8, f, fAddress, new PairSources((i0 + rb) * p + k, 16 * p, 8 * p, inside, i0 + rb, 16, 8, c), 4,
                nearestEven);
            int dst = (2 + buffer) * TensorCoreTileFloats + TensorCorePairIndex(r0, rb) + hi * 4 * TensorCorePairPitch;
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, dst, 16, f, fAddress, first * p + k, 8 * p, inside, first, 8, c, nearestEven);
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, dst + 64, 16, f, fAddress, (first + 32) * p + k, 8 * p, inside, first + 32, 8, c, nearestEven);
        }

        /// <summary>
        /// BF16 stage s packed (<see cref="TensorCorePackedRow"/>): thread tid (q = tid mod 4, rb = ⌊tid / 4⌋) holds, of the
        /// 32 pixels from k0, pixels k0 + q + 8·n and 4 further (n = 0 … 3: word-row TensorCorePackedRow(q + 8·n) = q + 4·n) of rows rb + 16·lo (lo = 0 …
        /// 3) in tile A — one word each, 16 — and pixels k0 + 16·t + q, + 4, + 8, + 12 (t = 0, 1) of columns rb + 16·lo in
        /// tile B — one pair of words each, 8: 4 consecutive threads read 4 consecutive pixels of a row. 0 past C or past
        /// pEnd. Written out (ILGPU keeps loops, and their index arithmetic, as loops).
        /// </summary>
        private void FillPacked(int s, int buffer)
        {
            int q = tid & 3, rb = tid >> 2, k = pBegin + s * TensorCoreStageK + q;
            PackedRow(rb, k, buffer);
            PackedRow(rb + 16, k, buffer);
            PackedRow(rb + 32, k, buffer);
            PackedRow(rb + 48, k, buffer);
        }

        /// <summary>Row <paramref name="row"/> of tile A and column <paramref name="row"/> of tile B of <see cref="FillPacked"/>, from pixel <paramref name="k"/> = k0 + q.</summary>
        private void PackedRow(int row, int k, int buffer)
        {
            int q = tid & 3, i = i0 + row, j = j0 + row;
            // A: words n = 0 … 3 (pixels k + 8·n and 4 further) in word-rows TensorCorePackedRow(q + 8·n) = q + 4·n.
            StagePipeline.StorePackedWords(shared, buffer * TensorCoreTileFloats + TensorCorePackedRow(q) * TensorCoreStride + TensorCoreRowPairColumn(row),
                TensorCorePackedRow(8) * TensorCoreStride, f, new PairSources(i * p + k, 8, 4, i < c, k, 8, 4, pEnd));
            // B: steps t = 0, 1 of column `row` (its pair row 4·t + q: TensorCorePairIndex of k-row 8·t + q).
            var b = new PairSources(j * p + k, 16, 4, j < c, k, 16, 4, pEnd);
            StagePipeline.StoreQuads(pairs, (2 + buffer) * (TensorCoreTileFloats / 2) + (TensorCorePairIndex(q, row) >> 1), 2 * TensorCorePairPitch, f, b,
                b.Further(8, 1), 2);
        }
    }

    /// <summary>Writes G[i,j] and G[j,i] (scaled by <c>factor</c>, at <c>offset</c>); on a diagonal block only from i ≤ j.</summary>
    private readonly struct GramTensorCoreStore(View output, int c, int offset, float factor, int diagonal) : IFragmentStore
    {
        public void Store(MmaAccumulator v, int row, int col)
        {
            Put(row, col, v.C0);
            Put(row, col + 1, v.C1);
            Put(row + 8, col, v.C2);
            Put(row + 8, col + 1, v.C3);
        }

        private void Put(int i, int j, float v)
        {
            if (i >= c || j >= c || (diagonal != 0 && i > j)) return;
            float value = factor * v;
            output[offset + i * c + j] = value;
            if (i != j) output[offset + j * c + i] = value;
        }
    }

    /// <summary>
    /// Forward from the tensor-core kernel (TF32, or BF16 when <paramref name="bf16"/>; <paramref name="asyncBuffers"/>: 0 or 2 for cp.async): splits clamped to [1, ⌈P/32⌉],
    /// the rest as <see cref="ForwardTiled"/>. Throws <see cref="InvalidOperationException"/> on a device without tensor cores.
    /// </summary>
    private static void ForwardTensorCore(Tensor f, Tensor g, float scale, int splits, bool bf16, int asyncBuffers, bool? nearestEven = null)
    {
        string op = bf16 ? "gram (bf16 tensor cores)" : "gram (tf32 tensor cores)";
        ShapeCheck.BatchOne(op, "f", f.Shape);
        CheckGram(op, f, "g", g);
        var gpu = f.Gpu;
        Conv2d.RequireTensorCores(gpu, op);
        int c = f.Shape.C, p = f.Shape.Plane;
        int chunk = SplitChunk(p, TensorCoreStageK, ref splits);
        int blocks = Gpu.DivUp(c, TensorCoreBlock);
        int pairs = blocks * (blocks + 1) / 2;

        var mode = TensorCoreMode(gpu, op, bf16, asyncBuffers, nearestEven);
        // With cp.async stages, ILGPU's PTX goes through the depot rewrite before the driver loads it (RewrittenPtxKernels).
        var kernel = asyncBuffers > 0
            ? gpu.RewrittenPtxKernel<GramForwardLauncher>(ForwardTensorCoreKernel, mode)
            : gpu.Kernel(ForwardTensorCoreKernel,
                a => a.LoadKernel<SpecializedValue<int>, View, int, int, int, View, float, int, long>(ForwardTensorCoreKernel));
        long fAddress = AsyncCopy.DeviceAddress(f.View);
        RunSplitK((config, fv, cc, pp, chunkSize, output, s, direct) => kernel(gpu.Stream, config, mode, fv, cc, pp, chunkSize, output, s, direct, fAddress),
            new KernelConfig(new Index2D(pairs, splits), new Index2D(TensorCoreGroup, 1)), f, g, scale, chunk, splits);
    }
}
