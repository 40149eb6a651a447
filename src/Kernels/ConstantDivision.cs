// Test: tests/IlgpuStyle.Tests/Kernels/ConstantDivisionTests.cs (against / at the ends of the promised range and between);
// tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (no div or rem by a constant left in the hot kernels' PTX)
namespace IlgpuStyle.Kernels;

/// <summary>
/// Integer division by a constant, for GPU kernels. ptxas 12.4 does not strength-reduce PTX's div or rem by an immediate
/// (NVVM does that before it for CUDA C; ILGPU turns a division by a power of two into a shift, but neither a remainder
/// nor any other divisor), so each k / 3 or k % 16 in a kernel became a ~15-instruction reciprocal sequence (I2F.RP,
/// MUFU.RCP, IMAD.HI, two corrections) in ptxas's code — in the tensor-core convolution's stage loop, the shared SGEMM's
/// step loop, Winograd's product. Remainders by a power of two are written x &amp; (d − 1) at their call sites (x ≥ 0);
/// other divisors use <see cref="Quotient"/>.
/// </summary>
public static class ConstantDivision
{
    /// <summary>
    /// ⌊x / d⌋ for 0 ≤ x &lt; 2³² / d, as one 32 × 32 → 64-bit multiplication by m = ⌈2³² / d⌉ and a shift (d a constant of
    /// the kernel, so m folds to one). Exact: x·m / 2³² = x / d + x·e / (d·2³²) with e = m·d − 2³² &lt; d, and the excess
    /// x·e / (d·2³²) &lt; 1 / d cannot carry x / d past the next integer (whose distance is at least 1 / d) while
    /// x·e &lt; 2³², which x &lt; 2³² / d guarantees. For d = 3, e = 2: every non-negative int.
    /// </summary>
    public static int Quotient(int x, int d) => (int)(((ulong)(uint)x * (0xFFFF_FFFFUL / (uint)d + 1)) >> 32);
}
