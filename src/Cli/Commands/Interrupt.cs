using System.Runtime.InteropServices;
using IlgpuStyle.Stylize;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM during a run, as crowsonkb/style-transfer-pytorch users expect: the first one cancels
/// <see cref="Token"/>, so the optimization stops at its next step and the best image so far is written; a second
/// one ends the process at once (exit 130, the shell's code for SIGINT), leaving no partial file (writes are atomic).
/// </summary>
public sealed class Interrupt : IDisposable
{
    public const int ExitCode = 130;

    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration[] registrations;
    private readonly IStylizeObserver observer;

    public Interrupt(IStylizeObserver observer)
    {
        this.observer = observer;
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    public CancellationToken Token => source.Token;

    private void Handle(PosixSignalContext context)
    {
        if (source.IsCancellationRequested)
        {
            // Second signal: default handling (the runtime ends the process).
            Console.Error.WriteLine("interrupted again: aborting without writing.");
            Environment.Exit(ExitCode);
        }
        context.Cancel = true;
        observer.Message("interrupt: stopping after this step and writing the best image so far (again to abort)");
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        source.Dispose();
    }
}
