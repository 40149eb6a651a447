using IlgpuStyle.Autodiff.Optimizers;
using Xunit;

namespace IlgpuStyle.Tests.Optimizers;

public class CubicInterpolationTests
{
    // p(t) = t³ − 4.5t² + 6t, p'(t) = 3t² − 9t + 6 = 3(t − 1)(t − 2): local max at 1, local min at 2.
    private static double P(double t) => t * t * t - 4.5 * t * t + 6 * t;
    private static double Dp(double t) => 3 * t * t - 9 * t + 6;

    [Theory]
    [InlineData(1.5, 3.0)]
    [InlineData(3.0, 1.5)]
    [InlineData(1.2, 2.5)]
    public void FindsTheExactMinimumOfACubic(double a, double b)
    {
        double t = CubicInterpolation.Minimum(a, P(a), Dp(a), b, P(b), Dp(b));
        Assert.Equal(2.0, t, 12);
    }

    [Fact]
    public void ClampsToTheBounds()
    {
        double t = CubicInterpolation.Minimum(1.5, P(1.5), Dp(1.5), 3, P(3), Dp(3), (2.5, 10));
        Assert.Equal(2.5, t);
        t = CubicInterpolation.Minimum(1.5, P(1.5), Dp(1.5), 3, P(3), Dp(3), (0, 1.8));
        Assert.Equal(1.8, t);
    }

    [Fact]
    public void QuadraticDataGivesTheParabolaMinimum()
    {
        // f = (t − 0.7)²: the interpolating cubic is the parabola itself.
        static double F(double t) => (t - 0.7) * (t - 0.7);
        static double G(double t) => 2 * (t - 0.7);
        Assert.Equal(0.7, CubicInterpolation.Minimum(0, F(0), G(0), 2, F(2), G(2)), 12);
    }

    [Fact]
    public void NoRealMinimumGivesTheMidpoint()
    {
        // f(0) = 0, f(1) = ½, slopes 1 and 1: d₁ = 2 − 3·½ = ½, d₁² − g₁g₂ = −¾ < 0, so the cubic is monotone.
        double t = CubicInterpolation.Minimum(0, 0, 1, 1, 0.5, 1);
        Assert.Equal(0.5, t);
    }
}
