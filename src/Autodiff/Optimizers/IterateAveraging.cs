// Reference: tests/IlgpuStyle.Tests/Reference/IterateAverageReference.cs · Test: tests/IlgpuStyle.Tests/Optimizers/IterateAveragingTests.cs
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>
/// Iterate averaging around another minimizer (meant for Adam, whose iterates jitter around the optimum with a
/// constant learning rate): the inner minimizer runs on a private copy of the iterate, and the caller's x holds
/// the exponential moving average of the iterates, bias corrected as in crowsonkb/style-transfer-pytorch's EMA:
/// <code>
///   avg₀ = 0,   avgₜ = D·avgₜ₋₁ + (1−D)·xₜ,   x ← avgₜ / (1 − Dᵗ)
/// </code>
/// where x₁ is the start point and xₜ₊₁ the iterate after step t, so after k steps x is the weighted mean
/// Σ D^(k−j)·(1−D)·x_j / (1 − D^(k+1)) of the start and the k iterates (weights summing to 1). One elementwise kernel
/// per step (<see cref="Elementwise.IterateAverage"/>), two more image-sized tensors.
/// <para>The objective sees the raw iterates (that is where gradients are needed): <c>f</c>'s point argument is the
/// private copy, and the loss handed to <c>onIteration</c> is the raw iterate's. When <c>onIteration</c> runs, x
/// already holds the average including that iterate, so what a callback reads from x is the averaged image. An
/// iterate with a NaN or infinite loss is not averaged in (x keeps the last finite average).</para>
/// </summary>
public sealed class IterateAveraging : IMinimizer
{
    private readonly IMinimizer inner;
    private readonly Tensor iterate;
    private readonly Tensor average;
    private int updates;

    /// <summary>Takes ownership of <paramref name="inner"/> (disposed with this).</summary>
    public IterateAveraging(Gpu gpu, Shape4 shape, IMinimizer inner, float decay)
    {
        if (!(decay >= 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "must be in [0, 1)");
        this.inner = inner;
        Decay = decay;
        iterate = gpu.Allocate(shape);
        average = gpu.Allocate(shape);
    }

    public float Decay { get; }

    public MinimizeResult Minimize(Tensor x, Objective f, int maxIterations, Action<int, float>? onIteration = null)
    {
        ShapeCheck.Equal("iterate averaging", "x", x.Shape, iterate.Shape);
        iterate.CopyFrom(x);
        average.Fill(0f);
        updates = 0;
        Update(x); // the start point is the first sample, as crowsonkb's EMA(image, decay)
        return inner.Minimize(iterate, f, maxIterations, (k, loss) =>
        {
            if (float.IsFinite(loss)) Update(x);
            onIteration?.Invoke(k, loss);
        });
    }

    private void Update(Tensor x)
    {
        updates++;
        double correction = 1 / (1 - Math.Pow(Decay, updates));
        Elementwise.IterateAverage(iterate, average, x, Decay, (float)correction);
    }

    public void Dispose()
    {
        inner.Dispose();
        iterate.Dispose();
        average.Dispose();
    }
}
