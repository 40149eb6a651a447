using IlgpuStyle.Kernels;
using System.Globalization;
using System.Text;
using System.Text.Json;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// Progress on stderr — a one-line bar redrawn in place when stderr is a terminal, plain lines every
/// --print-every iterations otherwise, nothing with --quiet — plus the optional JSON-lines report.
/// </summary>
public sealed class ConsoleObserver : IStylizeObserver, IDisposable
{
    private readonly bool quiet;
    private readonly int printEvery;
    private readonly bool interactive;
    private readonly string? reportPath;
    private StreamWriter? report;
    private readonly TextWriter err;
    private bool barShown;
    private string? lastLine;
    private MemoryPlan? plan;
    private AutotuneResult? tuning;
    private Precision precision;

    /// <summary>Each scale's latest rate (its final one once it is done), for the ETA of the next (EtaEstimate).</summary>
    private readonly Dictionary<int, EtaEstimate.ScaleRate> scaleRates = [];

    /// <summary>The run's settings, for the ETA's later scales (their sizes and iterations); null: each doubles the side.</summary>
    public RunSettings? Run { get; set; }

    /// <summary>The device's tuning plan and where it came from: recorded in the report's final line.</summary>
    public void Tuning(AutotuneResult result, Precision used)
    {
        tuning = result;
        precision = used;
    }

    public ConsoleObserver(bool quiet, int printEvery, string? reportPath, TextWriter? stderr = null)
    {
        this.quiet = quiet;
        this.printEvery = printEvery;
        err = stderr ?? Console.Error;
        interactive = stderr is null && !Console.IsErrorRedirected;
        this.reportPath = reportPath;
    }

    /// <summary>Appends one JSON line to the report, creating the file at the first line: a run that fails before
    /// its first iteration leaves no report behind.</summary>
    private void Report(Dictionary<string, object?> line)
    {
        if (reportPath is null) return;
        if (report is null)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(reportPath));
            if (dir is not null) Directory.CreateDirectory(dir);
            report = new StreamWriter(reportPath, append: false, new UTF8Encoding(false)) { AutoFlush = true };
        }
        report.WriteLine(JsonSerializer.Serialize(line));
    }

    public void Message(string text)
    {
        if (quiet) return;
        EndBar();
        err.WriteLine(text);
    }

    /// <summary>Says the scale's plan in one line; the last one goes into the report's final line.</summary>
    public void Plan(int scale, MemoryPlan p)
    {
        plan = p;
        Message($"plan: {p}");
    }

    /// <summary>A tiled evaluation's progress: appended to the bar on a terminal (lines would flood a log).</summary>
    public void Tile(int done, int total)
    {
        if (quiet || !interactive || lastLine is null) return;
        err.Write("\r" + lastLine + $" tile {done}/{total}" + "\u001b[K");
        barShown = true;
    }

    public void Iteration(IterationReport r)
    {
        var json = new Dictionary<string, object?>
        {
            ["scale"] = r.Scale,
            ["iteration"] = r.Iteration,
            ["content_loss"] = Finite(r.Loss.Content),
            ["style_loss"] = Finite(r.Loss.Style),
            ["tv_loss"] = Finite(r.Loss.Tv),
            ["total_loss"] = Finite(r.Loss.Total),
            ["seconds"] = Math.Round(r.ElapsedSeconds, 3),
            ["evaluations"] = r.Evaluations,
        };
        // JSON has no NaN or infinity: such losses are null above, and the line says so.
        if (!(float.IsFinite(r.Loss.Content) && float.IsFinite(r.Loss.Style) && float.IsFinite(r.Loss.Tv) && float.IsFinite(r.Loss.Total)))
            json["non_finite"] = true;
        Report(json);
        if (quiet) return;
        if (r.Iteration > 0) scaleRates[r.Scale] = new EtaEstimate.ScaleRate((double)r.Width * r.Height, r.SecondsPerIteration);
        double eta = EtaEstimate.Seconds(r, scaleRates.TryGetValue(r.Scale - 1, out var previous) ? previous : null, Run);
        string text = string.Format(CultureInfo.InvariantCulture,
            "scale {0}/{1} {2}×{3} iter {4,4}/{5} {6} content {7:0.000e0} style {8:0.000e0} tv {9:0.000e0} total {10:0.0000e0} {11:0.00}s/it {12:0.00} eval/it ETA {13}",
            r.Scale, r.Scales, r.Width, r.Height, r.Iteration, r.Iterations, Bar(r.Iteration, r.Iterations),
            r.Loss.Content, r.Loss.Style, r.Loss.Tv, r.Loss.Total, r.SecondsPerIteration, r.EvaluationsPerIteration,
            double.IsNaN(eta) ? "?" : Duration(eta)); // nothing to go by yet (EtaEstimate.Seconds)
        lastLine = text;
        if (interactive)
        {
            err.Write("\r" + text + "\u001b[K");
            barShown = true;
        }
        else if (r.Iteration == 1 || r.Iteration % printEvery == 0 || r.Iteration == r.Iterations)
        {
            err.WriteLine(text);
        }
    }

    public void Finished(StylizeJobResult job)
    {
        var result = job.Result;
        // Objective evaluations of the whole run, from its iteration reports (each scale's initial one included).
        int evaluations = result.Iterations.Sum(r => r.Evaluations);
        int iterations = result.Iterations.Count(r => r.Iteration > 0), scalesStarted = result.Iterations.Count - iterations;
        var final = new Dictionary<string, object?>
        {
            ["output"] = job.OutputPath,
            ["device"] = job.Device,
            ["width"] = result.Width,
            ["height"] = result.Height,
            ["seconds"] = Math.Round(result.Seconds, 3),
            ["total_loss"] = Finite(result.FinalLoss.Total),
            ["peak_device_bytes"] = job.PeakDeviceBytes,
            ["plan"] = plan?.ToString(),
            ["style_loss_kind"] = plan?.StyleLoss.ToString().ToLowerInvariant(),
            ["tiles"] = plan?.Tiles?.Count ?? 1,
            ["tuning_plan"] = tuning?.Plan.ToString(),
            ["tuning"] = tuning?.Source,
            ["precision"] = Precisions.Name(precision),
            // Per iteration, the initial evaluations not counted: the line search's cost; a default run stays close to 1.
            ["evaluations"] = evaluations,
            ["evaluations_per_iteration"] = iterations == 0 ? 0 : Math.Round((evaluations - scalesStarted) / (double)iterations, 3),
        };
        if (result.Cancelled) final["interrupted"] = true;
        if (result.Failure is { } failure) final["error"] = failure;
        Report(final);
        if (quiet) return;
        EndBar();
        err.WriteLine(result.Cancelled
            ? $"interrupted: wrote the best image so far, {job.OutputPath} ({result.Width}×{result.Height}), after {Duration(result.Seconds)}"
            : $"wrote {job.OutputPath} ({result.Width}×{result.Height}) in {Duration(result.Seconds)}");
    }

    /// <summary>JSON has no NaN or infinity: a non-finite loss is written as null.</summary>
    private static object? Finite(float v) => float.IsFinite(v) ? v : null;

    private void EndBar()
    {
        if (!barShown) return;
        err.WriteLine();
        barShown = false;
    }

    private static string Bar(int done, int total)
    {
        const int width = 20;
        int filled = (int)Math.Round(width * (double)done / total);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }

    private static string Duration(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m"
        : seconds >= 60 ? $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s"
        : $"{seconds:0.0}s";

    public void Dispose()
    {
        EndBar();
        report?.Dispose();
    }
}
