// Reference: an independent double-arithmetic rounding in the test · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/WarpMmaTests.cs
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// BF16, the tensor cores' 16-bit float: FP32's sign and 8-bit exponent with 7 of its 23 mantissa bits — the upper half
/// of an FP32. <see cref="Round"/> rounds to nearest, ties to even (what PTX's <c>cvt.rn.bf16x2.f32</c> does), and
/// returns the result as an FP32 whose low 16 bits are zero, so the kernels stage rounded values in shared memory as
/// they do for TF32 and <see cref="Pack"/> only moves bits. The same integer code runs on every backend.
/// </summary>
public static class Bf16
{
    /// <summary>Low mantissa bits BF16 drops (23 − 7).</summary>
    public const int DroppedBits = 16;

    /// <summary>
    /// <paramref name="x"/> rounded to BF16 (to nearest, ties to even): adding 0x7FFF plus the lowest kept bit to the
    /// bits and clearing the 16 low ones rounds the magnitude (sign and magnitude are stored apart); a carry out of the
    /// mantissa increments the exponent, which is the correct result, up to infinity past the largest finite BF16.
    /// Subnormals round the same way. Infinities stay; a NaN stays a NaN (its quiet bit set, so that clearing its low
    /// bits cannot make it an infinity).
    /// </summary>
    public static float Round(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u)
            return (bits & 0x007FFFFFu) == 0 ? x : Interop.IntAsFloat((bits | 0x00400000u) & 0xFFFF0000u);
        return Interop.IntAsFloat((bits + 0x7FFFu + ((bits >> DroppedBits) & 1u)) & 0xFFFF0000u);
    }

    /// <summary>
    /// One .bf16x2 register of <paramref name="low"/> (bits 0–15) and <paramref name="high"/> (bits 16–31) rounded to BF16:
    /// on CUDA PTX's <c>cvt.rn.bf16x2.f32</c> (sm_80+; one instruction where <see cref="Round"/> twice and
    /// <see cref="Pack"/> take ~15 and a branch each), elsewhere those. Finite values and infinities give the same bits
    /// either way; a NaN gives a NaN (on CUDA the canonical 0x7FFF).
    /// </summary>
    public static uint RoundPack(float low, float high)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rn.bf16x2.f32 %0, %1, %2;", out uint packed, high, low); // %1 → the upper half, %2 → the lower
            return packed;
        }
        return Pack(Round(low), Round(high));
    }

    /// <summary>
    /// One .bf16x2 register of two values already rounded by <see cref="Round"/>: <paramref name="low"/> in bits 0–15
    /// (the element with the lower index in the PTX fragment tables), <paramref name="high"/> in bits 16–31.
    /// </summary>
    public static uint Pack(float low, float high) =>
        (Interop.FloatAsInt(high) & 0xFFFF0000u) | (Interop.FloatAsInt(low) >> DroppedBits);

    /// <summary>The element in bits 0–15 (<paramref name="half"/> 0) or 16–31 (1) of a .bf16x2 register, as an FP32.</summary>
    public static float Unpack(uint register, int half) =>
        Interop.IntAsFloat(half == 0 ? register << DroppedBits : register & 0xFFFF0000u);
}
