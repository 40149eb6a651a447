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
// one 64 × 32 warp tile (WarpTile64x32). Stages of 32 pixels (4 mma k-steps): both 64-row slices of F, k-major in shared
// memory (row stride 72: bank-conflict-free fragment reads), rounded to TF32 when stored, two buffers (the next stage is
// loaded while the current one is multiplied, one barrier per stage: TensorCoreProduct, which takes the stage loads
// as an IStageFill), or with cp.async (plan key gramasync=2, mode bit TensorCoreAsync) copied unrounded into the two
// buffers while the current stage is multiplied and rounded in place by the thread that copied them once they have
// landed (TensorCores/StagePipeline.cs; the same bytes). Three buffers would
// need 57 KB of shared memory, past the 48 KB of a static array. Loads: 8 consecutive pixels of 4 rows per warp
// (32-byte segments), stored with 2-way bank conflicts. Split-K over the pixels exactly as the tiled kernel
// (GramTiled.cs): one split writes scale·G, more write unscaled partials that SumSplitsKernel adds in split order.
// Exact symmetry: an off-diagonal block writes G[i,j] and G[j,i] from the same accumulator; a diagonal block writes
// only i ≤ j and mirrors it. The backward runs on the same loop: GramTensorCoreBackward.cs.
public static partial class Gram
{
    /// <summary>Side of the G block of one tensor-core group.</summary>
    internal const int TensorCoreBlock = 64;

    /// <summary>K per shared-memory stage (pixels in the forward, channels in the backward): 4 mma k-steps.</summary>
    private const int TensorCoreStageK = 32;

    /// <summary>Row stride of the shared tiles: 64 + 8 (≡ 8 mod 32 banks).</summary>
    private const int TensorCoreStride = TensorCoreBlock + 8;

    /// <summary>Work-items per group: 2 warps.</summary>
    internal const int TensorCoreGroup = 64;

    /// <summary>Floats of one tile (32 k-rows × 64, padded) in one buffer.</summary>
    private const int TensorCoreTileFloats = TensorCoreStageK * TensorCoreStride;

    /// <summary>Shared floats: A and B tiles × 2 buffers, then the 2 warps' exchange areas of the emulated product.</summary>
    private const int TensorCoreSharedFloats = 4 * TensorCoreTileFloats + 2 * WarpMma.ExchangeFloats;

    /// <summary>The Gram tensor-core kernels' mode (a compile-time constant): BF16 products, cp.async stages (2 buffers).</summary>
    internal const int TensorCoreBf16Mode = 1, TensorCoreAsync = 2;

    /// <summary>The mode of a Gram tensor-core launch (<see cref="TensorCoreBf16Mode"/> | <see cref="TensorCoreAsync"/>).</summary>
    private static SpecializedValue<int> TensorCoreMode(bool bf16, int asyncBuffers)
    {
        if (asyncBuffers is not (0 or 2))
            throw new ArgumentException($"gram (tensor cores): {asyncBuffers} cp.async buffers; 0 or 2 are supported.");
        return SpecializedValue.New((bf16 ? TensorCoreBf16Mode : 0) | (asyncBuffers != 0 ? TensorCoreAsync : 0));
    }

    /// <summary>
    /// Forward from the tensor-core kernel <paramref name="kind"/> (TensorCoreTf32 or TensorCoreBf16) with
    /// <paramref name="asyncBuffers"/> cp.async buffers (0 or 2) instead of the plan's <see cref="TuningPlan.GramAsyncBuffers"/>
    /// (tests, bench); otherwise as <see cref="Forward(Tensor, Tensor, float, GramKernelKind, int)"/>.
    /// </summary>
    public static void ForwardTensorCore(Tensor f, Tensor g, float scale, GramKernelKind kind, int splits, int asyncBuffers)
    {
        if (!kind.IsTensorCore()) throw new ArgumentException($"gram: {kind} is not a tensor-core kernel.");
        ForwardTensorCore(f, g, scale, splits, kind == GramKernelKind.TensorCoreBf16, asyncBuffers);
    }

    /// <summary>
    /// Grid (pairs, splits), group 64 (see the file comment). <paramref name="direct"/> ≠ 0: output = G (scale·sum);
    /// else output[split·C·C + …] = the unscaled partial sum of the split's pixels. <paramref name="mode"/>:
    /// TensorCoreBf16Mode | TensorCoreAsync; <paramref name="fAddress"/>: f's device address, for cp.async.
    /// </summary>
    private static void ForwardTensorCoreKernel(SpecializedValue<int> mode, View f, int c, int p, int chunk, View output, float scale, int direct,
        long fAddress)
    {
        var shared = SharedMemory.Allocate<float>(TensorCoreSharedFloats); // the kernel's only shared array (AsyncCopy names it)
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;

        // Grid.IdxX enumerates the blocks (bi, bj), bi ≤ bj, row by row.
        int blocks = (c + TensorCoreBlock - 1) / TensorCoreBlock;
        int bi = 0, rest = Grid.IdxX;
        while (rest >= blocks - bi) { rest -= blocks - bi; bi++; }
        int bj = bi + rest;

        int pBegin = Grid.IdxY * chunk, pEnd = IntrinsicMath.Min(p, pBegin + chunk);
        int stages = (pEnd - pBegin + TensorCoreStageK - 1) / TensorCoreStageK;
        int bf16 = mode.Value & TensorCoreBf16Mode;
        uint sharedAddress = (mode.Value & TensorCoreAsync) != 0 ? AsyncCopy.SharedArrayAddress() : 0u; // once: cp.async's destinations
        var fill = new GramTensorCoreFill(f, shared, sharedAddress, c, p, pBegin, pEnd, bi * TensorCoreBlock, bj * TensorCoreBlock, tid, bf16, fAddress);
        var acc = TensorCoreProduct(fill, shared, stages, tid, mode.Value);

        var store = new GramTensorCoreStore(output, c, direct != 0 ? 0 : Grid.IdxY * c * c, direct != 0 ? scale : 1f, bi == bj ? 1 : 0);
        acc.Store(store, bi * TensorCoreBlock + g, bj * TensorCoreBlock + warp * 32 + 2 * q);
    }

    /// <summary>
    /// The main loop of both Gram tensor-core kernels, for a group of 2 warps: the 64 × 64 product A·B over
    /// <paramref name="stages"/> stages of 32 k, double-buffered (<see cref="StagePipeline"/>: the next stage is stored — or
    /// copied by cp.async with <see cref="TensorCoreAsync"/> — while the current one is multiplied). <paramref name="fill"/>
    /// puts stage s (32 k-rows) into a buffer, k-major: A[m][k] at buffer·TileFloats + k·72 + m (m &lt; 64), B[k][n] at
    /// (2 + buffer)·TileFloats + k·72 + n (n &lt; 64); 0 outside the matrices. Returns warp w's 64 × 32 tile (columns 32·w …
    /// of B), summed over k in ascending order. <paramref name="mode"/> has <see cref="TensorCoreBf16Mode"/>: BF16 products,
    /// 2 m16n8k16 steps per stage instead of 4 TF32 ones.
    /// </summary>
    private static WarpTile64x32 TensorCoreProduct<TFill>(TFill fill, ArrayView<float> shared, int stages, int tid, int mode)
        where TFill : struct, IStageFill
    {
        int warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
        var pipeline = new StagePipeline((mode & TensorCoreAsync) != 0 ? 2 : 0);
        pipeline.Prologue(fill, stages);
        var acc = default(WarpTile64x32);
        var exchange = shared.SubView(4 * TensorCoreTileFloats + warp * WarpMma.ExchangeFloats, WarpMma.ExchangeFloats);
        const int K8 = 8 * TensorCoreStride; // one mma k-step further
        for (int s = 0; s < stages; s++)
        {
            pipeline.Advance(fill, s, stages);
            int buffer = pipeline.Buffer(s);
            // One view per stage and operand at the lane's first value (A's 64 rows; this warp's 32 columns of B): every read
            // is a constant offset from it, which the loads carry (an index a + c would cost an addition and a shift each:
            // ILGPU widens an index to 64 bits before adding it to an address).
            var a = shared.SubView(buffer * TensorCoreTileFloats + q * TensorCoreStride + g, 3 * K8 + 4 * TensorCoreStride + 57);
            var b = shared.SubView((2 + buffer) * TensorCoreTileFloats + q * TensorCoreStride + warp * 32 + g, 3 * K8 + 4 * TensorCoreStride + 25);
            if ((mode & TensorCoreBf16Mode) != 0)
            {
                acc = acc.StepBf16(Fragments(a, 0), Fragments(a, K8), Columns(b, 0), Columns(b, K8), exchange, 0);
                acc = acc.StepBf16(Fragments(a, 2 * K8), Fragments(a, 3 * K8), Columns(b, 2 * K8), Columns(b, 3 * K8), exchange, 0);
            }
            else
            {
                acc = acc.Step(Fragments(a, 0), Columns(b, 0), exchange);
                acc = acc.Step(Fragments(a, K8), Columns(b, K8), exchange);
                acc = acc.Step(Fragments(a, 2 * K8), Columns(b, 2 * K8), exchange);
                acc = acc.Step(Fragments(a, 3 * K8), Columns(b, 3 * K8), exchange);
            }
            pipeline.Finish();
        }
        return acc;
    }

    /// <summary>B's fragments of a k-step whose B[q][g] (first column tile) is at <paramref name="b"/> of a k-major stage's view, every column kept.</summary>
    private static ColumnPairs Columns(ArrayView<float> s, int b) => ColumnPairs.KMajor(s, b, TensorCoreStride, ColumnMasks.All);

    /// <summary>A's fragments of a k-step whose A[g][q] (first row tile) is at <paramref name="a"/> of a k-major stage's view.</summary>
    private static WarpRows Fragments(ArrayView<float> stage, int a) => WarpRows.KMajor(stage, a, TensorCoreStride);

    /// <summary>
    /// Stage s: the 32 pixels from k0 = <c>pBegin</c> + 32·s of rows i0 … i0 + 63 (tile A) and j0 … j0 + 63 (tile B) of F,
    /// k-major; 0 past C or past the split's last pixel <c>pEnd</c>. Thread tid holds pixels k0 + r0 + 8·hi (r0 = tid mod 8,
    /// hi = 0 … 3) of rows rb + 8·lo (rb = ⌊tid / 8⌋, lo = 0 … 7) in both tiles: 8 consecutive threads read 8 consecutive
    /// pixels of a row (32-byte segments) and store them with 2-way bank conflicts. The share is fixed when the kernel
    /// starts and the 8 rows are written out, so a value costs its load, rounding and store and little index arithmetic.
    /// </summary>
    private readonly struct GramTensorCoreFill(View f, ArrayView<float> shared, uint sharedAddress, int c, int p, int pBegin, int pEnd, int i0, int j0, int tid,
        int bf16, long fAddress) : IStageFill
    {
        public void Fill<TPut>(int s, int buffer) where TPut : struct, IStagePut
        {
            int r0 = tid & 7, rb = tid >> 3;
            int aBase = buffer * TensorCoreTileFloats + r0 * TensorCoreStride + rb, bBase = aBase + 2 * TensorCoreTileFloats;
            for (int hi = 0; hi < TensorCoreStageK / 8; hi++)
            {
                int k = pBegin + s * TensorCoreStageK + r0 + 8 * hi, at = hi * 8 * TensorCoreStride;
                bool inside = k < pEnd;
                Rows<TPut>(aBase + at, i0 + rb, k, inside);
                Rows<TPut>(bBase + at, j0 + rb, k, inside);
            }
        }

        /// <summary>Pixel k of rows first, first + 8, …, first + 56 of F into shared[dst], dst + 8, …, dst + 56 (0 past C or when not inside).</summary>
        private void Rows<TPut>(int dst, int first, int k, bool inside) where TPut : struct, IStagePut
        {
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, dst, 8, f, fAddress, first * p + k, 8 * p, inside, first, 8, c, bf16);
            StagePipeline.PutRun4<TPut>(shared, sharedAddress, dst + 32, 8, f, fAddress, (first + 32) * p + k, 8 * p, inside, first + 32, 8, c, bf16);
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
    private static void ForwardTensorCore(Tensor f, Tensor g, float scale, int splits, bool bf16, int asyncBuffers)
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

        var mode = TensorCoreMode(bf16, asyncBuffers);
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
