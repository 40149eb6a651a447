// Reference: tests/IlgpuStyle.Tests/Reference/AdamReference.cs · Test: tests/IlgpuStyle.Tests/Optimizers/AdamTests.cs, tests/IlgpuStyle.Tests/Kernels/OptimizerKernelTests.cs
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba 2015) on the device, one fused kernel per step (<see cref="Elementwise.AdamUpdate"/>):
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², x ← x − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε), as PyTorch's Adam.
/// The moment buffers m and v are allocated once, in the constructor; steps allocate nothing and make no
/// host round trip. Tensors are 1×C×H×W (batch 1).
/// </summary>
public sealed class Adam : IMinimizer, IDisposable
{
    private readonly Gpu gpu;
    private readonly Tensor m;
    private readonly Tensor v;
    private Tensor? gradient; // for Minimize, allocated on its first call

    public Adam(Gpu gpu, Shape4 shape, float learningRate, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
    {
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be > 0");
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must be > 0");
        ShapeCheck.BatchOne("adam", "x", shape);
        this.gpu = gpu;
        Shape = shape;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        m = gpu.Allocate(shape);
        v = gpu.Allocate(shape);
        Reset();
    }

    public Shape4 Shape { get; }
    public float LearningRate { get; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }

    /// <summary>Steps taken since construction or the last <see cref="Reset"/> (t in the bias corrections).</summary>
    public int StepCount { get; private set; }

    /// <summary>Zeroes the moment estimates and the step count.</summary>
    public void Reset()
    {
        m.Fill(0f);
        v.Fill(0f);
        StepCount = 0;
    }

    /// <summary>One Adam step: updates <paramref name="x"/> in place from <paramref name="gradient"/> = ∇f(x).</summary>
    public void Step(Tensor x, Tensor gradient)
    {
        ShapeCheck.Equal("adam", "x", x.Shape, Shape);
        ShapeCheck.Equal("adam", "gradient", gradient.Shape, Shape);
        ShapeCheck.SameDevice("adam", x, m);
        ShapeCheck.SameDevice("adam", gradient, m);
        StepCount++;
        double biasCorrection1 = 1 - Math.Pow(Beta1, StepCount);
        double biasCorrection2 = 1 - Math.Pow(Beta2, StepCount);
        Elementwise.AdamUpdate(x, gradient, m, v, Beta1, Beta2,
            (float)(LearningRate / biasCorrection1), (float)Math.Sqrt(biasCorrection2), Eps);
    }

    /// <summary>
    /// <see cref="IMinimizer.Minimize"/>: <paramref name="maxIterations"/> Adam steps from a fresh state,
    /// maxIterations + 1 evaluations (the last one gives the loss at the returned x); stops early only if f
    /// becomes NaN or infinite.
    /// </summary>
    public MinimizeResult Minimize(Tensor x, Objective f, int maxIterations, Action<int, float>? onIteration = null)
    {
        ShapeCheck.Equal("adam", "x", x.Shape, Shape);
        ArgumentOutOfRangeException.ThrowIfNegative(maxIterations);
        gradient ??= gpu.Allocate(Shape);
        Reset();
        float loss = f(x, gradient);
        if (!float.IsFinite(loss)) return new MinimizeResult(0, 1, loss, StopReason.NonFiniteLoss);
        for (int k = 1; k <= maxIterations; k++)
        {
            Step(x, gradient);
            loss = f(x, gradient);
            onIteration?.Invoke(k, loss);
            if (!float.IsFinite(loss)) return new MinimizeResult(k, k + 1, loss, StopReason.NonFiniteLoss);
        }
        return new MinimizeResult(maxIterations, maxIterations + 1, loss, StopReason.MaxIterations);
    }

    public void Dispose()
    {
        m.Dispose();
        v.Dispose();
        gradient?.Dispose();
    }
}
