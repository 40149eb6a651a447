using IlgpuStyle.Kernels;
using static IlgpuStyle.Tests.Reference.MatMulReference;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// The mean–covariance style loss in double precision, from its definition: raw moments of the features, the style
/// target (regularized covariance and its Newton–Schulz root, symmetrized), the squared 2-Wasserstein distance between
/// the two Gaussians, and its gradient with respect to the features by the chain rule (the square root's part from
/// <see cref="NewtonSchulzReference.TraceSqrtGradient"/>, reverse mode through the iterations).
/// </summary>
public static class GaussianW2Reference
{
    public sealed record Target(double[] Mean, double[] Covariance, double[] Root, double Epsilon, double SecondMomentTrace);

    /// <summary>μ = scale·F·1, S = scale·F Fᵀ for F of C rows and H·W columns.</summary>
    public static (double[] Mean, double[] Second) Moments(double[] f, Shape4 s, double scale)
    {
        int c = s.C, p = s.Plane;
        var mean = new double[c];
        for (int i = 0; i < c; i++)
        for (int q = 0; q < p; q++)
            mean[i] += scale * f[i * p + q];
        return (mean, GramReference.Forward(f, s, scale));
    }

    /// <summary>Σ = S − μμᵀ + εI.</summary>
    public static double[] Covariance(double[] mean, double[] second, double epsilon)
    {
        int c = mean.Length;
        var cov = new double[c * c];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
            cov[i * c + j] = second[i * c + j] - mean[i] * mean[j] + (i == j ? epsilon : 0);
        return cov;
    }

    /// <summary>ε = relativeEpsilon·tr Σ_s / C, Σ_s' = Σ_s + εI, R = (Y + Yᵀ)/2 for Y the K-step Newton–Schulz root of Σ_s'.</summary>
    public static Target MakeTarget(double[] mean, double[] second, double relativeEpsilon, int iterations)
    {
        int c = mean.Length;
        var cov0 = Covariance(mean, second, 0);
        double epsilon = relativeEpsilon * Math.Max(Trace(cov0, c), 0) / c;
        var cov = Covariance(mean, second, epsilon);
        var y = NewtonSchulzReference.Sqrt(cov, c, iterations);
        var root = Combine(0.5, y, 0.5, Transpose(y, c));
        return new Target(mean, cov, root, epsilon, Trace(cov0, c) + mean.Sum(v => v * v));
    }

    /// <summary>w·(‖μ − μ_s‖² + tr Σ + tr Σ_s' − 2·tr sqrt(R Σ R)), the root by K Newton–Schulz steps.</summary>
    public static double Loss(double[] mean, double[] second, Target target, double weight, int iterations)
    {
        int c = mean.Length;
        var cov = Covariance(mean, second, target.Epsilon);
        var m = Multiply(Multiply(target.Root, cov, c), target.Root, c);
        double meanTerm = mean.Select((v, i) => (v - target.Mean[i]) * (v - target.Mean[i])).Sum();
        return weight * (meanTerm + Trace(cov, c) + Trace(target.Covariance, c) - 2 * NewtonSchulzReference.TraceSqrt(m, c, iterations));
    }

    /// <summary>The loss of the features f (moments with scale 1/(H·W)).</summary>
    public static double LossOfFeatures(double[] f, Shape4 s, Target target, double weight, int iterations)
    {
        var (mean, second) = Moments(f, s, 1.0 / s.Plane);
        return Loss(mean, second, target, weight, iterations);
    }

    /// <summary>
    /// ∂loss/∂F by the chain rule: ∂/∂Σ = w·(I − 2·Rᵀ D Rᵀ) with D = ∂tr sqrt(M)/∂M (M = R Σ R); Σ = S − μμᵀ + εI gives
    /// ∂/∂S = ∂/∂Σ and ∂/∂μ = 2w(μ − μ_s) − (∂/∂Σ + ∂/∂Σᵀ)μ; S = F Fᵀ/N and μ = F·1/N give
    /// ∂/∂F[i,q] = Σ_j (dS[i,j] + dS[j,i])·F[j,q]/N + dμ[i]/N.
    /// </summary>
    public static double[] LossOfFeaturesGradient(double[] f, Shape4 s, Target target, double weight, int iterations)
    {
        int c = s.C, p = s.Plane;
        var (mean, second) = Moments(f, s, 1.0 / p);
        var cov = Covariance(mean, second, target.Epsilon);
        var rt = Transpose(target.Root, c);
        var m = Multiply(Multiply(target.Root, cov, c), target.Root, c);
        var d = NewtonSchulzReference.TraceSqrtGradient(m, c, iterations);
        var dS = Combine(weight, Identity(c), -2 * weight, Multiply(Multiply(rt, d, c), rt, c));
        var sym = Combine(1, dS, 1, Transpose(dS, c));
        var dMean = new double[c];
        for (int i = 0; i < c; i++)
        {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += sym[i * c + j] * mean[j];
            dMean[i] = 2 * weight * (mean[i] - target.Mean[i]) - sum;
        }
        var df = new double[f.Length];
        for (int i = 0; i < c; i++)
        for (int q = 0; q < p; q++)
        {
            double sum = dMean[i];
            for (int j = 0; j < c; j++) sum += sym[i * c + j] * f[j * p + q];
            df[i * p + q] = sum / p;
        }
        return df;
    }
}
