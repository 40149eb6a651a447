// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// The register-blocked 3×3 kernel (Conv2dRegisterBlockedKernel.cs) with an 8-channel × 8-pixel block: 64 accumulators,
// 8 vectors of 8 floats. The 16-channel block holds 128 accumulators: 16 of AVX-512's 32 zmm registers, but all 16 ymm
// registers of AVX2 before a single operand, so there it spills (issue #13: 43–56 GFLOP/s on a Zen 3 where a Zen 4 gets
// 120–170). Same operand layouts, same epilogue (BlockedEpilogue); each input value is broadcast to 8 channels instead
// of 16, so a register file that holds the larger block should prefer it. TuningPlan picks by device (kind=blocked8).
public static partial class Conv2d
{
    /// <summary>
    /// As <see cref="RegisterBlocked3x3Kernel"/> with blocks of <see cref="ConvTiles.Blocked8Channels"/> output channels:
    /// work-item (tx, ty) owns channels o0 … o0 + 7 with o0 = 8·(gy·z + ty); grid z = ⌈m / (8·gy)⌉. a has mp ≥ o0 + 8
    /// columns (mp is a multiple of 16, so every block is inside it).
    /// </summary>
    private static void RegisterBlocked8x8Kernel(
        SpecializedValue<int> rowStore, int cin, int m, int mp, int h, int w, int wp,
        View padded, View a, View bias, int hasBias, int relu, int accumulate, View output)
    {
        int x0 = (Grid.IdxX * Group.DimX + Group.IdxX) * ConvTiles.BlockedPixels;
        int y = Grid.IdxY;
        int o0 = (Grid.IdxZ * Group.DimY + Group.IdxY) * ConvTiles.Blocked8Channels;
        if (o0 >= m || x0 >= w) return;

        int paddedPlane = (h + 2) * wp;
        var acc = default(Block8x8);
        for (int c = 0; c < cin; c++)
        {
            int p = c * paddedPlane + y * wp + x0; // padded[c, y + kh, x0 + kw] = padded[p + kh·wp + kw]
            int k = c * 9 * mp + o0;               // a[(c·9 + tap)·mp + o0]
            acc = Block8x8.KernelRow(acc, padded, p, a, k, mp);
            acc = Block8x8.KernelRow(acc, padded, p + wp, a, k + 3 * mp, mp);
            acc = Block8x8.KernelRow(acc, padded, p + 2 * wp, a, k + 6 * mp, mp);
        }
        var store = new BlockedEpilogue(output, bias, hasBias, relu, accumulate, m, h * w, o0, y * w + x0, w - x0);
        if (rowStore.Value != 0)
        {
            store.Channel(0, new Pixels8(acc.P0.C0, acc.P1.C0, acc.P2.C0, acc.P3.C0, acc.P4.C0, acc.P5.C0, acc.P6.C0, acc.P7.C0));
            store.Channel(1, new Pixels8(acc.P0.C1, acc.P1.C1, acc.P2.C1, acc.P3.C1, acc.P4.C1, acc.P5.C1, acc.P6.C1, acc.P7.C1));
            store.Channel(2, new Pixels8(acc.P0.C2, acc.P1.C2, acc.P2.C2, acc.P3.C2, acc.P4.C2, acc.P5.C2, acc.P6.C2, acc.P7.C2));
            store.Channel(3, new Pixels8(acc.P0.C3, acc.P1.C3, acc.P2.C3, acc.P3.C3, acc.P4.C3, acc.P5.C3, acc.P6.C3, acc.P7.C3));
            store.Channel(4, new Pixels8(acc.P0.C4, acc.P1.C4, acc.P2.C4, acc.P3.C4, acc.P4.C4, acc.P5.C4, acc.P6.C4, acc.P7.C4));
            store.Channel(5, new Pixels8(acc.P0.C5, acc.P1.C5, acc.P2.C5, acc.P3.C5, acc.P4.C5, acc.P5.C5, acc.P6.C5, acc.P7.C5));
            store.Channel(6, new Pixels8(acc.P0.C6, acc.P1.C6, acc.P2.C6, acc.P3.C6, acc.P4.C6, acc.P5.C6, acc.P6.C6, acc.P7.C6));
            store.Channel(7, new Pixels8(acc.P0.C7, acc.P1.C7, acc.P2.C7, acc.P3.C7, acc.P4.C7, acc.P5.C7, acc.P6.C7, acc.P7.C7));
        }
        else
        {
            store.Pixel(0, acc.P0, 0); store.Pixel(1, acc.P1, 0); store.Pixel(2, acc.P2, 0); store.Pixel(3, acc.P3, 0);
            store.Pixel(4, acc.P4, 0); store.Pixel(5, acc.P5, 0); store.Pixel(6, acc.P6, 0); store.Pixel(7, acc.P7, 0);
        }
    }

    /// <summary>One work-item's accumulators: pixels P0..P7 (consecutive x) × 8 channels. Passed by value, kept in registers.</summary>
    private struct Block8x8
    {
        public Channels8 P0, P1, P2, P3, P4, P5, P6, P7;

        /// <summary>One kernel row kh of one input channel (see Block8x16.KernelRow): 10 inputs, 3 weight vectors, 8 pixels.</summary>
        public static Block8x8 KernelRow(Block8x8 b, View padded, int p, View a, int k, int mp)
        {
            float x0 = padded[p], x1 = padded[p + 1], x2 = padded[p + 2], x3 = padded[p + 3], x4 = padded[p + 4];
            float x5 = padded[p + 5], x6 = padded[p + 6], x7 = padded[p + 7], x8 = padded[p + 8], x9 = padded[p + 9];
            var w0 = Channels8.Load(a, k);
            var w1 = Channels8.Load(a, k + mp);
            var w2 = Channels8.Load(a, k + 2 * mp);
            b.P0 = Channels8.ThreeTaps(b.P0, w0, x0, w1, x1, w2, x2);
            b.P1 = Channels8.ThreeTaps(b.P1, w0, x1, w1, x2, w2, x3);
            b.P2 = Channels8.ThreeTaps(b.P2, w0, x2, w1, x3, w2, x4);
            b.P3 = Channels8.ThreeTaps(b.P3, w0, x3, w1, x4, w2, x5);
            b.P4 = Channels8.ThreeTaps(b.P4, w0, x4, w1, x5, w2, x6);
            b.P5 = Channels8.ThreeTaps(b.P5, w0, x5, w1, x6, w2, x7);
            b.P6 = Channels8.ThreeTaps(b.P6, w0, x6, w1, x7, w2, x8);
            b.P7 = Channels8.ThreeTaps(b.P7, w0, x7, w1, x8, w2, x9);
            return b;
        }
    }
}
