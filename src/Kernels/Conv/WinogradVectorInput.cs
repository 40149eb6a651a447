// Reference: Conv2d.Input4Tile, the scalar transform (this intrinsic's C# body runs it per tile) · Test:
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
/// Winograd F(4×4, 3×3)'s input transform (Conv2dWinograd4x4.cs) for 16 consecutive tiles of one tile row in OpenCL C's
/// float16 vectors: one zmm register per patch column with AVX-512 code, where PoCL runs the one-tile-per-work-item
/// kernel on ymm (see VectorProduct16.cs). The phase-split padded input makes each of a patch row's six columns one
/// unit-stride load of 16 tiles (phase φ at tile indices tx … tx + 15, and phases 0 and 1 again from tx + 1), and V's
/// rows hold consecutive tiles, so each of the 36 positions is one 16-float store. Same arithmetic, in the same order,
/// as the scalar transform (no contraction into fused multiply-adds), so the bytes are those of the scalar kernel.
/// </summary>
public static class WinogradVectorInput
{
    /// <summary>Tiles per call.</summary>
    public const int Tiles = 16;

    /// <summary>
    /// Conv2d.Input4Tile for tiles j = 0 … 15: patch rows from padded[r + j + i·rowStride …] (phases <paramref name="quarter"/>
    /// apart), V[ξ] at v[ξ·plane + q + j].
    /// </summary>
    [IntrinsicImplementation]
    public static void Transform(View padded, int r, int quarter, int rowStride, View v, int q, int plane) =>
        TransformScalar(padded, r, quarter, rowStride, v, q, plane);

    /// <summary>What CUDA compiles instead of <see cref="Transform"/> (its C# body).</summary>
    public static void TransformScalar(View padded, int r, int quarter, int rowStride, View v, int q, int plane)
    {
        for (int j = 0; j < Tiles; j++) Conv2d.Input4Tile(padded, r + j, quarter, rowStride, v, q + j, plane);
    }

    internal static void Register(Context.Builder builder) =>
        OpenClBlock.RegisterIntrinsic(builder, typeof(WinogradVectorInput), nameof(Transform), nameof(GenerateOpenCL), nameof(TransformScalar));

    // Column j of patch row i (float16 over the 16 tiles): padded columns 4·tx + j = phase j mod 4 at index tx + j / 4.
    private static readonly string[] ColumnOffsets = ["", " + q4_", " + 2 * q4_", " + 3 * q4_", " + 1", " + q4_ + 1"];

    // One block (OpenClBlock.cs), the formulas of Input4Tile and Row6 (Conv2dWinograd4x4.cs) written out per vector.
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        using var block = new OpenClBlock(codeGenerator, value);
        // No fused multiply-adds: the scalar kernel's separate statements round each product.
        block.Text("\n#pragma OPENCL FP_CONTRACT OFF\n");
        // Arguments: padded 0, r 1, quarter 2, rowStride 3, v 4, q 5, plane 6.
        block.Pointer("__generic const float* p_", 0, 1);
        block.Pointer("__generic float* v_", 4, 5);
        block.Int("q4_", 2);
        block.Int("rs_", 3);
        block.Int("pl_", 6);
        void Load(int row)
        {
            for (int j = 0; j < 6; j++)
                block.Text($" const float16 d{row}_{j} = vload16(0, p_ + {row} * rs_{ColumnOffsets[j]});");
        }
        // t{k} = a·p + b·q (+ c·r) per column, as Row6.Combine.
        void Combine(int k, string a, string p, string b, string q, string? c = null, string? r = null)
        {
            for (int j = 0; j < 6; j++)
                block.Text($" const float16 t{k}_{j} = {Term(a, p, j)} + {Term(b, q, j)}{(c is null ? "" : $" + {Term(c, r!, j)}")};");
        }
        // Row6.PutTransformed of t{k} at ξ = 6k … 6k + 5.
        void Put(int k)
        {
            string A(int j) => $"t{k}_{j}";
            string[] outputs =
            [
                $"4.0f * {A(0)} - 5.0f * {A(2)} + {A(4)}",
                $"{A(3)} + {A(4)} - 4.0f * ({A(1)} + {A(2)})",
                $"4.0f * ({A(1)} - {A(2)}) + {A(4)} - {A(3)}",
                $"2.0f * ({A(3)} - {A(1)}) + {A(4)} - {A(2)}",
                $"2.0f * ({A(1)} - {A(3)}) + {A(4)} - {A(2)}",
                $"4.0f * {A(1)} - 5.0f * {A(3)} + {A(5)}",
            ];
            for (int m = 0; m < 6; m++) block.Text($" vstore16({outputs[m]}, 0, v_ + {6 * k + m} * pl_);");
        }
        // Rows as Input4Tile reads and combines them (d5 last).
        Load(0); Load(2); Load(4);
        Combine(0, "4.0f", "d0_", "-5.0f", "d2_", "1.0f", "d4_"); Put(0);
        Load(1); Load(3);
        Combine(1, "-4.0f", "(d1_ + d2_)", "1.0f", "(d3_ + d4_)"); Put(1);
        Combine(2, "4.0f", "(d1_ - d2_)", "1.0f", "(d4_ - d3_)"); Put(2);
        Combine(3, "2.0f", "(d3_ - d1_)", "1.0f", "(d4_ - d2_)"); Put(3);
        Combine(4, "2.0f", "(d1_ - d3_)", "1.0f", "(d4_ - d2_)"); Put(4);
        Load(5);
        Combine(5, "4.0f", "d1_", "-5.0f", "d3_", "1.0f", "d5_"); Put(5);
    }

    // a · (operand's column j): "d0_" → d0_j; "(d1_ + d2_)" → (d1_j + d2_j).
    private static string Term(string a, string operand, int j) => $"{a} * {operand.Replace("_", $"_{j}")}";
}
