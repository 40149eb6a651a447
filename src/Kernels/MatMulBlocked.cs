// Reference: tests/IlgpuStyle.Tests/Reference/MatMulReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/MatMulTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;
using Lanes8 = Gram.Lanes8;

// The register-blocked GEMM for CPU devices (TuningPlan.Gram == Blocked), in the style of the Gram backward kernel
// (GramBlocked.cs): no shared memory, no barriers; each work-item holds an 8×16 block of c as 16 groups of 8 lanes
// over consecutive columns, which CPU OpenCL compilers turn into 8-wide SIMD (the tiled kernel's shared-memory
// round trips and barriers are slow there).
public static partial class MatMul
{
    /// <summary>Rows of c one work-item of the blocked kernel computes.</summary>
    private const int BlockedRows = 8;

    /// <summary>Consecutive columns of c one work-item of the blocked kernel computes (two 8-lane halves).</summary>
    private const int BlockedColumns = 16;

    /// <summary>
    /// c[i, j] = α·Σ_k a[i,k]·b[k,j] (+ β·c[i,j] when β ≠ 0). Work-item (x, y) computes rows i0 .. i0 + 7 (i0 = 8·y)
    /// × columns j0 .. j0 + 15 (j0 = 16·x): per k two 8-column loads of b's row k and 8 broadcasts a[i0 + r, k]
    /// (rows past m read row m − 1 and are not stored). Each element sums over k in increasing order (deterministic).
    /// The last, partial column block takes a separate loop with bounded loads.
    /// </summary>
    private static void MultiplyBlockedKernel(View a, View b, View c, int m, int n, int k, float alpha, float beta)
    {
        int j0 = (Grid.IdxX * Group.DimX + Group.IdxX) * BlockedColumns;
        int i0 = (Grid.IdxY * Group.DimY + Group.IdxY) * BlockedRows;
        if (j0 >= n || i0 >= m) return;
        var rows = new RowOffsets8(m, k, i0);
        var lo = default(Rows8);
        var hi = default(Rows8);
        int w = n - j0;
        if (w >= BlockedColumns)
        {
            for (int kk = 0; kk < k; kk++)
            {
                int bRow = kk * n + j0;
                lo = Rows8.Add(lo, a, kk, rows, Lanes8.Load(b, bRow));
                hi = Rows8.Add(hi, a, kk, rows, Lanes8.Load(b, bRow + Lanes8.Width));
            }
        }
        else
        {
            for (int kk = 0; kk < k; kk++)
            {
                int bRow = kk * n + j0;
                lo = Rows8.Add(lo, a, kk, rows, Lanes8.LoadUpTo(b, bRow, w));
                hi = Rows8.Add(hi, a, kk, rows, Lanes8.LoadUpTo(b, bRow + Lanes8.Width, w - Lanes8.Width));
            }
        }
        new BlockStore(c, m, n, j0, w, alpha, beta).Rows(i0, lo);
        new BlockStore(c, m, n, j0 + Lanes8.Width, w - Lanes8.Width, alpha, beta).Rows(i0, hi);
    }

    private static void MultiplyBlocked(Gpu gpu, Tensor a, Tensor b, Tensor c, int m, int n, int k, float alpha, float beta)
    {
        int t = Math.Min(gpu.Tile, 4);
        var config = new KernelConfig(
            new Index2D(Gpu.DivUp(Gpu.DivUp(n, BlockedColumns), t), Gpu.DivUp(Gpu.DivUp(m, BlockedRows), t)),
            new Index2D(t, t));
        gpu.Kernel(MultiplyBlockedKernel, acc => acc.LoadStreamKernel<View, View, View, int, int, int, float, float>(MultiplyBlockedKernel))(
            config, a.View, b.View, c.View, m, n, k, alpha, beta);
    }

    /// <summary>row·k for a's rows i0 .. i0 + 7 (clamped to m − 1): their offsets in the row-major m×k matrix.</summary>
    private readonly struct RowOffsets8(int m, int k, int i0)
    {
        public readonly int O0 = IntrinsicMath.Min(i0, m - 1) * k, O1 = IntrinsicMath.Min(i0 + 1, m - 1) * k;
        public readonly int O2 = IntrinsicMath.Min(i0 + 2, m - 1) * k, O3 = IntrinsicMath.Min(i0 + 3, m - 1) * k;
        public readonly int O4 = IntrinsicMath.Min(i0 + 4, m - 1) * k, O5 = IntrinsicMath.Min(i0 + 5, m - 1) * k;
        public readonly int O6 = IntrinsicMath.Min(i0 + 6, m - 1) * k, O7 = IntrinsicMath.Min(i0 + 7, m - 1) * k;
    }

    /// <summary>The blocked kernel's accumulators: rows R0..R7 of c, 8 columns each.</summary>
    private struct Rows8
    {
        public Lanes8 R0, R1, R2, R3, R4, R5, R6, R7;

        // R_r += a[i0 + r, kk] · b[kk, j .. j + 7].
        public static Rows8 Add(Rows8 acc, View a, int kk, RowOffsets8 o, Lanes8 x)
        {
            acc.R0 = Lanes8.ScaleAdd(acc.R0, a[o.O0 + kk], x);
            acc.R1 = Lanes8.ScaleAdd(acc.R1, a[o.O1 + kk], x);
            acc.R2 = Lanes8.ScaleAdd(acc.R2, a[o.O2 + kk], x);
            acc.R3 = Lanes8.ScaleAdd(acc.R3, a[o.O3 + kk], x);
            acc.R4 = Lanes8.ScaleAdd(acc.R4, a[o.O4 + kk], x);
            acc.R5 = Lanes8.ScaleAdd(acc.R5, a[o.O5 + kk], x);
            acc.R6 = Lanes8.ScaleAdd(acc.R6, a[o.O6 + kk], x);
            acc.R7 = Lanes8.ScaleAdd(acc.R7, a[o.O7 + kk], x);
            return acc;
        }
    }

    /// <summary>c[i, j0 + l] ← α·v.l (+ β·c) for the first w lanes (all 8 when w ≥ 8, none when w ≤ 0); rows past m are skipped.</summary>
    private readonly struct BlockStore(View c, int m, int n, int j0, int w, float alpha, float beta)
    {
        public void Rows(int i0, Rows8 r)
        {
            Row(i0, r.R0);
            Row(i0 + 1, r.R1);
            Row(i0 + 2, r.R2);
            Row(i0 + 3, r.R3);
            Row(i0 + 4, r.R4);
            Row(i0 + 5, r.R5);
            Row(i0 + 6, r.R6);
            Row(i0 + 7, r.R7);
        }

        private void Row(int i, Lanes8 v)
        {
            if (i >= m) return;
            Put(i, 0, v.L0);
            Put(i, 1, v.L1);
            Put(i, 2, v.L2);
            Put(i, 3, v.L3);
            Put(i, 4, v.L4);
            Put(i, 5, v.L5);
            Put(i, 6, v.L6);
            Put(i, 7, v.L7);
        }

        private void Put(int i, int l, float v)
        {
            if (l >= w) return;
            StoreOne(c, i * n + j0 + l, alpha * v, beta);
        }
    }
}
