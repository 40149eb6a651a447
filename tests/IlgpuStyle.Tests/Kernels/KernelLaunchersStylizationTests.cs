using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Autodiff;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// Every kernel a stylization loads (VGG19's layers, the losses, L-BFGS) works through <see cref="KernelLaunchers"/> —
/// the path of CUDA devices with a <see cref="PtxKernelCache"/>, which no GPU-less machine runs: each <c>Gpu.Kernel</c>
/// call's launcher type is rebuilt from the kernel's signature there, and a call site whose type did not match would
/// fail only on CUDA. Here on the CPU simulator, whose plan loads the same call sites' CPU kernels: a short
/// stylization through the launchers gives the bytes of the one through ILGPU's loaders.
/// </summary>
public sealed class KernelLaunchersStylizationTests(ITestOutputHelper log)
{
    [Fact]
    public void AStylizationThroughTheLaunchersGivesTheSameBytes()
    {
        var loss = new LossSettings { ContentLayers = ["relu1_2"], StyleLayers = ["relu1_1", "relu2_1"] };
        var content = Imaging.TestImages.Smooth(18, 14);
        StyleImage[] styles = [new(Imaging.TestImages.Uniform(3, 15, 14))];
        var run = new RunSettings { Size = 18, Scales = 1, Iterations = 2 };
        var cancel = TestContext.Current.CancellationToken;

        var ilgpu = Devices.Get("cpu");
        using var throughLaunchers = DeviceCatalog.Open("cpu", out _, KernelLaunchersTests.InProcess);

        RgbImage Stylize(Gpu gpu)
        {
            using var network = new Vgg19(gpu, TinyWeights.Create(14), PoolingKind.Max, loss.Layers);
            return Stylizer.Run(network, content, styles, loss, run, null, cancel).Image;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var expected = Stylize(ilgpu);
        log.WriteLine($"through ILGPU's loaders: {clock.Elapsed.TotalSeconds:F1} s");
        clock.Restart();
        var actual = Stylize(throughLaunchers);
        log.WriteLine($"through KernelLaunchers: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(expected.Data, actual.Data);
    }
}
