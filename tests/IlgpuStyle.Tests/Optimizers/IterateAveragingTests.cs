using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Optimizers;

/// <summary>
/// <see cref="IterateAveraging"/> around Adam: the objective sees Adam's own iterates, and the caller's x is the
/// bias-corrected moving average of the start point and those iterates, at every callback and at the end.
/// </summary>
public class IterateAveragingTests(ITestOutputHelper log)
{
    private const int N = 40, Iterations = 12;
    private const float LearningRate = 0.05f;

    public static readonly TheoryData<string, float> Cases = Devices.With(0.9f, 0.5f, 0f);

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheCallerSeesTheAverageOfAdamsIterates(string device, float decay)
    {
        var gpu = Devices.Get(device);
        var problem = new TestProblems.Quadratic(3, N);
        var shape = Shape4.Vector(N);
        var x0 = TestData.Uniform(4, N);

        // Adam alone: the raw iterates x₁ … x_K.
        var raw = new List<float[]>();
        using (var x = gpu.FromHost(shape, x0))
        using (var adam = new Adam(gpu, shape, LearningRate))
            adam.Minimize(x, new TestProblems.HostObjective(problem.Evaluate).Evaluate, Iterations, (_, _) => raw.Add(x.ToHost()));

        // The same Adam inside IterateAveraging: f sees the raw iterates; x (what the callback reads) is the average.
        var seen = new List<float[]>();
        var averaged = new List<float[]>();
        var objective = new TestProblems.HostObjective(problem.Evaluate);
        using var xa = gpu.FromHost(shape, x0);
        using var averaging = new IterateAveraging(gpu, shape, new Adam(gpu, shape, LearningRate), decay);
        var result = averaging.Minimize(xa, (point, g) => { seen.Add(point.ToHost()); return objective.Evaluate(point, g); },
            Iterations, (_, _) => averaged.Add(xa.ToHost()));
        Assert.Equal(StopReason.MaxIterations, result.Reason);
        Assert.Equal(Iterations + 1, seen.Count);
        Check.Close(x0, seen[0], 0, 0, $"f's first point is the start [{device}]");
        for (int k = 1; k <= Iterations; k++)
            Check.Close(raw[k - 1], seen[k], 0, 0, $"f's point {k} is Adam's iterate [{device}]");

        var reference = new IterateAverageReference(N, decay);
        reference.Update(x0); // the start point is the first sample
        for (int k = 1; k <= Iterations; k++)
        {
            reference.Update(raw[k - 1]);
            Check.Close(reference.Get(), averaged[k - 1], 1e-5, 1e-6, $"D={decay} average after iteration {k} [{device}]", k == Iterations ? log : null);
        }
        Check.Close(reference.Get(), xa.ToHost(), 1e-5, 1e-6, $"D={decay} x at the end [{device}]", log);
        if (decay > 0)
            Assert.True(Check.RelativeL2(raw[^1], xa.ToHost()) > 1e-3, "the average is Adam's last iterate: nothing was averaged");
    }

    [Fact]
    public void ANonFiniteIterateIsNotAveragedIn()
    {
        var gpu = Devices.Get("cpu");
        var shape = Shape4.Vector(N);
        var problem = new TestProblems.Quadratic(5, N);
        var x0 = TestData.Uniform(6, N);
        var reference = new IterateAverageReference(N, 0.9);
        reference.Update(x0);
        int evaluations = 0;
        float Objective(Tensor point, Tensor g)
        {
            var (f, grad) = problem.Evaluate(point.ToHost().Select(v => (double)v).ToArray());
            g.CopyFromHost(grad.Select(v => (float)v).ToArray());
            if (evaluations > 0 && evaluations < 4) reference.Update(point.ToHost()); // iterates 1–3 are finite
            return evaluations++ == 4 ? float.NaN : (float)f;
        }
        using var x = gpu.FromHost(shape, x0);
        using var averaging = new IterateAveraging(gpu, shape, new Adam(gpu, shape, LearningRate), 0.9f);
        var result = averaging.Minimize(x, Objective, Iterations);
        Assert.Equal(StopReason.NonFiniteLoss, result.Reason);
        Assert.Equal(4, result.Iterations);
        Check.Close(reference.Get(), x.ToHost(), 1e-5, 1e-6, "x after a NaN at iteration 4: the average of the start and iterates 1–3", log);
    }

    [Fact]
    public void ADecayOutsideZeroToOneIsRefused()
    {
        var gpu = Devices.Get("cpu");
        var shape = Shape4.Vector(3);
        using var adam = new Adam(gpu, shape, 0.1f);
        foreach (var decay in new[] { 1f, -0.1f, float.NaN })
            Assert.Throws<ArgumentOutOfRangeException>(() => new IterateAveraging(gpu, shape, adam, decay));
    }
}
