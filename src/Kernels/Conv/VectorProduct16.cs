// Reference: the C# body of Accumulate (run by the CPU simulator and, redirected, on CUDA); the whole product against
// tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs (block 16x16)
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// One work-item's 16 rows × 16 tiles of the Winograd product (Conv2dWinogradGemmKernel.cs) written in OpenCL C's
/// <c>float16</c> vectors. PoCL's LLVM tunes Zen 4/5 (and Intel's AVX-512 CPUs) as skylake-avx512, whose vectorizers
/// prefer 256-bit vectors, so the kernels ILGPU writes in scalars run on <c>ymm</c> registers; an explicit
/// <c>float16</c> is one <c>zmm</c> register there (PoCL widens the function's legal vector size to it), and the 16
/// accumulators, the tile vector and the broadcast weights fit AVX-512's 32. ILGPU has no vector types, so
/// <see cref="Accumulate"/> is an ILGPU intrinsic: on OpenCL it becomes the loop below in OpenCL C; the CPU simulator
/// runs its C# body and CUDA compiles that body (redirected): every device sums over c in the same order, each step a
/// <see cref="MulAdd"/> (fma, or mad on OpenCL devices without a fast fma), so a device gives the same bytes run to run.
/// AVX2 code splits each float16 into two ymm halves: 32 accumulators in 16 registers spill, so the autotuner keeps
/// this block to the devices where it is faster.
/// </summary>
public static class VectorProduct16
{
    /// <summary>Rows and tiles of the block.</summary>
    public const int Rows = 16, Tiles = 16;

    /// <summary>
    /// m[q + r·tp + j] (+)= Σ_{ci &lt; c} u[ui + ci·uStride + r] · v[vi + ci·tp + j] for r &lt; min(rowsLeft, 16), j &lt; 16
    /// (add to m when <paramref name="accumulate"/> ≠ 0). Every u and v read is in bounds for r, j &lt; 16 (the caller's
    /// padding); rows past rowsLeft are computed and not stored.
    /// </summary>
    [IntrinsicImplementation]
    public static void Accumulate(View u, View v, View m, int c, int tp, int ui, int uStride, int vi, int q, int rowsLeft, int accumulate)
    {
        AccumulateScalar(u, v, m, c, tp, ui, uStride, vi, q, rowsLeft, accumulate);
    }

    /// <summary>What CUDA compiles instead of <see cref="Accumulate"/> (its C# body).</summary>
    public static void AccumulateScalar(View u, View v, View m, int c, int tp, int ui, int uStride, int vi, int q, int rowsLeft, int accumulate)
    {
        for (int r = 0; r < Rows; r++)
        {
            if (r >= rowsLeft) return;
            for (int j = 0; j < Tiles; j++)
            {
                float sum = 0f;
                for (int ci = 0; ci < c; ci++)
                    sum = MulAdd.Of(u[ui + ci * uStride + r], v[vi + ci * tp + j], sum);
                int i = q + r * tp + j;
                m[i] = accumulate != 0 ? m[i] + sum : sum;
            }
        }
    }

    internal static void Register(Context.Builder builder) =>
        OpenClBlock.RegisterIntrinsic(builder, typeof(VectorProduct16), nameof(Accumulate), nameof(GenerateOpenCL), nameof(AccumulateScalar));

    // One block: the operands, 16 float16 accumulators, the loop over c, the stores (OpenClBlock.cs).
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        string fma = MulAdd.EmitsFma(backend) ? "fma" : "mad";
        using var block = new OpenClBlock(codeGenerator, value);
        // Arguments: u 0, v 1, m 2, c 3, tp 4, ui 5, uStride 6, vi 7, q 8, rowsLeft 9, accumulate 10.
        block.Pointer("__generic const float* u_", 0, 5);
        block.Pointer("__generic const float* v_", 1, 7);
        block.Pointer("__generic float* m_", 2, 8);
        block.Int("c_", 3);
        block.Int("tp_", 4);
        block.Int("us_", 6);
        block.Int("rows_", 9);
        block.Int("add_", 10);
        for (int r = 0; r < Rows; r++) block.Text($" float16 a{r}_ = (float16)(0.0f);");
        // a_r += u[ci·us + r] · v[ci·tp … + 15], ci in order.
        block.Text(" for (int ci_ = 0; ci_ < c_; ci_++) { const float16 x_ = vload16(0, v_ + ci_ * tp_);");
        block.Text(" __generic const float* w_ = u_ + ci_ * us_;");
        for (int r = 0; r < Rows; r++) block.Text($" a{r}_ = {fma}((float16)(w_[{r}]), x_, a{r}_);");
        block.Text(" }");
        for (int r = 0; r < Rows; r++)
            block.Text($" if (rows_ > {r}) vstore16(add_ != 0 ? vload16(0, m_ + {r} * tp_) + a{r}_ : a{r}_, 0, m_ + {r} * tp_);");
    }
}
