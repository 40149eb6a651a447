// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Register-blocked implicit GEMM for 3×3, stride 1, padding 1 (see Conv2dFast3x3.cs for the GEMM view and the
// operand layouts). No shared memory and no barrier: a work-item owns a 16-channel × 8-pixel block of the
// output and streams its operands from global memory (on CPUs the caches are the tile store; on GPUs L1). Both
// operands of the block are contiguous: the 16 weights of one tap are consecutive in the K-major layout (two
// vector loads), and the input values are scalars used by all 16 channels (broadcasts). A CPU OpenCL compiler
// turns each work-item into 8-wide SIMD (straight-line code over independent lanes, fused multiply-adds via
// MulAdd.Of); 16 channels rather than 8 halve the broadcasts per multiply-add; see doc/PERFORMANCE.md.
public static partial class Conv2d
{
    /// <summary>
    /// out[o, y, x] (+)= Σ_c Σ_kh Σ_kw a[(c·9 + 3·kh + kw)·mp + o] · padded[c, y + kh, x + kw] (+ bias, ReLU),
    /// where padded is the input with a zero border (row/column 0 and everything past h/w). Grid
    /// (⌈w / (8·gx)⌉, h, ⌈m / (16·gy)⌉), group (gx, gy): work-item (tx, ty) owns channels o0 .. o0 + 15 with
    /// o0 = 16·(gy·z + ty), pixels x0 .. x0 + 7 with x0 = 8·(gx·bx + tx), row y. padded is cin × (h + 2) × wp with
    /// wp ≥ (last x0) + 10, so no load needs a bounds check; a has mp ≥ o0 + 16 columns (zeros past m).
    /// <paramref name="rowStore"/> (a compile-time constant: ILGPU compiles one kernel per value) picks the epilogue:
    /// 0, pixel by pixel (16 channels each, strided stores); 1, channel by channel (the 8 pixels of a channel are
    /// consecutive in the output, so a full block writes straight-line rows). On PoCL the epilogue also turns the
    /// vectorization of the whole kernel around (the SLP vectorizer starts from the stores): with row stores, vectors
    /// along the 8 pixels, each weight broadcast from memory, no shuffles — faster on wide maps (≥ 128 pixels: 80–85
    /// instead of 65–75 GFLOP/s per core, conv1_1 forward 55 instead of 15), slower on narrow ones (32×32: 60 instead
    /// of 74), where the weights stream from L2; hence <see cref="TuningPlan.RowStoreMinWidth"/> (default 128).
    /// </summary>
    private static void RegisterBlocked3x3Kernel(
        SpecializedValue<int> rowStore, int cin, int m, int mp, int h, int w, int wp,
        View padded, View a, View bias, int hasBias, int relu, int accumulate, View output)
    {
        int x0 = (Grid.IdxX * Group.DimX + Group.IdxX) * ConvTiles.BlockedPixels;
        int y = Grid.IdxY;
        int o0 = (Grid.IdxZ * Group.DimY + Group.IdxY) * ConvTiles.BlockedChannels;
        if (o0 >= m || x0 >= w) return;

        var acc = Accumulate(cin, mp, h, wp, padded, a, y, x0, o0);
        var store = new BlockedEpilogue(output, bias, hasBias, relu, accumulate, m, h * w, o0, y * w + x0, w - x0);
        if (rowStore.Value != 0) StoreByChannel(store, acc);
        else StoreByPixel(store, acc);
    }

    private static void StoreByPixel(BlockedEpilogue store, Block8x16 acc)
    {
        store.Pixel(0, acc.P0.Lo, 0); store.Pixel(0, acc.P0.Hi, 8);
        store.Pixel(1, acc.P1.Lo, 0); store.Pixel(1, acc.P1.Hi, 8);
        store.Pixel(2, acc.P2.Lo, 0); store.Pixel(2, acc.P2.Hi, 8);
        store.Pixel(3, acc.P3.Lo, 0); store.Pixel(3, acc.P3.Hi, 8);
        store.Pixel(4, acc.P4.Lo, 0); store.Pixel(4, acc.P4.Hi, 8);
        store.Pixel(5, acc.P5.Lo, 0); store.Pixel(5, acc.P5.Hi, 8);
        store.Pixel(6, acc.P6.Lo, 0); store.Pixel(6, acc.P6.Hi, 8);
        store.Pixel(7, acc.P7.Lo, 0); store.Pixel(7, acc.P7.Hi, 8);
    }

    private static void StoreByChannel(BlockedEpilogue store, Block8x16 acc)
    {
        store.Channel(0, new Pixels8(acc.P0.Lo.C0, acc.P1.Lo.C0, acc.P2.Lo.C0, acc.P3.Lo.C0, acc.P4.Lo.C0, acc.P5.Lo.C0, acc.P6.Lo.C0, acc.P7.Lo.C0));
        store.Channel(1, new Pixels8(acc.P0.Lo.C1, acc.P1.Lo.C1, acc.P2.Lo.C1, acc.P3.Lo.C1, acc.P4.Lo.C1, acc.P5.Lo.C1, acc.P6.Lo.C1, acc.P7.Lo.C1));
        store.Channel(2, new Pixels8(acc.P0.Lo.C2, acc.P1.Lo.C2, acc.P2.Lo.C2, acc.P3.Lo.C2, acc.P4.Lo.C2, acc.P5.Lo.C2, acc.P6.Lo.C2, acc.P7.Lo.C2));
        store.Channel(3, new Pixels8(acc.P0.Lo.C3, acc.P1.Lo.C3, acc.P2.Lo.C3, acc.P3.Lo.C3, acc.P4.Lo.C3, acc.P5.Lo.C3, acc.P6.Lo.C3, acc.P7.Lo.C3));
        store.Channel(4, new Pixels8(acc.P0.Lo.C4, acc.P1.Lo.C4, acc.P2.Lo.C4, acc.P3.Lo.C4, acc.P4.Lo.C4, acc.P5.Lo.C4, acc.P6.Lo.C4, acc.P7.Lo.C4));
        store.Channel(5, new Pixels8(acc.P0.Lo.C5, acc.P1.Lo.C5, acc.P2.Lo.C5, acc.P3.Lo.C5, acc.P4.Lo.C5, acc.P5.Lo.C5, acc.P6.Lo.C5, acc.P7.Lo.C5));
        store.Channel(6, new Pixels8(acc.P0.Lo.C6, acc.P1.Lo.C6, acc.P2.Lo.C6, acc.P3.Lo.C6, acc.P4.Lo.C6, acc.P5.Lo.C6, acc.P6.Lo.C6, acc.P7.Lo.C6));
        store.Channel(7, new Pixels8(acc.P0.Lo.C7, acc.P1.Lo.C7, acc.P2.Lo.C7, acc.P3.Lo.C7, acc.P4.Lo.C7, acc.P5.Lo.C7, acc.P6.Lo.C7, acc.P7.Lo.C7));
        store.Channel(8, new Pixels8(acc.P0.Hi.C0, acc.P1.Hi.C0, acc.P2.Hi.C0, acc.P3.Hi.C0, acc.P4.Hi.C0, acc.P5.Hi.C0, acc.P6.Hi.C0, acc.P7.Hi.C0));
        store.Channel(9, new Pixels8(acc.P0.Hi.C1, acc.P1.Hi.C1, acc.P2.Hi.C1, acc.P3.Hi.C1, acc.P4.Hi.C1, acc.P5.Hi.C1, acc.P6.Hi.C1, acc.P7.Hi.C1));
        store.Channel(10, new Pixels8(acc.P0.Hi.C2, acc.P1.Hi.C2, acc.P2.Hi.C2, acc.P3.Hi.C2, acc.P4.Hi.C2, acc.P5.Hi.C2, acc.P6.Hi.C2, acc.P7.Hi.C2));
        store.Channel(11, new Pixels8(acc.P0.Hi.C3, acc.P1.Hi.C3, acc.P2.Hi.C3, acc.P3.Hi.C3, acc.P4.Hi.C3, acc.P5.Hi.C3, acc.P6.Hi.C3, acc.P7.Hi.C3));
        store.Channel(12, new Pixels8(acc.P0.Hi.C4, acc.P1.Hi.C4, acc.P2.Hi.C4, acc.P3.Hi.C4, acc.P4.Hi.C4, acc.P5.Hi.C4, acc.P6.Hi.C4, acc.P7.Hi.C4));
        store.Channel(13, new Pixels8(acc.P0.Hi.C5, acc.P1.Hi.C5, acc.P2.Hi.C5, acc.P3.Hi.C5, acc.P4.Hi.C5, acc.P5.Hi.C5, acc.P6.Hi.C5, acc.P7.Hi.C5));
        store.Channel(14, new Pixels8(acc.P0.Hi.C6, acc.P1.Hi.C6, acc.P2.Hi.C6, acc.P3.Hi.C6, acc.P4.Hi.C6, acc.P5.Hi.C6, acc.P6.Hi.C6, acc.P7.Hi.C6));
        store.Channel(15, new Pixels8(acc.P0.Hi.C7, acc.P1.Hi.C7, acc.P2.Hi.C7, acc.P3.Hi.C7, acc.P4.Hi.C7, acc.P5.Hi.C7, acc.P6.Hi.C7, acc.P7.Hi.C7));
    }

    /// <summary>Σ over input channels and the 3×3 taps for the block at (y, x0 … x0 + 7) × (o0 … o0 + 15).</summary>
    private static Block8x16 Accumulate(int cin, int mp, int h, int wp, View padded, View a, int y, int x0, int o0)
    {
        int paddedPlane = (h + 2) * wp;
        var acc = default(Block8x16);
        for (int c = 0; c < cin; c++)
        {
            int p = c * paddedPlane + y * wp + x0; // padded[c, y + kh, x0 + kw] = padded[p + kh·wp + kw]
            int k = c * 9 * mp + o0;               // a[(c·9 + tap)·mp + o0]
            acc = Block8x16.KernelRow(acc, padded, p, a, k, mp);
            acc = Block8x16.KernelRow(acc, padded, p + wp, a, k + 3 * mp, mp);
            acc = Block8x16.KernelRow(acc, padded, p + 2 * wp, a, k + 6 * mp, mp);
        }
        return acc;
    }

    /// <summary>8 consecutive output channels of one pixel (C0 = channel o0), one SIMD vector on CPU OpenCL.</summary>
    private struct Channels8
    {
        public float C0, C1, C2, C3, C4, C5, C6, C7;

        public static Channels8 Load(View s, int i)
        {
            Channels8 r;
            r.C0 = s[i]; r.C1 = s[i + 1]; r.C2 = s[i + 2]; r.C3 = s[i + 3];
            r.C4 = s[i + 4]; r.C5 = s[i + 5]; r.C6 = s[i + 6]; r.C7 = s[i + 7];
            return r;
        }

        // acc + wa·xa + wb·xb + wc·xc, channel by channel (three taps of one kernel row).
        public static Channels8 ThreeTaps(Channels8 acc, Channels8 wa, float xa, Channels8 wb, float xb, Channels8 wc, float xc)
        {
            acc.C0 = MulAdd.Of(wa.C0, xa, acc.C0); acc.C1 = MulAdd.Of(wa.C1, xa, acc.C1); acc.C2 = MulAdd.Of(wa.C2, xa, acc.C2); acc.C3 = MulAdd.Of(wa.C3, xa, acc.C3);
            acc.C4 = MulAdd.Of(wa.C4, xa, acc.C4); acc.C5 = MulAdd.Of(wa.C5, xa, acc.C5); acc.C6 = MulAdd.Of(wa.C6, xa, acc.C6); acc.C7 = MulAdd.Of(wa.C7, xa, acc.C7);
            acc.C0 = MulAdd.Of(wb.C0, xb, acc.C0); acc.C1 = MulAdd.Of(wb.C1, xb, acc.C1); acc.C2 = MulAdd.Of(wb.C2, xb, acc.C2); acc.C3 = MulAdd.Of(wb.C3, xb, acc.C3);
            acc.C4 = MulAdd.Of(wb.C4, xb, acc.C4); acc.C5 = MulAdd.Of(wb.C5, xb, acc.C5); acc.C6 = MulAdd.Of(wb.C6, xb, acc.C6); acc.C7 = MulAdd.Of(wb.C7, xb, acc.C7);
            acc.C0 = MulAdd.Of(wc.C0, xc, acc.C0); acc.C1 = MulAdd.Of(wc.C1, xc, acc.C1); acc.C2 = MulAdd.Of(wc.C2, xc, acc.C2); acc.C3 = MulAdd.Of(wc.C3, xc, acc.C3);
            acc.C4 = MulAdd.Of(wc.C4, xc, acc.C4); acc.C5 = MulAdd.Of(wc.C5, xc, acc.C5); acc.C6 = MulAdd.Of(wc.C6, xc, acc.C6); acc.C7 = MulAdd.Of(wc.C7, xc, acc.C7);
            return acc;
        }
    }

    /// <summary>16 consecutive output channels of one pixel: Lo = o0 … o0 + 7, Hi = o0 + 8 … o0 + 15 (two SIMD vectors).</summary>
    private struct Channels16
    {
        public Channels8 Lo, Hi;

        public static Channels16 Load(View s, int i)
        {
            Channels16 r;
            r.Lo = Channels8.Load(s, i);
            r.Hi = Channels8.Load(s, i + 8);
            return r;
        }

        public static Channels16 ThreeTaps(Channels16 acc, Channels16 wa, float xa, Channels16 wb, float xb, Channels16 wc, float xc)
        {
            acc.Lo = Channels8.ThreeTaps(acc.Lo, wa.Lo, xa, wb.Lo, xb, wc.Lo, xc);
            acc.Hi = Channels8.ThreeTaps(acc.Hi, wa.Hi, xa, wb.Hi, xb, wc.Hi, xc);
            return acc;
        }
    }

    /// <summary>One work-item's accumulators: pixels P0..P7 (consecutive x) × 16 channels. Passed by value, kept in registers.</summary>
    private struct Block8x16
    {
        public Channels16 P0, P1, P2, P3, P4, P5, P6, P7;

        /// <summary>
        /// One kernel row kh of one input channel: pixel j gets Σ_kw a[k + kw·mp + ·] · padded[p + j + kw]. The 10
        /// input values are loaded once and shared by the 8 pixels; the 3 weight vectors by all 8 pixels.
        /// </summary>
        public static Block8x16 KernelRow(Block8x16 b, View padded, int p, View a, int k, int mp)
        {
            float x0 = padded[p], x1 = padded[p + 1], x2 = padded[p + 2], x3 = padded[p + 3], x4 = padded[p + 4];
            float x5 = padded[p + 5], x6 = padded[p + 6], x7 = padded[p + 7], x8 = padded[p + 8], x9 = padded[p + 9];
            var w0 = Channels16.Load(a, k);
            var w1 = Channels16.Load(a, k + mp);
            var w2 = Channels16.Load(a, k + 2 * mp);
            b.P0 = Channels16.ThreeTaps(b.P0, w0, x0, w1, x1, w2, x2);
            b.P1 = Channels16.ThreeTaps(b.P1, w0, x1, w1, x2, w2, x3);
            b.P2 = Channels16.ThreeTaps(b.P2, w0, x2, w1, x3, w2, x4);
            b.P3 = Channels16.ThreeTaps(b.P3, w0, x3, w1, x4, w2, x5);
            b.P4 = Channels16.ThreeTaps(b.P4, w0, x4, w1, x5, w2, x6);
            b.P5 = Channels16.ThreeTaps(b.P5, w0, x5, w1, x6, w2, x7);
            b.P6 = Channels16.ThreeTaps(b.P6, w0, x6, w1, x7, w2, x8);
            b.P7 = Channels16.ThreeTaps(b.P7, w0, x7, w1, x8, w2, x9);
            return b;
        }
    }

    /// <summary>The 8 pixels of one output channel of a block, in x order.</summary>
    private readonly struct Pixels8(float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7)
    {
        public readonly float V0 = v0, V1 = v1, V2 = v2, V3 = v3, V4 = v4, V5 = v5, V6 = v6, V7 = v7;
    }

    /// <summary>Writes a block: + bias, ReLU, store or add; skips pixels past w and channels past m.</summary>
    private readonly struct BlockedEpilogue(
        View output, View bias, int hasBias, int relu, int accumulate, int m, int plane, int o0, int pixel0, int pixelsLeft)
    {
        /// <summary>
        /// Channel o0 + i, its 8 pixels at once: every condition is per channel or per block, so a full block's row is
        /// straight-line code.
        /// </summary>
        public void Channel(int i, Pixels8 v)
        {
            int o = o0 + i;
            if (o >= m) return;
            float b = hasBias != 0 ? bias[o] : 0f;
            float v0 = v.V0 + b, v1 = v.V1 + b, v2 = v.V2 + b, v3 = v.V3 + b;
            float v4 = v.V4 + b, v5 = v.V5 + b, v6 = v.V6 + b, v7 = v.V7 + b;
            if (relu != 0)
            {
                v0 = IntrinsicMath.Max(v0, 0f); v1 = IntrinsicMath.Max(v1, 0f); v2 = IntrinsicMath.Max(v2, 0f); v3 = IntrinsicMath.Max(v3, 0f);
                v4 = IntrinsicMath.Max(v4, 0f); v5 = IntrinsicMath.Max(v5, 0f); v6 = IntrinsicMath.Max(v6, 0f); v7 = IntrinsicMath.Max(v7, 0f);
            }
            int q = o * plane + pixel0;
            if (pixelsLeft >= ConvTiles.BlockedPixels && accumulate == 0)
            {
                output[q] = v0; output[q + 1] = v1; output[q + 2] = v2; output[q + 3] = v3;
                output[q + 4] = v4; output[q + 5] = v5; output[q + 6] = v6; output[q + 7] = v7;
            }
            else if (pixelsLeft >= ConvTiles.BlockedPixels)
            {
                output[q] += v0; output[q + 1] += v1; output[q + 2] += v2; output[q + 3] += v3;
                output[q + 4] += v4; output[q + 5] += v5; output[q + 6] += v6; output[q + 7] += v7;
            }
            else
            {
                StoreIfInside(q + 0, 0, v0); StoreIfInside(q + 1, 1, v1); StoreIfInside(q + 2, 2, v2); StoreIfInside(q + 3, 3, v3);
                StoreIfInside(q + 4, 4, v4); StoreIfInside(q + 5, 5, v5); StoreIfInside(q + 6, 6, v6); StoreIfInside(q + 7, 7, v7);
            }
        }

        // Pixel j of a partial block (the last of a row), stored only if it exists.
        private void StoreIfInside(int index, int j, float v)
        {
            if (j < pixelsLeft) Output.Store(output, index, v, accumulate);
        }

        public void Pixel(int j, Channels8 v, int offset)
        {
            if (j >= pixelsLeft) return;
            int q = pixel0 + j, o = o0 + offset;
            Put(o, q, v.C0);
            Put(o + 1, q, v.C1);
            Put(o + 2, q, v.C2);
            Put(o + 3, q, v.C3);
            Put(o + 4, q, v.C4);
            Put(o + 5, q, v.C5);
            Put(o + 6, q, v.C6);
            Put(o + 7, q, v.C7);
        }

        private void Put(int o, int q, float v)
        {
            if (o >= m) return;
            if (hasBias != 0) v += bias[o];
            if (relu != 0) v = IntrinsicMath.Max(v, 0f);
            Output.Store(output, o * plane + q, v, accumulate);
        }
    }
}
