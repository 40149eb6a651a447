using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IlgpuStyle.Cli.Bench;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style bench`: per-kernel timings (median of --runs after a warm-up) and GFLOP/s for every VGG19
/// convolution shape and Gram matrix at --size, plus peak device memory and allocation counts.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var device = new Option<string>("--device")
        {
            Description = "Device: auto, cuda, opencl, cpu, optionally with an index (opencl:1).",
            DefaultValueFactory = _ => "auto",
        };
        var size = new Option<int>("--size")
        {
            Description = "Side of the (square) input image in pixels; stage k of VGG19 runs at size / 2^(k-1).",
            DefaultValueFactory = _ => 256,
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Timed calls per kernel; the median is reported.",
            DefaultValueFactory = _ => 5,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed calls per kernel before timing (the first one compiles the kernel).",
            DefaultValueFactory = _ => 1,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of a table." };
        var layers = new Option<string[]>("--layers")
        {
            Description = "Only these layers (comma- or space-separated): conv1_1 … conv5_4, relu1_1 … relu5_1. Default: all.",
            AllowMultipleArgumentsPerToken = true,
        };
        var kernels = new Option<KernelBench.KernelSet>("--kernels")
        {
            Description = "Kernels to time: default (what the library uses), tiled (the first shared-memory tiled conv and Gram kernels, for before/after) or naive (naive conv forward, tiled otherwise).",
            DefaultValueFactory = _ => KernelBench.KernelSet.Default,
        };

        var command = new Command("bench", "Time the convolution and Gram kernels on VGG19 layer shapes (GFLOP/s, memory).");
        foreach (var o in new Option[] { device, size, runs, warmup, json, layers, kernels }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            int s = parseResult.GetValue(size), r = parseResult.GetValue(runs), wu = parseResult.GetValue(warmup);
            if (s < 1 || r < 1 || wu < 0)
            {
                Console.Error.WriteLine("bench: --size and --runs must be ≥ 1 and --warmup ≥ 0.");
                return 2;
            }
            var names = parseResult.GetValue(layers)?
                .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .ToHashSet();
            var known = Vgg19Shapes.Convolutions(s).Select(c => c.Name).Concat(Vgg19Shapes.StyleLayers(s).Select(g => g.Name)).ToHashSet();
            var unknown = names?.Where(n => !known.Contains(n)).ToList();
            if (unknown is { Count: > 0 })
            {
                Console.Error.WriteLine($"bench: unknown layer(s) {string.Join(", ", unknown)}; known: {string.Join(", ", known)}.");
                return 2;
            }

            Gpu gpu;
            string why;
            try
            {
                gpu = DeviceCatalog.Open(parseResult.GetValue(device) ?? "auto", out why);
            }
            catch (DeviceSelectionException e)
            {
                Console.Error.WriteLine($"bench: {e.Message}");
                return 2;
            }
            using (gpu)
            {
                bool asJson = parseResult.GetValue(json);
                if (!asJson) Console.WriteLine(why);
                var options = new KernelBench.Options(s, r, wu, names is { Count: > 0 } ? names : null, parseResult.GetValue(kernels));
                var report = new KernelBench(gpu, options).Run();
                if (asJson) Console.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
                else PrintTable(report);
            }
            return 0;
        });
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep → and × readable
    };

    private static void PrintTable(KernelBenchReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"device {report.Device}, size {report.Size}, median of {report.Runs} runs after {report.Warmup} warm-up, " +
                          $"kernels: {report.Kernels} (conv fast-path blocking {report.ConvTiles})");
        Console.WriteLine(string.Format(inv, "load average {0:0.0} before, {1:0.0} after (1-minute; above the core count, timings are inflated)",
            report.LoadAverageBefore, report.LoadAverageAfter));
        Console.WriteLine($"{"layer",-8} {"kernel",-24} {"shape",-20} {"median ms",10} {"min ms",10} {"GFLOP/s",8} {"GFLOP/cpu-s",11}");
        foreach (var t in report.Timings)
            Console.WriteLine(string.Format(inv, "{0,-8} {1,-24} {2,-20} {3,10:0.000} {4,10:0.000} {5,8:0.0} {6,11:0.0}",
                t.Layer, t.Kernel, t.Shape, t.MedianMs, t.MinMs, t.Gflops, t.GflopsPerCpuSecond));
        Console.WriteLine(string.Format(inv,
            "VGG19 conv1_1…conv5_1: forward {0:0.0} ms, backward-data {1:0.0} ms, sum {2:0.0} ms (layers measured above only)",
            report.VggForwardMs, report.VggBackwardDataMs, report.VggForwardMs + report.VggBackwardDataMs));
        Console.WriteLine(string.Format(inv, "Gram relu1_1…relu5_1: forward {0:0.0} ms, backward {1:0.0} ms (layers measured above only)",
            report.GramForwardMs, report.GramBackwardMs));
        Console.WriteLine($"peak device memory {ByteSize.Format(report.PeakBytes)}, {report.Allocations} allocations " +
                          $"({report.AllocationsWhileTiming} during timed calls)");
    }
}
