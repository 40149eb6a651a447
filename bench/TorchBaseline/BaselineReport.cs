using System.Globalization;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.TorchBaseline;

/// <summary>
/// One VGG19 convolution shape (the layers that share it listed together): ours vs libtorch, median wall
/// milliseconds and CPU milliseconds of the process per call.
/// </summary>
public sealed record LayerComparison(string Layers, string Shape, int Count, double Flops,
    double OursForwardMs, double TorchForwardMs, double OursBackwardDataMs, double TorchBackwardDataMs,
    double OursForwardCpuMs, double TorchForwardCpuMs, double OursBackwardDataCpuMs, double TorchBackwardDataCpuMs)
{
    public double ForwardRatio => OursForwardMs / TorchForwardMs;
    public double BackwardDataRatio => OursBackwardDataMs / TorchBackwardDataMs;
    public double ForwardCpuRatio => OursForwardCpuMs / TorchForwardCpuMs;
    public double BackwardDataCpuRatio => OursBackwardDataCpuMs / TorchBackwardDataCpuMs;
}

/// <summary>The whole iteration at one size: ours (<see cref="IterationBench"/>) vs libtorch.</summary>
public sealed record IterationComparison(IterationTiming Ours, TorchIterationTiming Torch)
{
    /// <summary>Forward + backward to the pixels (loss evaluation): ours / libtorch.</summary>
    public double EvaluateRatio => Ours.EvaluateMedianSeconds / Torch.EvaluateMedianSeconds;

    /// <summary>Evaluation + L-BFGS step: ours / libtorch.</summary>
    public double IterationRatio => Ours.MedianSeconds / Torch.MedianSeconds;

    /// <summary>CPU seconds per iteration: ours / libtorch.</summary>
    public double IterationCpuRatio => Ours.CpuSecondsPerIteration / Torch.CpuSecondsPerIteration;
}

/// <summary>
/// Loss terms and gradient of both implementations at the same image: relative differences. For scale, the
/// gradient difference between libtorch in float32 and in float64: ReLU masks and max-pooling choices flip where a
/// value lies within rounding of a kink, so two float32 implementations of VGG19 disagree on the gradient by far
/// more than on the loss, and deeper layers more.
/// </summary>
public sealed record LossCheck(int Size, float OursContent, float TorchContent, float OursStyle, float TorchStyle,
    float OursTv, float TorchTv, float OursTotal, float TorchTotal, double GradientRelativeL2, double TorchFloat32VsFloat64GradientRelativeL2)
{
    public double ContentRelative => Rel(OursContent, TorchContent);
    public double StyleRelative => Rel(OursStyle, TorchStyle);
    public double TvRelative => Rel(OursTv, TorchTv);
    public double TotalRelative => Rel(OursTotal, TorchTotal);

    private static double Rel(float a, float b) => Math.Abs((double)a - b) / Math.Max(Math.Abs((double)b), 1e-30);
}

public sealed record SizeComparison(int Size, IReadOnlyList<LayerComparison> Layers, IterationComparison? Iteration,
    double LoadAverageBefore, double LoadAverageAfter)
{
    /// <summary>Σ over conv1_1 … conv5_1 (each layer counted), the convolutions one iteration runs; milliseconds.</summary>
    public MsPair ForwardToRelu51 => Sum(l => l.OursForwardMs, l => l.TorchForwardMs);
    public MsPair BackwardDataToRelu51 => Sum(l => l.OursBackwardDataMs, l => l.TorchBackwardDataMs);
    public MsPair ForwardCpuToRelu51 => Sum(l => l.OursForwardCpuMs, l => l.TorchForwardCpuMs);
    public MsPair BackwardDataCpuToRelu51 => Sum(l => l.OursBackwardDataCpuMs, l => l.TorchBackwardDataCpuMs);

    private MsPair Sum(Func<LayerComparison, double> ours, Func<LayerComparison, double> torch)
    {
        double o = 0, t = 0;
        foreach (var l in Layers)
        {
            int n = l.Layers.Split(", ").Count(name => string.CompareOrdinal(name, "conv5_1") <= 0);
            o += n * ours(l);
            t += n * torch(l);
        }
        return new MsPair(o, t);
    }
}

/// <summary>A total for ours and for libtorch, and ours / libtorch.</summary>
public sealed record MsPair(double Ours, double Torch)
{
    public double Ratio => Ours / Torch;
}

public sealed record BaselineReport(string Device, string Plan, string Torch, int TorchThreads, string Weights, bool RealWeights,
    string Optimizer, int Runs, int Warmup, LossCheck? Check, IReadOnlyList<SizeComparison> Sizes);

public static class BaselineTable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Print(BaselineReport r)
    {
        Console.WriteLine($"ours: {r.Device} (tuning plan {r.Plan}); libtorch: {r.Torch}, {r.TorchThreads} threads");
        Console.WriteLine($"weights: {r.Weights}");
        Console.WriteLine($"median of {r.Runs} timed calls/iterations after {r.Warmup} warm-up; ratio = ours / libtorch (> 1: ours slower)");
        if (r.Check is { } c)
        {
            Console.WriteLine();
            Console.WriteLine($"loss check at {c.Size}×{c.Size} (same weights, images, formulas; a random image):");
            Console.WriteLine(F("  content {0:G7} vs {1:G7} (rel. diff {2:0.0e+0}); style {3:G7} vs {4:G7} ({5:0.0e+0}); tv {6:G7} vs {7:G7} ({8:0.0e+0})",
                c.OursContent, c.TorchContent, c.ContentRelative, c.OursStyle, c.TorchStyle, c.StyleRelative, c.OursTv, c.TorchTv, c.TvRelative));
            Console.WriteLine(F("  total {0:G7} vs {1:G7} (rel. diff {2:0.0e+0}); gradient ‖ours − torch‖/‖torch‖ = {3:0.0e+0} " +
                                "(libtorch float32 vs float64: {4:0.0e+0})",
                c.OursTotal, c.TorchTotal, c.TotalRelative, c.GradientRelativeL2, c.TorchFloat32VsFloat64GradientRelativeL2));
        }
        foreach (var s in r.Sizes)
        {
            Console.WriteLine();
            Console.WriteLine(F("size {0}×{0} (load average {1:0.0} before, {2:0.0} after)", s.Size, s.LoadAverageBefore, s.LoadAverageAfter));
            if (s.Layers.Count > 0)
            {
                Console.WriteLine($"{"layers",-34} {"shape",-20} {"fwd ours ms",11} {"torch",8} {"ratio",6} {"cpu",5} {"bwd-data ours",13} {"torch",8} {"ratio",6} {"cpu",5}");
                foreach (var l in s.Layers)
                    Console.WriteLine(F("{0,-34} {1,-20} {2,11:0.0} {3,8:0.0} {4,6:0.00} {5,5:0.00} {6,13:0.0} {7,8:0.0} {8,6:0.00} {9,5:0.00}",
                        l.Layers, l.Shape, l.OursForwardMs, l.TorchForwardMs, l.ForwardRatio, l.ForwardCpuRatio,
                        l.OursBackwardDataMs, l.TorchBackwardDataMs, l.BackwardDataRatio, l.BackwardDataCpuRatio));
                var (f, b) = (s.ForwardToRelu51, s.BackwardDataToRelu51);
                Console.WriteLine(F("{0,-34} {1,-20} {2,11:0.0} {3,8:0.0} {4,6:0.00} {5,5:0.00} {6,13:0.0} {7,8:0.0} {8,6:0.00} {9,5:0.00}",
                    "Σ conv1_1…conv5_1", "", f.Ours, f.Torch, f.Ratio, s.ForwardCpuToRelu51.Ratio, b.Ours, b.Torch, b.Ratio, s.BackwardDataCpuToRelu51.Ratio));
                Console.WriteLine("(ratio: wall time; cpu: CPU time of the process per call, ours / libtorch)");
            }
            if (s.Iteration is { } it)
            {
                Console.WriteLine(F("iteration: ours {0:0.000} s (evaluate {1:0.000} s + step {2:0.000} s), libtorch {3:0.000} s (forward+backward {4:0.000} s + step {5:0.000} s)",
                    it.Ours.MedianSeconds, it.Ours.EvaluateMedianSeconds, it.Ours.StepMedianSeconds,
                    it.Torch.MedianSeconds, it.Torch.EvaluateMedianSeconds, it.Torch.StepMedianSeconds));
                Console.WriteLine(F("  ratio: forward+backward {0:0.00}, whole iteration {1:0.00}, CPU seconds per iteration {2:0.00} ({3:0.00} vs {4:0.00})",
                    it.EvaluateRatio, it.IterationRatio, it.IterationCpuRatio, it.Ours.CpuSecondsPerIteration, it.Torch.CpuSecondsPerIteration));
                Console.WriteLine(F("  ours: peak device memory {0}, {1:0.##} allocations/iteration after the first",
                    ByteSize.Format(it.Ours.PeakBytes), it.Ours.AllocationsPerIterationAfterFirst));
                Console.WriteLine(F("  loss after {0} iterations: ours {1:G6} → {2:G6}, libtorch {3:G6} → {4:G6}",
                    it.Ours.TimedIterations + r.Warmup, it.Ours.InitialLoss, it.Ours.FinalLoss, it.Torch.InitialLoss, it.Torch.FinalLoss));
            }
        }
    }

    private static string F(string format, params object[] args) => string.Format(Inv, format, args);
}
