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
    /// Up to four pairs of a <see cref="StagePipeline.PutPairs"/> call, as loaded (unrounded) with whether each value exists
    /// (<see cref="PairSources"/>); <see cref="Store"/> rounds them (0 where invalid) into one Float2 each, <c>to[i·step]</c>.
    /// <c>count</c> (2 or 4) is a constant of the kernel's specialized shape. The rounding waits for the load, so it is the
    /// store's.
    /// </summary>
    public struct Pairs
    {
        public Pair P0, P1, P2, P3;

        public static Pairs Load(ArrayView1D<float, Stride1D.Dense> src, PairSources from, int count)
        {
            var r = default(Pairs);
            r.P0 = Pair.Load(src, from, 0);
            r.P1 = Pair.Load(src, from, 1);
            if (count > 2)
            {
                r.P2 = Pair.Load(src, from, 2);
                r.P3 = Pair.Load(src, from, 3);
            }
            return r;
        }

        /// <summary>
        /// <paramref name="count"/> (2 or 4) pairs of an interior stage, where every value exists but for its row (one test,
        /// <paramref name="valid"/>, for all): pair i is (v_i, v_{i + count}), v_k = src[first + k·<paramref name="step"/>],
        /// k &lt; 2·count — the values of <see cref="Load"/>'s <see cref="PairSources"/> when its pairs are 4·step / count
        /// apart (high = low + count·step) — or zeros when not <paramref name="valid"/>, and every value marked valid: each
        /// address is the one before stepped by <paramref name="step"/>, no index select, channel test or product per value,
        /// and the loads sit under the one test (ptxas predicates them and zeroes the registers otherwise), so nothing waits
        /// for them and no validity is held across the products. <see cref="Zeroed"/> gives an edge stage's pairs the same form.
        /// </summary>
        public static Pairs LoadInterior(ArrayView1D<float, Stride1D.Dense> src, int first, int step, bool valid, int count)
        {
            SharedGemm.Float4 low = default, high = default; // v_0 … v_3, v_4 … v_7
            if (valid)
            {
                var run = Stepped(src.SubView(first, (2 * count - 1) * step + 1), step);
                low = run.Values;
                if (count > 2) high = Stepped(run.Next, step).Values;
            }
            return count <= 2
                ? new Pairs { P0 = Pair.Valid(low.X, low.Z), P1 = Pair.Valid(low.Y, low.W) }
                : new Pairs { P0 = Pair.Valid(low.X, high.X), P1 = Pair.Valid(low.Y, high.Y), P2 = Pair.Valid(low.Z, high.Z), P3 = Pair.Valid(low.W, high.W) };
        }

        /// <summary>
        /// v[0], v[step], v[2·step], v[3·step] and the view at v[4·step], each address the one before stepped by
        /// <paramref name="step"/> (one 64-bit multiply-add each, where v[i·step] would also multiply i·step).
        /// </summary>
        private static SteppedRun Stepped(ArrayView1D<float, Stride1D.Dense> v, int step)
        {
            var r = new SharedGemm.Float4 { X = v[0] };
            v = Next(v, step);
            r.Y = v[0];
            v = Next(v, step);
            r.Z = v[0];
            v = Next(v, step);
            r.W = v[0];
            return new SteppedRun(r, Next(v, step));
        }

        private static ArrayView1D<float, Stride1D.Dense> Next(ArrayView1D<float, Stride1D.Dense> v, int step) => v.SubView(step, v.Length - step);

        /// <summary>Four stepped values (<see cref="Stepped"/>) and the view one step past the last.</summary>
        private readonly struct SteppedRun(SharedGemm.Float4 values, ArrayView1D<float, Stride1D.Dense> next)
        {
            public readonly SharedGemm.Float4 Values = values;
            public readonly ArrayView1D<float, Stride1D.Dense> Next = next;
        }

        /// <summary>
        /// These pairs with the values that do not exist zeroed and every value marked valid (<see cref="LoadInterior"/>'s
        /// form): the selects wait for the loads, so held stages take it only where some channel is missing (conv1_1).
        /// </summary>
        public readonly Pairs Zeroed() => new() { P0 = P0.Zeroed(), P1 = P1.Zeroed(), P2 = P2.Zeroed(), P3 = P3.Zeroed() };

        /// <remarks><paramref name="nearestEven"/>: the TF32 rounding, <see cref="Tf32.Round(float, int)"/>'s.</remarks>
        public readonly void Store(ArrayView<SharedGemm.Float2> to, int step, int count, int nearestEven)
        {
            to[0] = P0.Rounded(nearestEven);
            to[step] = P1.Rounded(nearestEven);
            if (count > 2)
            {
                to[2 * step] = P2.Rounded(nearestEven);
                to[3 * step] = P3.Rounded(nearestEven);
            }
        }

        /// <summary>
        /// These pairs and <paramref name="high"/>'s as BF16 quads (<see cref="StagePipeline.StoreQuads"/>' values):
        /// to[i·step] ← (bf16x2 of pair i, bf16x2 of <paramref name="high"/>'s pair i).
        /// </summary>
        public readonly void StorePacked(ArrayView<SharedGemm.Float2> to, int step, int count, in Pairs high)
        {
            to[0] = Pair.Packed(P0, high.P0);
            to[step] = Pair.Packed(P1, high.P1);
            if (count > 2)
            {
                to[2 * step] = Pair.Packed(P2, high.P2);
                to[3 * step] = Pair.Packed(P3, high.P3);
            }
        }
    }

    /// <summary>Pair i of a <see cref="PairSources"/>, as loaded, with whether each value exists.</summary>
    public struct Pair
    {
        public float Low, High;
        public bool LowValid, HighValid;

        public static Pair Load(ArrayView1D<float, Stride1D.Dense> src, PairSources from, int i)
        {
            var r = default(Pair);
            r.LowValid = from.LowValid(i);
            r.HighValid = from.HighValid(i);
            // Loaded whether valid or not (from element 0 when not: src is never empty), as StoreRounded does: no branch.
            r.Low = src[r.LowValid ? from.Low(i) : 0];
            r.High = src[r.HighValid ? from.High(i) : 0];
            return r;
        }

        /// <summary>A pair whose values both exist (or are zeros already).</summary>
        public static Pair Valid(float low, float high) => new() { Low = low, High = high, LowValid = true, HighValid = true };

        /// <summary>The pair with a value that does not exist zeroed, both marked valid.</summary>
        public readonly Pair Zeroed() => Valid(LowValid ? Low : 0f, HighValid ? High : 0f);

        /// <summary>
        /// The pair as one .bf16x2 word (Bf16.Pack: <see cref="Low"/> in bits 0–15), each value rounded to BF16, 0 where it
        /// does not exist; as a float's bits.
        /// </summary>
        public readonly float PackedBf16() =>
            Interop.IntAsFloat(Bf16.RoundPack(LowValid ? Low : 0f, HighValid ? High : 0f));

        /// <summary>Two pairs as a BF16 quad: (<paramref name="low"/> packed, <paramref name="high"/> packed).</summary>
        public static SharedGemm.Float2 Packed(in Pair low, in Pair high) => new() { X = low.PackedBf16(), Y = high.PackedBf16() };

        /// <summary>The pair rounded to TF32 (<see cref="Tf32.Round(float, int)"/>), 0 where a value does not exist.</summary>
        public readonly SharedGemm.Float2 Rounded(int nearestEven) =>
            new() { X = Tf32.Round(LowValid ? Low : 0f, nearestEven), Y = Tf32.Round(HighValid ? High : 0f, nearestEven) };
    }
}
