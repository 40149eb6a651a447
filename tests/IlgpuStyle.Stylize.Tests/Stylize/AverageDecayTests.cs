using IlgpuStyle.Autodiff;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// RunSettings.AverageDecay (--average-decay) in <see cref="Stylizer"/>: with Adam, the --save-every snapshots and the
/// result are the bias-corrected moving average of the start image and Adam's iterates — the iterates themselves
/// read from a run without averaging (same start, same objective, same steps: the raw iterates are identical).
/// On the cpu device with a random three-layer VGG19 (conv1_1 … conv2_1) at 24 px, in process.
/// </summary>
public sealed class AverageDecayTests(ITestOutputHelper log)
{
    private sealed class Snapshots : IStylizeObserver
    {
        public List<RgbImage> Images { get; } = new();
        public void Snapshot(IterationReport report, RgbImage image) => Images.Add(image);
    }

    private static VggWeights RandomWeights() => TinyWeights.Create(14);

    [Fact]
    public void SnapshotsAndTheResultAreTheAverageOfAdamsIterates()
    {
        const int iterations = 4;
        const float decay = 0.8f;
        var gpu = Devices.Get("cpu");
        var loss = new LossSettings { ContentLayers = ["relu1_2"], StyleLayers = ["relu1_1", "relu2_1"] };
        using var network = new Vgg19(gpu, RandomWeights(), PoolingKind.Max, loss.Layers);
        var content = Imaging.TestImages.Smooth(24, 18);
        StyleImage[] styles = [new(Imaging.TestImages.Uniform(3, 20, 20))];
        var run = new RunSettings { Size = 24, Scales = 1, Optimizer = OptimizerKind.Adam, LearningRate = 0.05f, SnapshotEvery = 1 };
        var cancel = TestContext.Current.CancellationToken;

        // Adam's iterates x₁ … x_K (snapshots of a run one iteration longer: the last iteration has no snapshot).
        var plain = new Snapshots();
        Stylizer.Run(network, content, styles, loss, run with { Iterations = iterations + 1 }, plain, cancel);
        Assert.Equal(iterations, plain.Images.Count);

        var averaged = new Snapshots();
        var result = Stylizer.Run(network, content, styles, loss, run with { Iterations = iterations, AverageDecay = decay }, averaged, cancel);
        Assert.Equal(iterations - 1, averaged.Images.Count);

        var start = ImageResizer.FitLongSide(content, 24); // --init content at the only scale
        var reference = new IterateAverageReference(start.Data.Length, decay);
        reference.Update(start.Data);
        for (int k = 1; k <= iterations; k++)
        {
            reference.Update(plain.Images[k - 1].Data);
            var actual = k < iterations ? averaged.Images[k - 1] : result.Image;
            Check.Close(reference.Get(), actual.Data, 1e-5, 1e-6, k < iterations ? $"snapshot {k}" : "result", log);
        }
        double moved = Check.RelativeL2(plain.Images[^1].Data, result.Image.Data);
        log.WriteLine($"‖result − Adam's last iterate‖ / ‖iterate‖ = {moved:E2}");
        Assert.True(moved > 1e-4, "the result is Adam's last iterate: nothing was averaged");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1f, "[0, 1)")]
    [InlineData(OptimizerKind.Adam, -0.5f, "[0, 1)")]
    [InlineData(OptimizerKind.Adam, float.NaN, "[0, 1)")]
    [InlineData(OptimizerKind.Lbfgs, 0.9f, "applies to --optimizer adam")]
    public void ADecayOutsideZeroToOneOrWithLbfgsIsAUsageError(OptimizerKind optimizer, float decay, string message)
    {
        var e = Assert.Throws<StylizeUsageException>(() => new RunSettings { Optimizer = optimizer, AverageDecay = decay }.Validate());
        Assert.Contains("--average-decay", e.Message);
        Assert.Contains(message, e.Message);
    }
}
