namespace IlgpuStyle.Cli.Stylize;

/// <summary>One optimizer iteration, as reported to the progress display and the JSON report.</summary>
public sealed record IterationReport(
    int Scale, int Scales, int Width, int Height, int Iteration, int Iterations, LossValues Loss,
    double SecondsPerIteration, double ElapsedSeconds);

/// <summary>What a run reports while it works; implemented by the CLI's progress bar and JSON report.</summary>
public interface IStylizeObserver
{
    void Message(string text);
    void Iteration(IterationReport report);
    void Finished(StylizeResult result);
}

public sealed record StylizeResult(string OutputPath, string Device, int Width, int Height, double Seconds,
    LossValues FinalLoss, IReadOnlyList<string> Intermediates);
