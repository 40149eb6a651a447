// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/GramTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Tiled Gram kernels: GEMMs over T×T thread groups (T = Gpu.Tile) with shared-memory tiles, edges zero-padded
// (the first Gram kernels; the GPU default until the shared-memory SGEMMs of GramShared.cs, which the H200 ran 1.5–5× faster).
public static partial class Gram
{
    // One T×T block of G over the P-columns [split·chunk, min(P, (split+1)·chunk)).
    // Grid: (number of blocks on or above the diagonal, splits); group T×T; thread (tx, ty) owns G[i,j] with
    // i = bi·T + ty, j = bj·T + tx, bi ≤ bj. By symmetry it also writes G[j,i] when the block is off the
    // diagonal. On a diagonal block both shared tiles hold the same rows, so G[i,j] and G[j,i] come from the
    // same products summed in the same order: the result is exactly symmetric.
    // direct ≠ 0 (one split): out = G, written as scale·sum. Else out[split·C·C + …] = the unscaled partial sum.
    private static void ForwardTiledKernel(View f, int c, int p, int chunk, View output, float scale, int direct)
    {
        int t = Group.DimX;
        int stride = t + 1; // padded rows: thread tx reads column k of row tx without bank conflicts
        var shared = SharedMemory.Allocate<float>(2 * Gpu.MaxTile * (Gpu.MaxTile + 1));
        var tileI = shared.SubView(0, t * stride);          // tileI[r·stride + k] = F[bi·T + r, p0 + k]
        var tileJ = shared.SubView(t * stride, t * stride); // tileJ[r·stride + k] = F[bj·T + r, p0 + k]
        int tx = Group.IdxX, ty = Group.IdxY;

        // Grid.IdxX enumerates the blocks (bi, bj), bi ≤ bj, row by row.
        int blocks = (c + t - 1) / t;
        int bi = 0, rest = Grid.IdxX;
        while (rest >= blocks - bi) { rest -= blocks - bi; bi++; }
        int bj = bi + rest;

        int pBegin = Grid.IdxY * chunk;
        int pEnd = IntrinsicMath.Min(p, pBegin + chunk);
        int loadRowI = bi * t + ty, loadRowJ = bj * t + ty;
        float sum = 0f;
        for (int p0 = pBegin; p0 < pEnd; p0 += t)
        {
            int col = p0 + tx;
            bool inCols = col < pEnd;
            tileI[ty * stride + tx] = inCols && loadRowI < c ? f[loadRowI * p + col] : 0f;
            tileJ[ty * stride + tx] = inCols && loadRowJ < c ? f[loadRowJ * p + col] : 0f;
            Group.Barrier();
            for (int k = 0; k < t; k++)
                sum += tileI[ty * stride + k] * tileJ[tx * stride + k];
            Group.Barrier();
        }

        int i = bi * t + ty, j = bj * t + tx;
        if (i >= c || j >= c) return;
        int offset = direct != 0 ? 0 : Grid.IdxY * c * c;
        float value = direct != 0 ? scale * sum : sum;
        output[offset + i * c + j] = value;
        if (bi != bj) output[offset + j * c + i] = value;
    }

    // g[e] = scale · Σ_s partial[s·C·C + e], summed in split order (deterministic).
    private static void SumSplitsKernel(Index1D e, View partial, int splits, int cc, float scale, View g)
    {
        float sum = 0f;
        for (int s = 0; s < splits; s++) sum += partial[s * cc + e];
        g[e] = scale * sum;
    }

    // df = scale · (dG + dGᵀ) · F, i.e. df[i,p] = scale · Σ_j (dG[i,j] + dG[j,i]) · F[j,p]
    // (the gradient of L(G) with G = scale·F Fᵀ). Grid: (⌈P/T⌉, ⌈C/T⌉); thread (tx, ty) owns df[i,p] with
    // i = by·T + ty, p = bx·T + tx; the sum over j runs through T-wide shared tiles of S = dG + dGᵀ and F.
    private static void BackwardTiledKernel(View f, View dG, View df, int c, int p, float scale, int accumulate)
    {
        int t = Group.DimX;
        var shared = SharedMemory.Allocate<float>(2 * Gpu.MaxTile * Gpu.MaxTile);
        var tileS = shared.SubView(0, t * t); // tileS[r·T + k] = S[by·T + r, j0 + k]
        var tileF = shared.SubView(t * t, t * t); // tileF[k·T + q] = F[j0 + k, bx·T + q]
        int tx = Group.IdxX, ty = Group.IdxY;
        int i = Grid.IdxY * t + ty;
        int col = Grid.IdxX * t + tx;
        float sum = 0f;
        for (int j0 = 0; j0 < c; j0 += t)
        {
            int js = j0 + tx; // column of S this thread loads
            tileS[ty * t + tx] = i < c && js < c ? dG[i * c + js] + dG[js * c + i] : 0f;
            int jf = j0 + ty; // row of F this thread loads
            tileF[ty * t + tx] = jf < c && col < p ? f[jf * p + col] : 0f;
            Group.Barrier();
            for (int k = 0; k < t; k++)
                sum += tileS[ty * t + k] * tileF[k * t + tx];
            Group.Barrier();
        }
        if (i >= c || col >= p) return;
        int o = i * p + col;
        Output.Store(df, o, scale * sum, accumulate);
    }

    // Forward from the tiled kernel: one split, each thread writes its G element directly; more, every split writes
    // an unscaled partial Gram matrix to a scratch buffer and a second pass adds them in split order. splits is
    // clamped to [1, ⌈P/T⌉].
    private static void ForwardTiled(Tensor f, Tensor g, float scale, int splits)
    {
        const string op = "gram (tiled)";
        ShapeCheck.BatchOne(op, "f", f.Shape);
        CheckGram(op, f, "g", g);
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane, t = gpu.Tile;
        int chunk = SplitChunk(p, t, ref splits);
        int blocks = Gpu.DivUp(c, t);
        int pairs = blocks * (blocks + 1) / 2;

        var forward = gpu.Kernel(ForwardTiledKernel, a => a.LoadStreamKernel<View, int, int, int, View, float, int>(ForwardTiledKernel));
        RunSplitK(forward, new KernelConfig(new Index2D(pairs, splits), new Index2D(t, t)), f, g, scale, chunk, splits);
    }

    /// <summary>
    /// Pixels per split of a split-K Gram forward over <paramref name="p"/> pixels taken <paramref name="granule"/> at a
    /// time (the kernel's tile or stage): <paramref name="splits"/> is clamped to [1, ⌈P/granule⌉], each split gets a
    /// whole number of granules, and splits is then reduced so none is empty.
    /// </summary>
    private static int SplitChunk(int p, int granule, ref int splits)
    {
        int granules = Gpu.DivUp(p, granule);
        splits = Math.Clamp(splits, 1, granules);
        int chunk = Gpu.DivUp(granules, splits) * granule;
        splits = Gpu.DivUp(p, chunk); // no empty split
        return chunk;
    }

    /// <summary>
    /// Launches a split-K Gram forward over <paramref name="config"/>'s grid (x: block pairs, y: splits of
    /// <paramref name="chunk"/> pixels): one split writes G scaled directly; more write unscaled partial Gram matrices
    /// to a scratch buffer, which a second pass adds in split order (deterministic) and scales. Shared by the tiled and
    /// the tensor-core kernels, whose parameters are (f, C, P, chunk, out, scale, direct).
    /// </summary>
    private static void RunSplitK(Action<KernelConfig, View, int, int, int, View, float, int> forward, KernelConfig config,
        Tensor f, Tensor g, float scale, int chunk, int splits)
    {
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane;
        if (splits == 1)
        {
            forward(config, f.View, c, p, chunk, g.View, scale, 1);
            return;
        }
        var partial = gpu.ScratchAtLeast(splits * c * c, "gram.partials");
        forward(config, f.View, c, p, chunk, partial.View, scale, 0);
        gpu.Kernel(SumSplitsKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, int, float, View>(SumSplitsKernel))(
            c * c, partial.View, splits, c * c, scale, g.View);
    }

    private static void BackwardTiled(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate)
    {
        CheckBackward("gram backward (tiled)", f, dG, df);
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane, t = gpu.Tile;
        var config = new KernelConfig(new Index2D(Gpu.DivUp(p, t), Gpu.DivUp(c, t)), new Index2D(t, t));
        gpu.Kernel(BackwardTiledKernel, a => a.LoadStreamKernel<View, View, View, int, int, float, int>(BackwardTiledKernel))(
            config, f.View, dG.View, df.View, c, p, scale, accumulate ? 1 : 0);
    }
}
