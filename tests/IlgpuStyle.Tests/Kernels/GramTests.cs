using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class GramTests(ITestOutputHelper log)
{
    // C = 13 and 37 are no multiple of any tile (4 or 16), nor is H·W = 17×19 = 323; 3×7×5 is smaller than a tile.
    // The blocked backward runs the whole blocks of the product's tiles as the Winograd product (Gram.BackwardAsProduct),
    // writing or accumulating, and the last H·W mod tiles columns in the register-blocked kernel: (21, 6, 4), H·W = 24,
    // is all product; 3×7×5 and 17×19 are both.
    // "ptx" too: every FP32 Gram kernel's PTX, interpreted.
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes(Devices.NamesAndPtx, (3, 7, 5), (13, 17, 19), (37, 17, 19), (21, 6, 4));

    // Tolerance rtol 1e-5, atol 1e-6 against double sums of H·W ≤ 323 products scaled by 1/(H·W).
    // Both kernels (TuningPlan.Gram) and every split count (direct write, several partials, more splits than column
    // tiles) must agree, and G must be exactly symmetric.
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void ForwardMatchesReferenceForEverySplit(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        float scale = 1f / shape.Plane;
        var f = TestData.Uniform(51, shape.Count);
        var expected = GramReference.Forward(D(f), shape, scale);
        using var tf = gpu.FromHost(shape, f);
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        log.WriteLine($"default split count for {shape} on {device} ({gpu.Plan.Gram}): {Gram.SplitCount(gpu, c, shape.Plane)}");

        // The blocked kernel with each block the plan (gfblock, the autotuner) may choose: side 0 = the plan's.
        foreach (var (kind, side) in Fp32Kinds.SelectMany(k => k == GramKernelKind.Blocked ? Gram.ForwardBlocks.Prepend(0).Select(b => (k, b)) : [(k, 0)]))
        foreach (int? splits in new int?[] { null, 1, 3, 1000 })
        {
            tg.CopyFromHost(NaNs(c * c));
            if (side > 0) Gram.ForwardBlocked(tf, tg, scale, splits ?? Gram.SplitCount(gpu, c, shape.Plane), side);
            else if (splits is int s) Gram.Forward(tf, tg, scale, kind, s);
            else if (kind == gpu.Plan.Gram) Gram.Forward(tf, tg, scale);
            else continue;
            var g = tg.ToHost();
            Check.Close(expected, g, 1e-5, 1e-6, $"gram {kind}{(side > 0 ? $" gfblock={side}" : "")} {shape} splits={splits?.ToString() ?? "default"} [{device}]", log);
            for (int i = 0; i < c; i++)
            for (int j = 0; j < i; j++)
                Assert.Equal(BitConverter.SingleToInt32Bits(g[i * c + j]), BitConverter.SingleToInt32Bits(g[j * c + i]));
        }
    }

    /// <summary>
    /// The blocked forward's default split cuts F into slices of at most Gram.SliceFloats floats (so a slice stays in a
    /// core's L2 while every block pair reads it): on a map of 8 × 75 000 floats (more than one slice) at least two
    /// splits, and the default forward (split partials summed in order) still matches the reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BlockedForwardSlicesLargeMapsForTheCache(string device)
    {
        var gpu = Devices.Get(device);
        if (gpu.Plan.Gram != GramKernelKind.Blocked) Assert.Skip($"{device} runs the {gpu.Plan.Gram} Gram kernel; the slices are the blocked one's");
        var shape = Shape4.Image(8, 300, 250);
        int splits = Gram.SplitCount(gpu, shape.C, shape.Plane);
        Assert.True(splits >= (shape.Count + Gram.SliceFloats - 1) / Gram.SliceFloats, $"{splits} splits for {shape}");
        float scale = 1f / shape.Plane;
        var f = TestData.Uniform(71, shape.Count);
        using var tf = gpu.FromHost(shape, f);
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        Gram.Forward(tf, tg, scale);
        Check.Close(GramReference.Forward(D(f), shape, scale), tg.ToHost(), 1e-5, 1e-6, $"gram {shape}, {splits} splits [{device}]", log);
    }

    // G = scale·F·Fᵀ (forward: the device's default kernel and split; every kernel and split: above), and
    // df = scale·(dG + dGᵀ)·F with a non-symmetric random dG from the given kernel (TuningPlan.Gram; null: the
    // device's). Backward tolerance rtol 1e-5, atol 5e-6 (sums of 2C products of magnitude up to ~1; the largest error
    // seen is ~1e-6 at C = 37). Finite differences of L = Σ r ⊙ G(f) (h = 1e-5; G is quadratic, so the central
    // difference is exact up to rounding): rtol 1e-5, atol 1e-6 (the device works in float).
    /// <summary>The FP32 kernels, which every device runs (gram=tf32 needs tensor cores: GramTensorCoreTests).</summary>
    private static readonly GramKernelKind[] Fp32Kinds = [GramKernelKind.Blocked, GramKernelKind.Tiled, GramKernelKind.Shared];

    private static OpCase Op(Shape4 s, float scale, GramKernelKind? kind = null) =>
        new($"gram {s} (backward: {kind?.ToString() ?? "default"})", [s], Gram.OutputShape(s), (f, g) => Gram.Forward(f[0], g, scale),
            f => GramReference.Forward(f[0], s, scale), new(1e-5, 1e-6))
        {
            InputNames = ["f"], Grads = [0],
            Backward = (f, _, dG, df, accumulate) =>
            {
                if (kind is { } k) Gram.Backward(f[0], dG, df[0], scale, accumulate, k);
                else Gram.Backward(f[0], dG, df[0], scale, accumulate);
            },
            ReferenceBackward = (f, dG) => [GramReference.Backward(f[0], s, dG, scale)],
            BackwardTol = new(1e-5, 5e-6), AccumulateTol = new(1e-5, 5e-6), FiniteDifferencesTol = new(1e-5, 1e-6),
        };

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void BackwardMatchesReference(string device, int c, int h, int w)
    {
        foreach (var kind in Fp32Kinds)
            OpHarness.ForwardAndBackward(device, Op(Shape4.Image(c, h, w), 0.37f, kind), seed: 61, log);
    }

    /// <summary>
    /// The blocked backward with every product block the plan's gblock (the autotuner) may choose, writing and
    /// accumulating, against the double reference: the product's columns (whole blocks of 8, 16 or 24 tiles) and the
    /// register-blocked kernel's rest. Shapes: H·W = 323 (all blocks leave a rest), 48 (a multiple of 8, 16 and 24),
    /// 35 with C = 37 (rows past a block).
    /// </summary>
    [Theory]
    [MemberData(nameof(DevicesAndProductShapes))]
    public void BlockedBackwardMatchesReferenceWithEveryProductBlock(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var f = TestData.Uniform(91, shape.Count);
        var dG = TestData.Uniform(92, c * c);
        var prior = TestData.Uniform(93, shape.Count);
        var expected = GramReference.Backward(D(f), shape, D(dG), 0.37f);
        using var tf = gpu.FromHost(shape, f);
        using var tdG = gpu.FromHost(Gram.OutputShape(shape), dG);
        using var df = gpu.Allocate(shape);
        foreach (var block in WinogradTiles.AllBlocks)
        {
            var tiles = gpu.Plan.ProductTiles(block); // the shared block: 4 × 4 groups on the simulator, 16 × 16 elsewhere
            string what = $"{shape} gblock={WinogradTiles.BlockName(block)} [{device}]";
            df.CopyFromHost(NaNs(shape.Count));
            Gram.BackwardBlocked(tf, tdG, df, 0.37f, accumulate: false, tiles);
            Check.Close(expected, df.ToHost(), 1e-5, 5e-6, $"gram backward {what}", log);
            df.CopyFromHost(prior);
            Gram.BackwardBlocked(tf, tdG, df, 0.37f, accumulate: true, tiles);
            Check.Close(expected.Select((v, i) => v + prior[i]).ToArray(), df.ToHost(), 1e-5, 5e-6, $"gram backward accumulate {what}", log);
        }
    }

    public static readonly TheoryData<string, int, int, int> DevicesAndProductShapes = Devices.WithShapes((13, 17, 19), (20, 6, 8), (37, 5, 7));

    public static readonly TheoryData<string, int, int, int> DevicesAndBlockShapes = Devices.WithShapes((3, 7, 5), (9, 4, 4), (11, 5, 9), (20, 8, 8), (37, 17, 19));

    // The register-blocked kernels (every forward block) against the shared-memory tiled kernels (GramKernelKind.Blocked vs
    // Tiled). Shapes: C not a multiple of the 4×4 / 3×3 / 8-row blocks (11, 37; 3 and 9 of 3 only, 20 of 4 only),
    // P a multiple of the 8 lanes and 16-column blocks (16, 64) or not (35 and 323 end with 3 columns, 45 with 13:
    // a full and a partial 8-lane half). Same tolerances as above.
    [Theory]
    [MemberData(nameof(DevicesAndBlockShapes))]
    public void BlockedKernelsMatchTiledKernels(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        float scale = 1f / shape.Plane;
        var f = TestData.Uniform(81, shape.Count);
        var dG = TestData.Uniform(82, c * c);
        using var tf = gpu.FromHost(shape, f);
        using var tdG = gpu.FromHost(Gram.OutputShape(shape), dG);
        using var g1 = gpu.Allocate(Gram.OutputShape(shape));
        using var g2 = gpu.Allocate(Gram.OutputShape(shape));
        using var df1 = gpu.FromHost(shape, NaNs(shape.Count));
        using var df2 = gpu.Allocate(shape);

        Gram.Forward(tf, g2, scale, GramKernelKind.Tiled, 1);
        foreach (int side in Gram.ForwardBlocks)
        {
            Gram.ForwardBlocked(tf, g1, scale, 1, side);
            Check.Close(g2.ToHost(), g1.ToHost(), 1e-5, 1e-6, $"gram blocked gfblock={side} vs tiled {shape} [{device}]", log);
            Check.Close(GramReference.Forward(D(f), shape, scale), g1.ToHost(), 1e-5, 1e-6, $"gram blocked gfblock={side} vs reference {shape} [{device}]", log);
        }

        Gram.Backward(tf, tdG, df1, 0.37f, accumulate: false, GramKernelKind.Blocked);
        Gram.Backward(tf, tdG, df2, 0.37f, accumulate: false, GramKernelKind.Tiled);
        Check.Close(df2.ToHost(), df1.ToHost(), 1e-5, 5e-6, $"gram backward blocked vs tiled {shape} [{device}]", log);
        Check.Close(GramReference.Backward(D(f), shape, D(dG), 0.37f), df1.ToHost(), 1e-5, 5e-6,
            $"gram backward blocked vs reference {shape} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, Op(Shape4.Image(5, 3, 4), 0.7f), seed: 71, log);

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var f = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var g = gpu.Allocate(new Shape4(1, 1, 4, 4));
        Check.NamesShapes(() => Gram.Forward(f, g, 1f), "1×3×7×5", "1×1×4×4");
        Check.NamesShapes(() => Gram.Backward(f, g, f, 1f, false), "1×3×7×5", "1×1×4×4");
        using var goodG = gpu.Allocate(new Shape4(1, 1, 3, 3));
        using var df = gpu.Allocate(new Shape4(1, 3, 5, 7));
        Check.NamesShapes(() => Gram.Backward(f, goodG, df, 1f, false), "1×3×7×5", "1×3×5×7");
    }
}
