using IlgpuStyle.Stylize;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>A <see cref="IStylizeObserver"/> that keeps what a run said: its messages and its iteration reports, in order.</summary>
internal sealed class RecordingObserver : IStylizeObserver
{
    public List<string> Messages { get; } = [];
    public List<IterationReport> Reports { get; } = [];
    public void Message(string text) => Messages.Add(text);
    public void Iteration(IterationReport report) => Reports.Add(report);
}
