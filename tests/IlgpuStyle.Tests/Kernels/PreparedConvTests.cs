using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>Weights prepared once give bit-for-bit the results of the per-call rearrangement.</summary>
public class PreparedConvTests
{
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void PreparedWeightsMatchPerCallLayoutBitwise(string device)
    {
        var gpu = Devices.Get(device);
        var xs = Shape4.Image(13, 9, 11);
        var ws = new Shape4(10, 13, 3, 3);
        using var x = gpu.FromHost(xs, TestData.Uniform(1, xs.Count));
        using var w = gpu.FromHost(ws, TestData.Uniform(2, ws.Count));
        using var b = gpu.FromHost(Shape4.Vector(10), TestData.Uniform(3, 10));
        using var dy = gpu.FromHost(Shape4.Image(10, 9, 11), TestData.Uniform(4, 990));
        using var prepared = Conv2d.Prepare3x3(w);
        using var y1 = gpu.Allocate(Shape4.Image(10, 9, 11));
        using var y2 = gpu.Allocate(Shape4.Image(10, 9, 11));
        Conv2d.Forward(x, w, b, y1, Conv2dParams.Same3x3, fuseRelu: true);
        Conv2d.Forward(x, prepared, b, y2, fuseRelu: true);
        Assert.Equal(y1.ToHost(), y2.ToHost());

        using var dx1 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        using var dx2 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        Conv2d.BackwardData(dy, w, dx1, Conv2dParams.Same3x3, accumulate: true);
        Conv2d.BackwardData(dy, prepared, dx2, accumulate: true);
        Assert.Equal(dx1.ToHost(), dx2.ToHost());
    }

    /// <summary>
    /// The tensor-core kernels' weight operand (Conv2d.RoundTensorCoreOperand, made once per layer by PreparedConv3x3 and
    /// per call otherwise) is the direct operand with every value rounded to the format as <see cref="TensorCoreFormat"/>
    /// defines it, bit for bit, on every device (the rounding kernel runs everywhere; the tensor-core kernels store these
    /// weights as read). Odd channel counts: the operand's zero padding past Cout stays zero.
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void TensorCoreOperandIsTheDirectOperandRoundedToItsFormat(string device)
    {
        var gpu = Devices.Get(device);
        var ws = new Shape4(19, 7, 3, 3);
        // Values with every low-bit pattern, ties included: uniform draws scaled over several binades.
        var values = TestData.Uniform(6, ws.Count).Select((v, i) => v * MathF.ScaleB(1f, i % 9 - 4)).ToArray();
        using var w = gpu.FromHost(ws, values);
        using var prepared = Conv2d.Prepare3x3(w);
        foreach (var (kind, format) in new[] { (ConvKernelKind.TensorCoreTf32, TensorCoreFormat.Tf32), (ConvKernelKind.TensorCoreBf16, TensorCoreFormat.Bf16) })
        foreach (bool transpose in new[] { false, true })
        {
            using var direct = Conv2d.PrepareDirect(w, transpose);
            var source = direct.ToHost();
            var expected = format.Round(source);
            using var perCall = Conv2d.RoundTensorCoreOperand(Conv2d.PrepareDirect(w, transpose), kind == ConvKernelKind.TensorCoreBf16);
            var got = perCall.ToHost();
            var fromPrepared = prepared.DirectOperand(transpose, kind).ToHost();
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(got[i]),
                    $"{format.Name} transpose={transpose} [{i}]: {source[i]:R} rounded to {got[i]:R}, expected {expected[i]:R}");
                Assert.Equal(BitConverter.SingleToInt32Bits(got[i]), BitConverter.SingleToInt32Bits(fromPrepared[i]));
            }
            Assert.Contains(got, v => v != 0);
        }
    }

    [Fact]
    public void PrepareRejectsNon3x3Weights()
    {
        var gpu = Devices.Get("cpu");
        using var w = gpu.Allocate(new Shape4(4, 3, 5, 5));
        var e = Assert.Throws<ArgumentException>(() => Conv2d.Prepare3x3(w));
        Assert.Contains("4×3×5×5", e.Message);
    }
}
