// Reference: a CPU loop on TF32-rounded inputs in the test · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/WarpMmaTests.cs
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

// One warp-wide tensor-core product D = A·B + C with A 16×8 (TF32), B 8×8 (TF32), C and D 16×8 (FP32): PTX's
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80+, PTX ISA 7.0+). Each of the 32 lanes holds 4 elements of
// A, 2 of B and 4 of C/D in registers, at the places the PTX ISA documents for this shape and type
// ("Matrix Fragments for mma.m16n8k8", .tf32):
//
//   g = lane >> 2 (groupID, 0..7),  t = lane & 3 (threadID_in_group, 0..3)
//   A (row-major 16×8):   a0 = A[g][t],     a1 = A[g + 8][t],     a2 = A[g][t + 4],     a3 = A[g + 8][t + 4]
//   B (col-major 8×8):    b0 = B[t][g],     b1 = B[t + 4][g]
//   C, D (16×8):          c0 = C[g][2t],    c1 = C[g][2t + 1],    c2 = C[g + 8][2t],    c3 = C[g + 8][2t + 1]
//
// Conversely A[r][k] lives in lane 4·(r mod 8) + (k mod 4), register a{(r ≥ 8) + 2·(k ≥ 4)}; B[k][n] in lane
// 4·n + (k mod 4), register b{k ≥ 4}. On CUDA the instruction runs; on every other backend (the CPU simulator with
// 32-lane warps, which runs the tensor-core kernels in the tests) an emulation does what the hardware does with those
// registers: every lane publishes its 6 operand registers in a per-warp exchange area (slot r of lane L at r·32 + L),
// and, for k = 0..7 in order, reads A[g][k], A[g + 8][k], B[k][2t] and B[k][2t + 1] from the slots of the lanes that own
// them and accumulates in FP32. So a kernel whose fragments are mis-indexed computes a wrong product on the simulator
// too, and fails its test there. (The exchange is shared memory between two warp barriers rather than Warp.Shuffle:
// each shuffle costs the simulator several barriers of 32 OS threads, about 1 ms on 2 cores — 32 of them per product
// made the smallest convolution test take 16 s.)
// The emulation reads only the 19 TF32 bits of A and B (the instruction ignores the low 13); products of two TF32
// values are exact in FP32, so it differs from the hardware only in how the eight products and C are summed
// (the hardware's internal order and rounding are not specified), within FP32 accumulation error.

/// <summary>C/D fragment of one m16n8 accumulator tile held by one lane (see the file comment for the layout).</summary>
public struct MmaAccumulator
{
    public float C0, C1, C2, C3;
}

/// <summary>The warp-level TF32 tensor-core product (file comment: fragment layout, emulation).</summary>
public static class WarpMma
{
    /// <summary>Floats of one warp's exchange area (6 operand registers × 32 lanes), used by the emulation only.</summary>
    public const int ExchangeFloats = 6 * 32;

    /// <summary>
    /// D = A·B + C for one m16n8k8 tile, every lane of the warp calling it together (warp-synchronous): a0..a3 and b0, b1
    /// are this lane's TF32 fragments (values rounded by <see cref="Tf32.Round"/>), <paramref name="c"/> its C fragment;
    /// returns its D fragment. <paramref name="exchange"/>: this warp's <see cref="ExchangeFloats"/> floats of shared
    /// memory, which the emulation uses (untouched on CUDA).
    /// </summary>
    public static MmaAccumulator Tf32(float a0, float a1, float a2, float a3, float b0, float b1, MmaAccumulator c, ArrayView<float> exchange)
    {
        if (CudaAsm.IsSupported)
        {
            Input<uint> ia0 = Interop.FloatAsInt(a0), ia1 = Interop.FloatAsInt(a1), ia2 = Interop.FloatAsInt(a2), ia3 = Interop.FloatAsInt(a3);
            Input<uint> ib0 = Interop.FloatAsInt(b0), ib1 = Interop.FloatAsInt(b1);
            Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
                ref d0, ref d1, ref d2, ref d3, ref ia0, ref ia1, ref ia2, ref ia3, ref ib0, ref ib1);
            return new MmaAccumulator { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
        }
        return Emulated(a0, a1, a2, a3, b0, b1, c, exchange);
    }

    /// <summary>What <see cref="Tf32"/> computes off CUDA: the documented fragment layout, read from the lanes that own each element.</summary>
    private static MmaAccumulator Emulated(float a0, float a1, float a2, float a3, float b0, float b1, MmaAccumulator c, ArrayView<float> x) =>
        SumPublished(Truncate(a0), Truncate(a1), Truncate(a2), Truncate(a3), Truncate(b0), Truncate(b1), c, x);

    /// <summary>
    /// The emulations' product: every lane publishes its 6 operand values (slot r of lane L at r·32 + L), then, for the
    /// 8 k of an m16n8k8 layout in order, reads A[g][k], A[g + 8][k], B[k][2t] and B[k][2t + 1] from the lanes that own
    /// them (A[r][k]: lane 4·(r mod 8) + (k mod 4), slot (r ≥ 8) + 2·(k ≥ 4); B[k][n]: lane 4n + (k mod 4), slot
    /// 4 + (k ≥ 4)) and accumulates in FP32.
    /// </summary>
    private static MmaAccumulator SumPublished(float a0, float a1, float a2, float a3, float b0, float b1, MmaAccumulator c, ArrayView<float> x)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        x[lane] = a0;
        x[32 + lane] = a1;
        x[64 + lane] = a2;
        x[96 + lane] = a3;
        x[128 + lane] = b0;
        x[160 + lane] = b1;
        Warp.Barrier();
        for (int k = 0; k < 8; k++)
        {
            int q = k & 3, high = k >> 2;                               // k = q + 4·high
            float top = x[(2 * high) * 32 + 4 * g + q];                 // A[g][k]: a0 / a2 of lane 4g + q
            float bottom = x[(2 * high + 1) * 32 + 4 * g + q];          // A[g + 8][k]: a1 / a3 of lane 4g + q
            float left = x[(4 + high) * 32 + 4 * (2 * t) + q];          // B[k][2t]: b0 / b1 of lane 4·2t + q
            float right = x[(4 + high) * 32 + 4 * (2 * t + 1) + q];     // B[k][2t + 1]: b0 / b1 of lane 4·(2t + 1) + q
            c.C0 += top * left;
            c.C1 += top * right;
            c.C2 += bottom * left;
            c.C3 += bottom * right;
        }
        Warp.Barrier(); // the area is free again for the next product
        return c;
    }

    /// <summary>
    /// D = A·B + C for one m16n8k16 BF16 tile (mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, sm_80+), every lane
    /// calling it together. Its registers hold two BF16 each (<see cref="TensorCores.Bf16.Pack"/>); the PTX ISA's table
    /// ("Matrix Fragments for mma.m16n8k16 with floating point type"), element low to high in each register:
    ///
    ///   A (16×16):  a0 = {A[g][2t], A[g][2t + 1]},  a1 = {A[g + 8][2t], A[g + 8][2t + 1]},  a2, a3 the same at columns + 8
    ///   B (16×8):   b0 = {B[2t][g], B[2t + 1][g]},  b1 = {B[2t + 8][g], B[2t + 9][g]}
    ///   C, D:       as for <see cref="Tf32"/>.
    ///
    /// Since the product sums over k, the k index may be renumbered alike in A and B: WarpTile64x32.StepPackedBf16 lets k = 2t,
    /// 2t + 1, 2t + 8, 2t + 9 of the instruction stand for the k-rows t, t + 4, t + 8, t + 12 of the step — the stages
    /// pack k-rows t and t + 4 in one word (Conv2dTensorCoreOperand.cs, Gram.TensorCorePackedRow). The emulation (off CUDA) reads the documented places: the
    /// lanes publish the low halves of their 6 registers, every lane sums the even k, then the high halves and the odd k
    /// (two rounds of <see cref="Tf32"/>'s emulated product, SumPublished); products of two BF16 values are exact in FP32.
    /// </summary>
    public static MmaAccumulator Bf16(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, MmaAccumulator c, ArrayView<float> exchange)
    {
        if (CudaAsm.IsSupported)
        {
            Input<uint> ia0 = a0, ia1 = a1, ia2 = a2, ia3 = a3, ib0 = b0, ib1 = b1;
            Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
                ref d0, ref d1, ref d2, ref d3, ref ia0, ref ia1, ref ia2, ref ia3, ref ib0, ref ib1);
            return new MmaAccumulator { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
        }
        // The register halves holding k = 2j + h (h = 0, then 1), j = 0 … 7, sit where an m16n8k8 layout puts its k = j:
        // A[g][k] in lane 4g + j mod 4, register a0 (k < 8) or a2; B[k][n] in lane 4n + j mod 4, b0 or b1.
        c = SumPublished(Half(a0, 0), Half(a1, 0), Half(a2, 0), Half(a3, 0), Half(b0, 0), Half(b1, 0), c, exchange);
        return SumPublished(Half(a0, 1), Half(a1, 1), Half(a2, 1), Half(a3, 1), Half(b0, 1), Half(b1, 1), c, exchange);
    }

    private static float Half(uint register, int half) => TensorCores.Bf16.Unpack(register, half);

    /// <summary>The 19 bits the instruction reads of a TF32 operand register (sign, exponent, 10 mantissa bits).</summary>
    private static float Truncate(float x) => Interop.IntAsFloat(Interop.FloatAsInt(x) & ~((1u << TensorCores.Tf32.DroppedBits) - 1));
}
