using IlgpuStyle.Stylize;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// The progress line's ETA: this scale's remaining iterations at its rate, then each later scale — k doublings of the
/// side larger, 4^k times the pixels — at rate · (4^k)^α, i.e. an iteration's cost taken to grow as pixels^α.
/// α is not 1: a small image leaves the device partly idle, so the cost grows more slowly than the pixels (default
/// 512 px run on PoCL, 2 cores of a Zen 5: 0.16 → 0.36 → 1.09 s per iteration at 128, 256, 512 px, α = 0.58 then
/// 0.79; α = 1 had the first scale's ETA at 10 min 47 s for 4 min 50 s). Before a scale has a measured predecessor
/// the ETA uses <see cref="DefaultExponent"/>; from the second scale on, α measured between the previous scale's final
/// rate and this scale's rate (once this scale has run <see cref="SettledIterations"/> iterations: its first ones
/// carry the line search's start), clamped to [<see cref="MinExponent"/>, <see cref="MaxExponent"/>].
/// </summary>
public static class EtaEstimate
{
    /// <summary>α before one is measured (the larger of the two measured above: an ETA should not promise too little).</summary>
    public const double DefaultExponent = 0.8;

    public const double MinExponent = 0.25, MaxExponent = 1.5;

    /// <summary>Iterations of a scale before its rate is trusted for measuring α.</summary>
    public const int SettledIterations = 10;

    /// <summary>A scale's size and its rate: pixels and seconds per iteration.</summary>
    public readonly record struct ScaleRate(double Pixels, double SecondsPerIteration);

    /// <summary>
    /// Seconds left after report <paramref name="r"/>; <paramref name="previous"/> is the previous scale's final rate
    /// when that scale ran.
    /// </summary>
    public static double Seconds(IterationReport r, ScaleRate? previous)
    {
        double alpha = Exponent(r, previous);
        double later = 0;
        for (int s = r.Scale + 1, k = 1; s <= r.Scales; s++, k++) later += r.Iterations * Math.Pow(Math.Pow(4, k), alpha);
        return (r.Iterations - r.Iteration + later) * r.SecondsPerIteration;
    }

    /// <summary>α for report <paramref name="r"/> (see the class comment).</summary>
    public static double Exponent(IterationReport r, ScaleRate? previous)
    {
        if (previous is not { } p || r.Iteration < SettledIterations || p.SecondsPerIteration <= 0 || r.SecondsPerIteration <= 0)
            return DefaultExponent;
        double pixels = (double)r.Width * r.Height;
        if (pixels <= p.Pixels) return DefaultExponent;
        double alpha = Math.Log(r.SecondsPerIteration / p.SecondsPerIteration) / Math.Log(pixels / p.Pixels);
        return double.IsFinite(alpha) ? Math.Clamp(alpha, MinExponent, MaxExponent) : DefaultExponent;
    }
}
