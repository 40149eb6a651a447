using IlgpuStyle.Stylize;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// The progress line's ETA: this scale's remaining iterations at its rate, then each later scale — k doublings of the
/// side larger, 4^k times the pixels — at rate · (4^k)^α, i.e. an iteration's cost taken to grow as pixels^α.
/// α is not 1: a small image leaves the device partly idle, so the cost grows more slowly than the pixels (default
/// 512 px run on PoCL, 2 cores of a Zen 5: 0.16 → 0.35 → 1.03 s per iteration at 128, 256, 512 px, α = 0.57 then
/// 0.78; α = 1 had the first scale's ETA at 10 min 47 s for 4 min 50 s). α grows with the size as the device fills, so
/// a measured α is a lower bound for the next doubling: the ETA uses the measured α between the previous scale's final
/// rate and this scale's (once this scale has run <see cref="SettledIterations"/> iterations) only where it exceeds
/// <see cref="DefaultExponent"/> (the 0.57 above made the last scale's ETA 2 min 29 s for 3 min 26 s), up to
/// <see cref="MaxExponent"/>. And a scale's first iterations carry the line search's start (5 evaluations in the first
/// at 512 px: 6.1 s against 1.03 s per iteration, an ETA of 20 min for 3.5), so until it has settled its rate is the
/// previous scale's final rate times the pixel ratio^α; the first scale has none, so its ETA is unknown (NaN, printed
/// "?") until it has settled — its first iteration also compiles the kernels (6 s for a 0.13 s iteration at 64 px: an
/// ETA of 4 h 25 min for 2 min 20 s).
/// </summary>
public static class EtaEstimate
{
    /// <summary>α before one is measured (the larger of the two measured above: an ETA should not promise too little).</summary>
    public const double DefaultExponent = 0.8;

    /// <summary>The largest α the ETA believes (a slower scale is counted as if it grew this fast).</summary>
    public const double MaxExponent = 1.5;

    /// <summary>Iterations of a scale before its rate is trusted for measuring α.</summary>
    public const int SettledIterations = 10;

    /// <summary>A scale's size and its rate: pixels and seconds per iteration.</summary>
    public readonly record struct ScaleRate(double Pixels, double SecondsPerIteration);

    /// <summary>
    /// Seconds left after report <paramref name="r"/>; <paramref name="previous"/> is the previous scale's final rate
    /// when that scale ran. NaN when there is nothing to go by yet: before the first step, and in a scale without a
    /// previous one before it has settled.
    /// </summary>
    /// <paramref name="run"/>, when given, says the later scales' sizes and iterations (<see cref="RunSettings.LongSide"/>,
    /// <see cref="RunSettings.Iterations"/>); without it each is taken to double the side and run this scale's iterations.
    public static double Seconds(IterationReport r, ScaleRate? previous, RunSettings? run = null)
    {
        if (r.Iteration == 0 || (previous is null && r.Iteration < SettledIterations)) return double.NaN;
        double alpha = Exponent(r, previous);
        double later = 0;
        for (int s = r.Scale + 1, k = 1; s <= r.Scales; s++, k++)
        {
            // Pixels of scale s over this scale's: (long side ratio)², 4^k when each scale doubles the side.
            double pixelRatio = run is null ? Math.Pow(4, k) : Math.Pow(run.LongSide(s) / (double)run.LongSide(r.Scale), 2);
            later += (run?.Iterations ?? r.Iterations) * Math.Pow(pixelRatio, alpha);
        }
        return (r.Iterations - r.Iteration + later) * Rate(r, previous, alpha);
    }

    /// <summary>
    /// This scale's seconds per iteration for the ETA: the measured rate once the scale has settled (or when there is no
    /// previous scale to go by), before that the previous scale's final rate × (pixels / its pixels)^<paramref name="alpha"/>.
    /// </summary>
    public static double Rate(IterationReport r, ScaleRate? previous, double alpha) =>
        r.Iteration < SettledIterations && Growth(r, previous) is (var pixelRatio, var previousRate)
            ? previousRate * Math.Pow(pixelRatio, alpha)
            : r.SecondsPerIteration;

    /// <summary>α for report <paramref name="r"/> (see the class comment).</summary>
    public static double Exponent(IterationReport r, ScaleRate? previous)
    {
        if (r.Iteration < SettledIterations || r.SecondsPerIteration <= 0 || Growth(r, previous) is not (var pixelRatio, var previousRate))
            return DefaultExponent;
        double alpha = Math.Log(r.SecondsPerIteration / previousRate) / Math.Log(pixelRatio);
        return double.IsFinite(alpha) ? Math.Clamp(alpha, DefaultExponent, MaxExponent) : DefaultExponent;
    }

    /// <summary>
    /// This scale's pixels over the previous scale's, and that scale's rate — when there is a previous scale to go by:
    /// one with a measured rate and fewer pixels.
    /// </summary>
    private static (double PixelRatio, double PreviousRate)? Growth(IterationReport r, ScaleRate? previous)
    {
        double pixels = (double)r.Width * r.Height;
        return previous is { } p && p.SecondsPerIteration > 0 && pixels > p.Pixels ? (pixels / p.Pixels, p.SecondsPerIteration) : null;
    }
}
