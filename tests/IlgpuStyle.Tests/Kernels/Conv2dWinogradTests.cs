using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// Winograd F(2×2, 3×3) and F(4×4, 3×3) (Conv2dWinograd.cs, Conv2dWinograd4x4.cs, Conv2dWinogradGemmKernel.cs, WinogradSharedProductKernel.cs) against the double-precision loops in
/// <see cref="ConvReference"/>, forward (bias, ReLU) and backward-data (overwrite and accumulate), on every device, every
/// product block. Odd heights and widths (half tiles at the edges), channel counts not multiples of 8 or 16, maps
/// narrower than a product block or a transform's group, whole tiles that fill the output transform's groups exactly, and a chunk bound that cuts the tile rows into several chunks (one tile row per chunk
/// included). F(2×2, 3×3) to the direct kernels' tolerance (rtol 1e-4, atol 1e-4: its transforms multiply by ±1 and ½
/// only); F(4×4, 3×3), whose transforms have coefficients up to 8 and 1/24, to <see cref="Tolerance4x4"/>.
/// </summary>
public class Conv2dWinogradTests(ITestOutputHelper log)
{
    private const double Tolerance2x2 = 1e-4;

    /// <summary>F(4×4, 3×3)'s rtol and atol: its largest error on these shapes was 5.7e-5 (F(2×2, 3×3): 4.1e-6).</summary>
    private const double Tolerance4x4 = 2e-4;

    private static double Tolerance(WinogradTiles tiles) => tiles.OutputTile == 4 ? Tolerance4x4 : Tolerance2x2;

    // (input channels, height, width, output channels, chunk floats: 0 = the default bound)
    private static readonly Dictionary<string, (int Cin, int H, int W, int Cout, int Chunk)> Shapes = new()
    {
        ["1x1x1->1"] = (1, 1, 1, 1, 0),
        ["3x7x5->4"] = (3, 7, 5, 4, 0),
        ["13x17x19->9"] = (13, 17, 19, 9, 0),
        ["9x33x21->17"] = (9, 33, 21, 17, 0),
        ["24x9x40->12 chunks of 1 row"] = (24, 9, 40, 12, 1),
        ["16x15x18->16 chunks of 3 rows"] = (16, 15, 18, 16, 16 * 16 * 9 * 3),
        ["72x12x20->48"] = (72, 12, 20, 48, 0),
        // Whole tiles whose columns the output transform's groups cover exactly (32 and 64 of them: a multiple of every
        // device's row group, so the launch has no bounds check), plus an edge column and an edge row.
        ["5x9x129->6 exact groups"] = (5, 9, 129, 6, 0),
        // Maps at least a group wide run the transforms along tile rows, narrower ones along the groups (flat mode):
        // chunks of 2 tile rows in row mode (the shapes above, narrower than 16 tiles, cover flat mode on every device).
        ["6x10x130->5 chunks of 2 rows"] = (6, 10, 130, 5, 36 * 6 * 33 * 2),
    };

    // Every product block, with the default group and odd ones (groups above 16 work-items: opencl only).
    private static readonly Dictionary<string, WinogradTiles> Blockings = new()
    {
        ["16x8 2x8"] = new(WinogradBlock.Rows16Tiles8, 2, 8),
        ["16x8 3x2"] = new(WinogradBlock.Rows16Tiles8, 3, 2),
        ["8x8 2x8"] = new(WinogradBlock.Rows8Tiles8, 2, 8),
        ["8x8 1x1"] = new(WinogradBlock.Rows8Tiles8, 1, 1),
        ["8x16 2x8"] = new(WinogradBlock.Rows8Tiles16, 2, 8),
        ["4x24 1x3"] = new(WinogradBlock.Rows4Tiles24, 1, 3),
        ["4x24 2x16"] = new(WinogradBlock.Rows4Tiles24, 2, 16),
        ["16x16 2x8"] = new(WinogradBlock.Rows16Tiles16, 2, 8),
        ["16x16 1x1"] = new(WinogradBlock.Rows16Tiles16, 1, 1),
        ["F4 16x8 2x8"] = new(WinogradBlock.Rows16Tiles8, 2, 8, OutputTile: 4),
        ["F4 8x8 1x1"] = new(WinogradBlock.Rows8Tiles8, 1, 1, OutputTile: 4),
        ["F4 8x16 2x8"] = new(WinogradBlock.Rows8Tiles16, 2, 8, OutputTile: 4),
        ["F4 4x24 1x3"] = new(WinogradBlock.Rows4Tiles24, 1, 3, OutputTile: 4),
        ["F4 16x16 3x2"] = new(WinogradBlock.Rows16Tiles16, 3, 2, OutputTile: 4),
        // The GPU-shaped shared block: its small and uneven groups (blocks of 64 rows × 32 tiles, 32 × 32) and the GPU's 16 × 16.
        ["shared 4x8"] = new(WinogradBlock.Shared, 4, 8),
        ["F4 shared 4x4"] = new(WinogradBlock.Shared, 4, 4, OutputTile: 4),
        ["F4 shared 16x16"] = new(WinogradBlock.Shared, 16, 16, OutputTile: 4),
    };

    public static TheoryData<string, string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var device in Devices.Names)
            foreach (var (blocking, tiles) in Blockings)
            {
                if (device == "cpu" && tiles.GroupX * tiles.GroupY > 16) continue;
                foreach (var shape in Shapes.Keys) data.Add(device, blocking, shape);
            }
            // ptx (the PTX interpreter): the GPU block's blockings, each on every third shape (all of them were run once:
            // doc/PERFORMANCE.md, stop 42).
            var shapes = Shapes.Keys.ToList();
            var shared = Blockings.Where(b => b.Value.Block == WinogradBlock.Shared).Select(b => b.Key).ToList();
            for (int i = 0; i < shapes.Count; i++) data.Add("ptx", shared[i % shared.Count], shapes[i]);
            return data;
        }
    }

    private static (int Cin, int H, int W, int Cout) Dims(string name) =>
        (Shapes[name].Cin, Shapes[name].H, Shapes[name].W, Shapes[name].Cout);

    /// <summary>
    /// NaN in the padded copy the transforms read (a scratch buffer kept between calls), so that an element the padding
    /// launches fail to write shows in the output instead of an earlier call's value.
    /// </summary>
    private static void PoisonPaddedScratch(Gpu gpu, string shapeName)
    {
        var (cin, h, w, cout) = Dims(shapeName);
        gpu.ScratchAtLeast((int)Conv2d.WinogradScratchFloats(cin, cout, h, w).Padded, Conv2d.PaddedScratchKey).Fill(float.NaN);
    }

    private static int Chunk(string name) => Shapes[name].Chunk == 0 ? Conv2d.WinogradChunkFloats : Shapes[name].Chunk;

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesReference(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        using var problem = Conv3x3Problem.Forward(gpu, Dims(shapeName), seed: 41);
        foreach (var (bias, relu) in new[] { (false, false), (true, false), (true, true) })
        {
            string what = $"{shapeName} {blocking} bias={bias} relu={relu} [{device}]";
            var expected = ConvReference.Forward(ConvReference.ToDouble(problem.Source), problem.InputShape,
                ConvReference.ToDouble(problem.Weight), problem.WeightShape, bias ? ConvReference.ToDouble(problem.Extra) : null,
                Conv3x3Problem.Params, relu);
            problem.Output.Fill(float.NaN); // every element must be written
            PoisonPaddedScratch(gpu, shapeName);
            Conv2d.ForwardWinograd(problem.DeviceSource, problem.DeviceWeight, bias ? problem.DeviceBias : null, problem.Output, relu,
                Blockings[blocking], Chunk(shapeName));
            double tol = Tolerance(Blockings[blocking]);
            Check.Close(expected, problem.Output.ToHost(), tol, tol, $"Winograd forward vs reference {what}", log);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardDataMatchesReference(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        using var problem = Conv3x3Problem.BackwardData(gpu, Dims(shapeName), seed: 44);
        string what = $"{shapeName} {blocking} [{device}]";
        var expected = ConvReference.BackwardData(ConvReference.ToDouble(problem.Source), ConvReference.ToDouble(problem.Weight),
            problem.WeightShape, problem.InputShape, Conv3x3Problem.Params);

        problem.Output.Fill(float.NaN); // overwrite must not read the old contents
        PoisonPaddedScratch(gpu, shapeName);
        Conv2d.BackwardDataWinograd(problem.DeviceSource, problem.DeviceWeight, problem.Output, accumulate: false, Blockings[blocking], Chunk(shapeName));
        double tol = Tolerance(Blockings[blocking]);
        Check.Close(expected, problem.Output.ToHost(), tol, tol, $"Winograd backward-data vs reference {what}", log);

        problem.Output.CopyFromHost(problem.Extra);
        PoisonPaddedScratch(gpu, shapeName);
        Conv2d.BackwardDataWinograd(problem.DeviceSource, problem.DeviceWeight, problem.Output, accumulate: true, Blockings[blocking], Chunk(shapeName));
        Check.Close(expected.Select((v, i) => v + problem.Extra[i]).ToArray(), problem.Output.ToHost(), tol, tol,
            $"Winograd backward-data accumulate vs reference {what}", log);
    }

    /// <summary>
    /// The other blocks do the arithmetic of the scalar register blocks in the same order — the 16x16 block's float16 code
    /// (VectorProduct16.cs, and for F(4×4, 3×3) WinogradVectorInput.cs on maps of ≥ 16 tiles a row; on CUDA its scalar
    /// body) and the GPU-shaped shared block (WinogradSharedProductKernel.cs: Σ_c in increasing c, one fma per term) — so
    /// their results are the 16x8 block's bit for bit, forward (bias, ReLU) and backward-data (accumulating), on maps whose
    /// rows hold whole vectors and a remainder.
    /// </summary>
    [Theory]
    [InlineData("cpu", 2)]
    [InlineData("cpu", 4)]
    [InlineData("opencl", 2)]
    [InlineData("opencl", 4)]
    [InlineData("cuda", 2)]
    [InlineData("cuda", 4)]
    public void EveryBlockGivesTheScalarBlocksBytes(string device, int outputTile)
    {
        var gpu = Devices.Get(device);
        var scalar = new WinogradTiles(WinogradBlock.Rows16Tiles8, 2, 8, outputTile);
        // The shared block with the group the device's plan gives it (16 × 16; 4 × 4 on the simulator).
        var others = new[] { scalar with { Block = WinogradBlock.Rows16Tiles16 }, gpu.Plan.ProductTiles(WinogradBlock.Shared) with { OutputTile = outputTile } };
        // 35, 32 and 18 tiles a row with F(4×4, 3×3) (18: a map narrower than a transform group, flat mode for 16x8)
        foreach (var dims in new[] { (24, 9, 140, 20), (16, 12, 128, 16), (8, 10, 70, 12) })
        {
            using var problem = Conv3x3Problem.Forward(gpu, dims, seed: 53);
            using var expected = gpu.Allocate(problem.OutputShape);
            using var dx = gpu.Allocate(problem.InputShape);
            using var dxExpected = gpu.Allocate(problem.InputShape);
            Conv2d.ForwardWinograd(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, expected, true, scalar);
            dxExpected.CopyFromHost(problem.Source);
            Conv2d.BackwardDataWinograd(expected, problem.DeviceWeight, dxExpected, accumulate: true, scalar);
            foreach (var other in others)
            {
                string what = $"{dims} {other} [{device}]";
                problem.Output.Fill(float.NaN);
                Conv2d.ForwardWinograd(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, problem.Output, true, other);
                Assert.True(expected.ToHost().AsSpan().SequenceEqual(problem.Output.ToHost()), $"forward {what}");
                dx.CopyFromHost(problem.Source);
                Conv2d.BackwardDataWinograd(expected, problem.DeviceWeight, dx, accumulate: true, other);
                Assert.True(dxExpected.ToHost().AsSpan().SequenceEqual(dx.ToHost()), $"backward-data {what}");
                log.WriteLine($"{what}: = 16x8 bit for bit");
            }
        }
    }

    /// <summary>
    /// The library's dispatch (<see cref="Conv2d.Forward(Tensor, Tensor, Tensor?, Tensor, Conv2dParams, bool)"/>, the
    /// prepared overloads, backward-data) takes Winograd exactly for the layers the plan's threshold selects, bit for bit
    /// the explicit entry points' results; below the threshold, and with winograd=0, the direct kernel's. A device of its
    /// own (DeviceCatalog.Open), so changing its plan touches no other test.
    /// </summary>
    [Theory]
    [InlineData("cpu")]
    [InlineData("opencl")]
    public void ThePlanChoosesWinogradByChannelCount(string device)
    {
        Devices.Get(device); // skips (or fails under CI=true) where the device is missing
        using var gpu = DeviceCatalog.Open(device);
        var direct = gpu.Plan with { WinogradMinChannels = 0, WinogradBlock = WinogradBlock.Rows4Tiles24 };
        foreach (var (cin, cout, threshold, tile) in new[] { (16, 20, 16, 2), (16, 20, 16, 4), (16, 20, 17, 4), (24, 16, 20, 2), (16, 16, 0, 4) })
        {
            var plan = direct with { WinogradMinChannels = threshold, WinogradOutputTile = tile };
            gpu.UsePlan(plan);
            bool winograd = threshold > 0 && cin >= threshold && cout >= threshold;
            string what = $"{cin}->{cout} winograd={threshold} wtile={tile} [{device}]";
            using var problem = Conv3x3Problem.Forward(gpu, (cin, 9, 10, cout), seed: 47);
            using var expected = gpu.Allocate(problem.OutputShape);
            using var prepared = Conv2d.Prepare3x3(problem.DeviceWeight);
            if (winograd) Conv2d.ForwardWinograd(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, expected, true, plan.WinogradTiles);
            else Conv2d.Forward3x3(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, expected, true, plan.Conv);
            Conv2d.Forward(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, problem.Output, Conv3x3Problem.Params, fuseRelu: true);
            Assert.True(expected.ToHost().AsSpan().SequenceEqual(problem.Output.ToHost()), $"forward dispatch {what}");
            Conv2d.Forward(problem.DeviceSource, prepared, problem.DeviceBias, problem.Output, fuseRelu: true);
            Assert.True(expected.ToHost().AsSpan().SequenceEqual(problem.Output.ToHost()), $"prepared forward dispatch {what}");

            using var dx = gpu.Allocate(problem.InputShape);
            using var dxExpected = gpu.Allocate(problem.InputShape);
            if (winograd) Conv2d.BackwardDataWinograd(problem.Output, problem.DeviceWeight, dxExpected, false, plan.WinogradTiles);
            else Conv2d.BackwardData3x3(problem.Output, problem.DeviceWeight, dxExpected, false, plan.Conv);
            Conv2d.BackwardData(problem.Output, prepared, dx, accumulate: false);
            Assert.True(dxExpected.ToHost().AsSpan().SequenceEqual(dx.ToHost()), $"prepared backward-data dispatch {what}");
            log.WriteLine($"{what}: {(winograd ? "Winograd" : "direct")}, bitwise equal");
        }
    }
}
