using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests;

/// <summary>A tolerance of <see cref="Check.Close(ReadOnlySpan{float}, ReadOnlySpan{float}, double, double, string, ITestOutputHelper?)"/>: |a − e| ≤ atol + rtol·|e|.</summary>
public readonly record struct Tol(double Rtol, double Atol)
{
    /// <summary>Copies and selections: bit for bit.</summary>
    public static readonly Tol Exact = new(0, 0);
}

/// <summary>
/// One op under test: its input shapes, its device forward and its double-precision CPU reference, and optionally its
/// device backward and reference backward. A loss (<see cref="Loss"/>) has a scalar output and no upstream gradient.
/// Each kernel test file builds its ops from these parts and hands them to <see cref="OpHarness"/>.
/// </summary>
/// <param name="Name">Label of every check, e.g. "relu 1×3×7×5".</param>
/// <param name="Forward">(inputs, output) on the device.</param>
/// <param name="Reference">inputs → output.</param>
public sealed record OpCase(string Name, Shape4[] Inputs, Shape4 Output,
    Action<Tensor[], Tensor> Forward, Func<double[][], double[]> Reference, Tol ForwardTol)
{
    /// <summary>Input names for the labels (dx, dw, …).</summary>
    public string[] InputNames { get; init; } = ["x", "w", "b"];

    /// <summary>Which inputs (indices) <see cref="Backward"/> writes gradients for, in order.</summary>
    public int[] Grads { get; init; } = [];

    /// <summary>(inputs, forward output, dy, gradients of <see cref="Grads"/>, accumulate) on the device.</summary>
    public Action<Tensor[], Tensor, Tensor, Tensor[], bool>? Backward { get; init; }

    /// <summary>(inputs, dy) → the gradients of <see cref="Grads"/>.</summary>
    public Func<double[][], double[], double[][]>? ReferenceBackward { get; init; }

    public Tol BackwardTol { get; init; }
    public Tol AccumulateTol { get; init; }
    public Tol FiniteDifferencesTol { get; init; }

    /// <summary>A scalar loss: the backward takes no dy (it is 1) and draws no random dy.</summary>
    public bool Loss { get; init; }

    /// <summary>The inputs' values, (seed, count) → values; uniform in [−1, 1] unless an op needs otherwise.</summary>
    public Func<int, int, float[]> Data { get; init; } = (seed, n) => TestData.Uniform(seed, n);
}

/// <summary>
/// The standard checks of an <see cref="OpCase"/> on one device of <see cref="Devices"/>:
/// <list type="bullet">
/// <item><see cref="Forward"/>: the output, pre-filled with NaN so an unwritten element fails, vs the reference.</item>
/// <item><see cref="ForwardAndBackward"/>: the forward, then the backward into NaN-filled gradients (accumulate: false) vs the
/// reference backward, then accumulate: true onto random prior values vs prior + reference.</item>
/// <item><see cref="FiniteDifferences"/>: the device backward with dy = r vs central differences (h = 1e-5) of
/// L = Σ r ⊙ reference(x) (<see cref="ProjectedFiniteDifferences"/>; r = 1 for a loss).</item>
/// </list>
/// Random data is drawn from consecutive seeds: each input, then dy (unless a loss), then each gradient's prior.
/// </summary>
public static class OpHarness
{
    public static void Forward(string device, OpCase op, int seed, ITestOutputHelper log)
    {
        using var run = new Run(device, op, seed);
        run.CheckForward(log);
    }

    public static void ForwardAndBackward(string device, OpCase op, int seed, ITestOutputHelper log)
    {
        using var run = new Run(device, op, seed);
        run.CheckForward(log);
        var backward = op.Backward ?? throw new ArgumentException($"{op.Name} has no backward");
        var expected = op.ReferenceBackward!(run.X.Select(OpData.D).ToArray(), OpData.D(run.Dy));

        foreach (var g in run.Dx) g.Fill(float.NaN);
        backward(run.Tx, run.Ty, run.Tdy, run.Dx, false);
        for (int k = 0; k < op.Grads.Length; k++)
            Check.Close(expected[k], run.Dx[k].ToHost(), op.BackwardTol.Rtol, op.BackwardTol.Atol,
                run.Label($"backward {run.GradName(k)}"), log);

        var priors = run.Dx.Select(g => TestData.Uniform(run.NextSeed++, g.Count)).ToArray();
        for (int k = 0; k < priors.Length; k++) run.Dx[k].CopyFromHost(priors[k]);
        backward(run.Tx, run.Ty, run.Tdy, run.Dx, true);
        for (int k = 0; k < op.Grads.Length; k++)
            Check.Close(OpData.Add(priors[k], expected[k]), run.Dx[k].ToHost(), op.AccumulateTol.Rtol,
                op.AccumulateTol.Atol, run.Label($"backward {run.GradName(k)} accumulate"), log);
    }

    public static void FiniteDifferences(string device, OpCase op, int seed, ITestOutputHelper log)
    {
        using var run = new Run(device, op, seed);
        var x = run.X.Select(OpData.D).ToArray();
        var r = OpData.D(run.Dy);
        op.Forward(run.Tx, run.Ty);
        foreach (var g in run.Dx) g.Fill(float.NaN);
        op.Backward!(run.Tx, run.Ty, run.Tdy, run.Dx, false);
        for (int k = 0; k < op.Grads.Length; k++)
        {
            int i = op.Grads[k];
            var numeric = ProjectedFiniteDifferences.Gradient(v => op.Reference(x.Select((xj, j) => j == i ? v : xj).ToArray()), x[i], r);
            Check.Close(numeric, run.Dx[k].ToHost(), op.FiniteDifferencesTol.Rtol, op.FiniteDifferencesTol.Atol,
                run.Label($"backward {run.GradName(k)} vs finite differences"), log);
        }
    }

    /// <summary>An op's data on the host and on the device.</summary>
    private sealed class Run : IDisposable
    {
        private readonly OpCase _op;
        private readonly string _device;
        public readonly float[][] X;
        public readonly float[] Dy;
        public readonly Tensor[] Tx, Dx;
        public readonly Tensor Ty, Tdy;
        public int NextSeed;

        public Run(string device, OpCase op, int seed)
        {
            var gpu = Devices.Get(device);
            _op = op;
            _device = device;
            X = op.Inputs.Select(s => op.Data(seed++, s.Count)).ToArray();
            Dy = op.Loss ? [1f] : TestData.Uniform(seed++, op.Output.Count);
            NextSeed = seed;
            Tx = op.Inputs.Select((s, i) => gpu.FromHost(s, X[i])).ToArray();
            Ty = gpu.Allocate(op.Output);
            Tdy = gpu.FromHost(op.Output, Dy);
            Dx = op.Grads.Select(i => gpu.Allocate(op.Inputs[i])).ToArray();
        }

        public string Label(string what) => $"{_op.Name} {what} [{_device}]";

        public string GradName(int k) => "d" + _op.InputNames[_op.Grads[k]];

        public void CheckForward(ITestOutputHelper log)
        {
            Ty.Fill(float.NaN);
            _op.Forward(Tx, Ty);
            Check.Close(_op.Reference(X.Select(OpData.D).ToArray()), Ty.ToHost(), _op.ForwardTol.Rtol, _op.ForwardTol.Atol,
                Label("forward"), log);
        }

        public void Dispose()
        {
            foreach (var t in Tx.Concat(Dx).Append(Ty).Append(Tdy)) t.Dispose();
        }
    }
}
