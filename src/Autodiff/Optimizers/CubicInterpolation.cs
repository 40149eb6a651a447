namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>Step-length interpolation for line searches (PyTorch's <c>_cubic_interpolate</c>).</summary>
public static class CubicInterpolation
{
    /// <summary>
    /// Minimizer of the cubic through (x₁, f₁) and (x₂, f₂) with slopes g₁, g₂, clamped to [lo, hi]
    /// (default: the interval between x₁ and x₂); the interval midpoint when the cubic has no minimum:
    /// d₁ = g₁ + g₂ − 3(f₁ − f₂)/(x₁ − x₂), d₂ = √(d₁² − g₁g₂),
    /// x* = x₂ − (x₂ − x₁)(g₂ + d₂ − d₁)/(g₂ − g₁ + 2d₂)   (for x₁ ≤ x₂; symmetric otherwise).
    /// </summary>
    public static double Minimum(double x1, double f1, double g1, double x2, double f2, double g2,
        (double Lo, double Hi)? bounds = null)
    {
        var (lo, hi) = bounds ?? (x1 <= x2 ? (x1, x2) : (x2, x1));
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2Square = d1 * d1 - g1 * g2;
        if (d2Square >= 0)
        {
            double d2 = Math.Sqrt(d2Square);
            double minPos = x1 <= x2
                ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
            return Math.Min(Math.Max(minPos, lo), hi);
        }
        return (lo + hi) / 2;
    }
}
