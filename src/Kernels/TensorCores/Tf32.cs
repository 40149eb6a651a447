// Reference: an independent double-arithmetic rounding in the test · Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/WarpMmaTests.cs
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// TF32, the tensor cores' 19-bit float: FP32's sign and 8-bit exponent with 10 of its 23 mantissa bits, stored in a
/// 32-bit register whose low 13 bits are zero. <see cref="Round"/> is PTX's <c>cvt.rna.tf32.f32</c> (sm_80+): round to
/// nearest, ties away from zero. On CUDA it is that instruction; elsewhere (the CPU simulator, which runs the tensor-core
/// kernels in the tests) <see cref="RoundEmulated"/>, the same rounding on the bits.
/// </summary>
public static class Tf32
{
    /// <summary>Low mantissa bits TF32 drops (23 − 10).</summary>
    public const int DroppedBits = 13;

    /// <summary><paramref name="x"/> rounded to TF32 (to nearest, ties away from zero); infinities unchanged.</summary>
    public static float Round(float x)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out uint bits, x);
            return Interop.IntAsFloat(bits);
        }
        return RoundEmulated(x);
    }

    /// <summary>
    /// Whether kernels compiled for <paramref name="accelerator"/> have <c>cvt.rn.tf32.f32</c> (a CUDA device of compute
    /// capability 9.0 or newer; PTX ISA 7.8): where <see cref="Round(float, int)"/> may round to nearest even in one instruction.
    /// </summary>
    public static bool HasNearestEven(Accelerator accelerator) => accelerator is CudaAccelerator { Architecture.Major: >= 9 };

    /// <summary>
    /// <paramref name="x"/> rounded to TF32 to nearest with ties to even — PTX's <c>cvt.rn.tf32.f32</c>, one instruction
    /// (F2FP.TF32) on sm_90 and newer where <see cref="Round(float)"/>'s cvt.rna takes four (a range test, an addition, a
    /// select and a mask: ptxas 12.4) — when <paramref name="nearestEven"/> ≠ 0 (a constant of the kernel's specialized
    /// values; on CUDA only in code compiled for sm_90+, where that instruction exists), else <see cref="Round(float)"/>.
    /// Either is TF32's rounding to nearest (|error| ≤ half a unit in the last place); they differ on ties only.
    /// </summary>
    public static float Round(float x, int nearestEven)
    {
        if (nearestEven == 0) return Round(x);
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rn.tf32.f32 %0, %1;", out uint bits, x);
            return Interop.IntAsFloat(bits);
        }
        return RoundNearestEvenEmulated(x);
    }

    /// <summary>
    /// cvt.rn.tf32.f32 on the bits: as <see cref="RoundEmulated"/>, but a tie (the dropped bits exactly half a unit) goes
    /// to the even neighbour: adding 0xFFF plus the kept mantissa's last bit (bit 13) carries past bit 12 exactly when the
    /// dropped bits exceed half, or equal it with an odd last bit. Infinities and NaNs unchanged.
    /// </summary>
    public static float RoundNearestEvenEmulated(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x;
        uint half = (1u << (DroppedBits - 1)) - 1 + ((bits >> DroppedBits) & 1);
        return Interop.IntAsFloat((bits + half) & ~((1u << DroppedBits) - 1));
    }

    /// <summary>
    /// cvt.rna.tf32.f32 on the bits: sign and magnitude are stored apart, so adding half a TF32 unit in the last place
    /// (bit 12) to the magnitude and clearing the 13 low bits rounds the magnitude to nearest with ties away from zero;
    /// a carry out of the mantissa increments the exponent, which is the correct result (up to infinity past the
    /// largest finite TF32). Subnormals round the same way. Infinities and NaNs are returned unchanged (adding to a NaN
    /// could carry it into an infinity).
    /// </summary>
    public static float RoundEmulated(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x;
        return Interop.IntAsFloat((bits + (1u << (DroppedBits - 1))) & ~((1u << DroppedBits) - 1));
    }
}
