using System.Diagnostics;
using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels; // not .TensorCores: the GPU run's test step filters on this namespace exactly

/// <summary>
/// The TF32 tensor-core Gram forward (gram=tf32, GramTensorCore.cs) on "cpu32" (the emulated mma) and "cuda" against
/// <see cref="GramReference"/>: within TF32's bound of the FP64 Gram matrix of the original features (inputs rounded
/// to 10 mantissa bits, u = 2⁻¹¹: |G − G_ref| ≤ (2u + u² + FP32 sum)·scale·Σ_p|F_ip||F_jp|), within the FP32 sum's bound
/// of the FP64 Gram matrix of TF32-rounded features (P terms, the split partial sums and the scale:
/// <see cref="Tf32Reference.Fp32SumBound"/>), and exactly symmetric. Channel counts below, at and above the 64-row
/// block, pixel counts not multiples of the 32-pixel stage, one split and several.
/// </summary>
public class GramTensorCoreTests(ITestOutputHelper log)
{
    // (channels, height, width, splits)
    public static TheoryData<string, int, int, int, int> Cases
    {
        get
        {
            var data = new TheoryData<string, int, int, int, int>();
            foreach (var device in Devices.TensorCoreNames)
            {
                data.Add(device, 13, 7, 11, 1);
                data.Add(device, 13, 7, 11, 3);
                data.Add(device, 70, 9, 8, 2);
                if (device == "cuda")
                {
                    data.Add(device, 64, 16, 16, 1);
                    data.Add(device, 130, 33, 35, 1);
                    data.Add(device, 130, 33, 35, 8);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesReferenceWithinTf32RoundingAndIsSymmetric(string device, int c, int h, int w, int splits)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var f = TestData.Uniform(51, shape.Count);
        const float scale = 0.37f;
        using var tf = gpu.FromHost(shape, f);
        using var tg = gpu.Allocate(Gram.OutputShape(shape));
        tg.Fill(float.NaN); // every element must be written
        var clock = Stopwatch.StartNew();
        Gram.Forward(tf, tg, scale, GramKernelKind.TensorCoreTf32, splits);
        var got = tg.ToHost();
        string what = $"{c}x{h}x{w} splits={splits} [{device}]";
        log.WriteLine($"{what}: {clock.Elapsed.TotalMilliseconds:F0} ms");

        int terms = shape.Plane + splits + 1; // P products, the partial sums, the scale
        var magnitude = GramReference.Forward(Tf32Reference.Abs(f), shape, scale);
        Tf32Reference.Within(GramReference.Forward(ConvReference.ToDouble(f), shape, scale), magnitude, got,
            Tf32Reference.TensorCoreBound(terms), $"tf32 Gram vs FP64 reference {what}", log);
        Tf32Reference.Within(GramReference.Forward(ConvReference.ToDouble(Tf32Reference.Round(f)), shape, scale), magnitude, got,
            Tf32Reference.Fp32SumBound(terms), $"tf32 Gram vs reference on TF32-rounded inputs {what}", log);
        for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++)
            Assert.True(BitConverter.SingleToUInt32Bits(got[i * c + j]) == BitConverter.SingleToUInt32Bits(got[j * c + i]),
                $"{what}: G[{i},{j}] = {got[i * c + j]:R} but G[{j},{i}] = {got[j * c + i]:R}");
    }

    [Fact]
    public void DevicesWithoutTensorCoresRefuseIt()
    {
        var gpu = Devices.Get("cpu");
        using var f = gpu.Allocate(Shape4.Image(3, 4, 4));
        using var g = gpu.Allocate(Gram.OutputShape(f.Shape));
        var e = Assert.Throws<InvalidOperationException>(() => Gram.Forward(f, g, 1f, GramKernelKind.TensorCoreTf32, 1));
        log.WriteLine(e.Message);
        Assert.Contains("tensor cores", e.Message);
    }
}
