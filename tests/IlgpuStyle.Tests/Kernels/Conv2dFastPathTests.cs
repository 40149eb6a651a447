using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.Reference;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The 3×3 stride-1 padding-1 fast path (both implicit-GEMM kernels, several blockings) against the
/// double-precision loops in <see cref="ConvReference"/> and against the general tiled and naive kernels, on cpu and
/// opencl. Shapes are not multiples of any block: channels not multiples of 16 or 8 (the register blocks) or 4, widths
/// not multiples of 8 or of a group's pixels, heights not multiples of 4. Tolerance rtol 1e-4, atol 1e-4 (sums of
/// at most 9·24 products of values in [−1, 1]; the float32 kernels differ from the double reference by ~1e-6).
/// </summary>
public class Conv2dFastPathTests(ITestOutputHelper log)
{
    private const double Rtol = 1e-4, Atol = 1e-4;
    private const string SharedGemmShape = "70x9x13->67";

    // (input channels, height, width, output channels)
    private static readonly Dictionary<string, (int Cin, int H, int W, int Cout)> Shapes = new()
    {
        ["1x4x3->1"] = (1, 4, 3, 1),
        ["3x7x5->4"] = (3, 7, 5, 4),
        ["13x17x19->9"] = (13, 17, 19, 9),
        ["9x33x21->17"] = (9, 33, 21, 17),
        ["24x9x40->12"] = (24, 9, 40, 12),
        // Widths ≥ 128 take the register-blocked kernel's row-store variant (partial last block, exact blocks).
        ["5x3x131->19"] = (5, 3, 131, 19),
        ["2x2x128->33"] = (2, 2, 128, 33),
        // Over 64 channels both ways: the shared SGEMM keeps 16-row channel blocks (SharedGemm.FitSide), one pixel per
        // work-item. Its blockings only, not on the CPU simulator (its 4x4 groups never reach that path; 45 s for all blockings there).
        [SharedGemmShape] = (70, 9, 13, 67),
    };

    // Blockings: the defaults of both kernels, odd group shapes, every input-channel step of the shared kernel. The
    // "blocked" ones run the 8-channel kernel where a call has at most 8 outputs (Conv2d.DirectTiles: 1x4x3->1 both
    // ways, 3x7x5->4 both ways), so the 8-channel kernel meets their group shapes too.
    // Groups above 16 work-items run on opencl only (the CPU simulator allows 16).
    private static readonly Dictionary<string, ConvTiles> Blockings = new()
    {
        ["blocked 2x8"] = new(ConvKernelKind.RegisterBlocked, 2, 8, 1),
        ["blocked 4x4"] = new(ConvKernelKind.RegisterBlocked, 4, 4, 1),
        ["blocked 3x2"] = new(ConvKernelKind.RegisterBlocked, 3, 2, 1),
        ["blocked 1x1"] = new(ConvKernelKind.RegisterBlocked, 1, 1, 1),
        ["blocked8 2x8"] = new(ConvKernelKind.RegisterBlocked8, 2, 8, 1),
        ["blocked8 3x2"] = new(ConvKernelKind.RegisterBlocked8, 3, 2, 1),
        ["shared 4x4 ci4"] = new(ConvKernelKind.SharedTiles, 4, 4, 4),
        ["shared 8x2 ci2"] = new(ConvKernelKind.SharedTiles, 8, 2, 2),
        ["shared 3x5 ci1"] = new(ConvKernelKind.SharedTiles, 3, 5, 1),
        ["shared 16x16 ci8"] = new(ConvKernelKind.SharedTiles, 16, 16, 8),
        ["blocked 16x16"] = new(ConvKernelKind.RegisterBlocked, 16, 16, 1),
        // The shared SGEMM (kind=sgemm): 4x4 on the CPU simulator; with gy = 4 (channel blocks fitted to ≤ 32 channels) a
        // work-item loads two pixels, with gy ≥ 8 one.
        ["sgemm 4x4"] = new(ConvKernelKind.SharedGemm, 4, 4, 8),
        ["sgemm 16x16"] = new(ConvKernelKind.SharedGemm, 16, 16, 8),
        ["sgemm 8x16"] = new(ConvKernelKind.SharedGemm, 8, 16, 8),
        ["sgemm 16x4"] = new(ConvKernelKind.SharedGemm, 16, 4, 8),
        // Split-K (ks): a target no test shape reaches, so every shape is cut into as many slices as its steps allow (at
        // least 2: SplitKCutsEveryTestShape), slices that start and end inside taps.
        ["sgemm 4x4 ks"] = new(ConvKernelKind.SharedGemm, 4, 4, 8) { SplitTarget = ConvTiles.MaxSplitTarget },
        ["sgemm 16x16 ks"] = new(ConvKernelKind.SharedGemm, 16, 16, 8) { SplitTarget = ConvTiles.MaxSplitTarget },
    };

    public static TheoryData<string, string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var device in Devices.Names)
            foreach (var (name, tiles) in Blockings)
            {
                if (device == "cpu" && tiles.GroupX * tiles.GroupY > 16) continue;
                foreach (var shape in Shapes.Keys)
                    if (shape != SharedGemmShape || (tiles.Kind == ConvKernelKind.SharedGemm && device != "cpu"))
                        data.Add(device, name, shape);
            }
            // ptx (the PTX interpreter, 0.5–5 s a case): each GPU kind's blocking once, the smaller shapes taken in turn
            // (every shape on every blocking was run once: doc/PERFORMANCE.md, stop 42; 70x9x13->67 takes ~20 s there).
            var gpuBlockings = Blockings.Where(b => b.Value.Kind is ConvKernelKind.SharedTiles or ConvKernelKind.SharedGemm).Select(b => b.Key).ToList();
            string[] shapes = ["13x17x19->9", "5x3x131->19", "3x7x5->4", "2x2x128->33", "24x9x40->12"];
            for (int i = 0; i < gpuBlockings.Count; i++)
                data.Add("ptx", gpuBlockings[i], shapes[i % shapes.Length]);
            return data;
        }
    }

    /// <summary>
    /// The general kernels' outputs for a device, shape and call (same seeds): computed by the first case that needs
    /// them and compared with every blocking's, instead of run again for each of up to 13 blockings (on the CPU
    /// simulator the tiled kernel alone took ~20 s of the forward cases).
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Device, string Shape, string Call), float[]> GeneralKernelOutputs = new();

    private static float[] GeneralKernelOutput(string device, string shape, string call, Func<float[]> run) =>
        GeneralKernelOutputs.GetOrAdd((device, shape, call), _ => run());

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesReferenceAndGeneralKernels(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        var tiles = Blockings[blocking];
        using var problem = Conv3x3Problem.Forward(gpu, Shapes[shapeName], seed: 21);
        var (p, xs, ws, x, wt, b) = (Conv3x3Problem.Params, problem.InputShape, problem.WeightShape, problem.Source, problem.Weight, problem.Extra);
        var (tx, tw, tb, ty) = (problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias!, problem.Output);
        using var tref = gpu.Allocate(problem.OutputShape);

        foreach (var (bias, relu) in new[] { (false, false), (true, false), (true, true), (false, true) })
        {
            string what = $"{shapeName} {blocking} bias={bias} relu={relu} [{device}]";
            var expected = ConvReference.Forward(ConvReference.ToDouble(x), xs, ConvReference.ToDouble(wt), ws,
                bias ? ConvReference.ToDouble(b) : null, p, relu);
            ty.Fill(float.NaN); // every element must be written
            Conv2d.Forward3x3(tx, tw, bias ? tb : null, ty, relu, tiles);
            var fast = ty.ToHost();
            Check.Close(expected, fast, Rtol, Atol, $"fast forward vs reference {what}", log);

            var tiled = GeneralKernelOutput(device, shapeName, $"forward tiled bias={bias} relu={relu}", () =>
            {
                Conv2d.ForwardTiled(tx, tw, bias ? tb : null, tref, p, relu);
                return tref.ToHost();
            });
            Check.Close(tiled, fast, Rtol, Atol, $"fast forward vs tiled kernel {what}", log);
            var naive = GeneralKernelOutput(device, shapeName, $"forward naive bias={bias} relu={relu}", () =>
            {
                ReferenceConv2d.ForwardNaive(tx, tw, bias ? tb : null, tref, p, relu);
                return tref.ToHost();
            });
            Check.Close(naive, fast, Rtol, Atol, $"fast forward vs naive kernel {what}", log);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardDataMatchesReferenceAndGeneralKernel(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        var tiles = Blockings[blocking];
        using var problem = Conv3x3Problem.BackwardData(gpu, Shapes[shapeName], seed: 24);
        var (p, xs, ws, dy, wt, before) = (Conv3x3Problem.Params, problem.InputShape, problem.WeightShape, problem.Source, problem.Weight, problem.Extra);
        var (tdy, tw, tdx) = (problem.DeviceSource, problem.DeviceWeight, problem.Output);
        using var tref = gpu.Allocate(xs);
        string what = $"{shapeName} {blocking} [{device}]";
        var expected = ConvReference.BackwardData(ConvReference.ToDouble(dy), ConvReference.ToDouble(wt), ws, xs, p);

        tdx.Fill(float.NaN); // overwrite must not read the old contents
        Conv2d.BackwardData3x3(tdy, tw, tdx, accumulate: false, tiles);
        var fast = tdx.ToHost();
        Check.Close(expected, fast, Rtol, Atol, $"fast backward-data vs reference {what}", log);
        var tiled = GeneralKernelOutput(device, shapeName, "backward-data tiled", () =>
        {
            Conv2d.BackwardDataTiled(tdy, tw, tref, p, accumulate: false);
            return tref.ToHost();
        });
        Check.Close(tiled, fast, Rtol, Atol, $"fast backward-data vs tiled kernel {what}", log);

        tdx.CopyFromHost(before);
        Conv2d.BackwardData3x3(tdy, tw, tdx, accumulate: true, tiles);
        Check.Close(expected.Select((v, i) => v + before[i]).ToArray(), tdx.ToHost(), Rtol, Atol,
            $"fast backward-data accumulate vs reference {what}", log);
    }

    /// <summary>
    /// The shared SGEMM sums each output over k in increasing order, one fma per term, whatever its group: every blocking
    /// (and the channel blocks FitSide gives them) writes the same bytes, forward with bias and ReLU and backward-data
    /// accumulating. Groups over 16 work-items: not on the CPU simulator.
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SharedGemmBytesDoNotDependOnTheBlocking(string device)
    {
        var gpu = Devices.Get(device);
        Assert.SkipWhen(gpu.Accelerator.MaxNumThreadsPerGroup < 256, $"{device}: groups of at most {gpu.Accelerator.MaxNumThreadsPerGroup} work-items");
        int[][] groups = [[4, 4], [16, 16], [8, 16], [16, 8], [16, 4], [4, 16], [8, 8]];
        foreach (var shape in new[] { SharedGemmShape, "24x9x40->12", "5x3x131->19" })
        {
            using var forward = Conv3x3Problem.Forward(gpu, Shapes[shape], seed: 31);
            using var backward = Conv3x3Problem.BackwardData(gpu, Shapes[shape], seed: 32);
            float[]? firstForward = null, firstBackward = null;
            foreach (var g in groups)
            {
                var tiles = new ConvTiles(ConvKernelKind.SharedGemm, g[0], g[1], 8);
                Conv2d.Forward3x3(forward.DeviceSource, forward.DeviceWeight, forward.DeviceBias, forward.Output, fuseRelu: true, tiles);
                backward.Output.CopyFromHost(backward.Extra);
                Conv2d.BackwardData3x3(backward.DeviceSource, backward.DeviceWeight, backward.Output, accumulate: true, tiles);
                var (f, b) = (forward.Output.ToHost(), backward.Output.ToHost());
                firstForward ??= f;
                firstBackward ??= b;
                Assert.True(firstForward.AsSpan().SequenceEqual(f), $"{shape} sgemm {g[0]}x{g[1]}: forward bytes differ from {groups[0][0]}x{groups[0][1]}'s [{device}]");
                Assert.True(firstBackward.AsSpan().SequenceEqual(b), $"{shape} sgemm {g[0]}x{g[1]}: backward-data bytes differ [{device}]");
            }
        }
    }

    /// <summary>
    /// The shared SGEMM's pixel blocks shrink on small maps until the grid has a group per multiprocessor (or gx is 4):
    /// VGG19 at 512² on an H100's 132 SMs — conv5_1 (1 024 pixels, 512 channels) 32 groups of 16 × 16 → 128 of 4 × 16,
    /// conv4_x (4 096 pixels) 128 → 256 of 8 × 16, conv1_2 (262 144 pixels, 64 channels) unchanged. The bytes do not
    /// depend on the groups (SharedGemmBytesDoNotDependOnTheBlocking).
    /// </summary>
    [Fact]
    public void SharedGemmGroupsFillTheDevice()
    {
        Assert.Equal((4, 16), Conv2d.SharedGemmGroups(16, 16, 32 * 32, 512, 132));
        Assert.Equal((8, 16), Conv2d.SharedGemmGroups(16, 16, 64 * 64, 512, 132));
        Assert.Equal((16, 8), Conv2d.SharedGemmGroups(16, 8, 512 * 512, 64, 132));
        Assert.Equal((16, 16), Conv2d.SharedGemmGroups(16, 16, 64 * 64, 512, 128)); // 128 groups: one per multiprocessor
        Assert.Equal((4, 4), Conv2d.SharedGemmGroups(4, 4, 7, 3, 132)); // never below 4
        Assert.Equal((16, 16), Conv2d.SharedGemmGroups(16, 16, 32 * 32, 512, 1)); // the CPU simulator
    }

    /// <summary>
    /// Split-K's slices (kind=sgemm with ks): the fewest that give T × 256 work-items per multiprocessor, at most 32, none
    /// under 4 steps, partial outputs within 32 MiB, none empty; ks=0 none. Groups of 16 × 16 on 132 SMs with T = 2 (67 584 work-items wanted).
    /// </summary>
    [Fact]
    public void SplitKSlicesFillTheDevice()
    {
        Assert.Equal((9, 64), Splits(2, 32 * 256, Conv2d.SharedGemmSteps(512), 512 * 1024, 132)); // conv5_1 at 512²: 32 groups, 576 steps
        Assert.Equal((3, 96), Splits(2, 128 * 256, Conv2d.SharedGemmSteps(256), 512 * 4096, 132)); // conv4_1 at 512²: 128 groups, 288 steps
        Assert.Equal((1, 72), Splits(2, 2048 * 256, Conv2d.SharedGemmSteps(64), 64 * 262144, 132)); // conv1_2 at 512²: the grid is full
        Assert.Equal((1, 576), Splits(0, 32 * 256, 576, 512 * 1024, 132)); // ks=0: one slice
        Assert.Equal((32, 18), Splits(64, 256, 576, 1024, 132)); // at most 32 slices
        Assert.Equal((4, 144), Splits(64, 256, 576, SplitK.MaxPartialFloats / 4, 132)); // partial outputs within 32 MiB
        Assert.Equal((2, 5), Splits(64, 16, 9, 64, 1)); // one 8-channel chunk: 9 steps, slices of ≥ 4
        Assert.Equal((4, 5), Splits(64, 16, 18, 64, 1)); // 18 steps: 4 slices of 5 (the last 3), none empty
        Assert.Equal((6, 5), Splits(64, 16, 27, 64, 1));

        static (int Splits, int Steps) Splits(int target, int workItems, int steps, long outputs, int sms) =>
            (SplitK.Slices(target, workItems, steps, outputs, sms, out int per), per);
    }

    /// <summary>
    /// The memory planner's share of split-K (SplitK.PlannedBytes): none under a plan without ks; 32 MiB under one with
    /// it, less what a split convolution has allocated since.
    /// </summary>
    [Fact]
    public void SplitKReservesItsScratchForTheMemoryPlanner()
    {
        using var gpu = DeviceCatalog.Open("cpu");
        Assert.Equal(0, SplitK.PlannedBytes(gpu));
        var tiles = Blockings["sgemm 4x4 ks"];
        gpu.UsePlan(gpu.Plan with { Conv = tiles });
        Assert.Equal(SplitK.MaxPartialFloats * sizeof(float), SplitK.PlannedBytes(gpu));
        using var problem = Conv3x3Problem.Forward(gpu, Shapes["24x9x40->12"], seed: 5);
        Conv2d.Forward3x3(problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias, problem.Output, true, tiles);
        long left = SplitK.PlannedBytes(gpu);
        Assert.InRange(left, 1, SplitK.MaxPartialFloats * sizeof(float) - 2 * 12 * 9 * 40 * sizeof(float)); // ≥ 2 slices of 12 × 9 × 40
    }

    /// <summary>The split-K blockings of <see cref="Blockings"/> cut every test shape into 2 or more slices on every device (so their cases test split-K).</summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SplitKCutsEveryTestShape(string device)
    {
        var gpu = Devices.Get(device);
        foreach (var (name, tiles) in Blockings.Where(b => b.Value.SplitTarget > 0))
        foreach (var (shape, (cin, h, w, cout)) in Shapes)
        {
            // Slices fall as work-items grow and steps shrink: at most (H·W + 8·gx)·(M + 128) / 64 work-items (64 outputs each,
            // blocks of ≤ 8·gx pixels and 128 channels), the fewer channels in the reduction (forward or backward-data).
            int workItems = (h * w + 8 * tiles.GroupX) * (Math.Max(cin, cout) + 128) / 64;
            int splits = SplitK.Slices(tiles.SplitTarget, workItems, Conv2d.SharedGemmSteps(Math.Min(cin, cout)), (long)Math.Max(cin, cout) * h * w,
                gpu.Accelerator.NumMultiprocessors, out _);
            Assert.True(splits >= 2, $"{name} {shape}: {splits} slice(s) [{device}]");
        }
    }

    // The blocking table, its override and ConvTiles.Validate: TuningPlanTests.

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ForwardAndBackwardDataUseTheFastPathOnlyFor3x3Stride1Pad1(string device)
    {
        var gpu = Devices.Get(device);
        log.WriteLine($"{device}: blocking {gpu.Plan.Conv}");
        Assert.True(Conv2d.HasFastPath(Conv2dParams.Same3x3));
        Assert.False(Conv2d.HasFastPath(Conv2dParams.Square(3, 1, 0)));
        Assert.False(Conv2d.HasFastPath(Conv2dParams.Square(3, 2, 1)));
        Assert.False(Conv2d.HasFastPath(Conv2dParams.Square(1)));
        // Forward (the library's dispatch) gives the same bits as the fast path with the device's blocking.
        var xs = Shape4.Image(5, 6, 11);
        using var x = gpu.FromHost(xs, TestData.Uniform(27, xs.Count));
        using var w = gpu.FromHost(new Shape4(7, 5, 3, 3), TestData.Uniform(28, 7 * 5 * 9));
        using var y1 = gpu.Allocate(Shape4.Image(7, 6, 11));
        using var y2 = gpu.Allocate(Shape4.Image(7, 6, 11));
        Conv2d.Forward(x, w, null, y1, Conv2dParams.Same3x3);
        Conv2d.Forward3x3(x, w, null, y2, false, gpu.Plan.Conv);
        Assert.Equal(y1.ToHost(), y2.ToHost());
    }
}
