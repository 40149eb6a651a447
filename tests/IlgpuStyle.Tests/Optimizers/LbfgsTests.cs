using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Optimizers;

/// <summary>
/// L-BFGS on the device against host objectives (f and ∇f in double from x.ToHost()). Small histories keep the
/// CPU simulator fast (each dot product is a host round trip) and make the history ring wrap around.
/// </summary>
public class LbfgsTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, LineSearch> DevicesAndModes = Devices.With(LineSearch.None, LineSearch.StrongWolfe);

    public static readonly TheoryData<string, int, LineSearch> RosenbrockCases = Devices.With(
        (2, LineSearch.None), (2, LineSearch.StrongWolfe), (10, LineSearch.None), (10, LineSearch.StrongWolfe));

    /// <summary>2-D from the classic (−1.2, 1); 10-D (chained) from 0, outside the basin of its local minimum near x₀ = −1.</summary>
    private static float[] RosenbrockStart(int n) => n == 2 ? [-1.2f, 1f] : new float[n];

    [Theory]
    [MemberData(nameof(RosenbrockCases))]
    public void RosenbrockConvergesWithoutAllocatingPerIteration(string device, int n, LineSearch lineSearch)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Vector(n);
        using var x = gpu.FromHost(shape, RosenbrockStart(n));
        using var lbfgs = new Lbfgs(gpu, shape, historySize: 5, lineSearch: lineSearch, toleranceGradient: 1e-6);
        var objective = new TestProblems.HostObjective(TestProblems.Rosenbrock);
        long allocationsAfterFirst = -1;
        var result = lbfgs.Minimize(x, objective.Evaluate, 500, (k, _) =>
        {
            if (k == 1) allocationsAfterFirst = gpu.AllocationCount;
        });
        log.WriteLine($"rosenbrock {n}-D {lineSearch} [{device}]: {result}");
        Check.Close(Enumerable.Repeat(1f, n).ToArray(), x.ToHost(), 0, 1e-3, $"rosenbrock {n}-D {lineSearch} x* [{device}]", log);
        Assert.Equal(objective.Evaluations, result.Evaluations);
        Assert.True(result.Loss < 1e-6, $"loss {result.Loss}");
        Assert.True(allocationsAfterFirst >= 0);
        Assert.Equal(allocationsAfterFirst, gpu.AllocationCount);
    }

    /// <summary>The measurement behind the default line search (see the Lbfgs class comment).</summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void StrongWolfeNeedsFewerEvaluationsOnRosenbrock(string device)
    {
        var gpu = Devices.Get(device);
        var evaluations = new Dictionary<LineSearch, int>();
        foreach (var mode in new[] { LineSearch.None, LineSearch.StrongWolfe })
        {
            using var x = gpu.FromHost(Shape4.Vector(2), RosenbrockStart(2));
            using var lbfgs = new Lbfgs(gpu, Shape4.Vector(2), historySize: 5, lineSearch: mode, toleranceGradient: 1e-6);
            var result = lbfgs.Minimize(x, new TestProblems.HostObjective(TestProblems.Rosenbrock).Evaluate, 500);
            log.WriteLine($"rosenbrock 2-D {mode} [{device}]: {result}");
            Assert.True(x.ToHost().All(v => Math.Abs(v - 1) < 1e-3));
            evaluations[mode] = result.Evaluations;
        }
        Assert.True(evaluations[LineSearch.StrongWolfe] < evaluations[LineSearch.None],
            $"strong Wolfe {evaluations[LineSearch.StrongWolfe]} evaluations, fixed step {evaluations[LineSearch.None]}");
    }

    [Theory]
    [MemberData(nameof(DevicesAndModes))]
    public void QuadraticReachesTheExactMinimizerInFewIterations(string device, LineSearch lineSearch)
    {
        var gpu = Devices.Get(device);
        const int n = 40;
        var q = new TestProblems.Quadratic(seed: 40, n);
        using var x = gpu.Allocate(Shape4.Vector(n));
        x.Fill(0f);
        using var lbfgs = new Lbfgs(gpu, Shape4.Vector(n), historySize: 10, lineSearch: lineSearch,
            toleranceGradient: 1e-5, toleranceChange: -1);
        var result = lbfgs.Minimize(x, new TestProblems.HostObjective(q.Evaluate).Evaluate, 100);
        log.WriteLine($"quadratic n={n} {lineSearch} [{device}]: {result}");
        Assert.Equal(StopReason.GradientBelowTolerance, result.Reason);
        Assert.InRange(result.Iterations, 1, 30);
        Check.Close(q.Minimizer, x.ToHost(), 0, 1e-5, $"quadratic minimizer {lineSearch} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void FixedStepFollowsTheTorchAlgorithm(string device)
    {
        // Iterate by iterate against a double-precision transcription of torch optim.lbfgs; history 3 < iterations,
        // so pairs are dropped from the ring.
        var gpu = Devices.Get(device);
        var cases = new (string Name, Func<double[], (double, double[])> F, float[] X0, int Iterations, double Tol)[]
        {
            ("quadratic n=12", new TestProblems.Quadratic(12, 12).Evaluate, new float[12], 10, 1e-5),
            ("rosenbrock 2-D", TestProblems.Rosenbrock, [-1.2f, 1f], 8, 1e-4),
        };
        foreach (var (name, f, x0, iterations, tol) in cases)
        {
            var expected = LbfgsReference.Iterates(f, FiniteDifferences.ToDouble(x0), iterations, historySize: 3, learningRate: 1);
            using var x = gpu.FromHost(Shape4.Vector(x0.Length), x0);
            using var lbfgs = new Lbfgs(gpu, x.Shape, historySize: 3, lineSearch: LineSearch.None,
                toleranceGradient: -1, toleranceChange: -1);
            var actual = new List<float[]>();
            var result = lbfgs.Minimize(x, new TestProblems.HostObjective(f).Evaluate, iterations, (_, _) => actual.Add(x.ToHost()));
            Assert.Equal(StopReason.MaxIterations, result.Reason);
            Assert.Equal(iterations + 1, result.Evaluations);
            for (int k = 0; k < iterations; k++)
                Check.Close(expected[k], actual[k], tol, tol, $"{name} iterate {k + 1} [{device}]", k == iterations - 1 ? log : null);
        }
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void StrongWolfeStepsSatisfyTheWolfeConditionsAndNeverIncreaseF(string device)
    {
        var gpu = Devices.Get(device);
        const double c1 = 1e-4, c2 = 0.9;
        const int n = 10;
        using var x = gpu.FromHost(Shape4.Vector(n), RosenbrockStart(n));
        using var lbfgs = new Lbfgs(gpu, x.Shape, historySize: 5, lineSearch: LineSearch.StrongWolfe, toleranceGradient: 1e-6);
        var previous = FiniteDifferences.ToDouble(x.ToHost());
        int checkedSteps = 0;
        var result = lbfgs.Minimize(x, new TestProblems.HostObjective(TestProblems.Rosenbrock).Evaluate, 500, (k, loss) =>
        {
            var current = FiniteDifferences.ToDouble(x.ToHost());
            var (f0, g0) = TestProblems.Rosenbrock(previous);
            var (f1, g1) = TestProblems.Rosenbrock(current);
            Assert.True(loss <= (float)f0 * (1 + 1e-6f), $"iteration {k}: f rose from {f0} to {loss}");
            if (f0 > 1e-6) // above the float32 noise floor the conditions must hold exactly
            {
                var p = current.Select((v, i) => v - previous[i]).ToArray(); // p = t·d
                double g0p = g0.Select((v, i) => v * p[i]).Sum(), g1p = g1.Select((v, i) => v * p[i]).Sum();
                Assert.True(f1 <= f0 + c1 * g0p, $"iteration {k}: Armijo fails: f {f0} → {f1}, c1·g·p = {c1 * g0p}");
                Assert.True(Math.Abs(g1p) <= c2 * Math.Abs(g0p), $"iteration {k}: curvature fails: |g₁·p| = {Math.Abs(g1p)}, c2|g₀·p| = {c2 * Math.Abs(g0p)}");
                checkedSteps++;
            }
            previous = current;
        });
        log.WriteLine($"{result}; strong Wolfe conditions checked on {checkedSteps} steps [{device}]");
        Assert.True(checkedSteps > 20);
    }

    [Theory]
    [MemberData(nameof(DevicesAndModes))]
    public void RepeatedRunsGiveTheSameBits(string device, LineSearch lineSearch)
    {
        var gpu = Devices.Get(device);
        using var lbfgs = new Lbfgs(gpu, Shape4.Vector(2), historySize: 5, lineSearch: lineSearch);
        float[] Run()
        {
            using var x = gpu.FromHost(Shape4.Vector(2), RosenbrockStart(2));
            lbfgs.Minimize(x, new TestProblems.HostObjective(TestProblems.Rosenbrock).Evaluate, 15);
            return x.ToHost();
        }
        var first = Run();
        Assert.Equal(first, Run()); // also shows Minimize starts afresh: no history carried over
    }

    [Theory]
    [MemberData(nameof(DevicesAndModes))]
    public void StopsOnANonFiniteLoss(string device, LineSearch lineSearch)
    {
        var gpu = Devices.Get(device);
        int calls = 0;
        float Exploding(Tensor x, Tensor g)
        {
            g.Fill(1f);
            return ++calls >= 3 ? float.NaN : 10f - calls;
        }
        using var x = gpu.Allocate(Shape4.Vector(3));
        x.Fill(0f);
        using var lbfgs = new Lbfgs(gpu, x.Shape, historySize: 2, lineSearch: lineSearch);
        var result = lbfgs.Minimize(x, Exploding, 50);
        log.WriteLine($"{result}");
        Assert.Equal(StopReason.NonFiniteLoss, result.Reason);
        Assert.Equal(3, result.Evaluations); // the line search gives up at the first NaN too
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void StartingAtTheMinimumStopsAtOnce(string device)
    {
        var gpu = Devices.Get(device);
        using var x = gpu.FromHost(Shape4.Vector(2), [1f, 1f]);
        using var lbfgs = new Lbfgs(gpu, x.Shape, historySize: 2);
        var result = lbfgs.Minimize(x, new TestProblems.HostObjective(TestProblems.Rosenbrock).Evaluate, 10);
        Assert.Equal(new MinimizeResult(0, 1, 0f, StopReason.GradientBelowTolerance), result);
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        var gpu = Devices.Get("cpu");
        using var lbfgs = new Lbfgs(gpu, Shape4.Vector(4), historySize: 2);
        using var x = gpu.Allocate(Shape4.Vector(5));
        var e = Assert.Throws<ArgumentException>(() => lbfgs.Minimize(x, (_, _) => 0f, 1));
        Assert.Contains("1×5×1×1", e.Message);
        Assert.Contains("1×4×1×1", e.Message);
    }
}
