// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Winograd F(2×2, 3×3) for the 3×3 stride-1 padding-1 convolution (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016). The output is cut into 2×2 tiles; tile t reads the 4×4 input patch d (rows 2·ty − 1 …
// 2·ty + 2, columns 2·tx − 1 … 2·tx + 2, zeros outside), and
//   Y_t[k] = Aᵀ [ Σ_c U[k, c] ⊙ V_t[c] ] A,   U[k, c] = G g[k, c] Gᵀ (4×4),   V_t[c] = Bᵀ d_t[c] B (4×4),
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1].
// The sum over c is, for each of the 16 positions ξ of the 4×4 transforms, a matrix product
//   M[ξ][k, t] = Σ_c U[ξ][c, k] · V[ξ][c, t]
// (Conv2dWinogradGemmKernel.cs): 16·C·K multiply-adds per 4 output pixels instead of 36·C·K, 2.25× fewer than the
// direct kernels, for three passes over memory (input transform, product, output transform). Backward-data is the same
// computation with the transposed, flipped kernel (see Conv2dFast3x3.cs). Every output is a fixed-order sum: no atomics,
// the same bytes run to run. The transforms use only ±1 and ½, so rounding stays at the level of the direct kernels'.
//
// Operands: U[ξ][c][kp] (kp = K rounded up to 16, zero past K; c = reduction channel; stored in panels of 16 rows k,
// WinogradUIndex in Conv2dWinogradGemmKernel.cs) from Prepare3x3 or made on the call; V[ξ][c][tp] and M[ξ][k][tp] per
// chunk of tile rows (tp = tiles of the chunk rounded up to a work-item's tiles, and to a whole group for maps narrower
// than a group, TileSlots; the columns past the chunk's tiles are never read back), so the scratch stays bounded at any size.
// F(4×4, 3×3) (Conv2dWinograd4x4.cs) runs through the same driver and product with its own transforms and 36 positions.
public static partial class Conv2d
{
    /// <summary>Positions ξ of the transforms of F(<paramref name="outputTile"/>², 3×3): 16 (4×4) for 2, 36 (6×6) for 4.</summary>
    internal static int WinogradPositions(int outputTile) => (outputTile + 2) * (outputTile + 2);

    /// <summary>
    /// Upper bound on the floats of each per-chunk operand (V and M): the tile rows of a layer are processed in chunks
    /// of at most this many floats, so the scratch is bounded at any size (4 M floats = 16 MiB each).
    /// </summary>
    public const int WinogradChunkFloats = 4 << 20;

    /// <summary>True when <paramref name="plan"/> runs this layer (reduction channels → output channels) as Winograd (F(2×2, 3×3) or F(4×4, 3×3)).</summary>
    internal static bool UsesWinograd(TuningPlan plan, int reduce, int m) =>
        plan.WinogradMinChannels > 0 && reduce >= plan.WinogradMinChannels && m >= plan.WinogradMinChannels;

    /// <summary>
    /// <see cref="Forward"/> (3×3, stride 1, padding 1) as Winograd F(m×m, 3×3), m = <paramref name="tiles"/>' output tile
    /// (2 or 4), with the product blocked as <paramref name="tiles"/>.
    /// Tests and tuning; <see cref="Forward"/> takes it when <see cref="TuningPlan.WinogradMinChannels"/> says so.
    /// <paramref name="chunkFloats"/> bounds each per-chunk operand (tests make it small to run several chunks).
    /// </summary>
    public static void ForwardWinograd(Tensor x, Tensor w, Tensor? bias, Tensor y, bool fuseRelu, WinogradTiles tiles,
        int chunkFloats = WinogradChunkFloats)
    {
        CheckForward("conv2d forward (Winograd 3×3)", x, w, bias, y, Conv2dParams.Same3x3);
        RunWinograd(x, w, transpose: false, bias, fuseRelu, accumulate: false, y, tiles, chunkFloats: chunkFloats);
    }

    /// <summary>
    /// <see cref="BackwardData"/> (3×3, stride 1, padding 1) as Winograd F(m×m, 3×3); see <see cref="ForwardWinograd"/>.
    /// With <paramref name="reluOutput"/>, the gradient through that ReLU first, dy ⊙ [reluOutput &gt; 0], applied as the
    /// padded copy is made where <see cref="GatesInPadding"/> (dy is then not modified), else written over dy first; see
    /// <see cref="BackwardData(Tensor, PreparedConv3x3, Tensor, bool, Tensor?)"/>.
    /// </summary>
    public static void BackwardDataWinograd(Tensor dy, Tensor w, Tensor dx, bool accumulate, WinogradTiles tiles,
        int chunkFloats = WinogradChunkFloats, Tensor? reluOutput = null)
    {
        const string op = "conv2d backward-data (Winograd 3×3)";
        CheckBackwardData(op, dy, w, dx, Conv2dParams.Same3x3);
        CheckReluOutput(op, dy, reluOutput);
        RunWinograd(dy, w, transpose: true, null, relu: false, accumulate, dx, tiles, chunkFloats: chunkFloats, gate: reluOutput);
    }

    /// <summary>
    /// output ← (or +=) conv3×3(input, w) (+ bias, ReLU) through the Winograd transforms; U is <paramref name="prepared"/>
    /// when given, else made from <paramref name="w"/> into a scratch buffer. With <paramref name="gate"/> (a ReLU's
    /// output, input's shape) the convolution reads input ⊙ [gate &gt; 0], gated in the padded copy. Shapes are checked by
    /// the callers.
    /// </summary>
    private static void RunWinograd(Tensor input, Tensor w, bool transpose, Tensor? bias, bool relu, bool accumulate, Tensor output,
        WinogradTiles tiles, Tensor? prepared = null, int chunkFloats = WinogradChunkFloats, Tensor? gate = null)
    {
        var gpu = input.Gpu;
        if (chunkFloats < 1) throw new ArgumentException($"conv2d Winograd 3×3: chunkFloats must be ≥ 1, not {chunkFloats}.");
        tiles.Validate(gpu.Accelerator.MaxNumThreadsPerGroup);
        int reduce = input.Shape.C, m = output.Shape.C, h = output.Shape.H, width = output.Shape.W;
        int kp = PaddedChannels(m), tile = tiles.OutputTile, positions = WinogradPositions(tile);
        var u = prepared ?? WinogradWeights(w, transpose, tile,
            gpu.Scratch(Shape4.Vector(positions * reduce * kp), transpose ? "winograd.u.backward" : "winograd.u.forward"));

        int tilesX = Gpu.DivUp(width, tile), tilesY = Gpu.DivUp(h, tile), group = gpu.RowGroup;
        // The 16x16 block (float16 vectors) also runs F(4×4, 3×3)'s transforms 16 tiles per work-item (WinogradVectorInput,
        // WinogradVectorOutput) where a tile row holds whole vectors; the scalar kernels take the rest.
        bool vectorTransforms = tile == 4 && tiles.Block == WinogradBlock.Rows16Tiles16;
        // Maps narrower than a group: the transforms number the chunk's tiles along the group (flat mode, see TileSlots) —
        // unless their rows hold whole vectors of the 16x16 block's transforms.
        bool flat = group <= WinogradMaxFlatGroup && tilesX < group && !(vectorTransforms && tilesX >= WinogradVectorInput.Tiles);
        var (rowsPerChunk, tpMax) = WinogradChunk(reduce, m, h, width, chunkFloats, tiles.Tiles, tile);
        if (flat) tpMax = Gpu.DivUp(tpMax, group) * group;
        var v = gpu.ScratchAtLeast(positions * reduce * tpMax, "winograd.v");
        var product = gpu.ScratchAtLeast(positions * m * tpMax, "winograd.m");

        // The padded input split by column phase mod tile: rows of tile parts of tilesX + 1 columns each.
        int hp = tile * tilesY + 2, part = tilesX + 1;
        var padded = gpu.ScratchAtLeast(reduce * hp * tile * part, PaddedScratchKey);
        if (gate is not null && !GatesInPadding(gpu))
        {
            Relu.Backward(gate, input, input, accumulate: false);
            gate = null;
        }
        WinogradPad(gpu, input, gate, tile, hp, part, padded);
        Action<SpecializedValue<int>, View, int, int, int, TileSlots, View> inputMethod = tile == 4 ? WinogradInput4Kernel : WinogradInputKernel;
        var inputTransform = gpu.Kernel(inputMethod,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, View, int, int, int, TileSlots, View>(inputMethod));
        Action<SpecializedValue<int>, View, int, int, int, TileSlots, View, View> outputMethod =
            tile == 4 ? WinogradOutput4Kernel : WinogradOutputKernel;
        var outputTransform = gpu.Kernel(outputMethod,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, View, int, int, int, TileSlots, View, View>(outputMethod));
        var biasView = (bias ?? output).View;
        int flags = (relu ? WinogradRelu : 0) | (accumulate ? WinogradAccumulate : 0) | (bias is null ? 0 : WinogradBias);
        // A flat launch: tp / group groups along the chunk's tiles (tp is a whole number of groups) × planes.
        KernelConfig FlatGrid(int tp, int planes) => new(new Index3D(tp / group, planes, 1), new Index3D(group, 1, 1));

        for (int ty0 = 0; ty0 < tilesY; ty0 += rowsPerChunk)
        {
            int rows = Math.Min(rowsPerChunk, tilesY - ty0), count = rows * tilesX;
            int columns = Gpu.DivUp(count, tiles.Tiles) * tiles.Tiles, tp = flat ? Gpu.DivUp(columns, group) * group : columns;
            // Flat mode: the chunk's tiles along the groups; the columns past count (up to tp, a whole number of groups)
            // repeat its last tile in V and M and are never stored to the output.
            var slots = flat ? TileSlots.Flat(tilesX, ty0, tp, count) : TileSlots.Rows(tilesX, ty0, tp, 0, 0, tilesX);
            int vectorTiles = !flat && vectorTransforms ? tilesX / WinogradVectorInput.Tiles * WinogradVectorInput.Tiles : 0;
            if (vectorTiles > 0)
                WinogradInputVectors(gpu, vectorTiles / WinogradVectorInput.Tiles, rows, reduce, padded.View, hp, part,
                    TileSlots.Rows(tilesX, ty0, tp, 0, 0, vectorTiles), v.View);
            if (vectorTiles < tilesX)
                inputTransform(flat ? FlatGrid(tp, reduce) : gpu.RowGrid(tilesX - vectorTiles, rows, reduce),
                    SpecializedValue.New(flat ? WinogradFlat : 0), padded.View, reduce, hp, part,
                    flat ? slots : TileSlots.Rows(tilesX, ty0, tp, vectorTiles, 0, tilesX), v.View);
            WinogradProduct(gpu, tiles, ProductPanelsU, reduce, m, kp, tp, columns, positions, u.View, v.View, product.View);
            if (flat)
            {
                outputTransform(FlatGrid(tp, m), SpecializedValue.New(flags | WinogradFlat | WinogradEdges), product.View, m, h, width,
                    slots, biasView, output.View);
                continue;
            }
            // Whole tiles (unconditional stores; no bounds check when the groups cover them exactly), then the last
            // column and row of an odd width or height (checked).
            int fullX = width / tile, fullRows = Math.Clamp(h / tile - ty0, 0, rows);
            var edge = SpecializedValue.New(flags | WinogradEdges);
            // The 16x16 block's F(4×4, 3×3) transforms whole tiles 16 per work-item where a tile row holds whole vectors.
            int vectorX = vectorTransforms && fullRows > 0 ? fullX / WinogradVectorOutput.Tiles * WinogradVectorOutput.Tiles : 0;
            if (vectorX > 0)
                WinogradOutputVectors(gpu, vectorX / WinogradVectorOutput.Tiles, fullRows, m, SpecializedValue.New(flags), product.View, h, width,
                    TileSlots.Rows(tilesX, ty0, tp, 0, 0, vectorX), biasView, output.View);
            if (vectorX < fullX && fullRows > 0)
                outputTransform(gpu.RowGrid(fullX - vectorX, fullRows, m),
                    SpecializedValue.New(flags | ((fullX - vectorX) % group == 0 ? WinogradExact : 0)), product.View, m, h, width,
                    TileSlots.Rows(tilesX, ty0, tp, vectorX, 0, fullX), biasView, output.View);
            if (fullX < tilesX)
                outputTransform(gpu.RowGrid(1, rows, m), edge, product.View, m, h, width,
                    TileSlots.Rows(tilesX, ty0, tp, fullX, 0, tilesX), biasView, output.View);
            if (fullRows < rows && fullX > 0)
                outputTransform(gpu.RowGrid(fullX, rows - fullRows, m), edge, product.View, m, h, width,
                    TileSlots.Rows(tilesX, ty0, tp, 0, fullRows, fullX), biasView, output.View);
        }
    }

    /// <summary>
    /// F(4×4, 3×3)'s input transform of the vectors of 16 tiles <paramref name="slots"/> covers (row mode) in each of the
    /// chunk's <paramref name="rows"/> tile rows, with WinogradInput4VectorKernel.
    /// </summary>
    private static void WinogradInputVectors(Gpu gpu, int vectors, int rows, int channels, View padded, int hp, int quarter,
        TileSlots slots, View v)
    {
        var kernel = gpu.Kernel(WinogradInput4VectorKernel,
            acc => acc.LoadStreamKernel<View, int, int, int, TileSlots, View>(WinogradInput4VectorKernel));
        kernel(TileSlots.VectorGrid(vectors, rows, channels), padded, channels, hp, quarter, slots, v);
    }

    /// <summary>
    /// F(4×4, 3×3)'s output transform of the vectors of 16 whole tiles <paramref name="slots"/> covers (row mode) in the
    /// chunk's first <paramref name="rows"/> tile rows, with WinogradOutput4VectorKernel (<paramref name="mode"/>:
    /// WinogradBias | WinogradRelu | WinogradAccumulate).
    /// </summary>
    private static void WinogradOutputVectors(Gpu gpu, int vectors, int rows, int channels, SpecializedValue<int> mode, View product,
        int h, int w, TileSlots slots, View bias, View output)
    {
        var kernel = gpu.Kernel(WinogradOutput4VectorKernel,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, View, int, int, int, TileSlots, View, View>(WinogradOutput4VectorKernel));
        kernel(TileSlots.VectorGrid(vectors, rows, channels), mode, product, channels, h, w, slots, bias, output);
    }

    /// <summary>Widest group the transforms run in flat mode (the scratch estimate rounds tp up to it).</summary>
    internal const int WinogradMaxFlatGroup = 32;

    /// <summary>
    /// Which tiles one launch of a Winograd transform covers, and how a work-item finds its own.
    /// Row mode (maps at least a group wide): grid (⌈tiles along x / group⌉, tile rows, planes); tx = Tx0 + Grid.IdxX·
    /// Group.DimX + Group.IdxX, tyLocal = TyLocal0 + Grid.IdxY, plane = Grid.IdxZ; work-items at tx ≥ End do nothing.
    /// Consecutive work-items own consecutive tiles of one tile row, so the transforms' reads and V's or M's accesses are
    /// unit-stride. Flat mode (maps narrower than a group, where a row of tiles would leave most of a group's vector lanes
    /// idle — 28 of 32 for conv5_x at 256²): grid (Tp / group, planes); the chunk's tiles are numbered t = tyLocal·tilesX
    /// + tx along the groups, tyLocal = ⌊t / tilesX⌋ = ⌊t·Magic / 2³²⌋ (Magic = ⌈2³² / tilesX⌉: exact while t·tilesX
    /// &lt; 2³², no division); work-items at t ≥ End (the chunk's tiles) read the chunk's last tile, so every read is
    /// inside the image, and store nothing to the output. The M column of a tile is tyLocal·tilesX + tx (t in flat mode).
    /// </summary>
    public readonly struct TileSlots
    {
        public readonly int TilesX, Ty0, Tp, Tx0, TyLocal0, End;
        public readonly long Magic;

        private TileSlots(int tilesX, int ty0, int tp, int tx0, int tyLocal0, int end, long magic)
        {
            TilesX = tilesX; Ty0 = ty0; Tp = tp; Tx0 = tx0; TyLocal0 = tyLocal0; End = end; Magic = magic;
        }

        /// <summary>Row mode: tiles tx0 … end − 1 of the chunk's tile rows tyLocal0 … (chunk at tile row ty0, M rows of tp).</summary>
        internal static TileSlots Rows(int tilesX, int ty0, int tp, int tx0, int tyLocal0, int end) =>
            new(tilesX, ty0, tp, tx0, tyLocal0, end, 0);

        /// <summary>Flat mode: the chunk's <paramref name="count"/> = rows · tilesX tiles along the groups.</summary>
        internal static TileSlots Flat(int tilesX, int ty0, int tp, int count) =>
            new(tilesX, ty0, tp, 0, 0, count, ((1L << 32) + tilesX - 1) / tilesX);

        /// <summary>This work-item's tile in a launch of <paramref name="mode"/> (flat if it has WinogradFlat): (tx, tyLocal within the chunk, plane, M column).</summary>
        public (int Tx, int TyLocal, int Plane, int Column) Slot(int mode)
        {
            if ((mode & WinogradFlat) != 0)
            {
                int t = Grid.IdxX * Group.DimX + Group.IdxX, last = IntrinsicMath.Min(t, End - 1);
                int row = (int)(last * Magic >> 32);
                return (last - row * TilesX, row, Grid.IdxY, t);
            }
            int tx = Tx0 + Grid.IdxX * Group.DimX + Group.IdxX, tyLocal = TyLocal0 + Grid.IdxY;
            return (tx, tyLocal, Grid.IdxZ, tyLocal * TilesX + tx);
        }

        /// <summary>
        /// A vector kernel's work-item in row mode (WinogradInput4VectorKernel, WinogradOutput4VectorKernel): the first of its
        /// <paramref name="tiles"/> consecutive tiles, tx = Tx0 + tiles·(Grid.IdxX·Group.DimX + Group.IdxX), as
        /// <see cref="Slot"/>'s (tx, tyLocal, plane, M column); Past: the vector does not fit before End (nothing to do).
        /// </summary>
        public (int Tx, int TyLocal, int Plane, int Column, bool Past) VectorSlot(int tiles)
        {
            int tx = Tx0 + tiles * (Grid.IdxX * Group.DimX + Group.IdxX), tyLocal = TyLocal0 + Grid.IdxY;
            return (tx, tyLocal, Grid.IdxZ, tyLocal * TilesX + tx, tx + tiles > End);
        }

        /// <summary>
        /// The launch of a vector kernel over <paramref name="vectors"/> vectors of each of <paramref name="rows"/> tile rows
        /// and <paramref name="planes"/> planes (<see cref="VectorSlot"/>): groups of up to 8 work-items along the row (one
        /// group per work-item would be mostly dispatch overhead).
        /// </summary>
        internal static KernelConfig VectorGrid(int vectors, int rows, int planes)
        {
            int group = Math.Min(vectors, 8);
            return new(new Index3D(Gpu.DivUp(vectors, group), rows, planes), new Index3D(group, 1, 1));
        }

        /// <summary>Row mode, unless WinogradExact: a work-item past End has nothing to do (checked before any read).</summary>
        public bool PastEnd(int mode, int tx) => (mode & (WinogradExact | WinogradFlat)) == 0 && tx >= End;

        /// <summary>Flat mode: a work-item past the chunk's tiles stores nothing (checked after its reads, which stay unmasked).</summary>
        public bool PastChunk(int mode, int column) => (mode & WinogradFlat) != 0 && column >= End;
    }

    /// <summary>
    /// M[ξ][k, t] = Σ_c U[ξ][c, k] · V[ξ][c, t] for ξ &lt; <paramref name="positions"/> and t &lt; <paramref name="columns"/>
    /// (a multiple of the block's tiles) with <paramref name="tiles"/>' block (Conv2dWinogradGemmKernel.cs; the shared block:
    /// WinogradSharedProductKernel.cs): U is positions
    /// × reduce × kp (kp: m rounded up to 16), V positions × reduce × tp, M positions × m × tp (tp: their row length, ≥
    /// columns); <paramref name="options"/>: ProductPanelsU, ProductAccumulate. Also the Gram backward's product
    /// (Gram.BackwardAsProduct).
    /// </summary>
    internal static void WinogradProduct(Gpu gpu, WinogradTiles tiles, int options, int reduce, int m, int kp, int tp, int columns,
        int positions, View u, View v, View product)
    {
        if (tiles.Block == WinogradBlock.Shared)
        {
            WinogradProductShared(gpu, tiles, options, reduce, m, kp, tp, columns, positions, u, v, product);
            return;
        }
        Action<SpecializedValue<int>, int, int, int, int, int, View, View, View> gemmMethod = tiles.Block switch
        {
            WinogradBlock.Rows16Tiles8 => WinogradGemm16Kernel,
            WinogradBlock.Rows8Tiles8 => WinogradGemm8Kernel,
            WinogradBlock.Rows8Tiles16 => WinogradGemm8x16Kernel,
            WinogradBlock.Rows16Tiles16 => WinogradGemm16x16Kernel,
            _ => WinogradGemm4x24Kernel,
        };
        var gemm = gpu.Kernel(gemmMethod, acc => acc.LoadStreamKernel<SpecializedValue<int>, int, int, int, int, int, View, View, View>(gemmMethod));
        int blocks = columns / tiles.Tiles;
        int gx = Math.Min(tiles.GroupX, blocks), gy = tiles.GroupY;
        gemm(new KernelConfig(new Index3D(Gpu.DivUp(blocks, gx), Gpu.DivUp(m, tiles.Rows * gy), positions), new Index3D(gx, gy, 1)),
            SpecializedValue.New(options), reduce, m, kp, tp, columns, u, v, product);
    }

    /// <summary>
    /// Tile rows per chunk and the chunk's padded tile count tp for a layer of <paramref name="reduce"/>
    /// → <paramref name="m"/> channels on an <paramref name="h"/>×<paramref name="w"/> map: as many rows as keep V and M
    /// within <paramref name="chunkFloats"/> each (before rounding tp up to <paramref name="tileMultiple"/>, the tiles of a
    /// work-item), at least one; <paramref name="outputTile"/> is F(m×m, 3×3)'s m.
    /// </summary>
    private static (int Rows, int Tp) WinogradChunk(int reduce, int m, int h, int w, int chunkFloats, int tileMultiple, int outputTile)
    {
        int tilesX = Gpu.DivUp(w, outputTile), tilesY = Gpu.DivUp(h, outputTile);
        int rows = (int)Math.Clamp(chunkFloats / ((long)WinogradPositions(outputTile) * Math.Max(reduce, m) * tilesX), 1, tilesY);
        return (rows, Gpu.DivUp(rows * tilesX, tileMultiple) * tileMultiple);
    }

    /// <summary>
    /// Scratch floats a Winograd layer (either direction: <paramref name="cin"/>, <paramref name="cout"/> channels,
    /// <paramref name="h"/>×<paramref name="w"/>) rents: the phase-split padded input, and V and M of one chunk (each a
    /// buffer of its own that grows to the largest layer), the larger of F(2×2, 3×3) and F(4×4, 3×3). For memory planning.
    /// </summary>
    public static (long Padded, long Transformed) WinogradScratchFloats(int cin, int cout, int h, int w)
    {
        int c = Math.Max(cin, cout);
        long padded = 0, transformed = 0;
        foreach (int tile in WinogradTiles.OutputTiles)
        {
            var (_, tp) = WinogradChunk(c, c, h, w, WinogradChunkFloats, WinogradTiles.MaxTiles, tile);
            padded = Math.Max(padded, (long)c * (tile * Gpu.DivUp(h, tile) + 2) * tile * (Gpu.DivUp(w, tile) + 1));
            transformed = Math.Max(transformed, (long)WinogradPositions(tile) * c * Gpu.DivUp(tp, WinogradMaxFlatGroup) * WinogradMaxFlatGroup);
        }
        return (padded, transformed);
    }

    /// <summary>
    /// U of frozen weights for <see cref="PreparedConv3x3"/> (forward, or backward-data when <paramref name="transpose"/>;
    /// F(<paramref name="outputTile"/>², 3×3)), in a new tensor.
    /// </summary>
    internal static Tensor PrepareWinograd(Tensor w, bool transpose, int outputTile)
    {
        int reduce = transpose ? w.Shape.N : w.Shape.C, kp = PaddedChannels(transpose ? w.Shape.C : w.Shape.N);
        return WinogradWeights(w, transpose, outputTile, w.Gpu.Allocate(Shape4.Vector(WinogradPositions(outputTile) * reduce * kp)));
    }

    /// <summary>
    /// Writes U (see the file comment; Conv2dWinograd4x4.cs for <paramref name="outputTile"/> 4) of <paramref name="w"/>
    /// into <paramref name="u"/>: forward, or transposed and flipped for backward-data.
    /// </summary>
    private static Tensor WinogradWeights(Tensor w, bool transpose, int outputTile, Tensor u)
    {
        var gpu = w.Gpu;
        int reduce = transpose ? w.Shape.N : w.Shape.C, kp = PaddedChannels(transpose ? w.Shape.C : w.Shape.N);
        Action<View, int, int, int, int, View> method = outputTile == 4 ? WinogradWeight4Kernel : WinogradWeightKernel;
        var kernel = gpu.Kernel(method, acc => acc.LoadStreamKernel<View, int, int, int, int, View>(method));
        kernel(gpu.RowGrid(kp, reduce, 1), w.View, w.Shape.N, w.Shape.C, kp, transpose ? 1 : 0, u.View);
        return u;
    }

    /// <summary>
    /// U[ξ][c][k] = (G g Gᵀ)[ξ] with g the 3×3 kernel from reduction channel c to output channel k: forward g = w[k, c],
    /// backward-data g[kh, kw] = w[c, k, 2 − kh, 2 − kw]; 0 for k past the output channels. Grid (⌈kp / group⌉, reduce, 1):
    /// consecutive work-items write consecutive k.
    /// </summary>
    private static void WinogradWeightKernel(View w, int cout, int cin, int kp, int transpose, View u)
    {
        int k = Grid.IdxX * Group.DimX + Group.IdxX, c = Grid.IdxY;
        if (k >= kp) return;
        var g = new KernelRows(w, cout, cin, transpose, k, c);
        // Rows: t = G g (4 × 3); columns: U = t Gᵀ (4 × 4), written at U[ξ][c][k], ξ = 4·row + column.
        int plane = (transpose != 0 ? cout : cin) * kp, q = WinogradUIndex(c, k, transpose != 0 ? cout : cin);
        g.G0.PutTransformed(u, q, plane, 0);
        Row3.Combine(0.5f, g.G0, 0.5f, g.G1, 0.5f, g.G2).PutTransformed(u, q, plane, 4);
        Row3.Combine(0.5f, g.G0, -0.5f, g.G1, 0.5f, g.G2).PutTransformed(u, q, plane, 8);
        g.G2.PutTransformed(u, q, plane, 12);
    }

    /// <summary>
    /// The rows of the 3×3 kernel g from reduction channel <paramref name="c"/> to output channel <paramref name="k"/>:
    /// forward g[r, s] = w[k, c, r, s], backward-data (<paramref name="transpose"/> ≠ 0) the flipped
    /// g[r, s] = w[c, k, 2 − r, 2 − s]; zeros for k past the output channels.
    /// </summary>
    private readonly struct KernelRows
    {
        public readonly Row3 G0, G1, G2;

        public KernelRows(View w, int cout, int cin, int transpose, int k, int c)
        {
            bool inside = k < (transpose != 0 ? cin : cout);
            int b = inside ? (transpose != 0 ? (c * cin + k) * 9 : (k * cin + c) * 9) : 0;
            G0 = new Row3(Tap(w, b, 0, transpose, inside), Tap(w, b, 1, transpose, inside), Tap(w, b, 2, transpose, inside));
            G1 = new Row3(Tap(w, b, 3, transpose, inside), Tap(w, b, 4, transpose, inside), Tap(w, b, 5, transpose, inside));
            G2 = new Row3(Tap(w, b, 6, transpose, inside), Tap(w, b, 7, transpose, inside), Tap(w, b, 8, transpose, inside));
        }

        /// <summary>g[tap / 3, tap % 3]: w[b + tap] forward, w[b + 8 − tap] backward (flipped); 0 outside.</summary>
        private static float Tap(View w, int b, int tap, int transpose, bool inside) =>
            inside ? w[transpose != 0 ? b + 8 - tap : b + tap] : 0f;
    }

    /// <summary>
    /// One row (a0, a1, a2) of g or of G g; <see cref="PutTransformed"/> writes the row of G g Gᵀ for F(2×2, 3×3),
    /// <see cref="PutTransformed4"/> for F(4×4, 3×3) (Conv2dWinograd4x4.cs).
    /// </summary>
    private readonly struct Row3(float a0, float a1, float a2)
    {
        public readonly float A0 = a0, A1 = a1, A2 = a2;

        /// <summary>a·p + b·q + c·r.</summary>
        public static Row3 Combine(float a, Row3 p, float b, Row3 q, float c, Row3 r) =>
            new(a * p.A0 + b * q.A0 + c * r.A0, a * p.A1 + b * q.A1 + c * r.A1, a * p.A2 + b * q.A2 + c * r.A2);

        public void PutTransformed(View u, int q, int plane, int xi0)
        {
            u[xi0 * plane + q] = A0;
            u[(xi0 + 1) * plane + q] = 0.5f * (A0 + A1 + A2);
            u[(xi0 + 2) * plane + q] = 0.5f * (A0 - A1 + A2);
            u[(xi0 + 3) * plane + q] = A2;
        }

        /// <summary>Writes (row · Gᵀ) of F(4×4, 3×3) — the rows of G applied along x — at ξ = xi0 … xi0 + 5.</summary>
        public void PutTransformed4(View u, int q, int plane, int xi0)
        {
            u[xi0 * plane + q] = 0.25f * A0;
            u[(xi0 + 1) * plane + q] = -(A0 + A1 + A2) / 6f;
            u[(xi0 + 2) * plane + q] = -(A0 - A1 + A2) / 6f;
            u[(xi0 + 3) * plane + q] = A0 / 24f + A1 / 12f + A2 / 6f;
            u[(xi0 + 4) * plane + q] = A0 / 24f - A1 / 12f + A2 / 6f;
            u[(xi0 + 5) * plane + q] = A2;
        }
    }

    /// <summary>Key of the zero-padded input copies the 3×3 kernels read (<see cref="Gpu.ScratchAtLeast"/>).</summary>
    public const string PaddedScratchKey = "conv3x3.padded";

    /// <summary>
    /// The zero-padded input split by column phase, so that the input transforms read consecutive addresses: row py of
    /// channel c holds n = <paramref name="phases"/> parts of <paramref name="part"/> columns, part φ at i the padded
    /// column n·i + φ, i.e. in[c, py − 1, n·i + φ − 1] (0 outside the image); py &lt; hp. F(2×2, 3×3) splits by parity
    /// (n = 2), F(4×4, 3×3) by column mod 4. Three launches, so that the bulk has neither a bounds check nor a masked
    /// load (PoCL's vectorizer turns those into gathers): <see cref="WinogradPadRunsKernel"/> over the whole groups of
    /// the image's runs of n columns, <see cref="WinogradPadCheckedKernel"/> for the image rows' remaining columns, and
    /// <see cref="WinogradPadBorderRowsKernel"/> for the zero rows above and below. With <paramref name="gate"/> each
    /// copied value is the ReLU backward's, input ⊙ [gate &gt; 0] (<see cref="Gated"/>; <see cref="PadGated"/> in the modes),
    /// the bulk in vectors of 16 runs (<see cref="WinogradPadRunsGatedKernel"/>).
    /// </summary>
    private static void WinogradPad(Gpu gpu, Tensor input, Tensor? gate, int phases, int hp, int part, Tensor padded)
    {
        int channels = input.Shape.C, h = input.Shape.H, w = input.Shape.W, group = gpu.RowGroup;
        int gatedMode = gate is null ? 0 : PadGated;
        var gateView = (gate ?? input).View;
        var n = SpecializedValue.New(phases | gatedMode);
        // Runs j = 0 … runs − 1 of n input columns (n·j … n·j + n − 1): gated, in whole vectors of 16 runs; else in whole
        // groups only, and rows of fewer runs than a group in groups of the largest power of two they hold (down to 4).
        int runs;
        if (gate is not null)
        {
            int vectors = w / phases / WinogradGatedRuns.Runs;
            runs = vectors * WinogradGatedRuns.Runs;
            if (vectors > 0)
            {
                var gated = gpu.Kernel(WinogradPadRunsGatedKernel,
                    acc => acc.LoadStreamKernel<SpecializedValue<int>, View, View, int, int, int, int, int, View>(WinogradPadRunsGatedKernel));
                gated(gpu.RowGrid(vectors, h, channels), SpecializedValue.New(phases), input.View, gateView, h, w, hp, part, vectors,
                    padded.View);
            }
        }
        else
        {
            int bulkGroup = group;
            while (bulkGroup > 4 && w / phases < bulkGroup) bulkGroup /= 2;
            runs = w / phases / bulkGroup * bulkGroup;
            if (runs > 0)
            {
                var bulk = gpu.Kernel(WinogradPadRunsKernel,
                    acc => acc.LoadStreamKernel<SpecializedValue<int>, View, int, int, int, int, View>(WinogradPadRunsKernel));
                bulk(new KernelConfig(new Index3D(runs / bulkGroup, h, channels), new Index3D(bulkGroup, 1, 1)), SpecializedValue.New(phases),
                    input.View, h, w, hp, part, padded.View);
            }
        }
        var rest = gpu.Kernel(WinogradPadCheckedKernel,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, View, View, int, int, int, int, int, View>(WinogradPadCheckedKernel));
        // After a bulk only a few columns per row are left (2 of 65 per row for conv1_2 at 256²): one group per row
        // would be mostly launch overhead (h · channels groups), so then the work-items run along the rows instead.
        if (runs > 0)
            rest(gpu.RowGrid(h, part - runs, channels), SpecializedValue.New(phases | gatedMode | PadAlongRows), input.View, gateView, h, w,
                hp, part, runs, padded.View);
        else
            rest(gpu.RowGrid(part, h, channels), n, input.View, gateView, h, w, hp, part, 0, padded.View);
        var border = gpu.Kernel(WinogradPadBorderRowsKernel,
            acc => acc.LoadStreamKernel<int, int, int, View>(WinogradPadBorderRowsKernel));
        border(gpu.RowGrid(phases * part, hp - h, channels), h, hp, phases * part, padded.View);
    }

    /// <summary>
    /// <see cref="WinogradPad"/>'s bulk: work-item j of image row y copies the n input columns n·j … n·j + n − 1, i.e.
    /// the padded columns n·j + 1 … n·j + n: phases 1 … n − 1 at index j and phase 0 at index j + 1 (and j = 0 the zero
    /// at phase 0, index 0). Unconditional loads: the grid (whole groups of runs, image rows, channels) covers only runs
    /// inside the image, so PoCL reads the n interleaved columns with vector loads and shuffles instead of gathers, and
    /// stores each phase as a vector.
    /// </summary>
    private static void WinogradPadRunsKernel(SpecializedValue<int> phases, View input, int h, int w, int hp, int part, View padded)
    {
        int j = Grid.IdxX * Group.DimX + Group.IdxX, y = Grid.IdxY, c = Grid.IdxZ, n = phases.Value;
        int src = (c * h + y) * w + n * j, dst = (c * hp + y + 1) * n * part + j;
        if (j == 0) padded[dst] = 0f;
        padded[dst + part] = input[src];
        if (n == 4)
        {
            // The phases written out (ILGPU does not unroll loops; with a loop PoCL left the kernel scalar).
            padded[dst + 2 * part] = input[src + 1];
            padded[dst + 3 * part] = input[src + 2];
            padded[dst + 1] = input[src + 3];
        }
        else
        {
            padded[dst + 1] = input[src + 1];
        }
    }

    /// <summary>
    /// <see cref="WinogradPadRunsKernel"/> for backward-data through a ReLU: input ⊙ [gate &gt; 0] copied the same way,
    /// <see cref="WinogradGatedRuns.Runs"/> runs per work-item (WinogradGatedRuns.cs: float16 vectors on OpenCL). Grid
    /// (⌈vectors / group⌉, h, channels): work-item k of image row y copies runs 16·k … 16·k + 15.
    /// </summary>
    private static void WinogradPadRunsGatedKernel(SpecializedValue<int> phases, View input, View gate, int h, int w, int hp, int part,
        int vectors, View padded)
    {
        int k = Grid.IdxX * Group.DimX + Group.IdxX, y = Grid.IdxY, c = Grid.IdxZ, n = phases.Value;
        if (k >= vectors) return;
        int j = WinogradGatedRuns.Runs * k, src = (c * h + y) * w + n * j, dst = (c * hp + y + 1) * n * part + j;
        if (j == 0) padded[dst] = 0f;
        if (n == 4) WinogradGatedRuns.Copy4(input, gate, src, padded, dst, part);
        else WinogradGatedRuns.Copy2(input, gate, src, padded, dst, part);
    }

    /// <summary>
    /// Whether backward-data through a ReLU gates the gradient in the padding (<see cref="WinogradPadRunsGatedKernel"/>) on
    /// <paramref name="gpu"/>: on CPU devices (OpenCL's and the simulator), where the padding and ReLU's backward are
    /// memory-bound passes over the same gradient. GPUs run ReLU's backward first (a coalesced element-wise kernel; the
    /// vector kernel's work-items would each read 64 consecutive floats there).
    /// </summary>
    public static bool GatesInPadding(Gpu gpu) => Gpu.IsOpenClCpu(gpu.Accelerator) || gpu.Accelerator is ILGPU.Runtime.CPU.CPUAccelerator;

    /// <summary>
    /// input[i], or with <paramref name="gated"/> (a specialized constant) the gradient through a ReLU whose output is
    /// <paramref name="gate"/> (<see cref="Relu.Gradient"/>), so the gated copy holds the bits that ReLU's backward followed
    /// by a plain copy would.
    /// </summary>
    private static float Gated(View input, View gate, int i, bool gated) => gated ? Relu.Gradient(gate[i], input[i]) : input[i];

    /// <summary>
    /// <see cref="WinogradPad"/>'s checked part: every phase at indices <paramref name="from"/> … part − 1 of image row y
    /// (padded row y + 1), zero outside the image — the columns the bulk did not copy (its last column, phase 0 at
    /// index from, again: the same value, a later launch). <paramref name="mode"/>: the phase count n, plus
    /// <see cref="PadAlongRows"/> for work-items along the rows. Grid (⌈(part − from) / group⌉, h, channels), or along
    /// the rows (⌈h / group⌉, part − from, channels).
    /// </summary>
    private static void WinogradPadCheckedKernel(SpecializedValue<int> mode, View input, View gate, int h, int w, int hp, int part, int from,
        View padded)
    {
        int along = Grid.IdxX * Group.DimX + Group.IdxX, c = Grid.IdxZ, n = mode.Value & PadPhases;
        bool alongRows = (mode.Value & PadAlongRows) != 0, gated = (mode.Value & PadGated) != 0;
        int i = from + (alongRows ? Grid.IdxY : along), y = alongRows ? along : Grid.IdxY;
        if (alongRows ? y >= h : i >= part) return;
        int x = n * i - 1;
        int src = (c * h + y) * w + x, dst = (c * hp + y + 1) * n * part + i;
        // The phases (n is 2 or 4) written out, since ILGPU does not unroll loops: with a loop over them PoCL left the
        // kernel scalar; so it gathers each phase's inputs (stride n) and stores them as vectors.
        padded[dst] = x >= 0 && x < w ? Gated(input, gate, src, gated) : 0f;
        padded[dst + part] = x + 1 < w ? Gated(input, gate, src + 1, gated) : 0f;
        if (n == 4)
        {
            padded[dst + 2 * part] = x + 2 < w ? Gated(input, gate, src + 2, gated) : 0f;
            padded[dst + 3 * part] = x + 3 < w ? Gated(input, gate, src + 3, gated) : 0f;
        }
    }

    /// <summary>The padding kernels' modes: the phase count n (2 or 4) in these bits.</summary>
    private const int PadPhases = 7;

    /// <summary><see cref="WinogradPadCheckedKernel"/>'s mode bit: work-items along the image rows, one column index per grid row.</summary>
    internal const int PadAlongRows = 8;

    /// <summary>The padding kernels' mode bit: copy input ⊙ [gate &gt; 0] (<see cref="Gated"/>), the gradient through a ReLU.</summary>
    private const int PadGated = 16;

    /// <summary>
    /// <see cref="WinogradPad"/>'s zero rows: padded row 0 and rows h + 1 … hp − 1 (<paramref name="rowFloats"/> = n·part
    /// floats each) of every channel. Grid (⌈rowFloats / group⌉, hp − h, channels).
    /// </summary>
    private static void WinogradPadBorderRowsKernel(int h, int hp, int rowFloats, View padded)
    {
        int i = Grid.IdxX * Group.DimX + Group.IdxX, r = Grid.IdxY, c = Grid.IdxZ;
        if (i >= rowFloats) return;
        int py = r == 0 ? 0 : h + r;
        padded[(c * hp + py) * rowFloats + i] = 0f;
    }

    /// <summary>
    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for tile t = (ty − ty0)·tilesX + tx of the chunk starting at tile row ty0, d the 4×4 input
    /// patch at rows 2·ty − 1 …, columns 2·tx − 1 … of the image: padded columns 2·tx … 2·tx + 3 of the parity-split
    /// input (<see cref="WinogradPad"/>) are even[tx], odd[tx], even[tx + 1], odd[tx + 1] — no bounds check, and
    /// consecutive work-items read consecutive addresses (PoCL's cost model refused the stride-2 reads of an unsplit
    /// copy). The launch and the work-item's tile: <paramref name="slots"/> (planes: the channels c) in row mode
    /// (<paramref name="flat"/> 0) or flat mode (<see cref="WinogradFlat"/>; gathered reads).
    /// </summary>
    private static void WinogradInputKernel(SpecializedValue<int> flat, View padded, int channels, int hp, int half, TileSlots slots, View v)
    {
        var (tx, tyLocal, c, column) = slots.Slot(flat.Value);
        if (slots.PastEnd(flat.Value, tx)) return;
        int rowStride = 2 * half, r = (c * hp + 2 * (slots.Ty0 + tyLocal)) * rowStride + tx;
        // Bᵀ d: row combinations r0 = d0 − d2, r1 = d1 + d2, r2 = d2 − d1, r3 = d1 − d3.
        var d0 = Row4.LoadSplit(padded, r, half);
        var d1 = Row4.LoadSplit(padded, r + rowStride, half);
        var d2 = Row4.LoadSplit(padded, r + 2 * rowStride, half);
        var d3 = Row4.LoadSplit(padded, r + 3 * rowStride, half);
        int plane = channels * slots.Tp, q = c * slots.Tp + column;
        Row4.Sub(d0, d2).PutTransformed(v, q, plane, 0);
        Row4.Add(d1, d2).PutTransformed(v, q, plane, 4);
        Row4.Sub(d2, d1).PutTransformed(v, q, plane, 8);
        Row4.Sub(d1, d3).PutTransformed(v, q, plane, 12);
    }

    /// <summary>Four values along x: a row of a 4×4 patch or of Bᵀ d.</summary>
    private readonly struct Row4(float a0, float a1, float a2, float a3)
    {
        public readonly float A0 = a0, A1 = a1, A2 = a2, A3 = a3;

        /// <summary>Four consecutive padded columns from a parity-split row: even[i], odd[i], even[i + 1], odd[i + 1].</summary>
        public static Row4 LoadSplit(View s, int i, int half) => new(s[i], s[i + half], s[i + 1], s[i + half + 1]);

        public static Row4 Add(Row4 p, Row4 q) => new(p.A0 + q.A0, p.A1 + q.A1, p.A2 + q.A2, p.A3 + q.A3);

        public static Row4 Sub(Row4 p, Row4 q) => new(p.A0 - q.A0, p.A1 - q.A1, p.A2 - q.A2, p.A3 - q.A3);

        /// <summary>Writes (row · B) — columns a0 − a2, a1 + a2, a2 − a1, a1 − a3 — at ξ = xi0 … xi0 + 3.</summary>
        public void PutTransformed(View v, int q, int plane, int xi0)
        {
            v[xi0 * plane + q] = A0 - A2;
            v[(xi0 + 1) * plane + q] = A1 + A2;
            v[(xi0 + 2) * plane + q] = A2 - A1;
            v[(xi0 + 3) * plane + q] = A1 - A3;
        }

        /// <summary>(Aᵀ-side) the two outputs of a row: a0 + a1 + a2 and a1 − a2 − a3.</summary>
        public float Out0 => A0 + A1 + A2;

        public float Out1 => A1 - A2 - A3;
    }

    /// <summary>
    /// The mode of <see cref="WinogradOutputKernel"/> and WinogradOutput4Kernel, a compile-time constant
    /// (SpecializedValue): + bias, ReLU, add to the output, edges (skip pixels past h or w), exact (the launch's groups
    /// cover its tile columns exactly: no bounds check), flat (the tiles of a map narrower than a group; see TileSlots).
    /// Branches on runtime flags, or a bounds check that never fails, left the kernel's loads and stores predicated,
    /// which PoCL's vectorizer emits as gathers and scatters.
    /// </summary>
    private const int WinogradRelu = 1, WinogradAccumulate = 2, WinogradBias = 4, WinogradEdges = 8, WinogradExact = 16,
        WinogradFlat = 32;

    /// <summary>
    /// out[k, 2·ty + i, 2·tx + j] (+)= (Aᵀ M_t[k] A)[i, j] (+ bias, ReLU) for the tiles of <paramref name="slots"/>
    /// (planes: the output channels k). <paramref name="mode"/> (a compile-time constant): WinogradRelu |
    /// WinogradAccumulate | WinogradBias | WinogradEdges | WinogradExact | WinogradFlat. Without
    /// WinogradEdges every tile is whole inside the image and the four stores are unconditional (PoCL vectorizes them: a
    /// stride-2 pair per row); with it pixels past h or w are skipped (the last tile column or row of an odd width or
    /// height). In flat mode M is read before the bounds check (its columns up to tp exist), so the reads stay vectors.
    /// </summary>
    private static void WinogradOutputKernel(SpecializedValue<int> mode, View product, int channels, int h, int w, TileSlots slots,
        View bias, View output)
    {
        int flags = mode.Value;
        var (tx, tyLocal, k, column) = slots.Slot(flags);
        if (slots.PastEnd(flags, tx)) return;
        int plane = channels * slots.Tp, q = k * slots.Tp + column;
        var m0 = new Row4(product[q], product[plane + q], product[2 * plane + q], product[3 * plane + q]);
        var m1 = new Row4(product[4 * plane + q], product[5 * plane + q], product[6 * plane + q], product[7 * plane + q]);
        var m2 = new Row4(product[8 * plane + q], product[9 * plane + q], product[10 * plane + q], product[11 * plane + q]);
        var m3 = new Row4(product[12 * plane + q], product[13 * plane + q], product[14 * plane + q], product[15 * plane + q]);
        // Aᵀ M: row 0 = m0 + m1 + m2, row 1 = m1 − m2 − m3; then each row · A.
        var top = Row4.Add(Row4.Add(m0, m1), m2);
        var bottom = Row4.Sub(Row4.Sub(m1, m2), m3);
        if (slots.PastChunk(flags, column)) return;
        float b = (flags & WinogradBias) != 0 ? bias[k] : 0f;
        int y = 2 * (slots.Ty0 + tyLocal), x = 2 * tx;
        var put = new TilePut(output, k * h * w, h, w, b, flags & WinogradRelu, flags & WinogradAccumulate);
        if ((flags & WinogradEdges) == 0)
        {
            put.Inside(y, x, top.Out0, top.Out1);
            put.Inside(y + 1, x, bottom.Out0, bottom.Out1);
        }
        else
        {
            put.At(y, x, top.Out0);
            put.At(y, x + 1, top.Out1);
            put.At(y + 1, x, bottom.Out0);
            put.At(y + 1, x + 1, bottom.Out1);
        }
    }

    /// <summary>Stores one output pixel of a tile: + bias, ReLU, store or add, skipped outside the image.</summary>
    private readonly struct TilePut(View output, int planeStart, int h, int w, float bias, int relu, int accumulate)
    {
        /// <summary>Two horizontally adjacent pixels known to be inside the image.</summary>
        public void Inside(int y, int x, float v0, float v1)
        {
            v0 += bias;
            v1 += bias;
            if (relu != 0)
            {
                v0 = IntrinsicMath.Max(v0, 0f);
                v1 = IntrinsicMath.Max(v1, 0f);
            }
            int i = planeStart + y * w + x;
            if (accumulate != 0)
            {
                output[i] += v0;
                output[i + 1] += v1;
            }
            else
            {
                output[i] = v0;
                output[i + 1] = v1;
            }
        }

        public void At(int y, int x, float v)
        {
            if (y >= h || x >= w) return;
            v += bias;
            if (relu != 0) v = IntrinsicMath.Max(v, 0f);
            Output.Store(output, planeStart + y * w + x, v, accumulate);
        }
    }
}
