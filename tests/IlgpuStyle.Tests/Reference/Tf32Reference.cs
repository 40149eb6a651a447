using Xunit;

namespace IlgpuStyle.Tests.Reference;

/// <summary>TF32 rounding written from its definition, in double arithmetic (independent of the library's bit trick).</summary>
public static class Tf32Reference
{
    /// <summary>Unit roundoff of TF32 (11 significant bits, round to nearest): 2⁻¹¹.</summary>
    public static readonly double UnitRoundoff = Math.ScaleB(1.0, -11);

    /// <summary>Unit roundoff of FP32: 2⁻²⁴.</summary>
    public static readonly double Fp32UnitRoundoff = Math.ScaleB(1.0, -24);

    /// <summary>
    /// x rounded to TF32: |x| = q·ulp with ulp = 2^(e − 10), e = max(⌊log2|x|⌋, −126) (FP32's subnormal range keeps the
    /// exponent of the smallest normal), q rounded to the nearest integer with ties away from zero (⌊q + ½⌋ on the
    /// magnitude), then the sign; past FP32's range it is ±∞. Every step is exact in double.
    /// </summary>
    public static float Round(float x)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0) return x;
        double m = Math.Abs((double)x);
        int e = Math.Max((int)Math.Floor(Math.Log2(m)), -126);
        // Math.Log2 may be off by one next to a power of two: make 2^e ≤ m < 2^(e+1) for normals.
        if (e > -126 && Math.ScaleB(1.0, e) > m) e--;
        if (e >= -126 && Math.ScaleB(1.0, e + 1) <= m) e++;
        double ulp = Math.ScaleB(1.0, e - 10);
        double r = Math.Floor(m / ulp + 0.5) * ulp;
        return (float)(Math.Sign(x) * r);
    }

    public static float[] Round(float[] a) => a.Select(Round).ToArray();

    /// <summary>
    /// Relative bound (times Σ|terms|) of an FP32 sum of <paramref name="terms"/> terms: (terms + 2)·2⁻²⁴ (γ_n, with one
    /// more rounding for a bias or scale), doubled for the tensor cores' own summation, which the PTX ISA leaves unspecified.
    /// </summary>
    public static double Fp32SumBound(int terms) => 2 * (terms + 2) * Fp32UnitRoundoff;

    /// <summary>
    /// Relative bound (times Σ|a_k||b_k|) of a TF32 tensor-core dot product against the exact one: each factor rounded to
    /// TF32 (|δ| ≤ u = 2⁻¹¹) makes each product a(1 + δ₁)·b(1 + δ₂), off by at most (2u + u²)·|a b|; then the FP32 sum.
    /// </summary>
    public static double TensorCoreBound(int terms) => 2 * UnitRoundoff + UnitRoundoff * UnitRoundoff + Fp32SumBound(terms);

    /// <summary>
    /// Asserts |actual − expected| ≤ relative · magnitude elementwise (magnitude = Σ|terms| per element), and no NaN or
    /// infinity; logs the worst ratio of error to bound.
    /// </summary>
    public static void Within(double[] expected, double[] magnitude, float[] actual, double relative, string what, ITestOutputHelper log)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) || float.IsInfinity(actual[i]), $"{what}: element {i} is {actual[i]}");
            double err = Math.Abs(actual[i] - expected[i]), bound = relative * magnitude[i] + 1e-30;
            Assert.True(err <= bound, $"{what}: element {i} = {actual[i]:R}, expected {expected[i]:R} (|err| {err:E2} > bound {bound:E2})");
            worst = Math.Max(worst, err / bound);
        }
        log.WriteLine($"{what}: worst |err| / bound = {worst:F3} (bound {relative:E2}·Σ|terms|)");
    }

    public static double[] Abs(float[] a) => a.Select(v => Math.Abs((double)v)).ToArray();
}
