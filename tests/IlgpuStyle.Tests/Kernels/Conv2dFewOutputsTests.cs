using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The few-outputs 3×3 kernel (Conv2dFewOutputsKernel.cs: one work-item per pixel, ≤ 4 outputs, ≤ 128 reduction channels)
/// against the double-precision loops of <see cref="ConvReference"/>, forward (bias, ReLU) and backward-data (overwriting,
/// accumulating), on every device and the PTX interpreter: 1 to 4 outputs, 1 to 128 inputs, maps of one pixel, one row,
/// one column and odd sides (its edge taps). Tolerance rtol 1e-4, atol 2e-4: sums of up to 128·9 products of values in
/// [−1, 1], float32 against double (the kernel's error grows with the count, ~1e-5 at 1152 terms). And the plans that run it:
/// GPU-shaped ones for layers of at most 4 outputs (conv1_1's backward-data), nothing else.
/// </summary>
public class Conv2dFewOutputsTests(ITestOutputHelper log)
{
    private const double Rtol = 1e-4, Atol = 2e-4;

    // (input channels, height, width, output channels): forward sums Cin into Cout; backward-data sums Cout into Cin, so
    // each shape is used with at most 4 on the side being written.
    private static readonly Dictionary<string, (int Cin, int H, int W, int Cout)> Forwards = new()
    {
        ["1x1x1->1"] = (1, 1, 1, 1),
        ["3x7x5->4"] = (3, 7, 5, 4),
        ["70x1x37->2"] = (70, 1, 37, 2),
        ["128x33x1->3"] = (128, 33, 1, 3),
        ["5x13x131->3"] = (5, 13, 131, 3),
    };

    private static readonly Dictionary<string, (int Cin, int H, int W, int Cout)> Backwards = new()
    {
        ["1x1x1->1"] = (1, 1, 1, 1),
        ["4x7x5->3"] = (4, 7, 5, 3),
        ["3x17x19->64"] = (3, 17, 19, 64),
        ["2x9x2->128"] = (2, 9, 2, 128),
        ["1x13x131->9"] = (1, 13, 131, 9),
    };

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var device in Devices.Names)
            foreach (var shape in Forwards.Keys.Concat(Backwards.Keys).Distinct())
                data.Add(device, shape);
            // The PTX interpreter (the code CUDA loads): the conv1_1 shape and an odd one.
            data.Add("ptx", "3x17x19->64");
            data.Add("ptx", "3x7x5->4");
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string device, string shapeName)
    {
        var gpu = Devices.Get(device);
        if (Forwards.TryGetValue(shapeName, out var forwardShape))
        {
            using var problem = Conv3x3Problem.Forward(gpu, forwardShape, seed: 71);
            var p = Conv3x3Problem.Params;
            foreach (var (bias, relu) in new[] { (false, false), (true, false), (true, true) })
            {
                var expected = ConvReference.Forward(ConvReference.ToDouble(problem.Source), problem.InputShape, ConvReference.ToDouble(problem.Weight),
                    problem.WeightShape, bias ? ConvReference.ToDouble(problem.Extra) : null, p, relu);
                problem.Output.Fill(float.NaN); // every element written
                Conv2d.ForwardFewOutputs(problem.DeviceSource, problem.DeviceWeight, bias ? problem.DeviceBias : null, problem.Output, relu);
                Check.Close(expected, problem.Output.ToHost(), Rtol, Atol, $"few-outputs forward {shapeName} bias={bias} relu={relu} [{device}]", log);
            }
        }
        if (Backwards.TryGetValue(shapeName, out var backwardShape))
        {
            using var problem = Conv3x3Problem.BackwardData(gpu, backwardShape, seed: 72);
            var expected = ConvReference.BackwardData(ConvReference.ToDouble(problem.Source), ConvReference.ToDouble(problem.Weight),
                problem.WeightShape, problem.InputShape, Conv3x3Problem.Params);
            problem.Output.Fill(float.NaN);
            Conv2d.BackwardDataFewOutputs(problem.DeviceSource, problem.DeviceWeight, problem.Output, accumulate: false);
            Check.Close(expected, problem.Output.ToHost(), Rtol, Atol, $"few-outputs backward-data {shapeName} [{device}]", log);
            problem.Output.CopyFromHost(problem.Extra);
            Conv2d.BackwardDataFewOutputs(problem.DeviceSource, problem.DeviceWeight, problem.Output, accumulate: true);
            Check.Close(expected.Select((v, i) => v + problem.Extra[i]).ToArray(), problem.Output.ToHost(), Rtol, Atol,
                $"few-outputs backward-data accumulate {shapeName} [{device}]", log);
        }
    }

    /// <summary>
    /// Which plans run it: the GPU-shaped direct kinds (shared tiles, shared SGEMM, tensor cores) for ≤ 4 outputs from ≤ 128
    /// channels; not the CPU devices' register-blocked kinds, not 5 outputs or 129 channels, not a layer Winograd takes.
    /// </summary>
    [Fact]
    public void OnlyGpuShapedPlansRunItAndOnlyForFewOutputs()
    {
        var gpuPlan = TuningPlan.Default(ILGPU.Runtime.AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: 1024);
        var cpuPlan = TuningPlan.Default(ILGPU.Runtime.AcceleratorType.OpenCL, cpuDevice: true, maxGroupSize: 4096);
        var tf32 = Precisions.OnTensorCores(gpuPlan, Precision.Tf32, 1024);
        var sgemm = gpuPlan with { Conv = new ConvTiles(ConvKernelKind.SharedGemm, 16, 16, 8) };
        foreach (var plan in new[] { gpuPlan, tf32, sgemm })
        {
            Assert.True(Conv2d.UsesFewOutputs(plan, 64, 3), $"conv1_1's backward-data under {plan}");
            Assert.True(Conv2d.UsesFewOutputs(plan, 128, 4));
            Assert.False(Conv2d.UsesFewOutputs(plan, 64, 5));
            Assert.False(Conv2d.UsesFewOutputs(plan, 129, 3));
            Assert.Equal("direct few outputs (one work-item per pixel)", Conv2d.PlannedKernel3x3(plan, 64, 3));
        }
        Assert.False(Conv2d.UsesFewOutputs(cpuPlan, 64, 3));
        Assert.False(Conv2d.UsesFewOutputs(cpuPlan with { Conv = cpuPlan.Conv with { Kind = ConvKernelKind.RegisterBlocked8 } }, 64, 3));
        // Winograd on every layer of ≥ 1 channel takes it first.
        Assert.False(Conv2d.UsesFewOutputs(gpuPlan with { WinogradMinChannels = 1 }, 64, 3));
    }

    /// <summary>
    /// Under a GPU-shaped plan the plan-driven calls — prepared or not, with and without a ReLU gate — give the explicit
    /// call's bytes for conv1_1's backward-data shape (64 → 3), and a 3-output forward. On the devices that take the plan
    /// (the CPU simulator's groups are too small for the GPU default's).
    /// </summary>
    [Theory]
    [InlineData("opencl")]
    [InlineData("cuda")]
    public void AGpuShapedPlanRunsItForConv1_1sBackwardData(string device)
    {
        Devices.Get(device); // skips (or fails under CI=true) where the device is missing
        using var gpu = DeviceCatalog.Open(device);
        var plan = TuningPlan.Default(ILGPU.Runtime.AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: gpu.Accelerator.MaxNumThreadsPerGroup);
        gpu.UsePlan(plan);
        using var problem = Conv3x3Problem.BackwardData(gpu, (3, 11, 13, 64), seed: 73);
        using var prepared = Conv2d.Prepare3x3(problem.DeviceWeight);
        using var expected = gpu.Allocate(problem.InputShape);
        Conv2d.BackwardDataFewOutputs(problem.DeviceSource, problem.DeviceWeight, expected, accumulate: false);
        Conv2d.BackwardData(problem.DeviceSource, prepared, problem.Output, accumulate: false);
        Assert.Equal(expected.ToHost(), problem.Output.ToHost());
        Conv2d.BackwardData(problem.DeviceSource, problem.DeviceWeight, problem.Output, Conv3x3Problem.Params, accumulate: false);
        Assert.Equal(expected.ToHost(), problem.Output.ToHost());

        // Through a ReLU: the gate written over dy first, then the same kernel.
        var yHost = TestData.Uniform(74, problem.OutputShape.Count).Select(v => MathF.Max(v, 0f)).ToArray();
        using var y = gpu.FromHost(problem.OutputShape, yHost);
        using var gated = gpu.FromHost(problem.OutputShape, problem.Source);
        Relu.Backward(y, gated, gated, accumulate: false);
        Conv2d.BackwardDataFewOutputs(gated, problem.DeviceWeight, expected, accumulate: false);
        Conv2d.BackwardData(problem.DeviceSource, prepared, problem.Output, accumulate: false, reluOutput: y);
        Assert.Equal(expected.ToHost(), problem.Output.ToHost());

        using var forward = Conv3x3Problem.Forward(gpu, (64, 11, 13, 3), seed: 75);
        using var forwardExpected = gpu.Allocate(forward.OutputShape);
        Conv2d.ForwardFewOutputs(forward.DeviceSource, forward.DeviceWeight, forward.DeviceBias, forwardExpected, fuseRelu: true);
        Conv2d.Forward(forward.DeviceSource, forward.DeviceWeight, forward.DeviceBias, forward.Output, Conv3x3Problem.Params, fuseRelu: true);
        Assert.Equal(forwardExpected.ToHost(), forward.Output.ToHost());
        log.WriteLine($"{device}: conv1_1's backward-data and a 3-output forward run the few-outputs kernel under {plan}");
    }
}
