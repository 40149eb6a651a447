// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/GramTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Register-blocked Gram kernels: no shared memory, no barriers; each work-item keeps its block of results in
// registers as groups of 8 independent lanes over contiguous memory, which CPU OpenCL compilers turn into 8-wide
// SIMD and GPUs run as plain per-thread register blocking (see doc/PERFORMANCE.md).
public static partial class Gram
{
    /// <summary>
    /// Sides of the block of G one work-item of the blocked forward computes (<see cref="TuningPlan.GramForwardBlock"/>,
    /// key gfblock): 4 — 4×4 entries, 16 accumulators of 8 lanes and 8 row loads per step, which AVX-512 code holds in its
    /// 32 registers; 3 — 3×3 entries (<see cref="ForwardBlocked3Kernel"/>), 9 accumulators and 6 loads, within AVX2's 16,
    /// where the 4×4 block spills (the five VGG19 Gram forwards at 512² on a Zen 5, AVX2 code: 66–83 ms with 4×4, 44 ms
    /// with 3×3; AVX-512 code: 33–42 ms with 4×4, 46–48 with 3×3).
    /// </summary>
    public static readonly int[] ForwardBlocks = [4, 3];

    /// <summary>Rows of df one work-item of the backward kernel computes (× <see cref="BackwardColumns"/> columns).</summary>
    private const int BackwardBlock = 8;

    /// <summary>Consecutive columns of df one work-item of the backward kernel computes (two 8-lane halves).</summary>
    private const int BackwardColumns = 16;

    /// <summary>
    /// Work-item e = split·pairs + pair computes the 4×4 block (bi, bj), bi ≤ bj (pairs enumerated row by row), of
    /// Σ_p F[i,p]·F[j,p] over the columns [split·chunk, min(P, (split + 1)·chunk)): 16 accumulators of 8 lanes, lane
    /// l summing the columns ≡ l (mod 8) of the slice, then each reduced in a fixed order. Rows past C read row C − 1
    /// and are not stored. Off-diagonal blocks also write the mirrored entries; on a diagonal block G[i,j] and G[j,i]
    /// come from the same products summed in the same order, so G is exactly symmetric.
    /// direct ≠ 0: out = scale·G. Else out[split·C·C + …] = the unscaled partial sum of the slice.
    /// </summary>
    private static void ForwardBlockedKernel(View f, int c, int p, int pairs, int blocks, int chunk, View output, float scale, int direct)
    {
        var pair = new BlockPair(c, p, pairs, blocks, chunk, 4);
        if (!pair.Inside) return;
        int i0 = pair.I0, j0 = pair.J0;
        int a0 = pair.Row(i0), a1 = pair.Row(i0 + 1), a2 = pair.Row(i0 + 2), a3 = pair.Row(i0 + 3);
        int b0 = pair.Row(j0), b1 = pair.Row(j0 + 1), b2 = pair.Row(j0 + 2), b3 = pair.Row(j0 + 3);

        int q = pair.First, end = pair.End;
        var acc = default(Products4x4);
        for (; q + Lanes8.Width <= end; q += Lanes8.Width)
        {
            acc = Products4x4.Add(acc,
                Lanes8.Load(f, a0 + q), Lanes8.Load(f, a1 + q), Lanes8.Load(f, a2 + q), Lanes8.Load(f, a3 + q),
                Lanes8.Load(f, b0 + q), Lanes8.Load(f, b1 + q), Lanes8.Load(f, b2 + q), Lanes8.Load(f, b3 + q));
        }
        int n = end - q;
        if (n > 0)
        {
            acc = Products4x4.Add(acc,
                Lanes8.LoadFirst(f, a0 + q, n), Lanes8.LoadFirst(f, a1 + q, n), Lanes8.LoadFirst(f, a2 + q, n), Lanes8.LoadFirst(f, a3 + q, n),
                Lanes8.LoadFirst(f, b0 + q, n), Lanes8.LoadFirst(f, b1 + q, n), Lanes8.LoadFirst(f, b2 + q, n), Lanes8.LoadFirst(f, b3 + q, n));
        }

        var store = pair.Store(output, scale, direct);
        store.Row(i0, j0, acc.G00, acc.G01, acc.G02, acc.G03);
        store.Row(i0 + 1, j0, acc.G10, acc.G11, acc.G12, acc.G13);
        store.Row(i0 + 2, j0, acc.G20, acc.G21, acc.G22, acc.G23);
        store.Row(i0 + 3, j0, acc.G30, acc.G31, acc.G32, acc.G33);
    }

    /// <summary><see cref="ForwardBlockedKernel"/> with 3×3 blocks (gfblock=3; see <see cref="ForwardBlocks"/>). Same launch with blocks = ⌈C/3⌉.</summary>
    private static void ForwardBlocked3Kernel(View f, int c, int p, int pairs, int blocks, int chunk, View output, float scale, int direct)
    {
        var pair = new BlockPair(c, p, pairs, blocks, chunk, 3);
        if (!pair.Inside) return;
        int i0 = pair.I0, j0 = pair.J0;
        int a0 = pair.Row(i0), a1 = pair.Row(i0 + 1), a2 = pair.Row(i0 + 2);
        int b0 = pair.Row(j0), b1 = pair.Row(j0 + 1), b2 = pair.Row(j0 + 2);

        int q = pair.First, end = pair.End;
        var acc = default(Products3x3);
        for (; q + Lanes8.Width <= end; q += Lanes8.Width)
        {
            acc = Products3x3.Add(acc,
                Lanes8.Load(f, a0 + q), Lanes8.Load(f, a1 + q), Lanes8.Load(f, a2 + q),
                Lanes8.Load(f, b0 + q), Lanes8.Load(f, b1 + q), Lanes8.Load(f, b2 + q));
        }
        int n = end - q;
        if (n > 0)
        {
            acc = Products3x3.Add(acc,
                Lanes8.LoadFirst(f, a0 + q, n), Lanes8.LoadFirst(f, a1 + q, n), Lanes8.LoadFirst(f, a2 + q, n),
                Lanes8.LoadFirst(f, b0 + q, n), Lanes8.LoadFirst(f, b1 + q, n), Lanes8.LoadFirst(f, b2 + q, n));
        }

        var store = pair.Store(output, scale, direct);
        store.Row(i0, j0, acc.G00, acc.G01, acc.G02);
        store.Row(i0 + 1, j0, acc.G10, acc.G11, acc.G12);
        store.Row(i0 + 2, j0, acc.G20, acc.G21, acc.G22);
    }

    /// <summary>
    /// The blocked forward's work-item e = split·pairs + pair: its slice of columns [<see cref="First"/>, <see cref="End"/>)
    /// and its block pair (bi, bj), bi ≤ bj, pairs enumerated row by row, blocks of <paramref name="side"/> rows; rows past
    /// C read row C − 1 (<see cref="Row"/>) and are not stored.
    /// </summary>
    private readonly struct BlockPair
    {
        private readonly int c, p, split, bi, bj;

        public BlockPair(int c, int p, int pairs, int blocks, int chunk, int side)
        {
            this.c = c;
            this.p = p;
            int e = Grid.IdxX * Group.DimX + Group.IdxX;
            int splits = (p + chunk - 1) / chunk;
            Inside = e < pairs * splits;
            split = e / pairs;
            int row = 0, rest = e - split * pairs;
            while (Inside && rest >= blocks - row) { rest -= blocks - row; row++; }
            bi = row;
            bj = row + rest;
            I0 = bi * side;
            J0 = bj * side;
            First = split * chunk;
            End = IntrinsicMath.Min(p, First + chunk);
        }

        /// <summary>False for work-items past the pairs of every split (the grid is rounded up to whole groups).</summary>
        public bool Inside { get; }

        /// <summary>First row of each side of the block pair.</summary>
        public int I0 { get; }
        public int J0 { get; }

        /// <summary>The slice's columns [First, End).</summary>
        public int First { get; }
        public int End { get; }

        /// <summary>Offset of row <paramref name="i"/> of F (row C − 1 for rows past C).</summary>
        public int Row(int i) => IntrinsicMath.Min(i, c - 1) * p;

        /// <summary>direct ≠ 0: the scaled block into G; else the unscaled partial sum into split's C×C slot.</summary>
        public GramBlockStore Store(View output, float scale, int direct) =>
            new(output, c, direct != 0 ? 0 : split * c * c, direct != 0 ? scale : 1f, bi != bj);
    }

    /// <summary>
    /// s[j·rowLength + i] = scale·(dG[j, i] + dG[i, j]) for i &lt; C, 0 for C ≤ i &lt; rowLength: the symmetric matrix
    /// S = dG + dGᵀ of the backward pass (exactly symmetric) — as C × C with scale 1 for the backward kernels that read S,
    /// scaled and with rows padded to 16 columns as the Winograd product's operand (Gram.BackwardAsProduct).
    /// </summary>
    private static void SymmetricSumKernel(Index1D e, View dG, int c, int rowLength, float scale, View s)
    {
        int j = e / rowLength, i = e - j * rowLength;
        s[e] = i < c ? scale * (dG[j * c + i] + dG[i * c + j]) : 0f;
    }

    /// <summary>
    /// df[i, q] (+)= scale · Σ_j S[i, j] · F[j, q] with S = dG + dGᵀ, for columns q ≥ <paramref name="first"/> (those
    /// before: Gram.BackwardAsProduct). Work-item (x, y) computes rows i0 .. i0 + 7 (i0 = 8·y) × columns
    /// q0 .. q0 + 15 (q0 = first + 16·x), as two 8-column halves: per j two 8-column loads
    /// of F and 8 entries of S, read as S[j, i0 + r] (S is symmetric, so the 8 are contiguous; columns past C read
    /// column C − 1 and are not stored). The last, partial column block takes a separate loop with bounded loads.
    /// </summary>
    private static void BackwardBlockedKernel(View f, View s, View df, int c, int p, int first, float scale, int accumulate)
    {
        int q0 = first + (Grid.IdxX * Group.DimX + Group.IdxX) * BackwardColumns;
        int i0 = (Grid.IdxY * Group.DimY + Group.IdxY) * BackwardBlock;
        if (q0 >= p || i0 >= c) return;
        var cols = new Columns8(c, i0);
        var lo = default(Rows8);
        var hi = default(Rows8);
        int n = p - q0;
        if (n >= BackwardColumns)
        {
            for (int j = 0; j < c; j++)
            {
                int fRow = j * p + q0;
                lo = Rows8.Add(lo, s, j * c, cols, Lanes8.Load(f, fRow));
                hi = Rows8.Add(hi, s, j * c, cols, Lanes8.Load(f, fRow + Lanes8.Width));
            }
        }
        else
        {
            for (int j = 0; j < c; j++)
            {
                int fRow = j * p + q0;
                lo = Rows8.Add(lo, s, j * c, cols, Lanes8.LoadUpTo(f, fRow, n));
                hi = Rows8.Add(hi, s, j * c, cols, Lanes8.LoadUpTo(f, fRow + Lanes8.Width, n - Lanes8.Width));
            }
        }
        var storeLo = new RowStore(df, c, p, q0, n, scale, accumulate);
        var storeHi = new RowStore(df, c, p, q0 + Lanes8.Width, n - Lanes8.Width, scale, accumulate);
        storeLo.Rows(i0, lo);
        storeHi.Rows(i0, hi);
    }

    /// <summary>8 independent float lanes over 8 consecutive addresses: one SIMD vector on CPU OpenCL (also MatMulBlocked.cs).</summary>
    internal struct Lanes8
    {
        public const int Width = 8;
        public float L0, L1, L2, L3, L4, L5, L6, L7;

        public static Lanes8 Load(View s, int i)
        {
            Lanes8 r;
            r.L0 = s[i]; r.L1 = s[i + 1]; r.L2 = s[i + 2]; r.L3 = s[i + 3];
            r.L4 = s[i + 4]; r.L5 = s[i + 5]; r.L6 = s[i + 6]; r.L7 = s[i + 7];
            return r;
        }

        /// <summary>min(n, 8) lanes from s[i …] (none when n ≤ 0), the rest 0.</summary>
        public static Lanes8 LoadUpTo(View s, int i, int n) => n >= Width ? Load(s, i) : LoadFirst(s, i, n);

        /// <summary>The first <paramref name="n"/> (&lt; 8) lanes from s[i …], the rest 0.</summary>
        public static Lanes8 LoadFirst(View s, int i, int n)
        {
            Lanes8 r = default;
            if (n > 0) r.L0 = s[i];
            if (n > 1) r.L1 = s[i + 1];
            if (n > 2) r.L2 = s[i + 2];
            if (n > 3) r.L3 = s[i + 3];
            if (n > 4) r.L4 = s[i + 4];
            if (n > 5) r.L5 = s[i + 5];
            if (n > 6) r.L6 = s[i + 6];
            return r;
        }

        // acc + x ⊙ y
        public static Lanes8 MulAdd(Lanes8 acc, Lanes8 x, Lanes8 y)
        {
            acc.L0 += x.L0 * y.L0; acc.L1 += x.L1 * y.L1; acc.L2 += x.L2 * y.L2; acc.L3 += x.L3 * y.L3;
            acc.L4 += x.L4 * y.L4; acc.L5 += x.L5 * y.L5; acc.L6 += x.L6 * y.L6; acc.L7 += x.L7 * y.L7;
            return acc;
        }

        // acc + a·x (a broadcast)
        public static Lanes8 ScaleAdd(Lanes8 acc, float a, Lanes8 x)
        {
            acc.L0 += a * x.L0; acc.L1 += a * x.L1; acc.L2 += a * x.L2; acc.L3 += a * x.L3;
            acc.L4 += a * x.L4; acc.L5 += a * x.L5; acc.L6 += a * x.L6; acc.L7 += a * x.L7;
            return acc;
        }

        /// <summary>Lane sum in a fixed order (pairwise), so results are reproducible.</summary>
        public readonly float Sum() => ((L0 + L1) + (L2 + L3)) + ((L4 + L5) + (L6 + L7));
    }

    /// <summary>The forward kernel's 4×4 block of lane-wise partial dot products G{a}{b}.</summary>
    private struct Products4x4
    {
        public Lanes8 G00, G01, G02, G03, G10, G11, G12, G13, G20, G21, G22, G23, G30, G31, G32, G33;

        public static Products4x4 Add(Products4x4 g, Lanes8 a0, Lanes8 a1, Lanes8 a2, Lanes8 a3, Lanes8 b0, Lanes8 b1, Lanes8 b2, Lanes8 b3)
        {
            g.G00 = Lanes8.MulAdd(g.G00, a0, b0); g.G01 = Lanes8.MulAdd(g.G01, a0, b1);
            g.G02 = Lanes8.MulAdd(g.G02, a0, b2); g.G03 = Lanes8.MulAdd(g.G03, a0, b3);
            g.G10 = Lanes8.MulAdd(g.G10, a1, b0); g.G11 = Lanes8.MulAdd(g.G11, a1, b1);
            g.G12 = Lanes8.MulAdd(g.G12, a1, b2); g.G13 = Lanes8.MulAdd(g.G13, a1, b3);
            g.G20 = Lanes8.MulAdd(g.G20, a2, b0); g.G21 = Lanes8.MulAdd(g.G21, a2, b1);
            g.G22 = Lanes8.MulAdd(g.G22, a2, b2); g.G23 = Lanes8.MulAdd(g.G23, a2, b3);
            g.G30 = Lanes8.MulAdd(g.G30, a3, b0); g.G31 = Lanes8.MulAdd(g.G31, a3, b1);
            g.G32 = Lanes8.MulAdd(g.G32, a3, b2); g.G33 = Lanes8.MulAdd(g.G33, a3, b3);
            return g;
        }
    }

    /// <summary>The 3×3 forward block's lane-wise partial dot products G{a}{b}.</summary>
    private struct Products3x3
    {
        public Lanes8 G00, G01, G02, G10, G11, G12, G20, G21, G22;

        public static Products3x3 Add(Products3x3 g, Lanes8 a0, Lanes8 a1, Lanes8 a2, Lanes8 b0, Lanes8 b1, Lanes8 b2)
        {
            g.G00 = Lanes8.MulAdd(g.G00, a0, b0); g.G01 = Lanes8.MulAdd(g.G01, a0, b1); g.G02 = Lanes8.MulAdd(g.G02, a0, b2);
            g.G10 = Lanes8.MulAdd(g.G10, a1, b0); g.G11 = Lanes8.MulAdd(g.G11, a1, b1); g.G12 = Lanes8.MulAdd(g.G12, a1, b2);
            g.G20 = Lanes8.MulAdd(g.G20, a2, b0); g.G21 = Lanes8.MulAdd(g.G21, a2, b1); g.G22 = Lanes8.MulAdd(g.G22, a2, b2);
            return g;
        }
    }

    /// <summary>Stores a row of a forward block: out[offset + i·C + j] = factor·Σlanes, and the mirror when off-diagonal.</summary>
    private readonly struct GramBlockStore(View output, int c, int offset, float factor, bool mirror)
    {
        public void Row(int i, int j0, Lanes8 v0, Lanes8 v1, Lanes8 v2, Lanes8 v3)
        {
            if (i >= c) return;
            Put(i, j0, v0);
            Put(i, j0 + 1, v1);
            Put(i, j0 + 2, v2);
            Put(i, j0 + 3, v3);
        }

        public void Row(int i, int j0, Lanes8 v0, Lanes8 v1, Lanes8 v2)
        {
            if (i >= c) return;
            Put(i, j0, v0);
            Put(i, j0 + 1, v1);
            Put(i, j0 + 2, v2);
        }

        private void Put(int i, int j, Lanes8 v)
        {
            if (j >= c) return;
            float value = factor * v.Sum();
            output[offset + i * c + j] = value;
            if (mirror) output[offset + j * c + i] = value;
        }
    }

    /// <summary>The 8 columns i0 .. i0 + 7 of a row of S, clamped to C − 1 (the backward kernel's rows).</summary>
    private readonly struct Columns8(int c, int i0)
    {
        public readonly int K0 = IntrinsicMath.Min(i0, c - 1), K1 = IntrinsicMath.Min(i0 + 1, c - 1);
        public readonly int K2 = IntrinsicMath.Min(i0 + 2, c - 1), K3 = IntrinsicMath.Min(i0 + 3, c - 1);
        public readonly int K4 = IntrinsicMath.Min(i0 + 4, c - 1), K5 = IntrinsicMath.Min(i0 + 5, c - 1);
        public readonly int K6 = IntrinsicMath.Min(i0 + 6, c - 1), K7 = IntrinsicMath.Min(i0 + 7, c - 1);
    }

    /// <summary>The backward kernel's accumulators: rows R0..R7 of df, 8 columns each.</summary>
    private struct Rows8
    {
        public Lanes8 R0, R1, R2, R3, R4, R5, R6, R7;

        // R_r += S[j, i0 + r] · F[j, q0 .. q0 + 7]; sRow = j·C.
        public static Rows8 Add(Rows8 a, View s, int sRow, Columns8 k, Lanes8 x)
        {
            a.R0 = Lanes8.ScaleAdd(a.R0, s[sRow + k.K0], x);
            a.R1 = Lanes8.ScaleAdd(a.R1, s[sRow + k.K1], x);
            a.R2 = Lanes8.ScaleAdd(a.R2, s[sRow + k.K2], x);
            a.R3 = Lanes8.ScaleAdd(a.R3, s[sRow + k.K3], x);
            a.R4 = Lanes8.ScaleAdd(a.R4, s[sRow + k.K4], x);
            a.R5 = Lanes8.ScaleAdd(a.R5, s[sRow + k.K5], x);
            a.R6 = Lanes8.ScaleAdd(a.R6, s[sRow + k.K6], x);
            a.R7 = Lanes8.ScaleAdd(a.R7, s[sRow + k.K7], x);
            return a;
        }
    }

    /// <summary>df[i, q0 + l] (+)= scale·v.l for the first n lanes (all 8 when n ≥ 8, none when n ≤ 0); rows past C are skipped.</summary>
    private readonly struct RowStore(View df, int c, int p, int q0, int n, float scale, int accumulate)
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

        public void Row(int i, Lanes8 v)
        {
            if (i >= c) return;
            int o = i * p + q0;
            Put(o, 0, v.L0);
            Put(o, 1, v.L1);
            Put(o, 2, v.L2);
            Put(o, 3, v.L3);
            Put(o, 4, v.L4);
            Put(o, 5, v.L5);
            Put(o, 6, v.L6);
            Put(o, 7, v.L7);
        }

        private void Put(int o, int l, float v)
        {
            if (l >= n) return;
            Output.Store(df, o + l, scale * v, accumulate);
        }
    }
}
