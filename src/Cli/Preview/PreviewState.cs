using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Cli.Preview;

/// <summary>
/// What the --preview page shows, fed by the run as an observer (on the optimizer's thread) and read by the web server
/// (on Kestrel's threads): the status, the latest iteration, every iteration's losses, and the latest image. The image
/// is kept as the run handed it and encoded as PNG only when the page asks for it (once per version), so the run
/// never waits for an encoder.
/// </summary>
public sealed class PreviewState : IStylizeObserver
{
    private readonly object gate = new();
    private readonly List<LossPoint> losses = new();
    private string status = "starting";
    private string message = "";
    private IterationReport? latest;
    private RgbImage? image;
    private IterationReport? imageReport;
    private int imageVersion;
    private (int Version, byte[] Png)? encoded;

    /// <summary>running, finished, cancelled or failed (starting before the first iteration).</summary>
    public string Status { get { lock (gate) return status; } }

    /// <summary>True once the run ended (finished, cancelled or failed): the state and image change no more.</summary>
    public bool Ended { get { lock (gate) return IsEnd(status); } }

    /// <summary>The version number of the final image (valid once <see cref="Ended"/>).</summary>
    public int ImageVersion { get { lock (gate) return imageVersion; } }

    public void Message(string text)
    {
        lock (gate) message = text;
    }

    public void Iteration(IterationReport report)
    {
        lock (gate)
        {
            if (IsEnd(status)) return;
            status = "running";
            latest = report;
            losses.Add(new LossPoint(report.Scale, report.Iteration, Finite(report.Loss.Content), Finite(report.Loss.Style),
                Finite(report.Loss.Tv), Finite(report.Loss.Total)));
        }
    }

    public void Snapshot(IterationReport report, RgbImage snapshot)
    {
        lock (gate)
        {
            if (IsEnd(status)) return;
            image = snapshot;
            imageReport = report;
            imageVersion++;
        }
    }

    /// <summary>The run ended: its final image (the one written to the output) and how it ended.</summary>
    public void Finished(StylizeResult result)
    {
        lock (gate)
        {
            status = result.Cancelled ? "cancelled" : result.Failure is not null ? "failed" : "finished";
            message = result.Failure ?? (result.Cancelled ? "interrupted: the best image so far was written" : "the output was written");
            image = result.Image;
            imageReport = latest;
            imageVersion++;
        }
    }

    /// <summary>The state as the page's JSON: losses from index <paramref name="from"/> on (the page keeps the earlier ones).</summary>
    public PreviewSnapshot Read(int from)
    {
        lock (gate)
        {
            from = Math.Clamp(from, 0, losses.Count);
            return new PreviewSnapshot(status, message, latest?.Scale ?? 0, latest?.Scales ?? 0, latest?.Width ?? 0,
                latest?.Height ?? 0, latest?.Iteration ?? 0, latest?.Iterations ?? 0, latest?.ElapsedSeconds ?? 0,
                imageVersion, imageReport?.Scale ?? 0, imageReport?.Iteration ?? 0, from, losses.Count,
                losses.GetRange(from, losses.Count - from));
        }
    }

    /// <summary>The latest image as PNG with its version, or null before the first one.</summary>
    public (int Version, byte[] Png)? Png()
    {
        RgbImage? current;
        int version;
        lock (gate)
        {
            if (encoded is { } e && e.Version == imageVersion) return e;
            (current, version) = (image, imageVersion);
        }
        if (current is null) return null;
        var png = ImageWriter.Encode(current, jpeg: false);   // outside the lock: the run goes on meanwhile
        lock (gate)
        {
            if (encoded is null || encoded.Value.Version < version) encoded = (version, png);
        }
        return (version, png);
    }

    private static bool IsEnd(string s) => s is "finished" or "cancelled" or "failed";

    /// <summary>JSON has no NaN or infinity: a non-finite loss is null (as in the --report file).</summary>
    private static float? Finite(float v) => float.IsFinite(v) ? v : null;
}

/// <summary>One iteration's losses (null = not finite).</summary>
public sealed record LossPoint(int Scale, int Iteration, float? Content, float? Style, float? Tv, float? Total);

/// <summary>The page's view of the run: the current scale and iteration, the image's version and iteration, losses[from..count).</summary>
public sealed record PreviewSnapshot(string Status, string Message, int Scale, int Scales, int Width, int Height,
    int Iteration, int Iterations, double Seconds, int Image, int ImageScale, int ImageIteration, int From, int Count,
    IReadOnlyList<LossPoint> Losses);
