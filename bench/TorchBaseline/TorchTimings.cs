using System.Diagnostics;
using IlgpuStyle.Bench;
using IlgpuStyle.Stylize;
using IlgpuStyle.TorchReference;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuStyle.TorchBaseline;

/// <summary>
/// Median wall times of libtorch doing what <see cref="KernelBench"/> and <see cref="IterationBench"/> time, and the
/// CPU time of this process per call (libtorch's threads are this process's: on a loaded machine CPU time measures
/// the work done, wall time also the share of the cores received).
/// </summary>
public sealed class TorchTimings(int runs, int warmup)
{
    /// <summary>
    /// One VGG19 convolution shape, random data: forward = relu_(conv2d(x, w, b, padding 1)) without autograd (ours
    /// fuses bias + ReLU too); backward-data = conv_transpose2d(dy, w, padding 1), the input gradient of that
    /// convolution. Milliseconds: median wall time of the timed calls after the warm-up calls, and mean CPU time.
    /// </summary>
    public (CallTime Forward, CallTime BackwardData) Conv(ConvLayerShape l)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(1234);
        var x = rand([1, l.Cin, l.Size, l.Size], generator: generator);
        var w = (rand([l.Cout, l.Cin, 3, 3], generator: generator) * 2 - 1) * Math.Sqrt(6.0 / (l.Cin * 9));
        var b = (rand([l.Cout], generator: generator) - 0.5) * 0.2;
        var dy = rand([1, l.Cout, l.Size, l.Size], generator: generator) * 2 - 1;
        var forward = TimeMs(() => F.relu(F.conv2d(x, w, b, padding: [1, 1]), inplace: true).Dispose());
        var backward = TimeMs(() => F.conv_transpose2d(dy, w, padding: [1, 1]).Dispose());
        return (forward, backward);
    }

    private CallTime TimeMs(Action call)
    {
        for (int i = 0; i < warmup; i++) call();
        var ms = new double[runs];
        var clock = new Stopwatch();
        double cpuBefore = CpuSeconds();
        for (int r = 0; r < runs; r++)
        {
            clock.Restart();
            call();
            ms[r] = clock.Elapsed.TotalMilliseconds;
        }
        return new CallTime(IterationBench.Median(ms), (CpuSeconds() - cpuBefore) * 1000 / runs);
    }

    private static double CpuSeconds()
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>
    /// The whole iteration of <see cref="IterationBench"/> in libtorch: x starts at the content image; each
    /// optimizer step is libtorch's LBFGS (history <paramref name="history"/>, lr 1, no line search, max_iter 1,
    /// tolerances off: one closure call and one direction + step per call, its state kept across calls) whose
    /// closure is zero_grad, <see cref="TorchGatysLoss.Forward"/>, backward. The first step (it evaluates the initial
    /// image too) and the next <c>warmup − 1</c> are not timed, as in IterationBench.
    /// </summary>
    public TorchIterationTiming Iteration(TorchGatysLoss loss, Tensor contentImage, int history)
    {
        int skip = Math.Max(1, warmup);
        var x = new TorchSharp.Modules.Parameter(contentImage.clone(), requires_grad: true);
        using var optimizer = optim.LBFGS([x], lr: 1, max_iter: 1, max_eval: 2, tolerange_grad: -1, tolerance_change: -1,
            history_size: history);
        var evaluations = new List<double>();
        var clock = new Stopwatch();
        Tensor Closure()
        {
            long start = Stopwatch.GetTimestamp();
            optimizer.zero_grad();
            var total = loss.Forward(x).Total;
            total.backward();
            evaluations.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            return total;
        }
        var wall = new List<double>();
        var steps = new List<double>();
        double cpu = 0;
        float initial = float.NaN, final = float.NaN;
        for (int k = 0; k < skip + runs; k++)
        {
            using var scope = NewDisposeScope();
            int before = evaluations.Count;
            double cpuBefore = CpuSeconds();
            clock.Restart();
            var l = optimizer.step(Closure);
            double seconds = clock.Elapsed.TotalSeconds;
            if (k >= skip) cpu += CpuSeconds() - cpuBefore;
            if (k == 0) initial = l.item<float>();
            final = l.item<float>();
            if (k < skip) continue;
            wall.Add(seconds);
            steps.Add(seconds - evaluations.Skip(before).Sum());
        }
        x.Dispose();
        return new TorchIterationTiming(IterationBench.Median(wall), wall.Min(),
            IterationBench.Median(evaluations.Skip(skip)), IterationBench.Median(steps), cpu / runs, initial, final);
    }

    /// <summary>Loss values and gradient at one image (the apples-to-apples check).</summary>
    public static (LossValues Values, float[] Gradient) Evaluate(TorchGatysLoss loss, Tensor image)
    {
        using var scope = NewDisposeScope();
        var x = image.clone().requires_grad_(true);
        var (total, content, style, tv) = loss.Forward(x);
        total.backward();
        static float Value(Tensor t) => (float)t.to(ScalarType.Float64).item<double>();
        var values = new LossValues(Value(content), Value(style), Value(tv), Value(total));
        return (values, x.grad!.to(ScalarType.Float32).data<float>().ToArray());
    }
}

/// <summary>libtorch's iteration: seconds (median, min), its closure (forward + backward), the step alone, CPU seconds.</summary>
public sealed record TorchIterationTiming(double MedianSeconds, double MinSeconds, double EvaluateMedianSeconds, double StepMedianSeconds,
    double CpuSecondsPerIteration, float InitialLoss, float FinalLoss);

/// <summary>One call: median wall milliseconds and mean CPU milliseconds of this process.</summary>
public readonly record struct CallTime(double MedianMs, double CpuMs);
