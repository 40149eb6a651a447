// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// 2-D convolution (cross-correlation: the kernel is not flipped) with zero padding, batch N = 1, NCHW float32.
/// Shapes: x 1×Cin×H×W; weights OIHW, stored as a <see cref="Tensor"/> of <c>Shape4(Cout, Cin, KH, KW)</c>
/// (for weights the N slot holds Cout); bias <c>Shape4.Vector(Cout)</c>; y 1×Cout×OutH×OutW with OutH/OutW
/// from <see cref="Conv2dParams.OutputSize"/>. Outputs are preallocated by the caller. Every op is
/// deterministic (no atomics: each output element is summed by one thread in a fixed order). The naive forward and the
/// weight gradient, which the product never launches, are in tests/IlgpuStyle.Kernels.Reference (ReferenceConv2d).
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

    /// <summary>Largest <see cref="Gpu.Tile"/> the general tiled kernels support.</summary>
    internal const int MaxTile = Gpu.MaxTile;

    /// <summary>
    /// y ← conv(x, w) + bias, then max(·, 0) if <paramref name="fuseRelu"/>. 3×3 stride-1 padding-1 convolutions
    /// (<see cref="HasFastPath"/>) run an implicit-GEMM kernel chosen by <see cref="TuningPlan.Conv"/> of <see cref="Gpu.Plan"/>; every other
    /// geometry runs <see cref="ForwardTiled"/>.
    /// </summary>
    public static void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p, bool fuseRelu = false)
    {
        CheckForward("conv2d forward", x, w, bias, y, p);
        if (HasFastPath(p)) RunPlanned3x3(x, w, transpose: false, bias, fuseRelu, accumulate: false, y, null);
        else ForwardTiled(x, w, bias, y, p, fuseRelu);
    }

    /// <summary>
    /// Same result as <see cref="Forward"/> for any kernel size, stride and padding. Tiled kernel: shared-memory
    /// input patches and weight blocks, 4 output channels per thread. What every geometry but 3×3 stride-1 padding-1 runs.
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
    /// dx ← conv_transpose(dy, w) (or dx += … when <paramref name="accumulate"/>): the gradient of the forward
    /// convolution with respect to its input. dx has the shape of the forward input x. 3×3 stride-1 padding-1
    /// (<see cref="HasFastPath"/>) runs the implicit-GEMM kernel with the flipped, transposed weights; every other
    /// geometry runs <see cref="BackwardDataTiled"/>. <paramref name="reluOutput"/>: the gradient through that ReLU first,
    /// as in <see cref="BackwardData(Tensor, PreparedConv3x3, Tensor, bool, Tensor?)"/> (the tiled kernel reads dy itself, so
    /// for other geometries the gated gradient is written over dy).
    /// </summary>
    public static void BackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dParams p, bool accumulate, Tensor? reluOutput = null)
    {
        const string op = "conv2d backward-data";
        CheckBackwardData(op, dy, w, dx, p);
        CheckReluOutput(op, dy, reluOutput);
        if (HasFastPath(p)) RunPlanned3x3(dy, w, transpose: true, null, relu: false, accumulate, dx, null, reluOutput);
        else
        {
            if (reluOutput is not null) Relu.Backward(reluOutput, dy, dy, accumulate: false);
            BackwardDataTiled(dy, w, dx, p, accumulate);
        }
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

    private static ConvGeometry CheckBackwardData(string op, Tensor dy, Tensor w, Tensor dx, Conv2dParams p)
    {
        var g = ConvGeometry.Create(op, "dx", dx.Shape, "w", w.Shape, "dy", dy.Shape, p);
        ShapeCheck.SameDevice(op, dy, w);
        ShapeCheck.SameDevice(op, dy, dx);
        NotAliased(op, "dx", dx, "dy", dy);
        NotAliased(op, "dx", dx, "w", w);
        return g;
    }

    /// <summary>Shape, device and aliasing checks of a forward convolution (also the reference kernels' checks).</summary>
    internal static ConvGeometry CheckForward(string op, Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p)
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

    internal static int TileOf(Gpu gpu) =>
        gpu.Tile <= MaxTile ? gpu.Tile
            : throw new InvalidOperationException($"conv2d: tile {gpu.Tile} of {gpu.Name} exceeds the supported {MaxTile}.");

    internal static void NotAliased(string op, string outName, Tensor output, string inName, Tensor input)
    {
        if (ReferenceEquals(output, input))
            throw new ArgumentException($"{op}: {outName} and {inName} are the same tensor; the output must be a separate buffer.");
    }
}
