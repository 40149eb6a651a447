// Test: through the kernels that use it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs, GramTensorCoreTests.cs)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// Fills stage s of a tensor-core kernel's K loop into one of its shared buffers, in one of three ways of putting the values:
/// each of <see cref="StagePipeline"/>'s five fill sites inlines only its own way's code. A copy mode passed as a value
/// made every site inline all three: the unspecialized convolution, which ILGPU optimizes once before specializing it,
/// had 158 635 IR values after inlining, now 105 637 (its O2 4.7 → 3.5 s on a Zen 5; the same PTX for every variant:
/// doc/PERFORMANCE.md, stop 49): the way is a type argument, <see cref="IStagePut"/>.
/// </summary>
internal interface IStageFill
{
    /// <summary>
    /// Every value of stage <paramref name="s"/> into buffer <paramref name="buffer"/>, each put by <typeparamref name="TPut"/>:
    /// loaded, rounded and stored (<see cref="StagePipeline.StoreRounded"/>), copied unrounded by cp.async
    /// (<see cref="StagePipeline.CopyAsync"/>), or, once this thread's copies have landed, rounded in place (<see cref="StagePipeline.RoundCopied"/>).
    /// </summary>
    void Fill<TPut>(int s, int buffer) where TPut : struct, IStagePut;
}

/// <summary>
/// How a fill puts its values (a struct type argument, so the choice is made by the C# compiler, not left to ILGPU's
/// optimizer): <see cref="Value"/> one value, shared[dst] ← valid ? src[index] : 0; <see cref="Pair"/> two side by side,
/// pairs[pair] ← pair i of a <see cref="PairSources"/>, 0 where a value does not exist (floats 2·pair and 2·pair + 1 of
/// the same array, one 64-bit store or read where that is how the values are put); <see cref="Run"/> run i of a
/// <see cref="StagePipeline.Put4Runs"/> call, four values already in the kernel's format.
/// </summary>
internal interface IStagePut
{
    /// <summary>
    /// Whether this way reads the values from their source (<see cref="StagePipeline.StoreRounded"/>,
    /// <see cref="StagePipeline.CopyAsync"/>) rather than finishing what an earlier way put (<see cref="StagePipeline.RoundCopied"/>).
    /// </summary>
    bool ReadsSource { get; }

    /// <remarks><paramref name="nearestEven"/> (here and in <see cref="Pair"/>): the TF32 rounding, <see cref="Tf32.Round(float, int)"/>'s.</remarks>
    void Value(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid, int nearestEven);

    void Pair(ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int pair, ArrayView1D<float, Stride1D.Dense> src,
        long srcAddress, PairSources from, int i, int nearestEven);

    void Run(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> to, int dst, ArrayView1D<float, Stride1D.Dense> src,
        ArrayView1D<float, Stride1D.Dense> from, long fromAddress, int index, int step, int i);
}

/// <summary>
/// The staging of the tensor-core kernels' K loops (conv, Gram forward and backward), around the warps' products of
/// stage s from buffer <see cref="Buffer"/>(s):
/// <code>
/// Prologue(fill, stages)
/// for s in 0 … stages − 1:  Advance(fill, s, stages);  multiply stage s;  Finish()
/// </code>
/// Without cp.async (<see cref="Copy"/> = 0; 2 buffers): stage 0 is stored and published before the loop; Advance stores
/// stage s + 1 into the other buffer (loaded into registers, rounded, stored: <see cref="Put"/>), Finish is the barrier after which both
/// buffers change hands. With cp.async (N = <see cref="Buffers"/> buffers, 2, 3 or 4): the prologue issues stages 0 … N − 2,
/// one commit group each; Advance waits for this thread's copies of stage s (every group but the newest N − 2), rounds
/// the values it copied in place (cp.async moves FP32 unchanged; rounded once here, not by every warp at every read of
/// them — the conv's B values are read by 3 taps), then a barrier publishes everyone's — and every warp has finished
/// stage s − 1, so Advance issues stage s + N − 1 into its buffer and commits (an empty group past the last stage keeps
/// the count); Finish does nothing. The copies of the next N − 1 stages land while the warps multiply. Either way the
/// warps read stages rounded to the kernel's format, the same values.
/// With cp.async and G = <see cref="StagesPerBarrier"/> = 2 (N = 4; 2·G ≤ N): stages are published two at a time, half the
/// barriers. The prologue issues stages 0 … N − G − 1; Advance at even s waits for this thread's copies of stages s and
/// s + 1 (all but the newest N − 2·G groups), rounds both, one barrier publishes them — and every warp has finished
/// stages s − 2 and s − 1 — then issues stages s + N − G and s + N − 1 into those two buffers; at odd s it does nothing.
/// The copies of the next N − G stages land while the warps multiply two.
/// </summary>
internal readonly struct StagePipeline(int asyncBuffers, int stagesPerBarrier = 1)
{
    /// <summary>1 when the stages are filled by cp.async.</summary>
    public int Copy => asyncBuffers != 0 ? 1 : 0;

    /// <summary>Shared buffers per tile: the cp.async buffers, or 2.</summary>
    public int Buffers => asyncBuffers != 0 ? asyncBuffers : 2;

    /// <summary>Stages published by one barrier: 1, or 2 with cp.async (N ≥ 4 buffers).</summary>
    public int StagesPerBarrier => asyncBuffers != 0 && stagesPerBarrier == 2 ? 2 : 1;

    /// <summary>
    /// The buffer holding stage <paramref name="s"/>: s mod <see cref="Buffers"/> (2, 3 or 4), without PTX's rem (which
    /// ptxas leaves to a reciprocal sequence: ConstantDivision).
    /// </summary>
    public int Buffer(int s) => Buffers == 3 ? s - 3 * ConstantDivision.Quotient(s, 3) : s & (Buffers - 1);

    public void Prologue<TFill>(TFill fill, int stages) where TFill : struct, IStageFill
    {
        if (Copy == 0)
        {
            if (stages > 0) fill.Fill<StoreRounded>(0, 0);
            Group.Barrier();
            return;
        }
        for (int i = 0; i < Buffers - StagesPerBarrier; i++)
        {
            if (i < stages) fill.Fill<CopyAsync>(i, i);
            AsyncCopy.Commit();
        }
    }

    public void Advance<TFill>(TFill fill, int s, int stages) where TFill : struct, IStageFill
    {
        if (Copy == 0)
        {
            if (s + 1 < stages) fill.Fill<StoreRounded>(s + 1, Buffer(s + 1));
            return;
        }
        int group = StagesPerBarrier;
        if ((s & (group - 1)) != 0) return; // published with stage s − 1
        AsyncCopy.WaitAllButNewest(Buffers - 2 * group);
        fill.Fill<RoundCopied>(s, Buffer(s)); // this thread's copies have landed (visible to it); the barrier publishes them rounded
        if (group > 1 && s + 1 < stages) fill.Fill<RoundCopied>(s + 1, Buffer(s + 1));
        Group.Barrier();
        int next = s + Buffers - group;
        if (next < stages) fill.Fill<CopyAsync>(next, Buffer(next));
        AsyncCopy.Commit();
        if (group == 1) return;
        if (next + 1 < stages) fill.Fill<CopyAsync>(next + 1, Buffer(next + 1));
        AsyncCopy.Commit();
    }

    /// <summary>Loads a value, rounds it to TF32 and stores it (BF16 stages are packed: <see cref="StoreQuads"/>).</summary>
    public readonly struct StoreRounded : IStagePut
    {
        public bool ReadsSource => true;

        public void Value(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid,
            int nearestEven)
        {
            // Loaded whether valid or not (from element 0 when not: src is never empty), then selected: no branch per value,
            // which ILGPU would emit for valid ? src[index] : 0 and ptxas keeps.
            float v = src[valid ? index : 0];
            shared[dst] = Tf32.Round(valid ? v : 0f, nearestEven);
        }

        public void Pair(ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int pair, ArrayView1D<float, Stride1D.Dense> src,
            long srcAddress, PairSources from, int i, int nearestEven) =>
            pairs[pair] = HeldStage.Pair.Load(src, from, i).Rounded(nearestEven); // held register staging's load and rounding, stored at once

        public void Run(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> to, int dst, ArrayView1D<float, Stride1D.Dense> src,
            ArrayView1D<float, Stride1D.Dense> from, long fromAddress, int index, int step, int i) =>
            to[i * (step >> 2)] = GlobalLoad.Float4(from, i * step);
    }

    /// <summary>Copies a value unrounded by cp.async (AsyncCopy.Float; srcAddress is src's device address); a later <see cref="RoundCopied"/> rounds it.</summary>
    public readonly struct CopyAsync : IStagePut
    {
        public bool ReadsSource => true;

        public void Value(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid,
            int nearestEven) =>
            AsyncCopy.Float(shared, sharedAddress, dst, src, srcAddress, index, valid);

        public void Pair(ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int pair, ArrayView1D<float, Stride1D.Dense> src,
            long srcAddress, PairSources from, int i, int nearestEven)
        {
            AsyncCopy.Float(shared, sharedAddress, 2 * pair, src, srcAddress, from.Low(i), from.LowValid(i));
            AsyncCopy.Float(shared, sharedAddress, 2 * pair + 1, src, srcAddress, from.High(i), from.HighValid(i));
        }

        public void Run(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> to, int dst, ArrayView1D<float, Stride1D.Dense> src,
            ArrayView1D<float, Stride1D.Dense> from, long fromAddress, int index, int step, int i) =>
            AsyncCopy.Float4(shared, sharedAddress, dst + i * step, src, index + i * step, fromAddress + 4L * (i * step));
    }

    /// <summary>Rounds in place a value this thread copied (src, index and valid unused); runs are in the format already: nothing.</summary>
    public readonly struct RoundCopied : IStagePut
    {
        public bool ReadsSource => false;

        public void Value(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid,
            int nearestEven) =>
            shared[dst] = Tf32.Round(shared[dst], nearestEven);

        public void Pair(ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int pair, ArrayView1D<float, Stride1D.Dense> src,
            long srcAddress, PairSources from, int i, int nearestEven)
        {
            var v = pairs[pair];
            pairs[pair] = new SharedGemm.Float2 { X = Tf32.Round(v.X, nearestEven), Y = Tf32.Round(v.Y, nearestEven) };
        }

        public void Run(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> to, int dst, ArrayView1D<float, Stride1D.Dense> src,
            ArrayView1D<float, Stride1D.Dense> from, long fromAddress, int index, int step, int i)
        {
        }
    }

    /// <summary>One value of a stage: shared[<paramref name="dst"/>] ← <paramref name="valid"/> ? src[<paramref name="index"/>] : 0, as <typeparamref name="TPut"/> puts it.</summary>
    public static void Put<TPut>(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid,
        int nearestEven) where TPut : struct, IStagePut =>
        default(TPut).Value(shared, sharedAddress, dst, src, srcAddress, index, valid, nearestEven);

    /// <summary>
    /// A run of four values, each through <see cref="Put"/>: shared[dst + i·dstStep] ← src[index + i·srcStep] for i = 0 … 3,
    /// value i valid when <paramref name="valid"/> and at + i·atStep &lt; limit (the channel or row it stands for exists).
    /// The fills write their shares out in such runs (ILGPU's loops stay loops in ptxas's code); with constant steps the
    /// shared offsets fold into the stores.
    /// </summary>
    public static void PutRun4<TPut>(ArrayView<float> shared, uint sharedAddress, int dst, int dstStep, ArrayView1D<float, Stride1D.Dense> src, long srcAddress,
        int index, int srcStep, bool valid, int at, int atStep, int limit, int nearestEven) where TPut : struct, IStagePut
    {
        Put<TPut>(shared, sharedAddress, dst, src, srcAddress, index, valid & (at < limit), nearestEven);
        Put<TPut>(shared, sharedAddress, dst + dstStep, src, srcAddress, index + srcStep, valid & (at + atStep < limit), nearestEven);
        Put<TPut>(shared, sharedAddress, dst + 2 * dstStep, src, srcAddress, index + 2 * srcStep, valid & (at + 2 * atStep < limit), nearestEven);
        Put<TPut>(shared, sharedAddress, dst + 3 * dstStep, src, srcAddress, index + 3 * srcStep, valid & (at + 3 * atStep < limit), nearestEven);
    }

    /// <summary>
    /// <paramref name="count"/> (2 or 4, a constant of the kernel's specialized shape) pairs of values side by side, each
    /// through <typeparamref name="TPut"/>'s <see cref="IStagePut.Pair"/>: pair i is pairs[pair + i·pairStep] ← the values
    /// <paramref name="from"/> names for it (<see cref="PairSources"/>): tiles whose k-rows q and q + 4 lie side by side
    /// (Conv2dTensorCoreKernel.cs, GramTensorCoreBackward.cs). <paramref name="pairs"/> is the kernel's shared array as
    /// Float2s (its float 2·p + h is <paramref name="shared"/>[2·p + h]).
    /// </summary>
    public static void PutPairs<TPut>(ArrayView<float> shared, ArrayView<SharedGemm.Float2> pairs, uint sharedAddress, int pair, int pairStep,
        ArrayView1D<float, Stride1D.Dense> src, long srcAddress, PairSources from, int count, int nearestEven) where TPut : struct, IStagePut
    {
        var put = default(TPut);
        put.Pair(shared, pairs, sharedAddress, pair, src, srcAddress, from, 0, nearestEven);
        put.Pair(shared, pairs, sharedAddress, pair + pairStep, src, srcAddress, from, 1, nearestEven);
        if (count <= 2) return;
        put.Pair(shared, pairs, sharedAddress, pair + 2 * pairStep, src, srcAddress, from, 2, nearestEven);
        put.Pair(shared, pairs, sharedAddress, pair + 3 * pairStep, src, srcAddress, from, 3, nearestEven);
    }

    /// <summary>
    /// <paramref name="count"/> (2 or 4, a constant of the kernel's specialized shape) BF16 quads, loaded, rounded, packed
    /// and stored: pairs[pair + i·pairStep] ← (bf16x2 of <paramref name="low"/>'s pair i, bf16x2 of <paramref name="high"/>'s
    /// pair i) (<see cref="HeldStage.Pair.PackedBf16"/>: one 64-bit store of four values). cp.async moves bytes and cannot
    /// pack, so the BF16 convolution stores its B tile this way whichever way its A tile goes.
    /// </summary>
    public static void StoreQuads(ArrayView<SharedGemm.Float2> pairs, int pair, int pairStep, ArrayView1D<float, Stride1D.Dense> src,
        PairSources low, PairSources high, int count)
    {
        StoreQuad(pairs, pair, src, low, high, 0);
        StoreQuad(pairs, pair + pairStep, src, low, high, 1);
        if (count <= 2) return;
        StoreQuad(pairs, pair + 2 * pairStep, src, low, high, 2);
        StoreQuad(pairs, pair + 3 * pairStep, src, low, high, 3);
    }

    /// <summary>
    /// Four BF16 words, loaded, rounded, packed and stored: shared[dst + i·dstStep] ← bf16x2 of <paramref name="from"/>'s
    /// pair i (<see cref="HeldStage.Pair.PackedBf16"/>), i = 0 … 3 (the Gram kernels' BF16 A tiles; written out, as
    /// <see cref="Put4Runs"/>: the offsets ride in the stores).
    /// </summary>
    public static void StorePackedWords(ArrayView<float> shared, int dst, int dstStep, ArrayView1D<float, Stride1D.Dense> src, PairSources from)
    {
        shared[dst] = HeldStage.Pair.Load(src, from, 0).PackedBf16();
        shared[dst + dstStep] = HeldStage.Pair.Load(src, from, 1).PackedBf16();
        shared[dst + 2 * dstStep] = HeldStage.Pair.Load(src, from, 2).PackedBf16();
        shared[dst + 3 * dstStep] = HeldStage.Pair.Load(src, from, 3).PackedBf16();
    }

    private static void StoreQuad(ArrayView<SharedGemm.Float2> pairs, int pair, ArrayView1D<float, Stride1D.Dense> src, PairSources low, PairSources high, int i) =>
        pairs[pair] = HeldStage.Pair.Packed(HeldStage.Pair.Load(src, low, i), HeldStage.Pair.Load(src, high, i));

    /// <summary>
    /// <paramref name="count"/> runs of four consecutive values of a stage that are already in the kernel's format
    /// (rounded before the kernel: the convolution's weights), stored as read: shared[dst + i·step … + 3] ←
    /// src[index + i·step … + 3] for i = 0 … count − 1 — each read as one 128-bit load (<see cref="GlobalLoad.Float4"/>)
    /// and stored as one (<paramref name="shared4"/>: the same array as Float4s, 16-byte aligned), or copied as one 16-byte
    /// cp.async (<see cref="AsyncCopy.Float4"/>): on CUDA <paramref name="srcAddress"/> must be a multiple of 16;
    /// <paramref name="index"/>, <paramref name="dst"/> and <paramref name="step"/> are multiples of 4. With
    /// <see cref="RoundCopied"/> nothing: they are in the format already. <paramref name="count"/> is at most 12 (the
    /// convolution's A share, 12 / WN Float4s: ConvTiles allows WN = 1, 2, 4) and a constant of the kernel's specialized
    /// shape, as is <paramref name="step"/>. Written out, not a loop: ILGPU keeps a loop's i·step as an index computation,
    /// 64-bit widening and address per run (ptxas: ~19 instructions per 16 bytes); unrolled, the offsets are constants from
    /// one view at each end and ride in the loads and stores.
    /// </summary>
    public static void Put4Runs<TPut>(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> shared4, int dst, ArrayView1D<float, Stride1D.Dense> src,
        long srcAddress, int index, int count, int step) where TPut : struct, IStagePut
    {
        var runs = new Float4Runs<TPut>(shared, sharedAddress, shared4.SubView(dst >> 2, (count - 1) * (step >> 2) + 1), dst, src,
            src.SubView(index, (count - 1) * step + 4), srcAddress + 4L * index, index, step);
        runs.Put(0);
        if (count > 1) runs.Put(1);
        if (count > 2) runs.Put(2);
        if (count > 3) runs.Put(3);
        if (count > 4) runs.Put(4);
        if (count > 5) runs.Put(5);
        if (count > 6) runs.Put(6);
        if (count > 7) runs.Put(7);
        if (count > 8) runs.Put(8);
        if (count > 9) runs.Put(9);
        if (count > 10) runs.Put(10);
        if (count > 11) runs.Put(11);
    }

    /// <summary>
    /// The runs of one <see cref="Put4Runs"/> call: <c>to</c> and <c>from</c> are views at its first run's two ends,
    /// <c>fromAddress</c> is the device address of its first source value.
    /// </summary>
    private readonly struct Float4Runs<TPut>(ArrayView<float> shared, uint sharedAddress, ArrayView<SharedGemm.Float4> to, int dst, ArrayView1D<float, Stride1D.Dense> src,
        ArrayView1D<float, Stride1D.Dense> from, long fromAddress, int index, int step) where TPut : struct, IStagePut
    {
        public void Put(int i) => default(TPut).Run(shared, sharedAddress, to, dst, src, from, fromAddress, index, step, i);
    }

    public void Finish()
    {
        if (Copy == 0) Group.Barrier();
    }
}

/// <summary>
/// Where the values of a run of pairs come from (<see cref="StagePipeline.PutPairs"/>, <see cref="HeldStage.Pairs"/>): pair
/// i is (src[index + i·srcStep], src[index + i·srcStep + hiStep]), its first value valid when <c>valid</c> and
/// at + i·atStep &lt; limit, its second when at + i·atStep + hiAt &lt; limit too (the channel or row it stands for exists).
/// </summary>
internal readonly struct PairSources(int index, int srcStep, int hiStep, bool valid, int at, int atStep, int hiAt, int limit)
{
    public int Low(int i) => index + i * srcStep;

    public int High(int i) => index + i * srcStep + hiStep;

    public bool LowValid(int i) => valid & (at + i * atStep < limit);

    public bool HighValid(int i) => valid & (at + i * atStep + hiAt < limit);

    /// <summary>The same pairs <paramref name="rows"/> rows (channels) further: sources <paramref name="rows"/>·<paramref name="rowStep"/> on.</summary>
    public PairSources Further(int rows, int rowStep) => new(index + rows * rowStep, srcStep, hiStep, valid, at + rows, atStep, hiAt, limit);
}
