// Reference: tests/IlgpuStyle.Tests/Reference/GramReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/GramTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Gram matrix of a feature map (the style representation of Gatys et al.). The 1×C×H×W tensor f
/// (batch N = 1) is read as the matrix F of C rows and P = H·W columns; the Gram matrix
/// G = scale · F Fᵀ, i.e. G[i,j] = scale · Σ_p F[i,p] F[j,p], is C×C, stored as a 1×1×C×C tensor.
/// Two kernel pairs, chosen per device by <see cref="TuningPlan.Gram"/>: register-blocked without shared memory
/// (GramBlocked.cs; the CPU default) and shared-memory tiled (GramTiled.cs; the GPU default); and, opt-in on devices
/// with TF32 tensor cores, tensor-core kernels (GramTensorCore.cs, GramTensorCoreBackward.cs). Any C and P work.
/// </summary>
public static partial class Gram
{
    /// <summary>The Gram shape for a feature map of shape <paramref name="f"/>: 1×1×C×C.</summary>
    public static Shape4 OutputShape(Shape4 f) => new(1, 1, f.C, f.C);

    /// <summary>Upper bound on the floats held by the split-K partial Gram matrices.</summary>
    private const int MaxPartialFloats = 1 << 22;

    /// <summary>
    /// The most floats of F (C rows × the slice's columns) one slice of the blocked forward spans, so that a slice stays in
    /// a core's L2 while every block pair reads it: 512 K (2 MiB). The five VGG19 Gram forwards at 512² on the Intel Xeon
    /// (sums of minima, 2 rounds): one slice 53.4 ms, 4 / 2 / 1 / ½ MiB slices 42.3 / 38.0 / 41.6 / 51.2 ms.
    /// </summary>
    public const int SliceFloats = 1 << 19;

    /// <summary>Minimum number of P-tiles one split works through, so the partial sums stay worth it.</summary>
    private const int MinTilesPerSplit = 4;

    /// <summary>g ← scale · F Fᵀ for the feature map f (1×C×H×W); g must be 1×1×C×C. Exactly symmetric.</summary>
    public static void Forward(Tensor f, Tensor g, float scale) =>
        Forward(f, g, scale, SplitCount(f.Gpu, f.Shape.C, f.Shape.Plane));

    /// <summary><see cref="Forward(Tensor, Tensor, float, GramKernelKind, int)"/> with the device's <see cref="TuningPlan.Gram"/>.</summary>
    public static void Forward(Tensor f, Tensor g, float scale, int splits) => Forward(f, g, scale, f.Gpu.Plan.Gram, splits);

    /// <summary>
    /// Forward from the <paramref name="kind"/> kernel with an explicit number of slices of the P = H·W columns
    /// (split-K): with one split each work-item writes its block of G directly; with more, every split writes an
    /// unscaled partial Gram matrix to a scratch buffer and a second pass adds them in split order (deterministic).
    /// More splits give small C more parallelism. <paramref name="splits"/> is clamped to [1, ⌈P/8⌉] (blocked) or
    /// [1, ⌈P/Tile⌉] (tiled); tests and the bench use it to choose the path.
    /// </summary>
    public static void Forward(Tensor f, Tensor g, float scale, GramKernelKind kind, int splits)
    {
        if (kind == GramKernelKind.Tiled) ForwardTiled(f, g, scale, splits);
        else if (kind == GramKernelKind.Shared) ForwardShared(f, g, scale, splits);
        else if (kind.IsTensorCore()) ForwardTensorCore(f, g, scale, splits, kind == GramKernelKind.TensorCoreBf16, f.Gpu.Plan.GramAsyncBuffers);
        else ForwardBlocked(f, g, scale, splits, f.Gpu.Plan.GramForwardBlock);
    }

    /// <summary>
    /// The <see cref="GramKernelKind.Blocked"/> forward with blocks of <paramref name="side"/> × <paramref name="side"/>
    /// entries of G per work-item (one of <see cref="ForwardBlocks"/>; the plan's <see cref="TuningPlan.GramForwardBlock"/>
    /// otherwise) and <paramref name="splits"/> column slices as in <see cref="Forward(Tensor, Tensor, float, GramKernelKind, int)"/>. Tests and tuning.
    /// </summary>
    public static void ForwardBlocked(Tensor f, Tensor g, float scale, int splits, int side)
    {
        if (!ForwardBlocks.Contains(side))
            throw new ArgumentException($"gram: a blocked forward block of {side} × {side} (blocks: {string.Join(", ", ForwardBlocks)}).");
        const string op = "gram";
        ShapeCheck.BatchOne(op, "f", f.Shape);
        CheckGram(op, f, "g", g);
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane;
        int lanes = Gpu.DivUp(p, Lanes8.Width);
        splits = Math.Clamp(splits, 1, lanes);
        int chunk = Gpu.DivUp(lanes, splits) * Lanes8.Width;
        splits = Gpu.DivUp(p, chunk); // no empty split
        int blocks = Gpu.DivUp(c, side);
        int pairs = blocks * (blocks + 1) / 2;
        int group = GroupSize(gpu);

        var forward = side == 3
            ? gpu.Kernel(ForwardBlocked3Kernel, a => a.LoadStreamKernel<View, int, int, int, int, int, View, float, int>(ForwardBlocked3Kernel))
            : gpu.Kernel(ForwardBlockedKernel, a => a.LoadStreamKernel<View, int, int, int, int, int, View, float, int>(ForwardBlockedKernel));
        var config = new KernelConfig(Gpu.DivUp(pairs * splits, group), group);
        if (splits == 1)
        {
            forward(config, f.View, c, p, pairs, blocks, chunk, g.View, scale, 1);
            return;
        }
        var partial = gpu.ScratchAtLeast(splits * c * c, "gram.partials");
        forward(config, f.View, c, p, pairs, blocks, chunk, partial.View, scale, 0);
        gpu.Kernel(SumSplitsKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, int, float, View>(SumSplitsKernel))(
            c * c, partial.View, splits, c * c, scale, g.View);
    }

    /// <summary>
    /// Gradient of G = scale · F Fᵀ: df = scale · (dG + dGᵀ) · F, for f of shape 1×C×H×W and dG of 1×1×C×C.
    /// df ← that value, or df ← df + that value when <paramref name="accumulate"/>. df must not alias f or dG.
    /// </summary>
    public static void Backward(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate) =>
        Backward(f, dG, df, scale, accumulate, f.Gpu.Plan.Gram);

    /// <summary><see cref="Backward(Tensor, Tensor, Tensor, float, bool)"/> from the <paramref name="kind"/> kernel.</summary>
    public static void Backward(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, GramKernelKind kind)
    {
        if (kind == GramKernelKind.Tiled) BackwardTiled(f, dG, df, scale, accumulate);
        else if (kind == GramKernelKind.Shared) BackwardBlocked(f, dG, df, scale, accumulate, WinogradBlock.Shared);
        else if (kind.IsTensorCore()) BackwardTensorCore(f, dG, df, scale, accumulate, kind == GramKernelKind.TensorCoreBf16, f.Gpu.Plan.GramAsyncBuffers);
        else BackwardBlocked(f, dG, df, scale, accumulate, f.Gpu.Plan.GramBlock);
    }

    /// <summary>
    /// <see cref="Backward(Tensor, Tensor, Tensor, float, bool)"/> from the <see cref="GramKernelKind.Blocked"/> kernel with
    /// <paramref name="productBlock"/> as its product's register block (the plan's <see cref="TuningPlan.GramBlock"/>
    /// otherwise). Tests and tuning.
    /// </summary>
    public static void BackwardBlocked(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, WinogradBlock productBlock) =>
        BackwardBlocked(f, dG, df, scale, accumulate, f.Gpu.Plan.ProductTiles(productBlock));

    /// <summary><see cref="BackwardBlocked(Tensor, Tensor, Tensor, float, bool, WinogradBlock)"/> with the product's block and group given whole (tests).</summary>
    public static void BackwardBlocked(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, WinogradTiles tiles)
    {
        CheckBackward("gram backward", f, dG, df);
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane;
        tiles.Validate(gpu.Accelerator.MaxNumThreadsPerGroup);
        // Columns 0 … whole − 1 (whole blocks of the product's tiles) as the product; the rest, if any, below.
        int whole = p / tiles.Tiles * tiles.Tiles;
        if (whole > 0) BackwardAsProduct(f, dG, df, scale, accumulate, tiles, whole);
        if (whole == p) return;
        var s = SymmetricSum(f, dG);
        int t = Math.Min(gpu.Tile, 8);
        var config = new KernelConfig(
            new Index2D(Gpu.DivUp(Gpu.DivUp(p - whole, BackwardColumns), t), Gpu.DivUp(Gpu.DivUp(c, BackwardBlock), t)),
            new Index2D(t, t));
        gpu.Kernel(BackwardBlockedKernel, a => a.LoadStreamKernel<View, View, View, int, int, int, float, int>(BackwardBlockedKernel))(
            config, f.View, s.View, df.View, c, p, whole, scale, accumulate ? 1 : 0);
    }

    /// <summary>
    /// df = scale · S F with S = dG + dGᵀ as the Winograd convolution's product M = Uᵀ V (Conv2dWinogradGemmKernel.cs, one
    /// position): U = scale·S with rows padded to a multiple of 16 columns, V = F, M = df, for the first
    /// <paramref name="columns"/> columns (whole blocks of the product's tiles); with <paramref name="accumulate"/> its
    /// stores add to df. Its register blocks keep PoCL's vectorization with fma, which the `a*b + c` kernel above cannot
    /// use (doc/PERFORMANCE.md, finding 7): the five VGG19 Gram backwards at 512² 135.9 → 84.7 ms with AVX-512 code.
    /// Fixed-order sums: the same bytes run to run.
    /// </summary>
    private static void BackwardAsProduct(Tensor f, Tensor dG, Tensor df, float scale, bool accumulate, WinogradTiles tiles, int columns)
    {
        var gpu = f.Gpu;
        int c = f.Shape.C, p = f.Shape.Plane;
        int kp = Conv2d.PaddedChannels(c);
        var u = gpu.ScratchAtLeast(c * kp, "gram.product.u");
        gpu.Kernel(SymmetricSumKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, int, float, View>(SymmetricSumKernel))(
            c * kp, dG.View, c, kp, scale, u.View);
        Conv2d.WinogradProduct(gpu, tiles, accumulate ? Conv2d.ProductAccumulate : 0, c, c, kp, p, columns, positions: 1, u.View, f.View, df.View);
    }

    /// <summary>S = dG + dGᵀ (exactly symmetric) in the device's "gram.symmetric" scratch tensor, for the backward kernels that read S.</summary>
    private static Tensor SymmetricSum(Tensor f, Tensor dG)
    {
        var gpu = f.Gpu;
        int c = f.Shape.C;
        var s = gpu.Scratch(Gram.OutputShape(f.Shape), "gram.symmetric");
        gpu.Kernel(SymmetricSumKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, int, float, View>(SymmetricSumKernel))(
            c * c, dG.View, c, c, 1f, s.View);
        return s;
    }

    /// <summary>
    /// How many column slices the forward pass uses on <paramref name="gpu"/> with its plan's kernel: enough parallel
    /// work to fill the device — <see cref="TuningPlan.GramTarget"/> per multiprocessor (core, on a CPU device): work-items,
    /// one per block of G (<see cref="TuningPlan.GramForwardBlock"/>), for the blocked kernel; Tile×Tile groups for the tiled one — and, blocked, slices of at most
    /// <see cref="SliceFloats"/> floats of F, with at least
    /// <see cref="MinTilesPerSplit"/> column tiles (64 columns, blocked; Tile, tiled) per slice and a bounded scratch buffer.
    /// </summary>
    public static int SplitCount(Gpu gpu, int channels, int positions)
    {
        var plan = gpu.Plan;
        bool tiled = plan.Gram == GramKernelKind.Tiled, tensorCores = plan.Gram.IsTensorCore(), shared = plan.Gram == GramKernelKind.Shared;
        int blocks = Gpu.DivUp(channels, tiled ? plan.Tile : tensorCores ? TensorCoreBlock : shared ? 8 * SharedSide(gpu, channels) : plan.GramForwardBlock);
        int pairs = blocks * (blocks + 1) / 2;
        int wanted = plan.GramTarget * Math.Max(1, gpu.Accelerator.NumMultiprocessors);
        int splits = Gpu.DivUp(wanted, pairs);
        // The blocked kernel reads each row of F once per block pair it is in (C/4 or C/3 times): in slices whose C rows fit a
        // core's L2 (consecutive work-items share a slice), those reads hit the cache instead of memory.
        if (plan.Gram == GramKernelKind.Blocked)
            splits = Math.Max(splits, (int)Math.Min(int.MaxValue, ((long)channels * positions + SliceFloats - 1) / SliceFloats));
        int columnTiles = tiled ? Gpu.DivUp(positions, plan.Tile)
            : tensorCores ? Gpu.DivUp(positions, TensorCoreStageK) : shared ? Gpu.DivUp(positions, SharedGemm.Step) : positions / 64;
        splits = Math.Min(splits, Math.Max(1, columnTiles / MinTilesPerSplit));
        splits = Math.Min(splits, Math.Max(1, MaxPartialFloats / (channels * channels)));
        return Math.Max(1, splits);
    }

    /// <summary>Work-items per group of the blocked forward kernel: small, so that few blocks still spread over all cores.</summary>
    private static int GroupSize(Gpu gpu) => Math.Min(gpu.Tile, 16);

    private static void CheckGram(string op, Tensor f, string name, Tensor gram)
    {
        var expected = OutputShape(f.Shape);
        if (gram.Shape != expected)
            throw new ArgumentException(
                $"{op}: {name} has shape {gram.Shape} but f of shape {f.Shape} needs a Gram matrix of shape {expected}.");
        ShapeCheck.SameDevice(op, f, gram);
    }

    private static void CheckBackward(string op, Tensor f, Tensor dG, Tensor df)
    {
        ShapeCheck.BatchOne(op, "f", f.Shape);
        CheckGram(op, f, "dG", dG);
        ShapeCheck.Same(op, "f", f.Shape, "df", df.Shape);
        ShapeCheck.SameDevice(op, f, df);
        if (ReferenceEquals(df, f)) throw new ArgumentException($"{op}: df must not be the same tensor as f.");
        if (ReferenceEquals(df, dG)) throw new ArgumentException($"{op}: df must not be the same tensor as dG.");
    }
}
