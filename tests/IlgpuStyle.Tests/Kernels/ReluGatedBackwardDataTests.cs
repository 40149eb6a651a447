using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// Backward-data through a ReLU in one call (<c>reluOutput</c> of <see cref="Conv2d.BackwardData(Tensor, PreparedConv3x3, Tensor, bool, Tensor?)"/>
/// and the explicit entry points): bit for bit <see cref="Relu.Backward"/> written over dy followed by the plain call —
/// whose kernels the other convolution tests prove against the CPU reference — on every device and every path: the
/// Winograd padding (whole runs, the checked columns, flat mode for narrow maps, chunks, the vector transforms, the shared
/// product), the register-blocked kernels' zero padding, and the kernels that read dy directly (shared tiles, tensor
/// cores on the 32-lane simulator and CUDA, the tiled kernel of other geometries), overwriting and accumulating. The paths
/// that gate in the padding must leave dy as it was: the register-blocked kernels everywhere, Winograd where
/// <see cref="Conv2d.GatesInPadding"/> (CPU devices; GPUs run ReLU's backward over dy first). y is a ReLU's output with
/// zeros in about half its elements, −0 and +0 among them.
/// </summary>
public class ReluGatedBackwardDataTests(ITestOutputHelper log)
{
    // (input channels, height, width, output channels): odd edges; 70 columns = 18 F(4×4) tiles a row (vectors of 16 and
    // a remainder); a map narrower than a transform group (flat mode); one wider than two.
    private static readonly (int Cin, int H, int W, int Cout)[] Shapes = [(5, 7, 9, 6), (8, 10, 70, 12), (3, 13, 131, 4)];

    private static readonly Dictionary<string, Action<Tensor, Tensor, Tensor, bool, Tensor?>> Paths = new()
    {
        ["winograd F2 16x8"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardDataWinograd(dy, w, dx, acc, new WinogradTiles(WinogradBlock.Rows16Tiles8, 2, 8), reluOutput: gate),
        ["winograd F4 16x16 chunks of 1 row"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardDataWinograd(dy, w, dx, acc, new WinogradTiles(WinogradBlock.Rows16Tiles16, 2, 8, OutputTile: 4),
                chunkFloats: 1, reluOutput: gate),
        ["winograd F4 8x8"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardDataWinograd(dy, w, dx, acc, new WinogradTiles(WinogradBlock.Rows8Tiles8, 1, 1, OutputTile: 4), reluOutput: gate),
        ["winograd F4 shared"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardDataWinograd(dy, w, dx, acc, dy.Gpu.Plan.ProductTiles(WinogradBlock.Shared) with { OutputTile = 4 },
                reluOutput: gate),
        ["blocked 2x8"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardData3x3(dy, w, dx, acc, new ConvTiles(ConvKernelKind.RegisterBlocked, 2, 8, 1), gate),
        ["blocked8 3x2"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardData3x3(dy, w, dx, acc, new ConvTiles(ConvKernelKind.RegisterBlocked8, 3, 2, 1), gate),
        ["shared 4x4 ci4"] = (dy, w, dx, acc, gate) =>
            Conv2d.BackwardData3x3(dy, w, dx, acc, new ConvTiles(ConvKernelKind.SharedTiles, 4, 4, 4), gate),
        ["the plan's kernel (prepared)"] = (dy, w, dx, acc, gate) =>
        {
            using var prepared = Conv2d.Prepare3x3(w);
            Conv2d.BackwardData(dy, prepared, dx, acc, gate);
        },
    };

    /// <summary>Whether the path's kernels read a gated padded copy on <paramref name="gpu"/>, so dy itself is only read.</summary>
    private static bool KeepsDy(string path, Gpu gpu) =>
        path.StartsWith("blocked", StringComparison.Ordinal) || (path.StartsWith("winograd", StringComparison.Ordinal) && Conv2d.GatesInPadding(gpu));

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var device in Devices.Names)
            foreach (var path in Paths.Keys) data.Add(device, path);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GatedCallGivesReluBackwardThenTheCallsBytes(string device, string path)
    {
        var gpu = Devices.Get(device);
        foreach (var dims in Shapes)
            CheckGated(gpu, dims, Paths[path], KeepsDy(path, gpu), $"{path} {dims} [{device}]");
    }

    /// <summary>The tensor-core kernels read dy directly (the ReLU's backward runs first), on the devices that run them.</summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void TensorCoreKernelsGateDyFirst(string device)
    {
        var gpu = Devices.Get(device);
        foreach (var kind in new[] { ConvKernelKind.TensorCoreTf32, ConvKernelKind.TensorCoreBf16 })
            CheckGated(gpu, (16, 9, 12, 24),
                (dy, w, dx, acc, gate) => Conv2d.BackwardData3x3(dy, w, dx, acc, new ConvTiles(kind, 2, 1, Conv2d.TensorCoreStageChannels(kind)), gate),
                dyKept: false, $"{kind} [{device}]");
    }

    /// <summary>Other geometries (the tiled kernel) through the general entry point.</summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void OtherGeometriesGateDyFirst(string device)
    {
        var gpu = Devices.Get(device);
        var p = Conv2dParams.Square(5, stride: 2, pad: 2);
        var xs = Shape4.Image(6, 11, 13);
        var (oh, ow) = p.OutputSize(xs.H, xs.W);
        var ys = Shape4.Image(7, oh, ow);
        using var w = gpu.FromHost(p.WeightShape(ys.C, xs.C), TestData.Uniform(61, ys.C * xs.C * 25));
        Compare(gpu, xs, ys, w, (dy, dx, acc, gate) => Conv2d.BackwardData(dy, w, dx, p, acc, gate), dyKept: false,
            $"5×5 stride 2 [{device}]");
    }

    private void CheckGated(Gpu gpu, (int Cin, int H, int W, int Cout) dims, Action<Tensor, Tensor, Tensor, bool, Tensor?> call,
        bool dyKept, string what)
    {
        var xs = Shape4.Image(dims.Cin, dims.H, dims.W);
        var ys = Shape4.Image(dims.Cout, dims.H, dims.W);
        using var w = gpu.FromHost(Conv2dParams.Same3x3.WeightShape(ys.C, xs.C), TestData.Uniform(62, ys.C * xs.C * 9));
        Compare(gpu, xs, ys, w, (dy, dx, acc, gate) => call(dy, w, dx, acc, gate), dyKept, what);
    }

    /// <summary>
    /// dx from <paramref name="call"/>(dy, dx, accumulate, y) against ReLU's backward over a copy of dy, then
    /// <paramref name="call"/> without the gate, overwriting (dx NaN before) and accumulating.
    /// </summary>
    private void Compare(Gpu gpu, Shape4 xs, Shape4 ys, Tensor w, Action<Tensor, Tensor, bool, Tensor?> call, bool dyKept, string what)
    {
        var dyHost = TestData.Uniform(63, ys.Count);
        // A ReLU's output: max(u, 0) of uniform u in [−1, 1], with some exact +0 and −0 (both give a zero gradient).
        var yHost = TestData.Uniform(64, ys.Count).Select((u, i) => i % 7 == 0 ? 0f : i % 11 == 0 ? -0f : MathF.Max(u, 0f)).ToArray();
        var prior = TestData.Uniform(65, xs.Count);
        using var y = gpu.FromHost(ys, yHost);
        using var dy = gpu.FromHost(ys, dyHost);
        using var gatedDy = gpu.FromHost(ys, dyHost);
        Relu.Backward(y, gatedDy, gatedDy, accumulate: false);
        using var expected = gpu.Allocate(xs);
        using var dx = gpu.Allocate(xs);
        foreach (bool accumulate in new[] { false, true })
        {
            if (accumulate)
            {
                expected.CopyFromHost(prior);
                dx.CopyFromHost(prior);
            }
            else
            {
                expected.Fill(float.NaN);
                dx.Fill(float.NaN);
            }
            call(gatedDy, expected, accumulate, null);
            dy.CopyFromHost(dyHost);
            call(dy, dx, accumulate, y);
            Assert.True(expected.ToHost().AsSpan().SequenceEqual(dx.ToHost()), $"gated backward-data accumulate={accumulate} {what}");
            if (dyKept) Assert.True(dy.ToHost().AsSpan().SequenceEqual(dyHost), $"dy kept {what}");
        }
        log.WriteLine($"{what}: = ReLU backward, then backward-data, bit for bit");
    }
}
