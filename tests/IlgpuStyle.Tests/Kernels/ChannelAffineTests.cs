using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

public class ChannelAffineTests(ITestOutputHelper log)
{
    private static readonly ChannelAffine.Coefficients CaffeLike = new(2, 1, 0, 255f, 255f, 255f, -103.939f, -116.779f, -123.68f);

    // Inputs in [0, 1] (an image); rtol 1e-6, atol 1e-4 (outputs up to ~150).
    private static OpCase Op(Shape4 s, ChannelAffine.Coefficients k) =>
        new($"channel affine {s}", [s], s, (x, y) => ChannelAffine.Forward(x[0], y, k),
            x => ChannelAffineReference.Forward(x[0], s, k), new(1e-6, 1e-4))
        {
            Data = (seed, n) => TestData.Uniform(seed, n, 0f, 1f), Grads = [0],
            Backward = (_, _, dy, dx, accumulate) => ChannelAffine.Backward(dy, dx[0], k, accumulate),
            ReferenceBackward = (_, dy) => [ChannelAffineReference.Backward(dy, s, k)],
            BackwardTol = new(1e-6, 1e-4), AccumulateTol = new(1e-6, 1e-4),
        };

    // 7×5: one group; 37×41: planes of 1 517 pixels, several groups along X on every device.
    public static readonly TheoryData<string, int, int> Sizes = Devices.With((7, 5), (37, 41));

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ForwardAndBackwardMatchCpuLoops(string device, int h, int w) =>
        OpHarness.ForwardAndBackward(device, Op(Shape4.Image(3, h, w), CaffeLike), seed: 3, log);

    [Fact]
    public void RejectsNonPermutationAndWrongChannelCount()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(Shape4.Image(3, 2, 2));
        using var y = gpu.Allocate(Shape4.Image(3, 2, 2));
        Assert.Throws<ArgumentException>(() => ChannelAffine.Forward(x, y, CaffeLike with { Src2 = 1 }));
        using var four = gpu.Allocate(Shape4.Image(4, 2, 2));
        Check.NamesShapes(() => ChannelAffine.Forward(four, four, CaffeLike), "1×4×2×2");
    }
}
