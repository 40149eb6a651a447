// Reference: Relu.Backward followed by the plain phase split (WinogradPadRunsKernel); this intrinsic's C# body is the
// element loop · Test: tests/IlgpuStyle.Tests/Kernels/ReluGatedBackwardDataTests.cs (bytes equal to that composition)
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Winograd's phase-split zero padding (Conv2d.WinogradPad) of a gradient through a ReLU, 16 runs of n input columns per
/// call in OpenCL C's float16 vectors: n unit-stride loads of the gradient and of the ReLU's output, the gate as a vector
/// select (dy where y &gt; 0, else +0: <see cref="Relu.Gradient"/>'s value), and the deinterleave into the n phases by swizzles, one
/// 16-float store per phase. Written so because PoCL vectorized no scalar form of it: gated in place of the plain
/// kernel's loads, it gathered both arrays' interleaved columns (two interleaved groups where the plain kernel has one, 3×
/// the time), and staged through local memory it gathered the local reads.
/// </summary>
public static class WinogradGatedRuns
{
    /// <summary>Runs per call.</summary>
    public const int Runs = 16;

    /// <summary>
    /// Input columns src + n·r + k (r &lt; 16, k &lt; n; n = 4) of <paramref name="dy"/>, gated by <paramref name="y"/>, to
    /// the phase-split row at <paramref name="dst"/>: column k goes to phase (k + 1) mod n at index r + (k + 1) / n.
    /// </summary>
    [IntrinsicImplementation]
    public static void Copy4(View dy, View y, int src, View padded, int dst, int part) => CopyScalar(dy, y, src, padded, dst, part, 4);

    /// <summary><see cref="Copy4"/> for n = 2 (F(2×2, 3×3)'s split by column parity).</summary>
    [IntrinsicImplementation]
    public static void Copy2(View dy, View y, int src, View padded, int dst, int part) => CopyScalar(dy, y, src, padded, dst, part, 2);

    /// <summary>What CUDA compiles instead of <see cref="Copy4"/> and <see cref="Copy2"/> (their C# bodies).</summary>
    public static void CopyScalar4(View dy, View y, int src, View padded, int dst, int part) => CopyScalar(dy, y, src, padded, dst, part, 4);

    /// <inheritdoc cref="CopyScalar4"/>
    public static void CopyScalar2(View dy, View y, int src, View padded, int dst, int part) => CopyScalar(dy, y, src, padded, dst, part, 2);

    private static void CopyScalar(View dy, View y, int src, View padded, int dst, int part, int n)
    {
        for (int r = 0; r < Runs; r++)
        for (int k = 0; k < n; k++)
        {
            int i = src + n * r + k, phase = (k + 1) & (n - 1); // n is 2 or 4: a mask, not PTX's rem (ConstantDivision)
            padded[dst + phase * part + r + (k + 1) / n] = Relu.Gradient(y[i], dy[i]);
        }
    }

    internal static void Register(Context.Builder builder)
    {
        OpenClBlock.RegisterIntrinsic(builder, typeof(WinogradGatedRuns), nameof(Copy4), nameof(GenerateOpenCL4), nameof(CopyScalar4));
        OpenClBlock.RegisterIntrinsic(builder, typeof(WinogradGatedRuns), nameof(Copy2), nameof(GenerateOpenCL2), nameof(CopyScalar2));
    }

    private static void GenerateOpenCL4(CLBackend backend, CLCodeGenerator codeGenerator, Value value) =>
        GenerateOpenCL(codeGenerator, value, 4);

    private static void GenerateOpenCL2(CLBackend backend, CLCodeGenerator codeGenerator, Value value) =>
        GenerateOpenCL(codeGenerator, value, 2);

    // One block (OpenClBlock.cs). Vector v holds columns 16·v … 16·v + 15 of the 16·n, i.e. runs 16·v / n …; phase lane
    // k of run r is lane (n·r + k) mod 16 of vector (n·r + k) / 16, so column k of the 16 runs is, vector by vector, the
    // swizzle of lanes k, k + n, … (hexadecimal digits in OpenCL C's .s notation).
    private static void GenerateOpenCL(CLCodeGenerator codeGenerator, Value value, int n)
    {
        using var block = new OpenClBlock(codeGenerator, value);
        // Arguments: dy 0, y 1, src 2, padded 3, dst 4, part 5.
        block.Pointer("__generic const float* dy_", 0, 2);
        block.Pointer("__generic const float* y_", 1, 2);
        block.Pointer("__generic float* p_", 3, 4);
        block.Int("part_", 5);
        for (int v = 0; v < n; v++)
            block.Text($" const float16 g{v}_ = select((float16)(0.0f), vload16({v}, dy_), vload16({v}, y_) > (float16)(0.0f));");
        for (int k = 0; k < n; k++)
        {
            string lanes = string.Concat(Enumerable.Range(0, 16 / n).Select(r => "0123456789abcdef"[n * r + k]));
            string column = string.Join(", ", Enumerable.Range(0, n).Select(v => $"g{v}_.s{lanes}"));
            int phase = (k + 1) % n, index = (k + 1) / n;
            block.Text($" vstore16((float16)({column}), 0, p_ + {phase} * part_{(index == 0 ? "" : $" + {index}")});");
        }
    }
}
