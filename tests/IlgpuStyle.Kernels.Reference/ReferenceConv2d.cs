// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels.Reference;

using View = ArrayView1D<float, Stride1D.Dense>;

// Convolution kernels the product never launches: the naive forward (one thread per output, the plainest reference
// for the library's kernels) and the weight and bias gradients (style transfer never trains the network). Same
// conventions as Conv2d (IlgpuStyle.Kernels): NCHW, batch 1, OIHW weights, outputs preallocated, deterministic.
public static class ReferenceConv2d
{
    /// <summary>Largest Tile supported (the weight-gradient kernel sizes its static shared arrays for it).</summary>
    private const int MaxTile = Gpu.MaxTile;

    /// <summary>Largest group of the bias-gradient tree reduction (size of its static shared array).</summary>
    private const int MaxReductionGroup = 256;

    /// <summary>Weight gradient: split the pixel sum into slices until about this many groups run.</summary>
    private const int TargetWeightGradGroups = 1024;

    /// <summary>Weight gradient: every slice covers at least this many shared-memory steps (of 2·T pixels).</summary>
    private const int MinStepsPerSlice = 4;

    /// <summary>Weight gradient: size of the partial-sum scratch buffer (8 MiB); no slicing if dw would not fit twice.</summary>
    private const int MaxPartialFloats = 1 << 21;

    /// <summary>
    /// Same result as <see cref="Conv2d.Forward(Tensor, Tensor, Tensor?, Tensor, Conv2dParams, bool)"/> from the plainest
    /// kernel: one thread per output element reading everything from global memory.
    /// </summary>
    public static void ForwardNaive(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p, bool fuseRelu = false)
    {
        var g = Conv2d.CheckForward("conv2d forward (naive)", x, w, bias, y, p);
        var kernel = x.Gpu.Kernel(ForwardNaiveKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, View, View, View, int, int, View>(ForwardNaiveKernel));
        kernel(y.Count, g, x.View, w.View, (bias ?? y).View, bias is null ? 0 : 1, fuseRelu ? 1 : 0, y.View);
    }

    /// <summary>
    /// dw ← Σ_pixels dy ⊗ im2col(x) and, if <paramref name="dbias"/> is given, dbias ← Σ_pixels dy
    /// (or += both when <paramref name="accumulate"/>). dw has the weight shape Cout×Cin×KH×KW.
    /// </summary>
    public static void BackwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, Conv2dParams p, bool accumulate)
    {
        const string op = "conv2d backward-weights";
        var g = ConvGeometry.Create(op, "x", x.Shape, "dw", dw.Shape, "dy", dy.Shape, p);
        ShapeCheck.SameDevice(op, x, dy);
        ShapeCheck.SameDevice(op, x, dw);
        Conv2d.NotAliased(op, "dw", dw, "x", x);
        Conv2d.NotAliased(op, "dw", dw, "dy", dy);
        if (dbias is not null)
        {
            ShapeCheck.Equal(op, "dbias", dbias.Shape, Shape4.Vector(g.Cout));
            ShapeCheck.SameDevice(op, x, dbias);
        }

        var gpu = x.Gpu;
        int tile = Conv2d.TileOf(gpu);
        int acc = accumulate ? 1 : 0;
        int columns = g.Cin * g.Taps, count = g.Cout * columns;
        var (slices, pixelsPerSlice) = WeightGradSlices(g, tile);
        var dst = slices == 1 ? dw : gpu.Scratch(Shape4.Vector(MaxPartialFloats), "conv2d.dw.partials");
        var tiled = gpu.Kernel(WeightsGradTiledKernel,
            a => a.LoadStreamKernel<ConvGeometry, int, int, View, View, View, int>(WeightsGradTiledKernel));
        tiled(new KernelConfig(
                new Index3D(Gpu.DivUp(columns, tile * ColumnsPerThread), Gpu.DivUp(g.Cout, tile), slices),
                new Index3D(tile, tile, 1)),
            g, pixelsPerSlice, slices, x.View, dy.View, dst.View, acc);
        if (slices > 1)
        {
            var sum = gpu.Kernel(SumSlicesKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, int, View, int>(SumSlicesKernel));
            sum(count, dst.View, slices, count, dw.View, acc);
        }

        if (dbias is null) return;
        int group = PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxReductionGroup));
        var bias = gpu.Kernel(BiasGradKernel, a => a.LoadStreamKernel<View, int, View, int>(BiasGradKernel));
        bias(new KernelConfig(g.Cout, group),
            dy.View, g.OutPlane, dbias.View, acc);
    }

    /// <summary>
    /// How many slices the weight-gradient pixel sum is split into (each summed by its own groups, then the
    /// slices added in order), and the pixels per slice (a multiple of the tile). Depends only on shapes and
    /// the device, so results are reproducible.
    /// </summary>
    internal static (int Slices, int PixelsPerSlice) WeightGradSlices(ConvGeometry g, int tile)
    {
        int count = g.Cout * g.Cin * g.Taps;
        int groups = Gpu.DivUp(g.Cin * g.Taps, tile * ColumnsPerThread) * Gpu.DivUp(g.Cout, tile);
        int step = PixelTilesPerStep * tile;
        int steps = Gpu.DivUp(g.OutPlane, step);
        int slices = Math.Min(TargetWeightGradGroups / groups, steps / MinStepsPerSlice);
        slices = Math.Max(1, Math.Min(slices, MaxPartialFloats / count));
        int stepsPerSlice = Gpu.DivUp(steps, slices);
        return (Gpu.DivUp(steps, stepsPerSlice), stepsPerSlice * step);
    }

    private static int PowerOfTwoAtMost(int n)
    {
        int p = 1;
        while (p * 2 <= n) p *= 2;
        return p;
    }

    /// <summary>Reference kernel: one thread per output element, every operand read from global memory.</summary>
    private static void ForwardNaiveKernel(Index1D index, ConvGeometry g, View x, View w, View bias, int hasBias, int relu, View y)
    {
        int e = index;
        int ox = e % g.OutW;
        int rest = e / g.OutW;
        int oy = rest % g.OutH;
        int o = rest / g.OutH;
        float acc = 0f;
        for (int i = 0; i < g.Cin; i++)
        {
            for (int kh = 0; kh < g.KH; kh++)
            {
                int iy = oy * g.SH + kh - g.PH;
                if (iy < 0 || iy >= g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int ix = ox * g.SW + kw - g.PW;
                    if (ix < 0 || ix >= g.W) continue;
                    acc += w[((o * g.Cin + i) * g.KH + kh) * g.KW + kw] * x[(i * g.H + iy) * g.W + ix];
                }
            }
        }
        y[e] = BiasRelu(acc, bias, o, hasBias, relu);
    }

    // v + b[o] (if hasBias), then max(·, 0) if relu.
    private static float BiasRelu(float v, View bias, int o, int hasBias, int relu)
    {
        if (hasBias != 0) v += bias[o];
        return relu != 0 ? IntrinsicMath.Max(v, 0f) : v;
    }

    // dst[i] = v, or dst[i] += v when accumulate ≠ 0 (the library's Output.Store).
    private static void Store(View dst, int i, float v, int accumulate)
    {
        if (accumulate != 0) dst[i] += v;
        else dst[i] = v;
    }

    /// <summary>dw columns j each thread of the weight-gradient kernel owns (a register block).</summary>
    internal const int ColumnsPerThread = 4;

    /// <summary>Pixel tiles (of T pixels each) staged in shared memory per barrier by the weight-gradient kernel.</summary>
    internal const int PixelTilesPerStep = 2;

    /// <summary>
    /// One T×T group computes a T × 4T block of dw[o, j] (rows o from grid y, columns j from grid x; thread
    /// (tx, ty) owns o = o0 + ty and j = j0 + tx + m·T for m = 0..3), summing over the pixels of slice z:
    /// [z·pixelsPerSlice, (z + 1)·pixelsPerSlice). Each step stages 2T pixels of dy (T rows) and of col
    /// (4T rows) in shared memory, threads along x reading consecutive pixels so loads are coalesced; rows
    /// are padded by one against bank conflicts. Each dw element (or partial) belongs to one thread, which
    /// sums in a fixed order, so results are deterministic. With one slice the kernel writes dw directly
    /// (accumulate honoured); otherwise it writes partials[z, o, j].
    /// </summary>
    private static void WeightsGradTiledKernel(ConvGeometry g, int pixelsPerSlice, int slices, View x, View dy, View dst, int accumulate)
    {
        var dyTile = SharedMemory.Allocate<float>(MaxTile * (PixelTilesPerStep * MaxTile + 1));
        var colTile = SharedMemory.Allocate<float>(ColumnsPerThread * MaxTile * (PixelTilesPerStep * MaxTile + 1));
        int tile = Group.DimX, step = PixelTilesPerStep * tile, pitch = step + 1;
        int tx = Group.IdxX, ty = Group.IdxY;
        int j0 = Grid.IdxX * tile * ColumnsPerThread, o0 = Grid.IdxY * tile;
        int columns = g.Cin * g.Taps, pixels = g.OutPlane;
        int o = o0 + ty;

        int pStart = Grid.IdxZ * pixelsPerSlice;
        int pEnd = IntrinsicMath.Min(pixels, pStart + pixelsPerSlice);
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int p0 = pStart; p0 < pEnd; p0 += step)
        {
            for (int s = 0; s < PixelTilesPerStep; s++)
            {
                int q = s * tile + tx, p = p0 + q;
                bool pixelOk = p < pEnd;
                int oy = p / g.OutW, ox = p - oy * g.OutW;
                dyTile[ty * pitch + q] = pixelOk && o < g.Cout ? dy[o * pixels + p] : 0f;
                for (int m = 0; m < ColumnsPerThread; m++)
                {
                    int row = m * tile + ty;
                    colTile[row * pitch + q] = pixelOk ? ColumnValue(g, x, j0 + row, oy, ox) : 0f;
                }
            }
            Group.Barrier();

            int dyRow = ty * pitch;
            for (int q = 0; q < step; q++)
            {
                float d = dyTile[dyRow + q];
                a0 += d * colTile[tx * pitch + q];
                a1 += d * colTile[(tile + tx) * pitch + q];
                a2 += d * colTile[(2 * tile + tx) * pitch + q];
                a3 += d * colTile[(3 * tile + tx) * pitch + q];
            }
            Group.Barrier();
        }

        if (o >= g.Cout) return;
        int j = j0 + tx;
        StoreWeightGrad(dst, g, slices, o, j, a0, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + tile, a1, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + 2 * tile, a2, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + 3 * tile, a3, accumulate);
    }

    // col[j, (oy, ox)] = x[i, oy·SH + kh − PH, ox·SW + kw − PW] with j = (i, kh, kw); 0 in the padding or past the last column.
    private static float ColumnValue(ConvGeometry g, View x, int j, int oy, int ox)
    {
        int taps = g.Taps;
        int i = j / taps, k = j - i * taps;
        int kh = k / g.KW, kw = k - kh * g.KW;
        int iy = oy * g.SH + kh - g.PH, ix = ox * g.SW + kw - g.PW;
        return i < g.Cin && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[(i * g.H + iy) * g.W + ix] : 0f;
    }

    // dw[o, j] (+)= v with one slice; partials[z, o, j] = v otherwise. Columns past the end are dropped.
    private static void StoreWeightGrad(View dst, ConvGeometry g, int slices, int o, int j, float v, int accumulate)
    {
        int columns = g.Cin * g.Taps;
        if (j >= columns) return;
        int index = o * columns + j;
        if (slices == 1) Store(dst, index, v, accumulate);
        else dst[Grid.IdxZ * g.Cout * columns + index] = v;
    }

    // dw[e] (+)= Σ_z partials[z, e], summed in slice order.
    private static void SumSlicesKernel(Index1D index, View partials, int slices, int count, View dw, int accumulate)
    {
        int e = index;
        float sum = 0f;
        for (int z = 0; z < slices; z++) sum += partials[z * count + e];
        Store(dw, e, sum, accumulate);
    }

    /// <summary>db[o] (+)= Σ_p dy[o, p]: one group per output channel, strided sums then a shared-memory tree.</summary>
    private static void BiasGradKernel(View dy, int pixels, View db, int accumulate)
    {
        var shared = SharedMemory.Allocate<float>(MaxReductionGroup);
        int t = Group.IdxX, o = Grid.IdxX;
        float acc = 0f;
        for (int p = t; p < pixels; p += Group.DimX) acc += dy[o * pixels + p];
        shared[t] = acc;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) Store(db, o, shared[0], accumulate);
    }
}
