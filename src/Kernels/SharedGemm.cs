// Test: through its kernels — tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs (WinogradSharedProductKernel.cs),
// GramTests.cs (GramShared.cs), Conv2dFastPathTests.cs (Conv2dSharedGemmKernel.cs); PtxasTests.cs (their machine code)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// The pieces of the shared-memory SGEMMs for GPUs (Winograd's product, WinogradSharedProductKernel.cs; the Gram forward,
/// GramShared.cs; the direct convolution, Conv2dSharedGemmKernel.cs): per step of <see cref="Step"/> reduction indices a group stages both operands' blocks in shared
/// arrays (rows of <see cref="Side"/> or more floats per reduction index, two buffers), and each work-item accumulates 8 × 8
/// products from registers (<see cref="Block8x8"/>), its rows and columns two runs of 4 read as 128-bit words: consecutive
/// lanes read consecutive 16-byte words, lanes sharing a row index read one (a broadcast). How each kernel fills the
/// arrays is its own.
/// </summary>
internal static class SharedGemm
{
    /// <summary>Reduction indices per shared step.</summary>
    public const int Step = 8;

    /// <summary>The largest block side (rows or columns) of a group: 8 per work-item × <see cref="WinogradTiles.MaxSharedSide"/>.</summary>
    public const int Side = 8 * WinogradTiles.MaxSharedSide;

    /// <summary>Floats of one buffer of one operand with rows of <see cref="Side"/>.</summary>
    public const int Buffer = Step * Side;

    /// <summary>
    /// A group side for a block dimension of <paramref name="extent"/> rows or columns: <paramref name="side"/> halved while
    /// half of it still covers the extent (8 per work-item), not below the smallest of <see cref="WinogradTiles.SharedSides"/>
    /// — 64-channel maps get 8-wide sides (64-row blocks) instead of 128-row blocks half of zeros.
    /// </summary>
    public static int FitSide(int side, int extent)
    {
        while (side > WinogradTiles.SharedSides[0] && 8 * (side / 2) >= extent) side /= 2;
        return side;
    }

    /// <summary>Where a work-item's elements of one step come from: element i of its share (how many: a constant of the launch).</summary>
    public interface IStepElements
    {
        float Element(int i);
    }

    /// <summary>Elements 0 … n − 1 of <paramref name="step"/> (n ≤ 16, a constant of the launch: the other fields stay 0).</summary>
    public static Staged16 Load<TStep>(TStep step, int n) where TStep : struct, IStepElements
    {
        var s = default(Staged16);
        if (n > 0) s.V0 = step.Element(0); if (n > 1) s.V1 = step.Element(1); if (n > 2) s.V2 = step.Element(2); if (n > 3) s.V3 = step.Element(3);
        if (n > 4) s.V4 = step.Element(4); if (n > 5) s.V5 = step.Element(5); if (n > 6) s.V6 = step.Element(6); if (n > 7) s.V7 = step.Element(7);
        if (n > 8) s.V8 = step.Element(8); if (n > 9) s.V9 = step.Element(9); if (n > 10) s.V10 = step.Element(10); if (n > 11) s.V11 = step.Element(11);
        if (n > 12) s.V12 = step.Element(12); if (n > 13) s.V13 = step.Element(13); if (n > 14) s.V14 = step.Element(14); if (n > 15) s.V15 = step.Element(15);
        return s;
    }

    /// <summary>Up to 16 floats a work-item carries from global to shared memory (how many: a constant of the launch).</summary>
    public struct Staged16
    {
        public float V0, V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15;

        /// <summary>
        /// Element i (i &lt; n) to s[buffer + j·pitch + r], e = tid + threads·i, j = e / side, r = e mod side: consecutive
        /// work-items fill consecutive rows (or tiles) of one reduction step.
        /// </summary>
        public readonly void StoreRowsFast(ArrayView<float> s, int buffer, int tid, int threads, int side, int n, int pitch)
        {
            if (n > 0) PutRowsFast(s, buffer, tid, side, pitch, V0); if (n > 1) PutRowsFast(s, buffer, tid + threads, side, pitch, V1);
            if (n > 2) PutRowsFast(s, buffer, tid + 2 * threads, side, pitch, V2); if (n > 3) PutRowsFast(s, buffer, tid + 3 * threads, side, pitch, V3);
            if (n > 4) PutRowsFast(s, buffer, tid + 4 * threads, side, pitch, V4); if (n > 5) PutRowsFast(s, buffer, tid + 5 * threads, side, pitch, V5);
            if (n > 6) PutRowsFast(s, buffer, tid + 6 * threads, side, pitch, V6); if (n > 7) PutRowsFast(s, buffer, tid + 7 * threads, side, pitch, V7);
            if (n > 8) PutRowsFast(s, buffer, tid + 8 * threads, side, pitch, V8); if (n > 9) PutRowsFast(s, buffer, tid + 9 * threads, side, pitch, V9);
            if (n > 10) PutRowsFast(s, buffer, tid + 10 * threads, side, pitch, V10); if (n > 11) PutRowsFast(s, buffer, tid + 11 * threads, side, pitch, V11);
            if (n > 12) PutRowsFast(s, buffer, tid + 12 * threads, side, pitch, V12); if (n > 13) PutRowsFast(s, buffer, tid + 13 * threads, side, pitch, V13);
            if (n > 14) PutRowsFast(s, buffer, tid + 14 * threads, side, pitch, V14); if (n > 15) PutRowsFast(s, buffer, tid + 15 * threads, side, pitch, V15);
        }

        /// <summary>
        /// Element i (i &lt; n) to s[buffer + k·pitch + r], e = tid + threads·i, k = e mod Step, r = e / Step: consecutive
        /// work-items fill the Step reduction steps of one row, then the next row (rows of F read along their length).
        /// </summary>
        public readonly void StoreStepsFast(ArrayView<float> s, int buffer, int tid, int threads, int n, int pitch)
        {
            if (n > 0) PutStepsFast(s, buffer, tid, pitch, V0); if (n > 1) PutStepsFast(s, buffer, tid + threads, pitch, V1);
            if (n > 2) PutStepsFast(s, buffer, tid + 2 * threads, pitch, V2); if (n > 3) PutStepsFast(s, buffer, tid + 3 * threads, pitch, V3);
            if (n > 4) PutStepsFast(s, buffer, tid + 4 * threads, pitch, V4); if (n > 5) PutStepsFast(s, buffer, tid + 5 * threads, pitch, V5);
            if (n > 6) PutStepsFast(s, buffer, tid + 6 * threads, pitch, V6); if (n > 7) PutStepsFast(s, buffer, tid + 7 * threads, pitch, V7);
            if (n > 8) PutStepsFast(s, buffer, tid + 8 * threads, pitch, V8); if (n > 9) PutStepsFast(s, buffer, tid + 9 * threads, pitch, V9);
            if (n > 10) PutStepsFast(s, buffer, tid + 10 * threads, pitch, V10); if (n > 11) PutStepsFast(s, buffer, tid + 11 * threads, pitch, V11);
            if (n > 12) PutStepsFast(s, buffer, tid + 12 * threads, pitch, V12); if (n > 13) PutStepsFast(s, buffer, tid + 13 * threads, pitch, V13);
            if (n > 14) PutStepsFast(s, buffer, tid + 14 * threads, pitch, V14); if (n > 15) PutStepsFast(s, buffer, tid + 15 * threads, pitch, V15);
        }

        private static void PutRowsFast(ArrayView<float> s, int buffer, int e, int side, int pitch, float value)
        {
            int j = e / side;
            s[buffer + j * pitch + e - j * side] = value;
        }

        private static void PutStepsFast(ArrayView<float> s, int buffer, int e, int pitch, float value)
        {
            int r = e / Step;
            s[buffer + (e - r * Step) * pitch + r] = value;
        }
    }

    /// <summary>8 values of a work-item: one row of its block (two runs of 4 columns), or its a or b values of one reduction step.</summary>
    public struct Row8
    {
        public float V0, V1, V2, V3, V4, V5, V6, V7;

        /// <summary>acc + a·x, element by element (fused).</summary>
        public static Row8 MulAdd(float a, Row8 x, Row8 acc)
        {
            acc.V0 = Kernels.MulAdd.Of(a, x.V0, acc.V0); acc.V1 = Kernels.MulAdd.Of(a, x.V1, acc.V1);
            acc.V2 = Kernels.MulAdd.Of(a, x.V2, acc.V2); acc.V3 = Kernels.MulAdd.Of(a, x.V3, acc.V3);
            acc.V4 = Kernels.MulAdd.Of(a, x.V4, acc.V4); acc.V5 = Kernels.MulAdd.Of(a, x.V5, acc.V5);
            acc.V6 = Kernels.MulAdd.Of(a, x.V6, acc.V6); acc.V7 = Kernels.MulAdd.Of(a, x.V7, acc.V7);
            return acc;
        }

        /// <summary>
        /// The row + <paramref name="add"/> where <paramref name="hasAdd"/>, then through ReLU where <paramref name="relu"/>
        /// (the implicit-GEMM convolution's bias and ReLU, Conv2dSharedGemmKernel.cs); unchanged without either.
        /// </summary>
        public readonly Row8 Epilogue(bool hasAdd, float add, bool relu)
        {
            var r = this;
            if (hasAdd)
            {
                r.V0 += add; r.V1 += add; r.V2 += add; r.V3 += add; r.V4 += add; r.V5 += add; r.V6 += add; r.V7 += add;
            }
            if (relu)
            {
                r.V0 = IntrinsicMath.Max(r.V0, 0f); r.V1 = IntrinsicMath.Max(r.V1, 0f); r.V2 = IntrinsicMath.Max(r.V2, 0f); r.V3 = IntrinsicMath.Max(r.V3, 0f);
                r.V4 = IntrinsicMath.Max(r.V4, 0f); r.V5 = IntrinsicMath.Max(r.V5, 0f); r.V6 = IntrinsicMath.Max(r.V6, 0f); r.V7 = IntrinsicMath.Max(r.V7, 0f);
            }
            return r;
        }

        /// <summary>
        /// Stores (or adds) the row in two runs of 4 — elements 0–3 at q … q + 3, 4–7 at q + half … — each where its offset
        /// from q is below <paramref name="left"/>; nothing unless <paramref name="row"/> (<see cref="Block8x8.Steps8Runs"/>' columns).
        /// </summary>
        public void StoreRuns(View s, int q, int half, int left, bool row, bool accumulate)
        {
            if (!row) return;
            StoreOne(s, q, V0, left > 0, accumulate);
            StoreOne(s, q + 1, V1, left > 1, accumulate);
            StoreOne(s, q + 2, V2, left > 2, accumulate);
            StoreOne(s, q + 3, V3, left > 3, accumulate);
            StoreOne(s, q + half, V4, left > half, accumulate);
            StoreOne(s, q + half + 1, V5, left > half + 1, accumulate);
            StoreOne(s, q + half + 2, V6, left > half + 2, accumulate);
            StoreOne(s, q + half + 3, V7, left > half + 3, accumulate);
        }

        private static void StoreOne(View s, int q, float value, bool inside, bool accumulate)
        {
            if (!inside) return;
            if (accumulate) s[q] += value;
            else s[q] = value;
        }
    }

    /// <summary>Four consecutive floats of a shared array, read as one 128-bit load where the array's alignment is known (<c>ld.shared.v4.f32</c>).</summary>
    public struct Float4
    {
        public float X, Y, Z, W;
    }

    /// <summary>Two consecutive floats of a shared array, read as one 64-bit load where the array's alignment is known (<c>ld.shared.v2.f32</c>).</summary>
    public struct Float2
    {
        public float X, Y;
    }

    /// <summary>
    /// 8 values of a shared row in two runs of 4 consecutive floats, <paramref name="half"/> Float4s apart (a work-item's
    /// rows 4·ty … 4·ty + 3 and 4·gy + 4·ty …, or columns likewise with tx, gx): two 128-bit reads instead of eight.
    /// </summary>
    public static Row8 LoadRuns(ArrayView<Float4> s, int i, int half)
    {
        var lo = s[i];
        var hi = s[i + half];
        Row8 r;
        r.V0 = lo.X; r.V1 = lo.Y; r.V2 = lo.Z; r.V3 = lo.W;
        r.V4 = hi.X; r.V5 = hi.Y; r.V6 = hi.Z; r.V7 = hi.W;
        return r;
    }

    /// <summary>A work-item's 8 × 8 accumulators, rows and columns in runs of 4 (<see cref="Steps8Runs"/>).</summary>
    public struct Block8x8
    {
        public Row8 R0, R1, R2, R3, R4, R5, R6, R7;

        /// <summary>
        /// The 8 reduction steps of a shared step (<see cref="Step"/>), each work-item's rows and columns in runs of 4
        /// (<see cref="LoadRuns"/>): a's values at us[a + s·pitch4 + {0, gy}] and b's at vs[b + s·pitch4 + {0, gx}] as Float4s
        /// for s &lt; 8 (pitch4: the rows' length in Float4s, a constant; a = buffer / 4 + ty, b = buffer / 4 + tx). Row i of
        /// the block is row 4·ty + i (i &lt; 4) or 4·gy + 4·ty + i − 4 of the group's block, column j likewise with tx, gx.
        /// A loop, not written out: unrolled, ptxas hoisted all of a step's shared reads ahead of the products (stop 33: 237
        /// registers). Views starting at the work-item's first element make each read [pointer + constant]; indexing the
        /// whole arrays made ptxas add and shift once per read.
        /// </summary>
        public Block8x8 Steps8Runs(ArrayView<Float4> us, ArrayView<Float4> vs, int a, int b, int gy, int gx, int pitch4)
        {
            var r = this;
            for (int step = 0; step < SharedGemm.Step; step++)
            {
                int ia = a + step * pitch4, ib = b + step * pitch4;
                var ua = us.SubView(ia, us.IntLength - ia);
                var vb = vs.SubView(ib, vs.IntLength - ib);
                r = r.Step(LoadRuns(ua, 0, gy), LoadRuns(vb, 0, gx));
            }
            return r;
        }

        /// <summary>Row i += a_i · b (one reduction channel).</summary>
        public Block8x8 Step(Row8 a, Row8 b)
        {
            var r = this;
            r.R0 = Row8.MulAdd(a.V0, b, r.R0);
            r.R1 = Row8.MulAdd(a.V1, b, r.R1);
            r.R2 = Row8.MulAdd(a.V2, b, r.R2);
            r.R3 = Row8.MulAdd(a.V3, b, r.R3);
            r.R4 = Row8.MulAdd(a.V4, b, r.R4);
            r.R5 = Row8.MulAdd(a.V5, b, r.R5);
            r.R6 = Row8.MulAdd(a.V6, b, r.R6);
            r.R7 = Row8.MulAdd(a.V7, b, r.R7);
            return r;
        }
    }
}
