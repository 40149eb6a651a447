using System.Diagnostics;

namespace IlgpuStyle.Autodiff;

/// <summary>The time of one kind of op over the evaluations profiled: forward and backward milliseconds, calls.</summary>
public sealed record OpTiming(string Op, double ForwardMs, double BackwardMs, int Calls)
{
    public double TotalMs => ForwardMs + BackwardMs;
}

/// <summary>
/// Per-op device time of a <see cref="Tape"/> (issue #13: where an iteration's time goes once the convolutions are
/// fast). While a tape has a profile, every recorded op synchronizes the device: its forward time is the time since the
/// previous op was recorded (its kernels were queued then), its backward time that of its backward closure. Work
/// outside the tape (the loss targets' reads, the optimizer step) is not counted here. Synchronizing after every op
/// removes the overlap of host and device work, so the sum is a little above an unprofiled evaluation; the shares are
/// what the bench prints.
/// </summary>
public sealed class OpProfile
{
    private readonly Dictionary<string, (double Forward, double Backward, int Calls)> ops = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private double lap;

    /// <summary>Starts a forward interval now (after the device finished what was queued before).</summary>
    internal void Restart() => lap = clock.Elapsed.TotalMilliseconds;

    internal void Forward(string op)
    {
        double now = clock.Elapsed.TotalMilliseconds;
        var (f, b, n) = ops.GetValueOrDefault(op);
        ops[op] = (f + now - lap, b, n + 1);
        lap = now;
    }

    internal void Backward(string op, double ms)
    {
        var (f, b, n) = ops.GetValueOrDefault(op);
        ops[op] = (f, b + ms, n);
    }

    internal double Now => clock.Elapsed.TotalMilliseconds;

    /// <summary>Every op seen, the most expensive first.</summary>
    public IReadOnlyList<OpTiming> Rows =>
        ops.Select(kv => new OpTiming(kv.Key, kv.Value.Forward, kv.Value.Backward, kv.Value.Calls)).OrderByDescending(r => r.TotalMs).ToList();
}
