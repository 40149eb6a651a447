// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs
using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels.TensorCores;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Tensor-core (TF32 or BF16) implicit GEMM for 3×3, stride 1, padding 1: the GEMM of Conv2dFast3x3.cs,
//   out[o, p] = Σ_k a[k·mp + o] · B[k, p],  k = c·9 + 3·kh + kw,  B[k, p] = in[c, y + kh − 1, x + kw − 1] (0 outside),
// with p = y·W + x the flattened pixel, computed by warp-level m16n8k8 TF32 products (TensorCores/WarpMma.cs) with FP32
// accumulation, a[k·mp + o] being the weights of the other fast-path kernels. Same entry points, so backward-data is
// this kernel with the transposed, flipped weights; its own weight operand holds them in fragment order
// (Conv2dTensorCoreOperand.cs).
//
// Blocking (ConvTiles kind=tf32: gx = warps along pixels WN ∈ {1, 2, 4}, gy = warps along channels WM ∈ {1, 2}):
//   group: 32·WM·WN threads; block tile BM × BN = 64·WM output channels × 32·WN consecutive pixels of the flattened image
//   (a block may span image rows); grid (⌈H·W / BN⌉, ⌈M / BM⌉). Warp (wmIdx, wnIdx) owns a 64 × 32 warp tile: 4 × 4 mma
//   tiles of 16 channels × 8 pixels, 16 accumulator fragments (64 floats per lane).
//   K loop: stages of 24 rows = 8 input channels × the 3 taps kw of one kernel row kh (stage s: channels 8·⌊s/3⌋ …,
//   kh = s mod 3). A stage is 3 mma k-steps (one per kw, 8 channels each). With BF16 (kind=bf16, ci=16: m16n8k16,
//   WarpMma.Bf16) a stage is 16 channels (channels 16·⌊s/3⌋ …), still one k-step per tap, its values packed two to a
//   32-bit word (channels c and c + 4: Conv2dTensorCoreOperand.cs, WarpTile64x32.StepPackedBf16), so its tiles have
//   TF32's words and places: half the stages, each twice the products, no packing in the loop.
//   B's stage is not im2col's 24 × BN but the 8 channels' input for the block's pixels and one more on each side (halo
//   tile: column c ↔ flattened pixel p0 − 1 + c, kernel row kh applied: in_flat[c0 + kc][p0 − 1 + c + (kh − 1)·W]):
//   since B[8·kw + kc, p] = in_flat[c][p + kw − 1 + (kh − 1)·W] whenever the tap stays inside the image row, tap kw reads
//   columns shifted by kw, each value loaded once instead of three times. A tap that leaves the row (x = 0 with kw = 0,
//   x = W − 1 with kw = 2) would read the neighbouring row's pixel: the warps zero those B values as they read them
//   (per-lane ColumnMasks fixed at kernel start). Channels past Cin and rows outside the image load as 0, the operand's
//   weights past the channels are 0, so any Cin, M, H, W works.
//   A's stage is the operand's run for stage s and the block's 64-channel groups, in fragment order (each lane's A
//   fragment of a row tile is one Float4: 4 LDS.128 per k-step, not 16 LDS; the warp reads 512 consecutive bytes, no
//   bank conflicts), copied as it lies.
//   Shared memory (static, 48 KiB): per warp the exchange area of the emulated product (unused on CUDA), two buffers of
//   the stage's A tile (24 × BM floats) and B tile (8 × (BN + 2) values). The B tile keeps the k-rows q and q + 4 that a
//   lane (g, q) reads for one mma (b0 = B[q][c], b1 = B[q + 4][c]) side by side: value (kc, c) at
//   (kc mod 4)·P + 2·c + ⌊kc / 4⌋, pair-row pitch P = 2·(BN + 2) + 4 ≡ 8 (mod 32), so a lane's B fragment is one 64-bit
//   read (12 LDS.64 a stage instead of 24 LDS) and each half-warp's reads (q = 0 … 3, four consecutive columns) hit 32
//   distinct banks. Deeper cp.async pipelines that do not fit 48 KiB (3 or
//   4 buffers of the 128 × 128 block: 48.4 and 64.5 KiB, beside 6 KiB of exchange areas) take dynamic shared memory instead, the exchange areas after
//   the tiles (TensorCoreDynamicShared; the launch asks for it, and on CUDA lets the kernel have it: DynamicSharedMemory.cs).
//   The weights are rounded to TF32 (cvt.rna) or BF16 (Bf16.Round, packed) when the operand is made, once per layer
//   (PreparedConv3x3) or per call; the input values once, when stored (with cp.async: in place, by the thread that
//   copied them; BF16's B values, which cp.async cannot pack, are loaded and stored as with register staging). On CUDA
//   sm_90+ TF32 rounds to nearest even instead, operand and stages alike (ConvTiles.Tf32NearestEven, set by the launch:
//   cvt.rn.tf32 is one SASS instruction there, cvt.rna four; 4 × 2's stage 221 → 206 instructions). Double buffering: the group fills the other buffer with the next stage (plain loads and stores: the
//   weights 16 bytes at a time — on CUDA one 128-bit load and store, their address 16-byte aligned, Run3x3 checks it;
//   each thread's share of a stage fixed at the start, TensorCoreFill), then computes the current one, then one
//   barrier. With 4 warps along pixels the next stage is held: its loads are issued before the current stage's products
//   and its values rounded and stored after them (TensorCoreFill.Load / Store, TensorCores/HeldStage.cs), so the loads'
//   latency passes under the products instead of before them; the same values in the same places, the same bytes.
//   The shared array is declared as Float4s (16-byte aligned) and used as floats.
//   With cp.async (ConvTiles.AsyncBuffers = N, 2, 3 or 4; AsyncCopy.cs): N buffers, the next N − 1 stages in flight while
//   the warps multiply (TensorCores/StagePipeline.cs); the im2col values arrive as FP32 and each thread rounds the ones
//   it copied in place once they have landed, before the barrier that publishes the stage, so the bytes equal the plain
//   double buffering's. With 4 buffers and ConvTiles.StagesPerBarrier = 2 (bar=2) stages are published two at a time:
//   half the barriers, the next 2 stages in flight.
//   Split-K (ConvTiles.SplitTarget, small maps; SplitK.cs): grid z cuts the stages into consecutive slices, each summed
//   into its own partial output without the epilogue, then added in order with it.
public static partial class Conv2d
{
    /// <summary>Output channels of one warp's tile in the tensor-core kernel (4 mma tiles of 16).</summary>
    internal const int TensorCoreWarpChannels = 64;

    /// <summary>Pixels of one warp's tile in the tensor-core kernel (4 mma tiles of 8).</summary>
    internal const int TensorCoreWarpPixels = 32;

    /// <summary>
    /// Input channels per stage of the tensor-core kernel of <paramref name="kind"/> (ConvTiles' ci): one mma k-step per
    /// tap, 8 for TF32 (m16n8k8), 16 for BF16 (m16n8k16).
    /// </summary>
    internal static int TensorCoreStageChannels(ConvKernelKind kind) => kind == ConvKernelKind.TensorCoreBf16 ? 16 : 8;

    /// <summary>
    /// 32-bit words a stage holds per output channel in the A tile (and per column in the B tile, in <see cref="TensorCorePairRows"/>
    /// pair rows): 3 taps × 8 TF32 channels, or 3 taps × 16 BF16 channels packed in pairs — the same bytes either way.
    /// </summary>
    private const int TensorCoreStageRows = 24;

    /// <summary>Pair rows of a B tile: q = 0 … 3, each holding a column's k-rows (q, q + 4) (TF32) or its BF16 pairs (q, q + 4), (q + 8, q + 12).</summary>
    private const int TensorCorePairRows = 4;

    /// <summary>Threads that load the halo's 16 words a stage (8 a side; TF32: one value each, BF16: one pair).</summary>
    private const int TensorCoreHaloThreads = 16;

    /// <summary>Floats after each pair row of the shared B tile (bank-conflict-free fragment reads: <see cref="TensorCorePairPitch"/>).</summary>
    private const int TensorCorePad = 4;

    /// <summary>
    /// The pitch of the B tile's pair rows (k-rows q and q + 4 side by side, <paramref name="bn"/> + 2 columns): 2·(bn + 2)
    /// + 4, ≡ 8 (mod 32) for bn = 32, 64, 128, so the 16 lanes (g &lt; 4, q) of a half-warp read 64 bits each from 32
    /// distinct banks.
    /// </summary>
    private static int TensorCorePairPitch(int bn) => 2 * (bn + 2) + TensorCorePad;

    /// <summary>Floats (32-bit words) of one B tile (<see cref="TensorCorePairRows"/> pair rows).</summary>
    private static int TensorCoreBFloats(int bn) => TensorCorePairRows * TensorCorePairPitch(bn);

    /// <summary>Static shared floats of the tensor-core kernel: 48 KiB, the most a CUDA group gets without dynamic shared memory.</summary>
    internal const int TensorCoreSharedFloats = 12 * 1024;

    /// <summary>Most warps of a tensor-core group (2 along channels × 4 along pixels).</summary>
    private const int TensorCoreMaxWarps = 8;

    /// <summary>
    /// Floats of the emulation's exchange areas (<see cref="WarpMma"/>: off CUDA a warp's product goes through shared
    /// memory; unused on CUDA), after the tiles.
    /// </summary>
    private const int TensorCoreExchangeFloats = TensorCoreMaxWarps * WarpMma.ExchangeFloats;

    /// <summary>Where the emulation's per-warp exchange areas start in the static shared array (after the tiles).</summary>
    private const int TensorCoreExchangeStart = TensorCoreSharedFloats - TensorCoreExchangeFloats;

    /// <summary>
    /// The most shared floats a tensor-core group takes with dynamic shared memory (tiles and exchange areas): 96 KiB. Every
    /// GPU of compute capability ≥ 8.0 — the tensor-core kernels' — lets a group opt in to at least 99 KiB (CUDA C++
    /// Programming Guide, "Technical Specifications per Compute Capability": 8.6, 8.9 and 12.x 99 KiB, 8.0 and 8.7 163 KiB,
    /// 9.0 and 10.x 227 KiB), so a blocking within it runs on all of them.
    /// </summary>
    internal const int TensorCoreDynamicSharedFloats = 24 * 1024;

    /// <summary>
    /// Whether tiles needing <paramref name="need"/> shared floats (<see cref="TensorCoreSharedNeed"/>) take dynamic shared
    /// memory: when they do not fit the static array beside the exchange areas. Only cp.async pipelines of 3 or more
    /// buffers get there (ConvTiles.Validate): a 128 × 128 block's 3 take 49.9 KiB.
    /// </summary>
    internal static bool TensorCoreDynamicShared(int need) => need > TensorCoreTileFloats;

    /// <summary>The dynamic shared floats a launch of tiles needing <paramref name="need"/> requests: the tiles, then the exchange areas.</summary>
    internal static int TensorCoreDynamicFloats(int need) => need + TensorCoreExchangeFloats;

    /// <summary>Whether tiles needing <paramref name="need"/> shared floats fit the kernel: statically, or in <see cref="TensorCoreDynamicSharedFloats"/>.</summary>
    internal static bool TensorCoreSharedFits(int need) => TensorCoreDynamicFloats(need) <= TensorCoreDynamicSharedFloats;

    /// <summary>
    /// Shared floats the tiles of a <paramref name="bm"/> × <paramref name="bn"/> block need (two buffers of both, or
    /// <paramref name="asyncBuffers"/> with cp.async); at most <see cref="TensorCoreTileFloats"/> in the static array, else
    /// dynamic (<see cref="TensorCoreDynamicShared"/>).
    /// </summary>
    internal static int TensorCoreSharedNeed(int bm, int bn, int asyncBuffers) =>
        new StagePipeline(asyncBuffers).Buffers * (TensorCoreStageRows * bm + TensorCoreBFloats(bn));

    /// <summary>The shared floats of a tensor-core blocking's tiles (<see cref="TensorCoreSharedNeed(int, int, int)"/> of its block).</summary>
    internal static int TensorCoreSharedNeed(ConvTiles t) => TensorCoreSharedNeed(t.GroupChannels, TensorCoreWarpPixels * t.GroupX, t.AsyncBuffers);

    /// <summary>The epilogue flags of the tensor-core and shared-SGEMM kernels: + bias, ReLU, add to the output.</summary>
    internal const int EpilogueBias = 1, EpilogueRelu = 2, EpilogueAccumulate = 4;

    /// <summary>Where the tensor-core kernel's epilogue argument holds the stages per split-K slice.</summary>
    private const int TensorCoreSliceShift = 8;

    /// <summary>
    /// Stages of the tensor-core kernel's reduction over <paramref name="cin"/> channels: ⌈cin / c⌉ chunks × 3 kernel rows,
    /// c = <see cref="TensorCoreStageChannels"/>(<paramref name="kind"/>).
    /// </summary>
    internal static int TensorCoreStages(int cin, ConvKernelKind kind) => Gpu.DivUp(cin, TensorCoreStageChannels(kind)) * 3;

    /// <summary>Shared floats available to the tiles (the rest holds the emulation's exchange areas).</summary>
    internal const int TensorCoreTileFloats = TensorCoreExchangeStart;

    /// <summary>
    /// out[o, p] (+)= Σ_k a[k·mp + o] · B[k, p] (+ bias, ReLU) with TF32 tensor-core products (see the file comment), the
    /// weights <paramref name="weights"/> = <see cref="TensorCoreOperand"/> with <paramref name="groups"/> 64-channel groups.
    /// Group 32·WM·WN threads (1-D); grid (⌈H·W / (32·WN)⌉, ⌈cout / (64·WM)⌉, split-K slices). <paramref name="epilogue"/>:
    /// EpilogueBias | EpilogueRelu | EpilogueAccumulate, and from bit <see cref="TensorCoreSliceShift"/> on the stages per
    /// split-K slice (grid z; all of them for one slice; SplitK.cs). <paramref name="inputAddress"/>, <paramref name="weightsAddress"/>:
    /// the device addresses of input and weights, for cp.async (AsyncCopy.cs).
    /// </summary>
    private static void TensorCore3x3Kernel(
        SpecializedValue<ConvTiles> tiles, int cin, int cout, int groups, int h, int w,
        View input, View weights, View bias, int epilogue, View output, long inputAddress, long weightsAddress)
    {
        var t = tiles.Value;
        bool bf16 = t.Kind == ConvKernelKind.TensorCoreBf16;
        var pipeline = new StagePipeline(t.AsyncBuffers, t.StagesPerBarrier);
        int wn = t.GroupX, wm = t.GroupY, buffers = pipeline.Buffers;
        int threads = 32 * wm * wn, bm = TensorCoreWarpChannels * wm, bn = TensorCoreWarpPixels * wn;
        int sp = TensorCorePairPitch(bn);
        int aFloats = TensorCoreStageRows * bm, bFloats = TensorCoreBFloats(bn);
        // The kernel's only shared array (AsyncCopy names it), of Float4s so that PTX declares it 16-byte aligned (the weight
        // stages' 16-byte copies and stores); used as floats. Static, 48 KiB, unless the tiles need more: then dynamic, as
        // big as the launch asks (TensorCoreDynamicFloats; the specialized tiles make the choice a constant, and ILGPU drops
        // the other allocation).
        int need = TensorCoreSharedNeed(bm, bn, t.AsyncBuffers);
        bool dynamicShared = TensorCoreDynamicShared(need);
        var shared4 = dynamicShared ? SharedMemory.GetDynamic<SharedGemm.Float4>() : SharedMemory.Allocate<SharedGemm.Float4>(TensorCoreSharedFloats / 4);
        var shared = shared4.Cast<float>();
        var pairs = shared4.Cast<SharedGemm.Float2>(); // B's pairs (TensorCorePairPitch)

        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31;
        int wmIdx = warp / wn, wnIdx = warp - wmIdx * wn;
        int hw = h * w, p0 = Grid.IdxX * bn, o0 = Grid.IdxY * bm;

        // The pixel this thread loads into the B tile (column nLoad + 1; bn divides threads: channels tid / bn + j·wm).
        int nLoad = tid & (bn - 1), rLoad = tid / bn; // bn, bm: powers of two (a remainder would cost ptxas a division)
        // Split-K (grid z; the stages per slice in epilogue's upper bits): this group's stages are first … first + stages − 1.
        int perSlice = epilogue >> TensorCoreSliceShift, first = Grid.IdxZ * perSlice;
        int stages = IntrinsicMath.Min(TensorCoreStages(cin, t.Kind) - first, perSlice);
        // cp.async's destinations: the shared array's address, read once (AsyncCopy.SharedArrayAddress).
        uint sharedAddress = pipeline.Copy != 0 ? AsyncCopy.SharedArrayAddress() : 0u;
        var fill = new TensorCoreFill(input, weights, shared, shared4, pairs, sharedAddress, cin, w, hw, sp, aFloats, buffers * aFloats, bFloats,
            (groups * TensorCoreGroupFloats) >> 2, (Grid.IdxY * wm * TensorCoreGroupFloats) >> 2, threads, nLoad, rLoad, wm, p0, bn, tid,
            bf16 ? 1 : 0, t.Tf32NearestEven ? 1 : 0, inputAddress, weightsAddress, first);

        pipeline.Prologue(fill, stages);
        // Register staging holds the next stage in registers while the warps multiply (TensorCoreHeld) where that costs no
        // occupancy on Hopper: with 4 warps along pixels (a thread's share: 3 weight runs + 4 or 8 inputs) ptxas 12.4 keeps
        // TF32 at 128 registers (sm_90) without spills, as before, and BF16 4 × 2 at 128 (since its stages are 16 channels,
        // 8 inputs a thread, as TF32 4 × 1); with 2 or 1 warps along pixels (6 or 12 weight runs) it took 138–168, and BF16
        // 4 × 1 138 with half today's inputs (168 with its 16, since interior stages hold no validity: stop 57) — fewer
        // groups per SM —, so those store as they load (the tuner's cp.async variants hide that latency instead).
        // PtxasTests holds every variant to 128 on sm_90 (on sm_80 TF32 4 × 1 took 130 until interior stages held no
        // validity, now 127: four groups of 4 warps per SM on an A100). A launch bound of 256 × 2 made ptxas spill TF32
        // 4 × 2 instead.
        bool held = pipeline.Copy == 0 && wn == 4 && (wm == 2 || !bf16);
        var acc = default(WarpTile64x32);
        var exchange = shared.SubView((dynamicShared ? need : TensorCoreExchangeStart) + warp * WarpMma.ExchangeFloats, WarpMma.ExchangeFloats);
        int g = lane >> 2, q = lane & 3;
        // The lane's B columns 8·j + g (j = 0 … 3) are pixels p0 + wnIdx·32 + 8·j + g: tap kw = 0 reads nothing at x = 0,
        // kw = 2 nothing at x = W − 1 (there the halo tile holds the neighbouring row's pixel).
        int pLane = p0 + wnIdx * TensorCoreWarpPixels + g;
        int x0 = pLane % w, x1 = (pLane + 8) % w, x2 = (pLane + 16) % w, x3 = (pLane + 24) % w;
        var left = new ColumnMasks(KeepUnless(x0 == 0), KeepUnless(x1 == 0), KeepUnless(x2 == 0), KeepUnless(x3 == 0));
        var right = new ColumnMasks(KeepUnless(x0 == w - 1), KeepUnless(x1 == w - 1), KeepUnless(x2 == w - 1), KeepUnless(x3 == w - 1));
        for (int s = 0; s < stages; s++)
        {
            // Held register staging: stage s + 1's loads go out now and their values are stored after this stage's products
            // (HeldStage.cs); else StagePipeline.Advance (cp.async, or register staging that stores as it loads).
            // (The last stage loads itself again, unused, rather than branch around the loads: one branch and its path
            // of zeroed registers less in every stage.)
            var next = default(TensorCoreHeld);
            if (!held) pipeline.Advance(fill, s, stages);
            else next = fill.Load(IntrinsicMath.Min(s + 1, stages - 1));
            int buffer = pipeline.Buffer(s);
            // This warp's A fragments (fragment order: Conv2dTensorCoreOperand.cs), tap kw's TensorCoreTapFloat4s further.
            // One view per stage and operand, every read a constant offset from it: ILGPU widens an index to 64 bits before
            // adding it to an address, so s4[aStart + c] costs an addition and a shift per read (24 of the stage's 277
            // SASS instructions at gx=4 gy=2 went to such addresses), a view's [c] none (the load carries c).
            int aStart = ((buffer * aFloats + wmIdx * TensorCoreGroupFloats) >> 2) + lane;
            var aStage = shared4.SubView(aStart, 3 * TensorCoreTapFloat4s - 31); // up to tap 2's row tile 3 (+ 2·128 + 96)
            // Tap kw's B values: the halo tile's columns shifted by kw (column n + kw holds pixel p0 + n + kw − 1), this
            // lane's pair row q (B[q][c], B[q + 4][c]) as Float2s.
            var bStage = pairs.SubView(((buffers * aFloats + buffer * bFloats + q * sp) >> 1) + wnIdx * TensorCoreWarpPixels + g, TensorCoreBStageSpan);
            if (bf16)
            {
                // 16 channels a tap, packed in pairs: one m16n8k16 step each.
                acc = acc.StepPackedBf16(Tap(aStage, 0), ColumnPairs.Paired(bStage, 0, left), exchange);            // kw = 0
                acc = acc.StepPackedBf16(Tap(aStage, 1), ColumnPairs.Paired(bStage, 1, ColumnMasks.All), exchange); // kw = 1
                acc = acc.StepPackedBf16(Tap(aStage, 2), ColumnPairs.Paired(bStage, 2, right), exchange);           // kw = 2
            }
            else
            {
                acc = acc.Step(Tap(aStage, 0), ColumnPairs.Paired(bStage, 0, left), exchange);              // kw = 0
                acc = acc.Step(Tap(aStage, 1), ColumnPairs.Paired(bStage, 1, ColumnMasks.All), exchange);   // kw = 1
                acc = acc.Step(Tap(aStage, 2), ColumnPairs.Paired(bStage, 2, right), exchange);             // kw = 2
            }
            if (held && s + 1 < stages) fill.Store(next, pipeline.Buffer(s + 1));
            pipeline.Finish();
        }

        var store = new TensorCoreEpilogue(SplitK.Slice(output, cout * hw), bias, epilogue, cout, hw);
        acc.Store(store, o0 + wmIdx * TensorCoreWarpChannels + g, p0 + wnIdx * TensorCoreWarpPixels + 2 * q);
    }

    /// <summary>Float4s of one tap's A fragments in a stage of one 64-channel group (4 row tiles × 32 lanes).</summary>
    private const int TensorCoreTapFloat4s = 4 * 32;

    /// <summary>The warp's A fragments of tap <paramref name="kw"/> from <paramref name="aStage"/>, the view at its tap 0's Float4 of this lane.</summary>
    private static WarpRows Tap(ArrayView<SharedGemm.Float4> aStage, int kw) => WarpRows.FragmentOrder(aStage, kw * TensorCoreTapFloat4s);

    /// <summary>
    /// Float2s a lane's view of a B stage spans (from its pair (B[q][g], B[q + 4][g]) of tap 0): taps shift it by up to 2
    /// columns, a warp tile's 4 column tiles by 24.
    /// </summary>
    private const int TensorCoreBStageSpan = 2 + 24 + 1;

    /// <summary>
    /// A B column's AND mask (<see cref="ColumnMasks"/>): 0 when its tap falls off the image's edge, else ~0; pinned before
    /// the K loop (else ILGPU recomputes it, remainders included, in every stage).
    /// </summary>
    private static uint KeepUnless(bool offEdge) => Pinned.Value(offEdge ? 0u : ~0u);

    /// <summary>
    /// Fills one stage of the A (weights in fragment order, already rounded: <see cref="StagePipeline.Put4Runs"/> stores them as
    /// read) and B (im2col: <see cref="StagePipeline.Put"/>, loaded and rounded to TF32 (BF16: packed, StoreQuads), or
    /// copied by cp.async as FP32 and rounded in place later: <see cref="IStageFill"/>'s three ways) tiles into a shared buffer; the
    /// B tiles start at <c>bTiles</c>.
    /// Each thread's share is fixed when the kernel starts, so a value costs its load and store and little index
    /// arithmetic: in A, the stage's run of the block's 64-channel groups (<see cref="TensorCoreOperand"/>: contiguous,
    /// zero-padded, so no bounds) copied as it lies, Float4s tid, tid + threads, … (on CUDA 128-bit loads or 16-byte
    /// copies); in B's halo tile, one pixel (column nLoad + 1) of channels rLoad, rLoad + wm, …, and threads 0 … 15 one
    /// halo value each (channel tid / 2, the column left of the block's pixels or right of them).
    /// </summary>
    private readonly struct TensorCoreFill(
        View input, View weights, ArrayView<float> shared, ArrayView<SharedGemm.Float4> shared4, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int cin, int w, int hw,
        int sp, int aFloats, int bTiles, int bFloats, int stageFloat4s, int blockFloat4s, int threads, int nLoad, int rLoad, int wm,
        int p0, int bn, int tid, int bf16, int nearestEven, long inputAddress, long weightsAddress, int firstStage) : IStageFill
    {
        /// <summary>
        /// Stage <paramref name="s"/> of this slice, stage k = firstStage + s of the reduction (channels 8·⌊k/3⌋ …, kernel
        /// row k mod 3), into buffer <paramref name="buffer"/>: the A tile as the operand holds it (the block's groups, in
        /// fragment order), k-row kc of the B tile channel c0 + kc.
        /// </summary>
        public void Fill<TPut>(int s, int buffer) where TPut : struct, IStagePut
        {
            var at = Source(s);
            // A: the operand's Float4s k·G·384 + (the block's first group)·384 + j (G·384 = stageFloat4s), j < 384·wm
            // (= aFloats / 4; threads divides it), this thread's j = tid, tid + threads, …; the weights come rounded, so
            // they are stored (or copied) as read.
            StagePipeline.Put4Runs<TPut>(shared, sharedAddress, shared4, ADestination(buffer), weights, weightsAddress, at.A, ARuns, 4 * threads);
            // 8 / wm channels in 4 / wm pairs (wm is 1 or 2, a compile-time constant): channels rLoad + i·wm and 4 further,
            // side by side in pair row rLoad + i·wm. Written out: as a loop, ptxas kept the one-trip loop of wm = 2 with its
            // counter and j·… products.
            if (bf16 == 0)
            {
                StagePipeline.PutPairs<TPut>(shared, pairs, sharedAddress, BDestination(buffer) >> 1, wm * sp >> 1, input, inputAddress, BSources(at),
                    PairsPerThread, nearestEven);
                if (tid < TensorCoreHaloThreads)
                {
                    var halo = Halo(at, tid >> 1);
                    StagePipeline.Put<TPut>(shared, sharedAddress, HaloDestination(buffer), input, inputAddress, halo.Index, halo.Valid, nearestEven);
                }
                return;
            }
            // BF16: B's values packed two to a word, which cp.async cannot do: loaded, rounded, packed and stored when the
            // stage is put, whichever way A goes (with cp.async, A's copies still land while the warps multiply).
            if (!default(TPut).ReadsSource) return;
            var b = BSources(at);
            StagePipeline.StoreQuads(pairs, BDestination(buffer) >> 1, wm * sp >> 1, input, b, b.Further(8, hw), PairsPerThread);
            if (tid < TensorCoreHaloThreads)
                shared[HaloDestination(buffer)] = HeldStage.Pair.Load(input, HaloPair(at), 0).PackedBf16();
        }

        /// <summary>
        /// Register staging's first half: this thread's values of stage <paramref name="s"/> — <see cref="Fill{TPut}"/>'s
        /// share, the same loads — into registers, not yet rounded or stored (<see cref="Store"/>), so that their loads are
        /// in flight while the warps multiply the stage before.
        /// </summary>
        public TensorCoreHeld Load(int s)
        {
            var at = Source(s);
            var held = default(TensorCoreHeld);
            held.A = HeldStage.Runs.Load(weights.SubView(at.A, (ARuns - 1) * 4 * threads + 4), ARuns, 4 * threads);
            if (at.C0 + (bf16 != 0 ? 16 : 8) <= cin)
            {
                // An interior stage (every channel exists: all of VGG19's but conv1_1's): this thread's values differ only in
                // their channel, so one address stepped by wm channels, loaded only when the row is inside the image (zeros
                // else). BSources' pairs: channels c + i·wm and c + i·wm + 4 (4 = count·wm).
                held.B = HeldStage.Pairs.LoadInterior(input, at.B, wm * hw, at.Inside, PairsPerThread);
                if (bf16 != 0) held.BHigh = HeldStage.Pairs.LoadInterior(input, at.B + 8 * hw, wm * hw, at.Inside, PairsPerThread);
            }
            else
            {
                // Zeroed now, so that both ways hold the same form: no validity across the products (the selects wait for
                // the loads, in the stages that miss channels only).
                var b = BSources(at);
                held.B = HeldStage.Pairs.Load(input, b, PairsPerThread).Zeroed();
                if (bf16 != 0) held.BHigh = HeldStage.Pairs.Load(input, b.Further(8, hw), PairsPerThread).Zeroed();
            }
            if (bf16 != 0)
            {
                if (tid < TensorCoreHaloThreads) held.HaloPair = HeldStage.Pair.Load(input, HaloPair(at), 0);
            }
            else if (tid < TensorCoreHaloThreads)
            {
                var halo = Halo(at, tid >> 1);
                held.HaloValid = halo.Valid;
                held.Halo = input[halo.Valid ? halo.Index : 0];
            }
            return held;
        }

        /// <summary>Register staging's second half: <paramref name="held"/> (<see cref="Load"/>'s) rounded and stored into buffer <paramref name="buffer"/>, where Fill would have put it.</summary>
        public void Store(in TensorCoreHeld held, int buffer)
        {
            int step = 4 * threads;
            held.A.Store(shared4.SubView(ADestination(buffer) >> 2, (ARuns - 1) * (step >> 2) + 1), ARuns, step);
            int pairStep = wm * sp >> 1; // pair rows wm apart, in Float2s
            var to = pairs.SubView(BDestination(buffer) >> 1, (PairsPerThread - 1) * pairStep + 1);
            if (bf16 != 0)
            {
                held.B.StorePacked(to, pairStep, PairsPerThread, held.BHigh);
                if (tid < TensorCoreHaloThreads) shared[HaloDestination(buffer)] = held.HaloPair.PackedBf16();
                return;
            }
            held.B.Store(to, pairStep, PairsPerThread, nearestEven);
            if (tid < TensorCoreHaloThreads)
                shared[HaloDestination(buffer)] = Tf32.Round(held.HaloValid ? held.Halo : 0f, nearestEven);
        }

        /// <summary>
        /// B pairs per thread (2 or 4), one in each of the pair rows rLoad + i·wm: TF32 its 8 / wm channels of one pixel,
        /// two a pair; BF16 its 16 / wm, four a pair (<see cref="StagePipeline.StoreQuads"/>).
        /// </summary>
        private int PairsPerThread => 4 / wm;

        /// <summary>
        /// This thread's B values of a stage read <paramref name="at"/>: pair i is channels channel + i·wm and 4 further (0
        /// past Cin or outside the rows); BF16 quad i is that pair and the one 8 channels further (<see cref="PairSources.Further"/>).
        /// </summary>
        private PairSources BSources(TensorCoreSource at) => new(at.B, wm * hw, 4 * hw, at.Inside, at.Channel, wm, 4, cin);

        /// <summary>Float4 runs of the A tile per thread: aFloats / 4 / threads (12 / WN).</summary>
        private int ARuns => (aFloats >> 2) / threads;

        /// <summary>
        /// Where this thread reads stage <paramref name="s"/> of this slice, stage k = firstStage + s of the reduction
        /// (channels c0 = 8·⌊k/3⌋ …, kernel row kh = k mod 3): B[kc][col] ↔ in_flat[c0 + kc][p0 − 1 + col + (kh − 1)·W],
        /// 0 outside the image's rows (or past its channels).
        /// </summary>
        private TensorCoreSource Source(int s)
        {
            int k = firstStage + s, chunk = ConstantDivision.Quotient(k, 3), kh = k - chunk * 3, c0 = chunk * (bf16 != 0 ? 16 : 8);
            int shift = (kh - 1) * w, src = p0 + nLoad + shift, channel = c0 + rLoad;
            return new TensorCoreSource(4 * (k * stageFloat4s + blockFloat4s + tid), channel * hw + src, channel,
                (uint)src < (uint)hw /* 0 ≤ src < H·W in one comparison */, c0, shift);
        }

        /// <summary>
        /// A halo value of threads 0 … 15 (channel c0 + <paramref name="kc"/>; column 0, pixel p0 − 1, for even tid, column
        /// bn + 1, pixel p0 + bn, for odd): its input index, and whether it exists (inside the image's rows, below Cin).
        /// TF32: kc = tid / 2, one value a thread.
        /// </summary>
        private HaloSource Halo(TensorCoreSource at, int kc)
        {
            int src = HaloPixel(at);
            return new HaloSource((at.C0 + kc) * hw + src, ((uint)src < (uint)hw) & (at.C0 + kc < cin));
        }

        /// <summary>The flattened pixel of this thread's halo column, the stage's row shift applied (inside the rows when 0 ≤ it &lt; H·W).</summary>
        private int HaloPixel(TensorCoreSource at) => ((tid & 1) != 0 ? p0 + bn : p0 - 1) + at.Shift;

        /// <summary>
        /// BF16: the halo pair of threads 0 … 15, the word at <see cref="HaloDestination"/>: pair row q = (tid / 2) mod 4,
        /// word h = tid / 8, so channels c0 + q + 8·h and 4 further.
        /// </summary>
        private PairSources HaloPair(TensorCoreSource at)
        {
            int kc = ((tid >> 1) & 3) + 8 * (tid >> 3), src = HaloPixel(at);
            return new PairSources((at.C0 + kc) * hw + src, 0, 4 * hw, (uint)src < (uint)hw, at.C0 + kc, 0, 4, cin);
        }

        /// <summary>This thread's first A float in buffer <paramref name="buffer"/>.</summary>
        private int ADestination(int buffer) => buffer * aFloats + 4 * tid;

        /// <summary>
        /// This thread's first B pair in buffer <paramref name="buffer"/>: k-rows rLoad and rLoad + 4 (rLoad &lt; wm ≤ 2), column
        /// nLoad + 1 of the halo tile — an even float index (bTiles, bFloats and the pitch are even).
        /// </summary>
        private int BDestination(int buffer) => bTiles + buffer * bFloats + rLoad * sp + 2 * (nLoad + 1);

        /// <summary>
        /// The halo word's place in buffer <paramref name="buffer"/> (threads 0 … 15, kc = tid / 2: TF32 k-row kc, BF16 pair
        /// row kc mod 4, word ⌊kc / 4⌋; see <see cref="Halo"/>, <see cref="HaloPair"/>).
        /// </summary>
        private int HaloDestination(int buffer)
        {
            int kc = tid >> 1;
            return bTiles + buffer * bFloats + (kc & 3) * sp + (kc >> 2) + 2 * ((tid & 1) * (bn + 1));
        }
    }

    /// <summary>
    /// Where a thread reads one stage (<see cref="TensorCoreFill"/>): A's first Float4 index in the operand, B's first input
    /// index with its channel and whether its pixel's row is inside the image, the stage's first channel and row shift.
    /// </summary>
    private readonly struct TensorCoreSource(int a, int b, int channel, bool inside, int c0, int shift)
    {
        public readonly int A = a, B = b, Channel = channel, C0 = c0, Shift = shift;
        public readonly bool Inside = inside;
    }

    /// <summary>A halo value's input index and whether it exists (<see cref="TensorCoreFill"/>).</summary>
    private readonly struct HaloSource(int index, bool valid)
    {
        public readonly int Index = index;
        public readonly bool Valid = valid;
    }

    /// <summary>A stage's share of one thread held in registers between <see cref="TensorCoreFill.Load"/> and <see cref="TensorCoreFill.Store"/>.</summary>
    private struct TensorCoreHeld
    {
        public HeldStage.Runs A;
        public HeldStage.Pairs B, BHigh; // BHigh: BF16's pairs 8 channels further
        public float Halo;
        public bool HaloValid;
        public HeldStage.Pair HaloPair; // BF16
    }

    /// <summary>Writes one C fragment (c0 = [o][p], c1 = [o][p + 1], c2 = [o + 8][p], c3 = [o + 8][p + 1]): + bias, ReLU, store or add.</summary>
    private readonly struct TensorCoreEpilogue(View output, View bias, int flags, int channels, int hw) : IFragmentStore
    {
        public void Store(MmaAccumulator c, int o, int p)
        {
            Put(o, p, c.C0);
            Put(o, p + 1, c.C1);
            Put(o + 8, p, c.C2);
            Put(o + 8, p + 1, c.C3);
        }

        private void Put(int o, int p, float v)
        {
            if (o >= channels || p >= hw) return;
            if ((flags & EpilogueBias) != 0) v += bias[o];
            if ((flags & EpilogueRelu) != 0) v = IntrinsicMath.Max(v, 0f);
            Output.Store(output, o * hw + p, v, (flags & EpilogueAccumulate) != 0 ? 1 : 0);
        }
    }
}
