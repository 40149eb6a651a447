// Reference: Conv2d.Output4WholeTile, the scalar transform (this intrinsic's C# body runs it per tile) · Test:
// tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs (F4 16x16 blockings on maps of ≥ 16 tiles a row; bytes equal to 16x8's)
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Winograd F(4×4, 3×3)'s output transform (Conv2dWinograd4x4.cs) for 16 consecutive whole tiles of one tile row in
/// OpenCL C's float16 vectors (zmm with AVX-512 code; see VectorProduct16.cs). M's rows hold consecutive tiles, so each
/// of the 36 positions is one 16-float load; a tile row's outputs j = 0 … 3 of the 16 tiles are interleaved into 64
/// consecutive pixels with shuffles — where the one-tile-per-work-item kernel's stores, 4 floats apart across work-items,
/// became scatters (AVX-512 code) or scalar code (AVX2). Same arithmetic, in the same order, as the scalar kernel (no
/// contraction into fused multiply-adds), so the bytes are the scalar kernel's.
/// </summary>
public static class WinogradVectorOutput
{
    /// <summary>Tiles per call.</summary>
    public const int Tiles = 16;

    /// <summary>Conv2d.Output4WholeTile for tiles j = 0 … 15: M's columns q + j, outputs at output[o + 4j + i·w …].</summary>
    [IntrinsicImplementation]
    public static void Transform(View product, int q, int plane, View output, int o, int w, float bias, int relu, int accumulate) =>
        TransformScalar(product, q, plane, output, o, w, bias, relu, accumulate);

    /// <summary>What CUDA compiles instead of <see cref="Transform"/> (its C# body).</summary>
    public static void TransformScalar(View product, int q, int plane, View output, int o, int w, float bias, int relu, int accumulate)
    {
        for (int j = 0; j < Tiles; j++) Conv2d.Output4WholeTile(product, q + j, plane, output, o + 4 * j, w, bias, relu, accumulate);
    }

    internal static void Register(Context.Builder builder) =>
        OpenClBlock.RegisterIntrinsic(builder, typeof(WinogradVectorOutput), nameof(Transform), nameof(GenerateOpenCL), nameof(TransformScalar));

    // Interleaving pairs of float16: the low or high 8 lanes of a and b alternating (a0 b0 a1 b1 …), and pairs of those.
    private static string Lanes(Func<int, string> lane) => string.Join(", ", Enumerable.Range(0, 16).Select(lane));
    private static readonly string InterleaveLow = Lanes(i => (i % 2 == 0 ? i / 2 : 16 + i / 2).ToString());
    private static readonly string InterleaveHigh = Lanes(i => (i % 2 == 0 ? 8 + i / 2 : 24 + i / 2).ToString());
    private static readonly string PairsLow = Lanes(i => ((i / 4) * 2 + (i % 4 < 2 ? i % 2 : 16 + i % 2)).ToString());
    private static readonly string PairsHigh = Lanes(i => (8 + (i / 4) * 2 + (i % 4 < 2 ? i % 2 : 16 + i % 2)).ToString());

    // One block (OpenClBlock.cs): per column j of the 6×6 M, the four rows of Aᵀ M (OutputRows4); per output row, its four
    // outputs (Row6.Out0 … Out3) + bias, ReLU, interleaved into 64 pixels and stored or added.
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        using var block = new OpenClBlock(codeGenerator, value);
        block.Text("\n#pragma OPENCL FP_CONTRACT OFF\n");
        // Arguments: product 0, q 1, plane 2, output 3, o 4, w 5, bias 6, relu 7, accumulate 8.
        block.Pointer("__generic const float* m_", 0, 1);
        block.Pointer("__generic float* out_", 3, 4);
        block.Int("pl_", 2);
        block.Int("w_", 5);
        block.Float("bias_", 6);
        block.Int("relu_", 7);
        block.Int("add_", 8);
        for (int j = 0; j < 6; j++)
        {
            string M(int i) => $"m{i}_{j}";
            for (int i = 0; i < 6; i++) block.Text($" const float16 {M(i)} = vload16(0, m_ + {6 * i + j} * pl_);");
            block.Text($" const float16 s_{j} = {M(1)} + {M(2)}, d_{j} = {M(1)} - {M(2)}, s2_{j} = {M(3)} + {M(4)}, d2_{j} = {M(3)} - {M(4)};");
            block.Text($" const float16 o0_{j} = {M(0)} + s_{j} + s2_{j};");
            block.Text($" const float16 o1_{j} = 1.0f * d_{j} + 2.0f * d2_{j};");
            block.Text($" const float16 o2_{j} = 1.0f * s_{j} + 4.0f * s2_{j};");
            block.Text($" const float16 o3_{j} = 1.0f * d_{j} + 8.0f * d2_{j} + {M(5)};");
        }
        for (int row = 0; row < 4; row++)
        {
            string A(int j) => $"o{row}_{j}";
            string[] outputs =
            [
                $"{A(0)} + {A(1)} + {A(2)} + {A(3)} + {A(4)}",
                $"{A(1)} - {A(2)} + 2.0f * ({A(3)} - {A(4)})",
                $"{A(1)} + {A(2)} + 4.0f * ({A(3)} + {A(4)})",
                $"{A(1)} - {A(2)} + 8.0f * ({A(3)} - {A(4)}) + {A(5)}",
            ];
            for (int j = 0; j < 4; j++)
            {
                block.Text($" float16 y{row}{j}_ = ({outputs[j]}) + bias_;");
                block.Text($" if (relu_ != 0) y{row}{j}_ = fmax(y{row}{j}_, 0.0f);");
            }
            // Pixel 4t + j of the 64 is output j of tile t.
            block.Text($" {{ const float16 lo01_ = __builtin_shufflevector(y{row}0_, y{row}1_, {InterleaveLow}),"
                + $" hi01_ = __builtin_shufflevector(y{row}0_, y{row}1_, {InterleaveHigh}),"
                + $" lo23_ = __builtin_shufflevector(y{row}2_, y{row}3_, {InterleaveLow}),"
                + $" hi23_ = __builtin_shufflevector(y{row}2_, y{row}3_, {InterleaveHigh});");
            string[] parts =
            [
                $"__builtin_shufflevector(lo01_, lo23_, {PairsLow})",
                $"__builtin_shufflevector(lo01_, lo23_, {PairsHigh})",
                $"__builtin_shufflevector(hi01_, hi23_, {PairsLow})",
                $"__builtin_shufflevector(hi01_, hi23_, {PairsHigh})",
            ];
            block.Text($" __generic float* r_ = out_ + {row} * w_;");
            for (int p = 0; p < 4; p++)
                block.Text($" vstore16(add_ != 0 ? vload16({p}, r_) + {parts[p]} : {parts[p]}, {p}, r_);");
            block.Text(" }");
        }
    }
}
