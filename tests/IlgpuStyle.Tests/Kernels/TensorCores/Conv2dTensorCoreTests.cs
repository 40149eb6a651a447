using System.Diagnostics;
using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels; // not .TensorCores: the GPU run's test step filters on this namespace exactly

/// <summary>
/// The tensor-core 3×3 kernel (kind=tf32 and kind=bf16, Conv2dTensorCoreKernel.cs), forward (bias, ReLU) and backward-data
/// (overwrite and accumulate), on "cpu32" (the 32-lane-warp simulator: the emulated mma, the same kernel code), "ptx" (the
/// PTX the CUDA path loads, inline mma.sync and cp.async included, run by the tests' PTX interpreter with its bounds and
/// shared-memory race checks: every blocking on a shape with ragged channel chunks and pixel tiles) and "cuda" (the real
/// mma.sync; skips without a GPU), against <see cref="ConvReference"/> twice:
/// <list type="number">
/// <item>On the original inputs, with the format's error bound. Inputs are rounded to 10 mantissa bits for TF32 (unit
/// roundoff u = 2⁻¹¹), 7 for BF16 (u = 2⁻⁸), so each product a·b is computed as a(1 + δ₁)·b(1 + δ₂), |δ| ≤ u: |y − y_ref| ≤ (2u + u²)·Σ_k|a_k||b_k| plus
/// FP32 accumulation, ≤ 2·(K + 2)·2⁻²⁴·(Σ_k|a_k||b_k| + |bias|) (K = Cin·9 terms and the bias; the factor 2 leaves
/// room for the tensor cores' own summation, whose rounding the PTX ISA does not specify). ReLU is 1-Lipschitz.</item>
/// <item>On inputs rounded to the format in the test (<see cref="TensorCoreFormat"/>), with the FP32 accumulation term alone:
/// this one catches any product the kernel gets wrong by more than rounding.</item>
/// </list>
/// Σ|a||b| comes from the same reference on |x|, |w|, |bias|. Shapes: channel counts that are not multiples of 8
/// (3, 13, 40, 67, 70 and 130 &gt; 64: several 64-channel warp tiles), maps whose H·W is not a multiple of the 32-pixel
/// warp tile, blocks spanning image rows; groups of 1 and 2 warps on the simulator (it runs each lane as an OS thread,
/// so its shapes are small; case times are logged), every blocking the GPU bench uses on cuda.
/// </summary>
public class Conv2dTensorCoreTests(ITestOutputHelper log)
{
    // gx = warps along pixels, gy = warps along channels (block tile 64·gy channels × 32·gx pixels). The host caps gy at
    // ⌈Cout / 64⌉, so gy = 2 runs as gy = 1 on layers of at most 64 channels, with twice the warps along pixels where
    // the kernel has them (Conv2d.TensorCoreTilesFor: 1x2 → 2x1, 2x2 → 4x1; 4x2 → 4x1).
    private static readonly Dictionary<string, ConvTiles> Blockings = new()
    {
        ["tf32 1x1"] = new(ConvKernelKind.TensorCoreTf32, 1, 1, 8),
        ["tf32 2x1"] = new(ConvKernelKind.TensorCoreTf32, 2, 1, 8),
        ["tf32 1x2"] = new(ConvKernelKind.TensorCoreTf32, 1, 2, 8),
        ["tf32 2x2"] = new(ConvKernelKind.TensorCoreTf32, 2, 2, 8),
        ["tf32 4x1"] = new(ConvKernelKind.TensorCoreTf32, 4, 1, 8),
        ["tf32 4x2"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8), // 256 threads: cuda only (the simulator's groups stop at 64)
        ["bf16 1x1"] = new(ConvKernelKind.TensorCoreBf16, 1, 1, 16),
        ["bf16 2x1"] = new(ConvKernelKind.TensorCoreBf16, 2, 1, 16),
        ["bf16 1x2"] = new(ConvKernelKind.TensorCoreBf16, 1, 2, 16),
        ["bf16 2x2"] = new(ConvKernelKind.TensorCoreBf16, 2, 2, 16),
        ["bf16 4x1"] = new(ConvKernelKind.TensorCoreBf16, 4, 1, 16),
        ["bf16 4x2"] = new(ConvKernelKind.TensorCoreBf16, 4, 2, 16), // --precision bf16 on a GPU (Precisions.TensorCoreConv)
        // cp.async stages (AsyncCopy.cs): 2 buffers, or 3 where they fit the static shared memory (64-channel blocks, ≤ 64 pixels).
        ["tf32 1x1 async3"] = new(ConvKernelKind.TensorCoreTf32, 1, 1, 8) { AsyncBuffers = 3 },
        ["tf32 2x1 async3"] = new(ConvKernelKind.TensorCoreTf32, 2, 1, 8) { AsyncBuffers = 3 },
        ["tf32 2x2 async2"] = new(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 },
        ["tf32 4x1 async2"] = new(ConvKernelKind.TensorCoreTf32, 4, 1, 8) { AsyncBuffers = 2 },
        ["tf32 4x2 async2"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 2 }, // its bytes = 4x2's held register staging
        ["bf16 1x2 async2"] = new(ConvKernelKind.TensorCoreBf16, 1, 2, 16) { AsyncBuffers = 2 },
        ["bf16 2x1 async3"] = new(ConvKernelKind.TensorCoreBf16, 2, 1, 16) { AsyncBuffers = 3 },
        ["bf16 2x2 async2"] = new(ConvKernelKind.TensorCoreBf16, 2, 2, 16) { AsyncBuffers = 2 },
        // Deeper cp.async pipelines whose tiles pass the static 48 KiB: dynamic shared memory (Conv2d.TensorCoreDynamicShared),
        // 1x2's 4 buffers on two warps (the simulator's too), the 128 × 128 block's 3 and 4 (the GPU run's candidates), BF16's 4.
        ["tf32 1x2 async4"] = new(ConvKernelKind.TensorCoreTf32, 1, 2, 8) { AsyncBuffers = 4 },
        ["tf32 4x2 async3"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 3 },
        ["tf32 4x2 async4"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 4 },
        ["bf16 4x2 async4"] = new(ConvKernelKind.TensorCoreBf16, 4, 2, 16) { AsyncBuffers = 4 }, // a full tuning's BF16 candidate
        // Two stages a barrier (StagePipeline: 4 buffers, stages published in pairs): odd stage counts end on a half pair
        // (40 channels forward: 15 stages, 70 backward: 27; split-K slices of 5).
        ["tf32 1x2 async4 bar2"] = new(ConvKernelKind.TensorCoreTf32, 1, 2, 8) { AsyncBuffers = 4, StagesPerBarrier = 2 },
        ["tf32 4x2 async4 bar2"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 4, StagesPerBarrier = 2 },
        ["bf16 4x2 async4 bar2"] = new(ConvKernelKind.TensorCoreBf16, 4, 2, 16) { AsyncBuffers = 4, StagesPerBarrier = 2 },
        // Split-K (ks, SplitK.cs): a target no test shape reaches, so each is cut into as many slices as its stages allow
        // (SplitKCasesCutTheirShapes), slices that start inside channel chunks; with register staging and with cp.async.
        ["tf32 1x1 ks"] = new(ConvKernelKind.TensorCoreTf32, 1, 1, 8) { SplitTarget = ConvTiles.MaxSplitTarget },
        ["bf16 1x1 async3 ks"] = new(ConvKernelKind.TensorCoreBf16, 1, 1, 16) { AsyncBuffers = 3, SplitTarget = ConvTiles.MaxSplitTarget },
        ["tf32 2x2 async2 ks"] = new(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2, SplitTarget = ConvTiles.MaxSplitTarget },
        ["tf32 2x2 async4 bar2 ks"] = new(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 4, StagesPerBarrier = 2, SplitTarget = ConvTiles.MaxSplitTarget },
        // The held register staging (4 warps along pixels) in slices: each loads its own stages ahead (forward 4x2, backward 4x1).
        ["tf32 4x2 ks"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { SplitTarget = ConvTiles.MaxSplitTarget },
        // TF32 to nearest even (cvt.rn.tf32: CUDA sm_90+'s rounding, where "tf32" runs so too; off CUDA on request): the
        // weight operand, register staging's fill (1x1), the held stages (4x2) and cp.async's in-place rounding (async2).
        ["tf32-even 1x1"] = new(ConvKernelKind.TensorCoreTf32, 1, 1, 8) { Tf32NearestEven = true },
        ["tf32-even 4x2"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { Tf32NearestEven = true },
        ["tf32-even 4x2 async2"] = new(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { Tf32NearestEven = true, AsyncBuffers = 2 },
    };

    /// <summary>
    /// The format <paramref name="tiles"/> round to on <paramref name="gpu"/> (Conv2d.TensorCoreRoundingOf: kind=tf32 to
    /// nearest even on CUDA sm_90+ or on request). A CUDA device before sm_90 lacks cvt.rn.tf32: the request is skipped.
    /// </summary>
    private static TensorCoreFormat Format(ConvTiles tiles, Gpu gpu)
    {
        Assert.SkipWhen(tiles.Tf32NearestEven && gpu.Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator && !IlgpuStyle.Kernels.TensorCores.Tf32.HasNearestEven(gpu.Accelerator),
            $"{gpu.Name} has no cvt.rn.tf32 (compute capability 9.0+)");
        return Conv2d.TensorCoreRoundingOf(tiles, gpu.Accelerator) switch
        {
            Conv2d.TensorCoreRounding.Bf16 => TensorCoreFormat.Bf16,
            Conv2d.TensorCoreRounding.Tf32NearestEven => TensorCoreFormat.Tf32NearestEven,
            _ => TensorCoreFormat.Tf32,
        };
    }

    // (input channels, height, width, output channels)
    private static readonly Dictionary<string, (int Cin, int H, int W, int Cout)> Shapes = new()
    {
        ["3x7x11->13"] = (3, 7, 11, 13),
        ["13x17x9->40"] = (13, 17, 9, 40),
        ["40x5x6->70"] = (40, 5, 6, 70),
        ["67x33x35->130"] = (67, 33, 35, 130), // several blocks both ways, 9 channel chunks (cuda only: slow on the simulator)
        ["20x9x37->72"] = (20, 9, 37, 72), // 4x2's held staging (two channel tiles) with halos inside the image: blocks span rows
    };

    /// <summary>
    /// cpu32 (each lane an OS thread, ~0.1–1 s per launch on 2 cores): 1 warp on every small shape, then the second warp
    /// along pixels (2x1) and along channels (1x2) on the shape that needs it. cuda: every blocking × the small shapes,
    /// and the large one with the blockings the GPU bench runs first.
    /// </summary>
    public static TheoryData<string, string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var shape in new[] { "3x7x11->13", "13x17x9->40", "40x5x6->70" }) data.Add("cpu32", "tf32 1x1", shape);
            data.Add("cpu32", "tf32 2x1", "13x17x9->40");
            data.Add("cpu32", "tf32 1x2", "40x5x6->70");
            // BF16: stages of 16 channels packed in pairs, one m16n8k16 step per tap, on the shapes that cover a ragged
            // channel chunk (13 of 16; 40 = 16 + 16 + 8) and both warp directions.
            data.Add("cpu32", "bf16 1x1", "13x17x9->40");
            data.Add("cpu32", "bf16 1x2", "40x5x6->70");
            // cp.async: 3 buffers over 6 stages (they wrap twice), 2 buffers over 15 (the bytes of register staging: AsyncCopyGivesTheBytesOfRegisterStaging).
            data.Add("cpu32", "tf32 1x1 async3", "13x17x9->40");
            data.Add("cpu32", "bf16 1x2 async2", "40x5x6->70");
            data.Add("cpu32", "tf32 1x1 ks", SplitKShape);
            data.Add("cpu32", "bf16 1x1 async3 ks", SplitKShape);
            data.Add("cpu32", "tf32-even 1x1", "13x17x9->40");
            // ptx (the PTX interpreter, ~0.2–1 s a case): every blocking — with two warps along channels on two channel
            // tiles (40x5x6->70: gy = 2 runs as 2), the others on ragged pixels and channels (13x17x9->40) — split-K on
            // its shape (both shapes on every blocking were run once: doc/PERFORMANCE.md, stop 42).
            foreach (var (blocking, tiles) in Blockings)
                data.Add("ptx", blocking, tiles.SplitTarget > 0 ? SplitKShape : tiles.GroupY == 2 ? "40x5x6->70" : "13x17x9->40");
            // 4x2's held register staging where its halo columns hold pixels (40x5x6's blocks cover the whole image).
            data.Add("ptx", "tf32 4x2", "20x9x37->72");
            data.Add("ptx", "bf16 4x2", "20x9x37->72");
            data.Add("ptx", "tf32-even 4x2", "20x9x37->72");
            foreach (var blocking in Blockings.Keys)
            foreach (var shape in Shapes.Keys.Where(s => s != "20x9x37->72"))
                if (shape != "67x33x35->130" || blocking is "tf32 2x2" or "tf32 4x1" or "tf32 4x2" or "bf16 2x2" or "bf16 4x1" or "bf16 4x2" or "tf32 2x2 async2" or "tf32 4x2 async2" or "tf32 4x2 async3" or "bf16 2x2 async2" or "tf32 2x2 async2 ks") // its FP64 references take ~1 s each
                    data.Add("cuda", blocking, shape);
            return data;
        }
    }

    /// <summary>The simulator's split-K cases: 15 stages forward (3 slices of 5), 27 backward (6 of 5).</summary>
    private const string SplitKShape = "40x5x6->70";

    /// <summary>
    /// A layer of at most 64 channels has one 64-channel tile: the warps along channels it cannot use go along pixels
    /// where the kernel supports that many and the tiles fit; wider layers keep the blocking.
    /// </summary>
    [Fact]
    public void NarrowLayersMoveTheirSpareChannelWarpsAlongPixels()
    {
        var tf32 = (int gx, int gy, int async) => new ConvTiles(ConvKernelKind.TensorCoreTf32, gx, gy, 8) { AsyncBuffers = async, SplitTarget = 2 };
        Assert.Equal(tf32(4, 1, 0), Conv2d.TensorCoreTilesFor(tf32(2, 2, 0), 64));
        Assert.Equal(tf32(2, 1, 0), Conv2d.TensorCoreTilesFor(tf32(1, 2, 0), 3));
        Assert.Equal(tf32(4, 1, 2), Conv2d.TensorCoreTilesFor(tf32(2, 2, 2), 40));
        Assert.Equal(tf32(4, 1, 0), Conv2d.TensorCoreTilesFor(tf32(4, 2, 0), 64));  // 8 warps along pixels: not a blocking
        Assert.Equal(tf32(2, 1, 3), Conv2d.TensorCoreTilesFor(tf32(2, 1, 3), 13));  // already one tile wide
        foreach (var tiles in new[] { tf32(2, 2, 0), tf32(4, 2, 0), tf32(1, 2, 2) })
        {
            Assert.Equal(tiles, Conv2d.TensorCoreTilesFor(tiles, 65));
            Assert.Equal(tiles, Conv2d.TensorCoreTilesFor(tiles, 512));
        }
        foreach (var tiles in Blockings.Values)
        foreach (int m in new[] { 1, 13, 64, 70, 130 })
        {
            var t = Conv2d.TensorCoreTilesFor(tiles, m);
            Assert.Equal(Math.Min(tiles.GroupY, Gpu.DivUp(m, 64)), t.GroupY);
            Assert.True(t.WorkItems == tiles.WorkItems || t.GroupX == tiles.GroupX, $"{tiles} at {m} channels: {t}"); // all warps kept, or none moved
            t.Validate(tiles.WorkItems); // a blocking of the kernel whose tiles fit
        }
    }

    /// <summary>The split-K cases cut their shape into 2 or more slices both ways on every device (so they test split-K).</summary>
    [Fact]
    public void SplitKCasesCutTheirShapes()
    {
        var (cin, h, w, cout) = Shapes[SplitKShape];
        foreach (var (name, tiles) in Blockings.Where(b => b.Value.SplitTarget > 0))
        foreach (var (reduce, m) in new[] { (cin, cout), (cout, cin) })
        foreach (int sms in new[] { 1, 2, 16, 132 })
        {
            var t = Conv2d.TensorCoreTilesFor(tiles, m);
            int workItems = Gpu.DivUp(h * w, 32 * t.GroupX) * Gpu.DivUp(m, 64 * t.GroupY) * t.WorkItems;
            int slices = SplitK.Slices(tiles.SplitTarget, workItems, 3 * Gpu.DivUp(reduce, 8), (long)m * h * w, sms, out _);
            Assert.True(slices >= 2, $"{name} {SplitKShape} reduce {reduce}: {slices} slice(s) on {sms} multiprocessors");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesReferenceWithinTensorCoreRounding(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        var tiles = Blockings[blocking];
        var format = Format(tiles, gpu);
        var (cin, _, _, _) = Shapes[shapeName];
        using var problem = Conv3x3Problem.Forward(gpu, Shapes[shapeName], seed: 41);
        var (p, xs, ws, x, wt, b) = (Conv3x3Problem.Params, problem.InputShape, problem.WeightShape, problem.Source, problem.Weight, problem.Extra);
        var (tx, tw, tb, ty) = (problem.DeviceSource, problem.DeviceWeight, problem.DeviceBias!, problem.Output);
        int terms = cin * 9;
        var magnitude = ConvReference.Forward(Tf32Reference.Abs(x), xs, Tf32Reference.Abs(wt), ws, Tf32Reference.Abs(b), p);
        // Bias without ReLU compares every output; ReLU (which zeroes about half of them) once per device, on the smallest shape.
        var epilogues = shapeName == "3x7x11->13" && blocking is "tf32 1x1" or "bf16 1x1" ? new[] { (true, false), (false, true) } : new[] { (true, false) };
        foreach (var (bias, relu) in epilogues)
        {
            string what = $"{shapeName} {blocking} bias={bias} relu={relu} [{device}]";
            ty.Fill(float.NaN); // every element must be written
            var clock = Stopwatch.StartNew();
            Conv2d.Forward3x3(tx, tw, bias ? tb : null, ty, relu, tiles);
            var got = ty.ToHost();
            log.WriteLine($"{what}: {clock.Elapsed.TotalMilliseconds:F0} ms");

            var exact = ConvReference.Forward(ConvReference.ToDouble(x), xs, ConvReference.ToDouble(wt), ws,
                bias ? ConvReference.ToDouble(b) : null, p, relu);
            Tf32Reference.Within(exact, magnitude, got, format.TensorCoreBound(terms), $"{format.Name} forward vs FP64 reference {what}", log);

            var rounded = ConvReference.Forward(ConvReference.ToDouble(format.Round(x)), xs, ConvReference.ToDouble(format.Round(wt)), ws,
                bias ? ConvReference.ToDouble(b) : null, p, relu);
            Tf32Reference.Within(rounded, magnitude, got, Tf32Reference.Fp32SumBound(terms), $"{format.Name} forward vs reference on rounded inputs {what}", log);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardDataMatchesReferenceWithinTensorCoreRounding(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        var tiles = Blockings[blocking];
        var format = Format(tiles, gpu);
        var (_, _, _, cout) = Shapes[shapeName];
        using var problem = Conv3x3Problem.BackwardData(gpu, Shapes[shapeName], seed: 44);
        var (p, xs, ws, dy, wt, before) = (Conv3x3Problem.Params, problem.InputShape, problem.WeightShape, problem.Source, problem.Weight, problem.Extra);
        var (tdy, tw, tdx) = (problem.DeviceSource, problem.DeviceWeight, problem.Output);
        string what = $"{shapeName} {blocking} [{device}]";
        int terms = cout * 9;
        var magnitude = ConvReference.BackwardData(Tf32Reference.Abs(dy), Tf32Reference.Abs(wt), ws, xs, p);
        var exact = ConvReference.BackwardData(ConvReference.ToDouble(dy), ConvReference.ToDouble(wt), ws, xs, p);
        var rounded = ConvReference.BackwardData(ConvReference.ToDouble(format.Round(dy)), ConvReference.ToDouble(format.Round(wt)), ws, xs, p);

        tdx.Fill(float.NaN); // overwrite must not read the old contents
        var clock = Stopwatch.StartNew();
        Conv2d.BackwardData3x3(tdy, tw, tdx, accumulate: false, tiles);
        var got = tdx.ToHost();
        log.WriteLine($"{what}: {clock.Elapsed.TotalMilliseconds:F0} ms");
        Tf32Reference.Within(exact, magnitude, got, format.TensorCoreBound(terms), $"{format.Name} backward-data vs FP64 reference {what}", log);
        Tf32Reference.Within(rounded, magnitude, got, Tf32Reference.Fp32SumBound(terms), $"{format.Name} backward-data vs reference on rounded inputs {what}", log);

        // Accumulate: dx = before + Σ; the sum with 'before' adds one more FP32 rounding (|before| joins the magnitude).
        tdx.CopyFromHost(before);
        Conv2d.BackwardData3x3(tdy, tw, tdx, accumulate: true, tiles);
        var withBefore = magnitude.Select((m, i) => m + Math.Abs(before[i])).ToArray();
        Tf32Reference.Within(rounded.Select((v, i) => v + before[i]).ToArray(), withBefore, tdx.ToHost(), Tf32Reference.Fp32SumBound(terms + 1),
            $"{format.Name} backward-data accumulate vs reference on rounded inputs {what}", log);
    }

    /// <summary>
    /// cp.async stages (AsyncCopy.cs, StagePipeline.cs) are rounded in place by the thread that copied them, once they
    /// landed, where register staging rounds as it stores: the same rounding of the same values, so the outputs must be
    /// bit for bit those of the blocking without cp.async — forward with bias and ReLU, backward-data overwriting and
    /// accumulating. On CUDA this catches a copy that lands late (a missing wait or barrier), on the simulator a wrong
    /// buffer or stage index, on "ptx" both (the interpreter lands copies only at their wait and reports races).
    /// </summary>
    public static TheoryData<string, string, string> AsyncCases
    {
        get
        {
            var data = new TheoryData<string, string, string>
            {
                { "cpu32", "tf32 2x1 async3", "13x17x9->40" },
                { "cpu32", "bf16 1x2 async2", "40x5x6->70" },
                { "cpu32", "tf32 1x2 async4", "40x5x6->70" }, // dynamic shared memory on the simulator: 15 stages through 4 buffers
            };
            // On "ptx" the blockings with two warps along channels take the shape with two channel tiles (on 40 channels
            // gy = 2 runs as gy = 1), so 4x2 async2 compares with 4x2's held register staging (Conv2dTensorCoreKernel.cs).
            foreach (var (blocking, tiles) in Blockings.Where(b => b.Key.Contains("async")))
            {
                data.Add("ptx", blocking, tiles.SplitTarget > 0 ? SplitKShape : tiles.GroupY == 2 ? "40x5x6->70" : "13x17x9->40");
                foreach (var shape in Shapes.Keys)
                    data.Add("cuda", blocking, shape);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(AsyncCases))]
    public void AsyncCopyGivesTheBytesOfRegisterStaging(string device, string blocking, string shapeName)
    {
        var gpu = Devices.Get(device);
        var tiles = Blockings[blocking];
        Format(tiles, gpu); // skips a rounding the device lacks
        var staged = tiles with { AsyncBuffers = 0, StagesPerBarrier = 1 };
        using var forward = Conv3x3Problem.Forward(gpu, Shapes[shapeName], seed: 43);
        float[] Forward(ConvTiles t)
        {
            forward.Output.Fill(float.NaN);
            Conv2d.Forward3x3(forward.DeviceSource, forward.DeviceWeight, forward.DeviceBias, forward.Output, fuseRelu: true, t);
            return forward.Output.ToHost();
        }
        Check.SameBits(Forward(staged), Forward(tiles), $"forward with {tiles} vs {staged}, {shapeName} [{device}]");

        using var backward = Conv3x3Problem.BackwardData(gpu, Shapes[shapeName], seed: 45);
        float[] Backward(ConvTiles t, bool accumulate)
        {
            if (accumulate) backward.Output.CopyFromHost(backward.Extra);
            else backward.Output.Fill(float.NaN);
            Conv2d.BackwardData3x3(backward.DeviceSource, backward.DeviceWeight, backward.Output, accumulate, t);
            return backward.Output.ToHost();
        }
        Check.SameBits(Backward(staged, false), Backward(tiles, false), $"backward-data with {tiles} vs {staged}, {shapeName} [{device}]");
        Check.SameBits(Backward(staged, true), Backward(tiles, true), $"backward-data accumulating with {tiles} vs {staged}, {shapeName} [{device}]");
        log.WriteLine($"{shapeName} {blocking} [{device}]: forward and backward-data bit for bit as {staged}");
    }

    /// <summary>
    /// TF32's rounding is the device's by default (Conv2d.TensorCoreRoundingOf: to nearest even on CUDA sm_90+, cvt.rna
    /// elsewhere) and the rounding the tiles ask for reaches both operands, forward and backward-data: on inputs made of
    /// exact ties (1 + 2⁻¹¹ times small integers, halfway between two TF32 numbers) with weights TF32 holds exactly, the
    /// default tiles give the bytes of the nearest-even ones where the device rounds so and other bytes elsewhere (the
    /// stages' fill — the held one on ptx and cuda, 4 warps along pixels); with the ties in the weights and exact inputs,
    /// the same (the weight operand).
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void TheDefaultTf32RoundingIsTheDevicesAndTheModeReachesBothOperands(string device)
    {
        var gpu = Devices.Get(device);
        // The simulator's groups stop at 64 threads: 1 warp there; elsewhere 4 × 2, run as 4 × 1 on 20 channels (held stages).
        var tiles = Blockings[device == "cpu32" ? "tf32 1x1" : "tf32 4x2"];
        var even = tiles with { Tf32NearestEven = true };
        Format(even, gpu); // skips a CUDA device without cvt.rn.tf32
        var shape = (Cin: 13, H: 5, W: 7, Cout: 20);
        float[] Ties(int count) => Enumerable.Range(0, count).Select(i => (1f + MathF.Pow(2, -11)) * (1 + i % 5)).ToArray();
        float[] Exact(int count) => Enumerable.Range(0, count).Select(i => (float)(1 + i % 3) / 4).ToArray();
        var xs = Shape4.Image(shape.Cin, shape.H, shape.W);
        var ys = Shape4.Image(shape.Cout, shape.H, shape.W);
        var ws = Conv2dParams.Same3x3.WeightShape(shape.Cout, shape.Cin);
        bool deviceEven = IlgpuStyle.Kernels.TensorCores.Tf32.HasNearestEven(gpu.Accelerator);
        using var y = gpu.Allocate(ys);
        using var dx = gpu.Allocate(xs);
        foreach (bool tiesInInputs in new[] { true, false })
        {
            using var x = gpu.FromHost(xs, tiesInInputs ? Ties(xs.Count) : Exact(xs.Count));
            using var dy = gpu.FromHost(ys, tiesInInputs ? Ties(ys.Count) : Exact(ys.Count));
            using var w = gpu.FromHost(ws, tiesInInputs ? Exact(ws.Count) : Ties(ws.Count));
            float[] Forward(ConvTiles t)
            {
                Conv2d.Forward3x3(x, w, null, y, fuseRelu: false, t);
                return y.ToHost();
            }
            float[] Backward(ConvTiles t)
            {
                Conv2d.BackwardData3x3(dy, w, dx, accumulate: false, t);
                return dx.ToHost();
            }
            string what = $"ties in the {(tiesInInputs ? "inputs" : "weights")} [{device}]";
            foreach (var (pass, run) in new (string, Func<ConvTiles, float[]>)[] { ("forward", Forward), ("backward-data", Backward) })
            {
                float[] byDefault = run(tiles), nearestEven = run(even);
                if (deviceEven) Check.SameBits(nearestEven, byDefault, $"{pass}: the default rounds to nearest even, {what}");
                else Assert.False(nearestEven.SequenceEqual(byDefault), $"{pass}: ties to even and the default (away) give the same output, {what}");
            }
        }
        log.WriteLine($"[{device}] default TF32 rounding: {(deviceEven ? "to nearest even" : "cvt.rna")}; the two differ on ties in either operand");
    }

    /// <summary>
    /// Rounding to nearest even is TF32's: the tiles name it, a plan's text keeps it (round=even: what the plan cache stores
    /// and ILGPU_STYLE_TILES reads), Validate refuses it for BF16 and the plan key takes no other value.
    /// </summary>
    [Fact]
    public void NearestEvenIsTf32sAndAPlanKeepsIt()
    {
        var even = Blockings["tf32-even 4x2"];
        even.Validate(1024);
        Assert.EndsWith(",round=even", even.ToString());
        var e = Assert.Throws<ArgumentException>(() => (Blockings["bf16 4x2"] with { Tf32NearestEven = true }).Validate(1024));
        Assert.Contains("kind=tf32 only", e.Message);
        var defaults = TuningPlan.Default(ILGPU.Runtime.AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: 1024);
        var plan = defaults with { Conv = even };
        Assert.Equal(plan, TuningPlan.Parse(plan.ToString(), defaults));
        Assert.Equal(even with { Tf32NearestEven = false }, TuningPlan.Parse((plan with { Conv = even with { Tf32NearestEven = false } }).ToString(), defaults).Conv);
        Assert.Contains("round must be 'even'", Assert.Throws<ArgumentException>(() => TuningPlan.Parse("kind=tf32,gx=4,gy=2,ci=8,round=away", defaults)).Message);
    }

    /// <summary>
    /// Two stages a barrier need 4 cp.async buffers (two multiplied while two land): Validate refuses other pairings, the
    /// plan's text keeps it (bar=2) and a blocking written without it publishes one stage a barrier.
    /// </summary>
    [Fact]
    public void TwoStagesABarrierNeedFourBuffersAndAPlanKeepsThem()
    {
        var paired = Blockings["tf32 4x2 async4 bar2"];
        paired.Validate(1024);
        Assert.Contains(",async=4,bar=2", paired.ToString());
        Assert.Equal(1, Blockings["tf32 4x2 async4"].StagesPerBarrier);
        Assert.Equal(1, default(ConvTiles).StagesPerBarrier);
        foreach (var wrong in new[] { paired with { AsyncBuffers = 2 }, paired with { AsyncBuffers = 0 }, paired with { StagesPerBarrier = 3 } })
            Assert.Contains("bar (stages a barrier publishes)", Assert.Throws<ArgumentException>(() => wrong.Validate(1024)).Message);
        var defaults = TuningPlan.Default(ILGPU.Runtime.AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: 1024);
        var plan = defaults with { Conv = paired };
        Assert.Equal(plan, TuningPlan.Parse(plan.ToString(), defaults));
        Assert.Equal(paired, TuningPlan.Parse("kind=tf32,gx=4,gy=2,ci=8,async=4,bar=2", defaults).Conv);
        Assert.Contains("tensor-core kinds only", Assert.Throws<ArgumentException>(() => TuningPlan.Parse("kind=sgemm,gx=8,gy=8,bar=2", defaults).Validate(1024)).Message);
    }

    [Fact]
    public void DevicesWithoutTensorCoresRefuseTheKind()
    {
        var gpu = Devices.Get("cpu"); // the default simulator: 4-lane warps
        Assert.NotNull(Conv2d.WhyNoTensorCores(gpu.Accelerator));
        Assert.Null(Conv2d.WhyNoTensorCores(Devices.Get("cpu32").Accelerator));
        using var x = gpu.Allocate(Shape4.Image(2, 3, 3));
        using var w = gpu.Allocate(new Shape4(2, 2, 3, 3));
        using var y = gpu.Allocate(Shape4.Image(2, 3, 3));
        foreach (var blocking in new[] { "tf32 1x1", "bf16 1x1" })
        {
            var e = Assert.Throws<InvalidOperationException>(() => Conv2d.Forward3x3(x, w, null, y, false, Blockings[blocking]));
            log.WriteLine(e.Message);
            Assert.Contains("tensor cores", e.Message);
        }
    }
}
