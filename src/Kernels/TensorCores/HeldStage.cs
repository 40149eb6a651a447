// Test: through the kernel that uses it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs: register
// staging's bytes on the CPU simulator and the PTX interpreter; tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs: no spills)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// A stage's values held in registers between their loads and their stores (register staging with the loads in flight
/// while the warps multiply: the tensor-core convolution's <c>Load</c> / <c>Store</c>). Loading and storing in one go,
/// as <see cref="StagePipeline.StoreRounded"/> does, makes each store wait for its load: every warp of the group sat a
/// global load's latency (hundreds of cycles) per stage before its products, ptxas 12.4's SASS of the conv's K loop had
/// its LDGs, then its STSs, then the HMMAs. Held, the loads of stage s + 1 are issued before the products of stage s
/// and stored after them.
/// </summary>
internal static class HeldStage
{
    /// <summary>
    /// Up to 12 runs of four values already in the kernel's format (<see cref="StagePipeline.Put4Runs"/>'s: the weights),
    /// run i from <c>from[i·step …]</c> to <c>to[i·step / 4]</c>; <c>count</c> (≤ 12) and <c>step</c> are constants of the
    /// kernel's specialized shape, so the runs past <c>count</c> are neither loaded nor stored (written out: ILGPU keeps a
    /// loop's index arithmetic, see Put4Runs).
    /// </summary>
    public struct Runs
    {
        public SharedGemm.Float4 R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11;

        public static Runs Load(ArrayView1D<float, Stride1D.Dense> from, int count, int step)
        {
            var r = default(Runs);
            r.R0 = GlobalLoad.Float4(from, 0);
            if (count > 1) r.R1 = GlobalLoad.Float4(from, step);
            if (count > 2) r.R2 = GlobalLoad.Float4(from, 2 * step);
            if (count > 3) r.R3 = GlobalLoad.Float4(from, 3 * step);
            if (count > 4) r.R4 = GlobalLoad.Float4(from, 4 * step);
            if (count > 5) r.R5 = GlobalLoad.Float4(from, 5 * step);
            if (count > 6) r.R6 = GlobalLoad.Float4(from, 6 * step);
            if (count > 7) r.R7 = GlobalLoad.Float4(from, 7 * step);
            if (count > 8) r.R8 = GlobalLoad.Float4(from, 8 * step);
            if (count > 9) r.R9 = GlobalLoad.Float4(from, 9 * step);
            if (count > 10) r.R10 = GlobalLoad.Float4(from, 10 * step);
            if (count > 11) r.R11 = GlobalLoad.Float4(from, 11 * step);
            return r;
        }

        public readonly void Store(ArrayView<SharedGemm.Float4> to, int count, int step)
        {
            int s4 = step >> 2;
            to[0] = R0;
            if (count > 1) to[s4] = R1;
            if (count > 2) to[2 * s4] = R2;
            if (count > 3) to[3 * s4] = R3;
            if (count > 4) to[4 * s4] = R4;
            if (count > 5) to[5 * s4] = R5;
            if (count > 6) to[6 * s4] = R6;
            if (count > 7) to[7 * s4] = R7;
            if (count > 8) to[8 * s4] = R8;
            if (count > 9) to[9 * s4] = R9;
            if (count > 10) to[10 * s4] = R10;
            if (count > 11) to[11 * s4] = R11;
        }
    }

    /// <summary>
    /// Up to four pairs of a <see cref="StagePipeline.PutPairs"/> call, as loaded (unrounded) with whether each value exists:
    /// pair i is (src[index + i·srcStep], src[index + i·srcStep + hiStep]), its values valid when <c>valid</c> and
    /// at + i·atStep (+ hiAt) &lt; limit; <see cref="Store"/> rounds them (0 where invalid) into one Float2 each,
    /// <c>to[i·step]</c>. <c>count</c> (2 or 4) is a constant of the kernel's specialized shape. The rounding waits for the
    /// load, so it is the store's.
    /// </summary>
    public struct Pairs
    {
        public float L0, L1, L2, L3, H0, H1, H2, H3;
        public bool KL0, KL1, KL2, KL3, KH0, KH1, KH2, KH3;

        public static Pairs Load(ArrayView1D<float, Stride1D.Dense> src, int index, int srcStep, int hiStep, bool valid, int at, int atStep,
            int hiAt, int limit, int count)
        {
            var r = default(Pairs);
            r.KL0 = valid & (at < limit);
            r.KH0 = valid & (at + hiAt < limit);
            r.KL1 = valid & (at + atStep < limit);
            r.KH1 = valid & (at + atStep + hiAt < limit);
            // Loaded whether valid or not (from element 0 when not: src is never empty), as StoreRounded does: no branch.
            r.L0 = src[r.KL0 ? index : 0];
            r.H0 = src[r.KH0 ? index + hiStep : 0];
            r.L1 = src[r.KL1 ? index + srcStep : 0];
            r.H1 = src[r.KH1 ? index + srcStep + hiStep : 0];
            if (count > 2)
            {
                r.KL2 = valid & (at + 2 * atStep < limit);
                r.KH2 = valid & (at + 2 * atStep + hiAt < limit);
                r.KL3 = valid & (at + 3 * atStep < limit);
                r.KH3 = valid & (at + 3 * atStep + hiAt < limit);
                r.L2 = src[r.KL2 ? index + 2 * srcStep : 0];
                r.H2 = src[r.KH2 ? index + 2 * srcStep + hiStep : 0];
                r.L3 = src[r.KL3 ? index + 3 * srcStep : 0];
                r.H3 = src[r.KH3 ? index + 3 * srcStep + hiStep : 0];
            }
            return r;
        }

        public readonly void Store(ArrayView<SharedGemm.Float2> to, int step, int count, int bf16)
        {
            to[0] = Rounded(KL0 ? L0 : 0f, KH0 ? H0 : 0f, bf16);
            to[step] = Rounded(KL1 ? L1 : 0f, KH1 ? H1 : 0f, bf16);
            if (count > 2)
            {
                to[2 * step] = Rounded(KL2 ? L2 : 0f, KH2 ? H2 : 0f, bf16);
                to[3 * step] = Rounded(KL3 ? L3 : 0f, KH3 ? H3 : 0f, bf16);
            }
        }

        private static SharedGemm.Float2 Rounded(float lo, float hi, int bf16) =>
            new() { X = WarpTile64x32.StageValue(lo, bf16), Y = WarpTile64x32.StageValue(hi, bf16) };
    }
}
