// Reference: tests/IlgpuStyle.Tests/Kernels/PreparedConvTests.cs (a CPU loop over the layout's definition, bit for bit) ·
// Test: there, and tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs (the kernel that reads it)
using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels.TensorCores;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The tensor-core convolution's weights (Conv2dTensorCoreKernel.cs), laid out once in the order its warps read them, so
// a stage's A tile is one contiguous run that the group copies 16 bytes at a time with no index arithmetic or bounds, and
// a lane's A fragment of a row tile is one 128-bit shared read (WarpRows.FragmentOrder):
//   T[((((k·G + r)·3 + kw)·4 + i)·32 + lane)·4 + e] = round(A(o, c)),
//   o = 64·r + 16·i + g + 8·(e mod 2),  c = 8·⌊k / 3⌋ + q + 4·⌊e / 2⌋,  kh = k mod 3,  g = ⌊lane / 4⌋,  q = lane mod 4,
// for stage k (8 channels × kernel row kh), 64-channel group r (a warp tile's rows), tap kw, row tile i: element e of
// lane's fragment (A0 … A3 of WarpMma.cs: rows g, g + 8 × k-rows q, q + 4). A(o, c) is the weight the convolution
// multiplies input channel c by for output o at (kh, kw): forward w[o, c, kh, kw]; backward-data (the flipped transpose)
// w[c, o, 2 − kh, 2 − kw]; 0 past the channels. round: TF32 (cvt.rna, or to nearest even where the kernel rounds its
// stages so: TensorCoreRounding). G = the 64-channel groups, even when more than
// one (a block with two warps along channels reads groups 2b and 2b + 1).
// BF16 (kind=bf16: stages of 16 channels, one m16n8k16 per tap) keeps the places and packs two channels in each word,
// the registers a0 … a3 of WarpMma.Bf16 with its k renumbered as WarpTile64x32.StepPackedBf16 says:
//   T[…same…] = bf16x2(A(o, c), A(o, c + 4)) (Bf16.Pack of Bf16.Round: c in bits 0–15),
//   o as above,  c = 16·⌊k / 3⌋ + q + 8·⌊e / 2⌋.
public static partial class Conv2d
{
    /// <summary>Floats of one stage of one 64-channel group in <see cref="TensorCoreOperand"/>: 3 taps × 4 row tiles × 32 lanes × 4.</summary>
    internal const int TensorCoreGroupFloats = 3 * 4 * 32 * 4;

    /// <summary>The 64-channel groups G of <see cref="TensorCoreOperand"/> for <paramref name="m"/> outputs: ⌈m / 64⌉, rounded up to even when above 1.</summary>
    internal static int TensorCoreGroups(int m)
    {
        int groups = Gpu.DivUp(m, TensorCoreWarpChannels);
        return groups == 1 ? 1 : (groups + 1) & ~1;
    }

    /// <summary>Floats of <see cref="TensorCoreOperand"/> for a convolution that sums over <paramref name="reduce"/> channels into <paramref name="m"/>.</summary>
    internal static int TensorCoreOperandFloats(int reduce, int m, bool bf16) =>
        TensorCoreStages(reduce, bf16 ? ConvKernelKind.TensorCoreBf16 : ConvKernelKind.TensorCoreTf32) * TensorCoreGroups(m) * TensorCoreGroupFloats;

    /// <summary>
    /// How the tensor-core convolution rounds its inputs, the weight operand and the stages alike: <see cref="Tf32"/> to
    /// nearest with ties away from zero (cvt.rna), <see cref="Bf16"/>, <see cref="Tf32NearestEven"/> to nearest with ties to
    /// even (<see cref="ConvTiles.Tf32NearestEven"/>).
    /// </summary>
    internal enum TensorCoreRounding { Tf32 = 0, Bf16 = 1, Tf32NearestEven = 2 }

    /// <summary>
    /// The rounding the tensor-core blocking <paramref name="tiles"/> runs with on <paramref name="accelerator"/>: BF16 for
    /// kind=bf16; for kind=tf32 to nearest even where the tiles ask for it or the device has cvt.rn.tf32 (CUDA sm_90+:
    /// one instruction where cvt.rna takes four, <see cref="TensorCores.Tf32.HasNearestEven"/>), else cvt.rna's.
    /// </summary>
    internal static TensorCoreRounding TensorCoreRoundingOf(ConvTiles tiles, Accelerator accelerator) =>
        tiles.Kind == ConvKernelKind.TensorCoreBf16 ? TensorCoreRounding.Bf16
        : tiles.Tf32NearestEven || TensorCores.Tf32.HasNearestEven(accelerator) ? TensorCoreRounding.Tf32NearestEven
        : TensorCoreRounding.Tf32;

    /// <summary>
    /// The tensor-core kernel's weight operand T of OIHW 3×3 weights <paramref name="w"/> (see the file comment), forward or
    /// backward-data (<paramref name="transpose"/>), rounded as <paramref name="rounding"/> says; written into
    /// <paramref name="into"/> (at least <see cref="TensorCoreOperandFloats"/>) or a new tensor. Returns it.
    /// </summary>
    internal static Tensor TensorCoreOperand(Tensor w, bool transpose, TensorCoreRounding rounding, Tensor? into = null)
    {
        var gpu = w.Gpu;
        int reduce = transpose ? w.Shape.N : w.Shape.C, m = transpose ? w.Shape.C : w.Shape.N;
        int floats = TensorCoreOperandFloats(reduce, m, rounding == TensorCoreRounding.Bf16);
        var t = into ?? gpu.Allocate(Shape4.Vector(floats));
        gpu.Kernel(TensorCoreOperandKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, int, int, int, int, int, View>(TensorCoreOperandKernel))(
            new Index1D(floats), w.View, w.Shape.N, w.Shape.C, TensorCoreGroups(m), transpose ? 1 : 0, (int)rounding, t.View);
        return t;
    }

    /// <summary>
    /// T[index] of the file comment, from weights w (cout × cin × 3 × 3), rounded as <paramref name="rounding"/>
    /// (<see cref="TensorCoreRounding"/>) says. Not a hot kernel: once per layer, so TF32 to nearest even is the bit
    /// arithmetic (Tf32.RoundNearestEvenEmulated, cvt.rn.tf32's result) that any device runs, and one kernel serves all.
    /// </summary>
    private static void TensorCoreOperandKernel(Index1D index, View w, int cout, int cin, int groups, int transpose, int rounding, View t)
    {
        int e = index & 3, lane = (index >> 2) & 31, i = (index >> 7) & 3, rest = index >> 9;
        // Divisions by 3 as ConstantDivision's products (PtxasTests refuses PTX div/rem by an immediate in any kernel).
        int block = ConstantDivision.Quotient(rest, 3), kw = rest - 3 * block, r = block % groups, k = block / groups;
        int chunk = ConstantDivision.Quotient(k, 3), kh = k - 3 * chunk;
        int o = 64 * r + 16 * i + (lane >> 2) + 8 * (e & 1), tap = 3 * kh + kw;
        if (rounding != (int)TensorCoreRounding.Bf16)
        {
            int c = 8 * chunk + (lane & 3) + 4 * (e >> 1);
            float a = FastPathWeight(w, cout, cin, transpose, o, c, tap);
            t[index] = rounding == (int)TensorCoreRounding.Tf32NearestEven ? Tf32.RoundNearestEvenEmulated(a) : Tf32.Round(a);
            return;
        }
        int c16 = 16 * chunk + (lane & 3) + 8 * (e >> 1);
        t[index] = Interop.IntAsFloat(Bf16.Pack(Bf16.Round(FastPathWeight(w, cout, cin, transpose, o, c16, tap)),
            Bf16.Round(FastPathWeight(w, cout, cin, transpose, o, c16 + 4, tap))));
    }
}
