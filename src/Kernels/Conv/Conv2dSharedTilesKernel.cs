// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Shared-tiles implicit GEMM for 3×3, stride 1, padding 1 (see Conv2dFast3x3.cs for the GEMM view and the
// operand layouts). Written for SIMT compilers that map work-items along x to lanes: inside a barrier interval
// there is no loop whose trip count the compiler cannot see (the per-thread math is written out: 9 taps × 4×4
// multiply-adds per input channel), consecutive x work-items touch consecutive addresses, and the only
// conditionals are the zero-padding selects of the shared-memory fills.
public static partial class Conv2d
{
    /// <summary>Shared floats reserved for the input patch (the largest <see cref="ConvTiles.PatchFloats"/>).</summary>
    internal const int PatchSharedFloats = 1024;

    /// <summary>Shared floats reserved for the weight block (the largest <see cref="ConvTiles.WeightFloats"/>).</summary>
    internal const int WeightSharedFloats = 4608;

    /// <summary>Largest group (gx·gy) of the shared-tiles kernel (size of its static anchor array).</summary>
    internal const int MaxSharedGroup = 1024;

    /// <summary>
    /// out[o, y, x] (+)= Σ_k a[k·mp + o] · in[k / 9, y + tap / 3 − 1, x + tap % 3 − 1] (+ bias, ReLU), for
    /// 3×3 stride-1 padding-1 convolutions of a 1×cin×h×w input into 1×cout×h×w.
    /// Group (gx, gy) threads; grid (⌈W/gx⌉, ⌈H/4⌉, ⌈M/(4·gy)⌉). Thread (tx, ty) owns output channels
    /// o0 + 4·ty + m (m &lt; 4) at rows y0 + n (n &lt; 4) of column x0 + tx. Per step of ci input channels the
    /// group stages the zero-padded input patch ci × 6 × (gx + 2) and the weight block (ci·9) × (4·gy) in shared
    /// memory (each fill a loop with a constant trip count over consecutive addresses); then every thread does
    /// ci·9·16 multiply-adds from registers.
    /// </summary>
    private static void SharedTiles3x3Kernel(
        SpecializedValue<ConvTiles> tiles, int cin, int cout, int mp, int h, int w,
        View input, View weights, View bias, int hasBias, int relu, int accumulate, View output)
    {
        const int BlockSize = ConvTiles.SharedBlock;
        var t = tiles.Value;
        int gx = t.GroupX, gy = t.GroupY, ci = t.InputChunk;
        var patch = SharedMemory.Allocate<float>(PatchSharedFloats);
        var wblock = SharedMemory.Allocate<float>(WeightSharedFloats);
        var anchor = SharedMemory.Allocate<float>(MaxSharedGroup);

        int tx = Group.IdxX, ty = Group.IdxY;
        int tid = ty * gx + tx, threads = gx * gy;
        int x0 = Grid.IdxX * gx, y0 = Grid.IdxY * BlockSize, o0 = Grid.IdxZ * gy * BlockSize;
        int bm = gy * BlockSize, pw = gx + 2, ph = BlockSize + 2;
        int patchFloats = ci * ph * pw, weightFloats = ci * 9 * bm;
        int plane = h * w;
        int pThread = tx, wThread = ty * BlockSize; // this thread's column of the patch / channels of the weight block

        var acc = default(Block4x4);
        for (int i0 = 0; i0 < cin; i0 += ci)
        {
            // patch[c, py, px] = in[i0 + c, y0 + py − 1, x0 + px − 1], 0 outside the image or past the last channel.
            for (int s = 0; s < (patchFloats + threads - 1) / threads; s++)
            {
                int e = s * threads + tid;
                int row = ConstantDivision.Quotient(e, pw), px = e - row * pw; // pw, ph: constants of the launch (ConstantDivision)
                int c = ConstantDivision.Quotient(row, ph), py = row - c * ph;
                int iy = y0 + py - 1, ix = x0 + px - 1, channel = i0 + c;
                bool inside = channel < cin && iy >= 0 && iy < h && ix >= 0 && ix < w;
                if (e < patchFloats) patch[e] = inside ? input[channel * plane + iy * w + ix] : 0f;
            }

            // wblock[k, j] = a[(i0·9 + k)·mp + o0 + j] for k < ci·9, j < 4·gy, 0 past the last channel.
            for (int s = 0; s < (weightFloats + threads - 1) / threads; s++)
            {
                int e = s * threads + tid;
                int k = e / bm, j = e - k * bm;
                int kk = i0 * 9 + k, o = o0 + j;
                if (e < weightFloats) wblock[e] = kk < cin * 9 && o < cout ? weights[kk * mp + o] : 0f;
            }
            Group.Barrier();

            // ci is a kernel constant: the untaken branches disappear and no loop remains.
            int pStride = ph * pw, wStride = 9 * bm;
            acc = Block4x4.Channel(acc, patch, pThread, pw, wblock, wThread, bm);
            if (ci > 1) acc = Block4x4.Channel(acc, patch, pThread + pStride, pw, wblock, wThread + wStride, bm);
            if (ci > 2)
            {
                acc = Block4x4.Channel(acc, patch, pThread + 2 * pStride, pw, wblock, wThread + 2 * wStride, bm);
                acc = Block4x4.Channel(acc, patch, pThread + 3 * pStride, pw, wblock, wThread + 3 * wStride, bm);
            }
            if (ci > 4)
            {
                acc = Block4x4.Channel(acc, patch, pThread + 4 * pStride, pw, wblock, wThread + 4 * wStride, bm);
                acc = Block4x4.Channel(acc, patch, pThread + 5 * pStride, pw, wblock, wThread + 5 * wStride, bm);
                acc = Block4x4.Channel(acc, patch, pThread + 6 * pStride, pw, wblock, wThread + 6 * wStride, bm);
                acc = Block4x4.Channel(acc, patch, pThread + 7 * pStride, pw, wblock, wThread + 7 * wStride, bm);
            }
            // ILGPU 1.5.3's code placement sinks side-effect-free values (shared-memory loads included) to their
            // first use, here the next iteration: past the barrier below, where other threads overwrite the
            // tiles. A store that depends on every accumulator pins the whole step before the barrier.
            anchor[tid] = acc.Sum();
            Group.Barrier();
        }

        int x = x0 + tx;
        if (x >= w) return;
        int o0t = o0 + wThread;
        var epilogue = new Epilogue(output, bias, hasBias, relu, accumulate, cout, h, w, x, y0);
        epilogue.Store(o0t, acc.A00, acc.A01, acc.A02, acc.A03);
        epilogue.Store(o0t + 1, acc.A10, acc.A11, acc.A12, acc.A13);
        epilogue.Store(o0t + 2, acc.A20, acc.A21, acc.A22, acc.A23);
        epilogue.Store(o0t + 3, acc.A30, acc.A31, acc.A32, acc.A33);
    }

    /// <summary>
    /// One thread's 4 output channels (m) × 4 output rows (n) of accumulators, A{m}{n}. Passed and returned by
    /// value so the whole block stays in registers.
    /// </summary>
    private struct Block4x4
    {
        public float A00, A01, A02, A03, A10, A11, A12, A13, A20, A21, A22, A23, A30, A31, A32, A33;

        public readonly float Sum() =>
            A00 + A01 + A02 + A03 + A10 + A11 + A12 + A13 + A20 + A21 + A22 + A23 + A30 + A31 + A32 + A33;

        /// <summary>
        /// Adds one input channel: A[m, n] += Σ_kh Σ_kw wb[w0 + (3·kh + kw)·bm + m] · patch[p0 + (n + kh)·pw + kw],
        /// where p0 is this thread's column in the channel's patch and w0 its first channel in the channel's
        /// 9 weight rows. Each patch column (6 values) is loaded once and used by the 3 taps that read it.
        /// </summary>
        public static Block4x4 Channel(Block4x4 a, ArrayView<float> patch, int p0, int pw, ArrayView<float> wb, int w0, int bm)
        {
            a = Column(a, patch, p0, pw, wb, w0, bm);
            a = Column(a, patch, p0 + 1, pw, wb, w0 + bm, bm);
            return Column(a, patch, p0 + 2, pw, wb, w0 + 2 * bm, bm);
        }

        // Taps (kh, kw) for kh = 0, 1, 2 of one patch column; w0 is the weight row of tap (0, kw).
        private static Block4x4 Column(Block4x4 a, ArrayView<float> patch, int p, int pw, ArrayView<float> wb, int w0, int bm)
        {
            float x0 = patch[p], x1 = patch[p + pw], x2 = patch[p + 2 * pw];
            float x3 = patch[p + 3 * pw], x4 = patch[p + 4 * pw], x5 = patch[p + 5 * pw];
            a = Tap(a, wb, w0, x0, x1, x2, x3);
            a = Tap(a, wb, w0 + 3 * bm, x1, x2, x3, x4);
            return Tap(a, wb, w0 + 6 * bm, x2, x3, x4, x5);
        }

        // A[m, n] += wb[w + m] · x_n: one tap for 4 channels × 4 rows.
        private static Block4x4 Tap(Block4x4 a, ArrayView<float> wb, int w, float x0, float x1, float x2, float x3)
        {
            float w0 = wb[w], w1 = wb[w + 1], w2 = wb[w + 2], w3 = wb[w + 3];
            a.A00 = MulAdd.Of(w0, x0, a.A00); a.A01 = MulAdd.Of(w0, x1, a.A01); a.A02 = MulAdd.Of(w0, x2, a.A02); a.A03 = MulAdd.Of(w0, x3, a.A03);
            a.A10 = MulAdd.Of(w1, x0, a.A10); a.A11 = MulAdd.Of(w1, x1, a.A11); a.A12 = MulAdd.Of(w1, x2, a.A12); a.A13 = MulAdd.Of(w1, x3, a.A13);
            a.A20 = MulAdd.Of(w2, x0, a.A20); a.A21 = MulAdd.Of(w2, x1, a.A21); a.A22 = MulAdd.Of(w2, x2, a.A22); a.A23 = MulAdd.Of(w2, x3, a.A23);
            a.A30 = MulAdd.Of(w3, x0, a.A30); a.A31 = MulAdd.Of(w3, x1, a.A31); a.A32 = MulAdd.Of(w3, x2, a.A32); a.A33 = MulAdd.Of(w3, x3, a.A33);
            return a;
        }
    }

    /// <summary>Writes one thread's outputs: v + bias, ReLU, then store or add, skipping rows/channels past the end.</summary>
    private readonly struct Epilogue(View output, View bias, int hasBias, int relu, int accumulate, int channels, int h, int w, int x, int y0)
    {
        // Output channel o, rows y0 .. y0 + 3 of column x.
        public void Store(int o, float v0, float v1, float v2, float v3)
        {
            if (o >= channels) return;
            float b = hasBias != 0 ? bias[o] : 0f;
            int index = (o * h + y0) * w + x;
            Put(index, y0, v0 + b);
            Put(index + w, y0 + 1, v1 + b);
            Put(index + 2 * w, y0 + 2, v2 + b);
            Put(index + 3 * w, y0 + 3, v3 + b);
        }

        private void Put(int index, int y, float v)
        {
            if (y >= h) return;
            if (relu != 0) v = IntrinsicMath.Max(v, 0f);
            Output.Store(output, index, v, accumulate);
        }
    }
}
