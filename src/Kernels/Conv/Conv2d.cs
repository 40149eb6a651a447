using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// 2-D convolution (cross-correlation: the kernel is not flipped) with zero padding, batch N = 1, NCHW float32.
/// Shapes: x 1×Cin×H×W; weights OIHW, stored as a <see cref="Tensor"/> of <c>Shape4(Cout, Cin, KH, KW)</c>
/// (for weights the N slot holds Cout); bias <c>Shape4.Vector(Cout)</c>; y 1×Cout×OutH×OutW with OutH/OutW
/// from <see cref="Conv2dParams.OutputSize"/>. Outputs are preallocated by the caller. Every op is
/// deterministic (no atomics: each output element is summed by one thread in a fixed order).
/// </summary>
public static partial class Conv2d
{
    /// <summary>Upper bound on the input/output channels staged in shared memory per step of the tiled kernels.</summary>
    private const int MaxChannelsPerChunk = 8;

    /// <summary>
    /// Shared memory of each forward / backward-data group (24 KiB, fits every CUDA and OpenCL GPU). It is a
    /// static allocation: ILGPU 1.5.3's OpenCL backend keeps the dynamic shared-memory pointer in a
    /// program-scope variable that concurrently running groups overwrite (seen as wrong results on PoCL).
    /// </summary>
    internal const int SharedFloats = 6 * 1024;

    /// <summary>Largest <see cref="Gpu.Tile"/> supported (the weight-gradient kernel sizes its static shared arrays for it).</summary>
    internal const int MaxTile = 16;

    /// <summary>Largest group of the bias-gradient tree reduction (size of its static shared array).</summary>
    internal const int MaxReductionGroup = 256;

    /// <summary>Weight gradient: split the pixel sum into slices until about this many groups run.</summary>
    private const int TargetWeightGradGroups = 1024;

    /// <summary>Weight gradient: every slice covers at least this many shared-memory steps (of 2·T pixels).</summary>
    private const int MinStepsPerSlice = 4;

    /// <summary>Weight gradient: size of the partial-sum scratch buffer (8 MiB); no slicing if dw would not fit twice.</summary>
    private const int MaxPartialFloats = 1 << 21;

    /// <summary>
    /// y ← conv(x, w) + bias, then max(·, 0) if <paramref name="fuseRelu"/>. 3×3 stride-1 padding-1 convolutions
    /// (<see cref="HasFastPath"/>) run an implicit-GEMM kernel chosen by <see cref="TuningPlan.Conv"/> of <see cref="Gpu.Plan"/>; every other
    /// geometry runs <see cref="ForwardTiled"/>.
    /// </summary>
    public static void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p, bool fuseRelu = false)
    {
        CheckForward("conv2d forward", x, w, bias, y, p);
        if (HasFastPath(p)) Run3x3(x, w, transpose: false, bias, fuseRelu, accumulate: false, y, x.Gpu.Plan.Conv);
        else ForwardTiled(x, w, bias, y, p, fuseRelu);
    }

    /// <summary>
    /// Same result as <see cref="Forward"/> for any kernel size, stride and padding. Tiled kernel: shared-memory
    /// input patches and weight blocks, 4 output channels per thread. Also the reference the fast path is tested against.
    /// </summary>
    public static void ForwardTiled(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p, bool fuseRelu = false)
    {
        var g = CheckForward("conv2d forward (tiled)", x, w, bias, y, p);
        var gpu = x.Gpu;
        int tile = TileOf(gpu);
        int perChannel = g.InputPatchH(tile) * g.InputPatchW(tile) + ChannelsPerThread * g.Taps;
        int inBlock = ChannelsPerChunk(gpu, perChannel, g.Cin, "conv2d forward", p);
        var kernel = gpu.Kernel(ForwardTiledKernel,
            a => a.LoadStreamKernel<ConvGeometry, int, View, View, View, int, int, View>(ForwardTiledKernel));
        var config = new KernelConfig(
            new Index3D(Gpu.DivUp(g.OutW, tile), Gpu.DivUp(g.OutH, tile), Gpu.DivUp(g.Cout, ChannelsPerThread)),
            new Index3D(tile, tile, 1));
        kernel(config, g, inBlock, x.View, w.View, (bias ?? y).View, bias is null ? 0 : 1, fuseRelu ? 1 : 0, y.View);
    }

    /// <summary>
    /// Same result as <see cref="Forward"/> from the plainest kernel: one thread per output element reading
    /// everything from global memory. An in-library reference for tests and benchmarks, not for real use.
    /// </summary>
    public static void ForwardNaive(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p, bool fuseRelu = false)
    {
        var g = CheckForward("conv2d forward (naive)", x, w, bias, y, p);
        var kernel = x.Gpu.Kernel(ForwardNaiveKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, View, View, View, int, int, View>(ForwardNaiveKernel));
        kernel(y.Count, g, x.View, w.View, (bias ?? y).View, bias is null ? 0 : 1, fuseRelu ? 1 : 0, y.View);
    }

    /// <summary>
    /// dx ← conv_transpose(dy, w) (or dx += … when <paramref name="accumulate"/>): the gradient of the forward
    /// convolution with respect to its input. dx has the shape of the forward input x. 3×3 stride-1 padding-1
    /// (<see cref="HasFastPath"/>) runs the implicit-GEMM kernel with the flipped, transposed weights; every other
    /// geometry runs <see cref="BackwardDataTiled"/>.
    /// </summary>
    public static void BackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dParams p, bool accumulate)
    {
        CheckBackwardData("conv2d backward-data", dy, w, dx, p);
        if (HasFastPath(p)) Run3x3(dy, w, transpose: true, null, relu: false, accumulate, dx, dy.Gpu.Plan.Conv);
        else BackwardDataTiled(dy, w, dx, p, accumulate);
    }

    /// <summary>Same result as <see cref="BackwardData"/> for any geometry, from the tiled gather kernel.</summary>
    public static void BackwardDataTiled(Tensor dy, Tensor w, Tensor dx, Conv2dParams p, bool accumulate)
    {
        const string op = "conv2d backward-data (tiled)";
        var g = CheckBackwardData(op, dy, w, dx, p);
        var gpu = dy.Gpu;
        int tile = TileOf(gpu);
        int perChannel = g.GradPatchH(tile) * g.GradPatchW(tile) + ChannelsPerThread * g.Taps;
        int outBlock = ChannelsPerChunk(gpu, perChannel, g.Cout, op, p);
        var kernel = gpu.Kernel(BackwardDataKernel,
            a => a.LoadStreamKernel<ConvGeometry, int, View, View, View, int>(BackwardDataKernel));
        var config = new KernelConfig(
            new Index3D(Gpu.DivUp(g.W, tile), Gpu.DivUp(g.H, tile), Gpu.DivUp(g.Cin, ChannelsPerThread)),
            new Index3D(tile, tile, 1));
        kernel(config, g, outBlock, dy.View, w.View, dx.View, accumulate ? 1 : 0);
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
        NotAliased(op, "dw", dw, "x", x);
        NotAliased(op, "dw", dw, "dy", dy);
        if (dbias is not null)
        {
            ShapeCheck.Equal(op, "dbias", dbias.Shape, Shape4.Vector(g.Cout));
            ShapeCheck.SameDevice(op, x, dbias);
        }

        var gpu = x.Gpu;
        int tile = TileOf(gpu);
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
        int group = Reduction.PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxReductionGroup));
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

    private static ConvGeometry CheckBackwardData(string op, Tensor dy, Tensor w, Tensor dx, Conv2dParams p)
    {
        var g = ConvGeometry.Create(op, "dx", dx.Shape, "w", w.Shape, "dy", dy.Shape, p);
        ShapeCheck.SameDevice(op, dy, w);
        ShapeCheck.SameDevice(op, dy, dx);
        NotAliased(op, "dx", dx, "dy", dy);
        NotAliased(op, "dx", dx, "w", w);
        return g;
    }

    private static ConvGeometry CheckForward(string op, Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p)
    {
        var g = ConvGeometry.Create(op, "x", x.Shape, "w", w.Shape, "y", y.Shape, p);
        ShapeCheck.SameDevice(op, x, w);
        ShapeCheck.SameDevice(op, x, y);
        NotAliased(op, "y", y, "x", x);
        NotAliased(op, "y", y, "w", w);
        if (bias is not null)
        {
            ShapeCheck.Equal(op, "bias", bias.Shape, Shape4.Vector(g.Cout));
            ShapeCheck.SameDevice(op, x, bias);
        }
        return g;
    }

    /// <summary>
    /// Channels per shared-memory chunk: as many as fit <see cref="SharedFloats"/>, at most 8 and at most
    /// <paramref name="channels"/>.
    /// </summary>
    private static int ChannelsPerChunk(Gpu gpu, int floatsPerChannel, int channels, string op, Conv2dParams p)
    {
        if (floatsPerChannel > SharedFloats)
            throw new ArgumentException(
                $"{op}: {p} needs {floatsPerChannel * sizeof(float)} bytes of shared memory per channel with " +
                $"{gpu.Tile}×{gpu.Tile} tiles, more than the {SharedFloats * sizeof(float)} the kernel has.");
        return Math.Clamp(SharedFloats / floatsPerChannel, 1, Math.Min(MaxChannelsPerChunk, channels));
    }

    private static int TileOf(Gpu gpu) =>
        gpu.Tile <= MaxTile ? gpu.Tile
            : throw new InvalidOperationException($"conv2d: tile {gpu.Tile} of {gpu.Name} exceeds the supported {MaxTile}.");

    private static void NotAliased(string op, string outName, Tensor output, string inName, Tensor input)
    {
        if (ReferenceEquals(output, input))
            throw new ArgumentException($"{op}: {outName} and {inName} are the same tensor; the output must be a separate buffer.");
    }
}
