using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The operands of one 3×3 stride-1 padding-1 convolution test case, on the host (uniform in [−1, 1], seeds
/// <c>seed</c>, +1, +2) and on the device, shared by the fast-path tests of every kernel kind (Conv2dFastPathTests,
/// Conv2dTensorCoreTests). <see cref="Forward"/>: x, w, bias, and the output y. <see cref="BackwardData"/>: dy, w, a
/// prior dx content (for accumulate, host only), and the output dx.
/// </summary>
public sealed class Conv3x3Problem : IDisposable
{
    private Conv3x3Problem(Gpu gpu, (int Cin, int H, int W, int Cout) shape, bool backward, int seed)
    {
        InputShape = Shape4.Image(shape.Cin, shape.H, shape.W);
        OutputShape = Shape4.Image(shape.Cout, shape.H, shape.W);
        WeightShape = Params.WeightShape(shape.Cout, shape.Cin);
        var sourceShape = backward ? OutputShape : InputShape;
        Source = TestData.Uniform(seed, sourceShape.Count);
        Weight = TestData.Uniform(seed + 1, WeightShape.Count);
        Extra = TestData.Uniform(seed + 2, backward ? InputShape.Count : shape.Cout);
        DeviceSource = gpu.FromHost(sourceShape, Source);
        DeviceWeight = gpu.FromHost(WeightShape, Weight);
        DeviceBias = backward ? null : gpu.FromHost(Shape4.Vector(shape.Cout), Extra);
        Output = gpu.Allocate(backward ? InputShape : OutputShape);
    }

    /// <summary>x, w, bias; y allocated (unwritten).</summary>
    public static Conv3x3Problem Forward(Gpu gpu, (int Cin, int H, int W, int Cout) shape, int seed) => new(gpu, shape, false, seed);

    /// <summary>dy, w, the prior dx content; dx allocated (unwritten).</summary>
    public static Conv3x3Problem BackwardData(Gpu gpu, (int Cin, int H, int W, int Cout) shape, int seed) => new(gpu, shape, true, seed);

    public static Conv2dParams Params => Conv2dParams.Same3x3;

    /// <summary>x and dx: Cin × H × W.</summary>
    public Shape4 InputShape { get; }
    /// <summary>y and dy: Cout × H × W.</summary>
    public Shape4 OutputShape { get; }
    /// <summary>Cout × Cin × 3 × 3.</summary>
    public Shape4 WeightShape { get; }

    /// <summary>Host values: x (forward) or dy (backward-data).</summary>
    public float[] Source { get; }
    public float[] Weight { get; }
    /// <summary>Host bias (forward) or the prior dx content (backward-data).</summary>
    public float[] Extra { get; }

    public Tensor DeviceSource { get; }
    public Tensor DeviceWeight { get; }
    /// <summary>The bias on the device (forward; null for backward-data).</summary>
    public Tensor? DeviceBias { get; }
    /// <summary>y (forward) or dx (backward-data).</summary>
    public Tensor Output { get; }

    public void Dispose()
    {
        DeviceSource.Dispose();
        DeviceWeight.Dispose();
        DeviceBias?.Dispose();
        Output.Dispose();
    }
}
