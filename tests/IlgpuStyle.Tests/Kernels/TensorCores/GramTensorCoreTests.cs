using System.Diagnostics;
using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels; // not .TensorCores: the GPU run's test step filters on this namespace exactly

/// <summary>
/// The tensor-core Gram kernels (gram=tf32 and gram=bf16, GramTensorCore.cs and GramTensorCoreBackward.cs) on "cpu32"
/// (the emulated mma), "ptx" (the CUDA path's PTX, interpreted: Ptx/PtxMachine.cs) and "cuda" (skips without a GPU). The forward against
/// <see cref="GramReference"/>: within the format's bound of the FP64 Gram matrix of the original features (inputs
/// rounded to 10 mantissa bits, u = 2⁻¹¹, for TF32; 7 bits, u = 2⁻⁸, for BF16: |G − G_ref| ≤ (2u + u² + FP32
/// sum)·scale·Σ_p|F_ip||F_jp|), within the FP32 sum's bound of the FP64 Gram matrix of rounded features (P terms, the split partial sums and the scale:
/// <see cref="Tf32Reference.Fp32SumBound"/>), and exactly symmetric. Channel counts below, at and above the 64-row
/// block, pixel counts not multiples of the 32-pixel stage, one split and several. The backward likewise (the bounds are
/// derived at <see cref="BackwardMatchesReferenceWithinTf32RoundingAndIsDeterministic"/>), overwriting and accumulating,
/// and bit for bit the same on a second run.
/// </summary>
public class GramTensorCoreTests(ITestOutputHelper log)
{
    private static GramKernelKind Kind(string format) => format == "bf16" ? GramKernelKind.TensorCoreBf16 : GramKernelKind.TensorCoreTf32;

    /// <summary>
    /// The TF32 rounding a format names (tf32: cvt.rna, tf32-even: to nearest even, which CUDA devices run from sm_90 on and
    /// the "ptx" and "cpu32" devices on request); null for BF16. A CUDA device before sm_90 lacks tf32-even's instruction: skipped.
    /// </summary>
    private static bool? NearestEven(string format, Gpu gpu)
    {
        if (format != "tf32-even") return format == "tf32" ? false : null;
        Assert.SkipWhen(gpu.Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator && !IlgpuStyle.Kernels.TensorCores.Tf32.HasNearestEven(gpu.Accelerator),
            $"{gpu.Name} has no cvt.rn.tf32 (compute capability 9.0+)");
        return true;
    }

    // (format, channels, height, width, splits); BF16 on the simulator only where its 32-pixel stages are two k16 steps
    // with a ragged end (13x7x11) and across row blocks (70x9x8).
    public static TheoryData<string, string, int, int, int, int> Cases
    {
        get
        {
            var data = new TheoryData<string, string, int, int, int, int>();
            foreach (var device in Devices.TensorCoreNames)
            foreach (var format in new[] { "tf32", "bf16", "tf32-even" })
            {
                // tf32-even off CUDA: one shape with interior and edge stages (the rounding is the fills' only difference).
                bool some = format != "tf32-even" || device == "cuda";
                if (some && (format == "tf32" || device is "cuda" or "ptx")) data.Add(device, format, 13, 7, 11, 1);
                if (some) data.Add(device, format, 13, 7, 11, 3);
                data.Add(device, format, 70, 9, 8, 2);
                if (device == "cuda")
                {
                    data.Add(device, format, 64, 16, 16, 1);
                    data.Add(device, format, 130, 33, 35, 1);
                    data.Add(device, format, 130, 33, 35, 8);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesReferenceWithinTensorCoreRoundingAndIsSymmetric(string device, string formatName, int c, int h, int w, int splits)
    {
        var gpu = Devices.Get(device);
        var format = TensorCoreFormat.Named(formatName);
        var shape = Shape4.Image(c, h, w);
        var f = TestData.Uniform(51, shape.Count);
        const float scale = 0.37f;
        using var tf = gpu.FromHost(shape, f);
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        tg.Fill(float.NaN); // every element must be written
        var clock = Stopwatch.StartNew();
        Gram.ForwardTensorCore(tf, tg, scale, Kind(formatName), splits, asyncBuffers: 0, NearestEven(formatName, gpu));
        var got = tg.ToHost();
        string what = $"{formatName} {c}x{h}x{w} splits={splits} [{device}]";
        log.WriteLine($"{what}: {clock.Elapsed.TotalMilliseconds:F0} ms");

        int terms = shape.Plane + splits + 1; // P products, the partial sums, the scale
        var magnitude = GramReference.Forward(Tf32Reference.Abs(f), shape, scale);
        Tf32Reference.Within(GramReference.Forward(ConvReference.ToDouble(f), shape, scale), magnitude, got,
            format.TensorCoreBound(terms), $"Gram vs FP64 reference {what}", log);
        Tf32Reference.Within(GramReference.Forward(ConvReference.ToDouble(format.Round(f)), shape, scale), magnitude, got,
            Tf32Reference.Fp32SumBound(terms), $"Gram vs reference on rounded inputs {what}", log);
        for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++)
            Assert.True(BitConverter.SingleToUInt32Bits(got[i * c + j]) == BitConverter.SingleToUInt32Bits(got[j * c + i]),
                $"{what}: G[{i},{j}] = {got[i * c + j]:R} but G[{j},{i}] = {got[j * c + i]:R}");
    }

    // (channels, height, width): C not a multiple of the 8/16-row mma tiles nor of the 64-row block (3, 13, 100: two row
    // blocks, the second ragged) or exactly one block (64); P = 1, 37 (one ragged pixel block), 72 (a full one and 8
    // pixels), 1000 (16 blocks, the last ragged); K = C is ragged in the 32-channel stages except at 64.
    // BF16 on the simulator: a ragged channel stage and pixel block (13x1x37) and two row blocks (100x9x8).
    public static TheoryData<string, string, int, int, int> BackwardCases
    {
        get
        {
            var data = new TheoryData<string, string, int, int, int>();
            foreach (var device in Devices.TensorCoreNames)
            foreach (var format in new[] { "tf32", "bf16", "tf32-even" })
            {
                bool some = format != "tf32-even" || device == "cuda"; // tf32-even off CUDA: 100x9x8 (interior and edge stages)
                bool all = some && (format == "tf32" || device is "cuda" or "ptx");
                if (all) data.Add(device, format, 3, 1, 1);
                if (some) data.Add(device, format, 13, 1, 37);
                data.Add(device, format, 100, 9, 8);
                if (all) data.Add(device, format, 64, 25, 40);
                if (device == "cuda")
                {
                    data.Add(device, format, 130, 33, 35);
                    data.Add(device, format, 256, 32, 32);
                }
            }
            return data;
        }
    }

    /// <summary>
    /// df = scale · S · F with S = dG + dGᵀ. Per output, the kernel sums C products Ŝ_ij·F̂_jp, where F̂ = r(F) and
    /// Ŝ = r(fl(dG_ij + dG_ji)), r the format's rounding: two such roundings (|δ| ≤ u: 2⁻¹¹ for TF32, 2⁻⁸ for BF16) and one FP32 one (2⁻²⁴), so
    /// |Ŝ F̂ − S F| ≤ (2u + u² + 2⁻²⁴(1 + u)²)·(|dG_ij| + |dG_ji|)·|F_jp|, then the FP32 sum of C terms and the scale:
    /// against the FP64 reference <see cref="TensorCoreFormat.TensorCoreBound"/>(C + 1) (the + 1 is the symmetrisation's
    /// rounding, as one more term of the FP32 sum) times scale·Σ_j(|dG_ij| + |dG_ji|)|F_jp| (the reference on |f|, |dG|).
    /// Against the FP64 product of the rounded Ŝ and F̂ only the FP32 sum remains: <see cref="Tf32Reference.Fp32SumBound"/>(C).
    /// Accumulating adds df's old value in one more FP32 rounding (|old| joins the magnitude). A second overwrite must
    /// give the same bits: the kernel sums every output in a fixed order, without atomics.
    /// </summary>
    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void BackwardMatchesReferenceWithinTensorCoreRoundingAndIsDeterministic(string device, string formatName, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var format = TensorCoreFormat.Named(formatName);
        var kind = Kind(formatName);
        var even = NearestEven(formatName, gpu);
        var shape = Shape4.Image(c, h, w);
        var f = TestData.Uniform(52, shape.Count);
        var dG = TestData.Uniform(53, c * c);
        var before = TestData.Uniform(54, shape.Count);
        const float scale = 0.37f;
        using var tf = gpu.FromHost(shape, f);
        using var tdG = gpu.FromHost(Gram.OutputShape(shape), dG);
        using var tdf = gpu.Allocate(shape);
        string what = $"{formatName} {c}x{h}x{w} [{device}]";

        var magnitude = GramReference.Backward(Tf32Reference.Abs(f), shape, Tf32Reference.Abs(dG), scale);
        var exact = GramReference.Backward(ConvReference.ToDouble(f), shape, ConvReference.ToDouble(dG), scale);
        var symmetric = new float[c * c]; // Ŝ as the kernel forms it: the FP32 sum, then the format's rounding
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
            symmetric[i * c + j] = format.Round(dG[i * c + j] + dG[j * c + i]);
        var rounded = MatMulReference.Multiply(ConvReference.ToDouble(symmetric), ConvReference.ToDouble(format.Round(f)), c, c, shape.Plane)
            .Select(v => scale * v).ToArray();

        tdf.Fill(float.NaN); // overwrite must write every element and not read the old contents
        var clock = Stopwatch.StartNew();
        Gram.BackwardTensorCore(tf, tdG, tdf, scale, accumulate: false, kind, asyncBuffers: 0, even);
        var got = tdf.ToHost();
        log.WriteLine($"{what}: {clock.Elapsed.TotalMilliseconds:F0} ms");
        Tf32Reference.Within(exact, magnitude, got, format.TensorCoreBound(c + 1), $"Gram backward vs FP64 reference {what}", log);
        Tf32Reference.Within(rounded, magnitude, got, Tf32Reference.Fp32SumBound(c), $"Gram backward vs reference on rounded inputs {what}", log);

        tdf.Fill(float.NaN);
        Gram.BackwardTensorCore(tf, tdG, tdf, scale, accumulate: false, kind, asyncBuffers: 0, even);
        Check.SameBits(got, tdf.ToHost(), $"{what}: df on a second run");

        tdf.CopyFromHost(before);
        Gram.BackwardTensorCore(tf, tdG, tdf, scale, accumulate: true, kind, asyncBuffers: 0, even);
        var withBefore = magnitude.Select((m, e) => m + Math.Abs(before[e])).ToArray();
        Tf32Reference.Within(rounded.Select((v, e) => v + before[e]).ToArray(), withBefore, tdf.ToHost(), Tf32Reference.Fp32SumBound(c + 1),
            $"Gram backward accumulate vs reference on rounded inputs {what}", log);
    }

    /// <summary>
    /// cp.async stages (gramasync=2: copied, then rounded in place by the copying thread) against register staging (rounded
    /// as stored): the same rounding of the same values, so forward (one split and several) and backward (overwrite and
    /// accumulate) must give the same bits. On CUDA this catches a copy that lands late; on the simulator a wrong stage or
    /// buffer; on "ptx" the PTX that copies, waits and rounds (the interpreter lands each copy only at its wait and
    /// reports shared-memory races).
    /// </summary>
    public static TheoryData<string, string, int, int, int> AsyncCases
    {
        get
        {
            var data = new TheoryData<string, string, int, int, int>
            {
                { "cpu32", "tf32", 70, 9, 8 },  // several stages of 32 pixels (forward) and 32 channels (backward), ragged ends
                { "cpu32", "bf16", 13, 7, 11 },
                { "ptx", "tf32", 70, 9, 8 },
                { "ptx", "bf16", 70, 9, 8 },
                { "ptx", "bf16", 13, 7, 11 },
                { "cpu32", "tf32-even", 70, 9, 8 },
                { "ptx", "tf32-even", 70, 9, 8 },
            };
            foreach (var format in new[] { "tf32", "bf16", "tf32-even" })
            {
                data.Add("cuda", format, 13, 7, 11);
                data.Add("cuda", format, 130, 33, 35);
                data.Add("cuda", format, 256, 32, 32);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(AsyncCases))]
    public void AsyncCopyGivesTheBytesOfRegisterStaging(string device, string formatName, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var kind = Kind(formatName);
        var even = NearestEven(formatName, gpu);
        var shape = Shape4.Image(c, h, w);
        using var tf = gpu.FromHost(shape, TestData.Uniform(55, shape.Count));
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        using var tdG = gpu.FromHost(Gram.OutputShape(shape), TestData.Uniform(56, c * c));
        using var tdf = gpu.Allocate(shape);
        var before = TestData.Uniform(57, shape.Count);
        foreach (int splits in new[] { 1, 3 })
        {
            float[] Forward(int asyncBuffers)
            {
                tg.Fill(float.NaN);
                Gram.ForwardTensorCore(tf, tg, 0.37f, kind, splits, asyncBuffers, even);
                return tg.ToHost();
            }
            Check.SameBits(Forward(0), Forward(2), $"forward with cp.async vs without, {formatName} {c}x{h}x{w} splits={splits} [{device}]");
        }
        foreach (bool accumulate in new[] { false, true })
        {
            float[] Backward(int asyncBuffers)
            {
                if (accumulate) tdf.CopyFromHost(before);
                else tdf.Fill(float.NaN);
                Gram.BackwardTensorCore(tf, tdG, tdf, 0.37f, accumulate, kind, asyncBuffers, even);
                return tdf.ToHost();
            }
            Check.SameBits(Backward(0), Backward(2), $"backward with cp.async vs without, {formatName} {c}x{h}x{w} accumulate={accumulate} [{device}]");
        }
        log.WriteLine($"{formatName} {c}x{h}x{w} [{device}]: cp.async = register staging, bit for bit");
    }

    /// <summary>
    /// The TF32 rounding is a mode of the kernels: Gram.Forward and Gram.Backward (the stylization's path) round as the device
    /// does by default (Tf32.HasNearestEven: to nearest even on CUDA sm_90+, cvt.rna elsewhere), bit for bit; and on features
    /// made of exact ties (1 + 2⁻¹¹ times small integers: every value halfway between two TF32 numbers) the two roundings
    /// give different Gram matrices and gradients, so the mode reaches the fills.
    /// </summary>
    [Theory]
    [MemberData(nameof(TensorCoreDevices))]
    public void TheDefaultTf32RoundingIsTheDevicesAndTheModeReachesTheFills(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(70, 9, 8);
        var ties = Enumerable.Range(0, shape.Count).Select(i => (1f + MathF.Pow(2, -11)) * (1 + i % 5)).ToArray();
        using var tf = gpu.FromHost(shape, ties);
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        using var tdG = gpu.FromHost(Gram.OutputShape(shape), TestData.Uniform(58, 70 * 70));
        using var tdf = gpu.Allocate(shape);
        bool deviceEven = IlgpuStyle.Kernels.TensorCores.Tf32.HasNearestEven(gpu.Accelerator);
        float[] Forward(bool? even)
        {
            if (even is null) Gram.Forward(tf, tg, 0.37f, GramKernelKind.TensorCoreTf32, 2);
            else Gram.ForwardTensorCore(tf, tg, 0.37f, GramKernelKind.TensorCoreTf32, 2, gpu.Plan.GramAsyncBuffers, even);
            return tg.ToHost();
        }
        float[] Backward(bool? even)
        {
            if (even is null) Gram.Backward(tf, tdG, tdf, 0.37f, accumulate: false, GramKernelKind.TensorCoreTf32);
            else Gram.BackwardTensorCore(tf, tdG, tdf, 0.37f, accumulate: false, GramKernelKind.TensorCoreTf32, gpu.Plan.GramAsyncBuffers, even);
            return tdf.ToHost();
        }
        Check.SameBits(Forward(deviceEven), Forward(null), $"Gram forward: the default rounding is the device's [{device}]");
        Check.SameBits(Backward(deviceEven), Backward(null), $"Gram backward: the default rounding is the device's [{device}]");
        if (gpu.Accelerator is ILGPU.Runtime.Cuda.CudaAccelerator && !deviceEven) return; // no cvt.rn.tf32 to compare with
        Assert.False(Forward(true).SequenceEqual(Forward(false)), $"forward: ties rounded to even and away give the same G [{device}]");
        Assert.False(Backward(true).SequenceEqual(Backward(false)), $"backward: ties rounded to even and away give the same df [{device}]");
        log.WriteLine($"[{device}] default TF32 rounding: {(deviceEven ? "to nearest even" : "cvt.rna")}; the two differ on ties");
    }

    public static TheoryData<string> TensorCoreDevices => [.. Devices.TensorCoreNames];

    [Fact]
    public void DevicesWithoutTensorCoresRefuseIt()
    {
        var gpu = Devices.Get("cpu");
        using var f = gpu.Allocate(Shape4.Image(3, 4, 4));
        using var g = gpu.Allocate(Gram.OutputShape(f.Shape));
        using var df = gpu.Allocate(f.Shape);
        foreach (var pass in new Action[]
                 {
                     () => Gram.Forward(f, g, 1f, GramKernelKind.TensorCoreTf32, 1),
                     () => Gram.Backward(f, g, df, 1f, accumulate: false, GramKernelKind.TensorCoreTf32),
                     () => Gram.Forward(f, g, 1f, GramKernelKind.TensorCoreBf16, 1),
                     () => Gram.Backward(f, g, df, 1f, accumulate: false, GramKernelKind.TensorCoreBf16),
                 })
        {
            var e = Assert.Throws<InvalidOperationException>(pass);
            log.WriteLine(e.Message);
            Assert.Contains("tensor cores", e.Message);
        }
    }
}
