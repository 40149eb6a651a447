using Xunit;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// The tensor cores' input formats written from their definitions, in double arithmetic (independent of the library's
/// bit tricks): FP32's exponent range with <see cref="MantissaBits"/> stored mantissa bits. TF32: 10 bits, ties away from
/// zero (cvt.rna); BF16: 7 bits, ties to even (cvt.rn).
/// </summary>
public sealed record TensorCoreFormat(string Name, int MantissaBits, bool TiesAwayFromZero)
{
    public static readonly TensorCoreFormat Tf32 = new("tf32", 10, TiesAwayFromZero: true);
    public static readonly TensorCoreFormat Bf16 = new("bf16", 7, TiesAwayFromZero: false);

    /// <summary>TF32 rounded to nearest with ties to even (cvt.rn.tf32, sm_90+: the Gram kernels' rounding there).</summary>
    public static readonly TensorCoreFormat Tf32NearestEven = new("tf32-even", 10, TiesAwayFromZero: false);

    /// <summary>The format named <paramref name="name"/> ("tf32", "tf32-even" or "bf16").</summary>
    public static TensorCoreFormat Named(string name) => name switch
    {
        "bf16" => Bf16,
        "tf32" => Tf32,
        "tf32-even" => Tf32NearestEven,
        _ => throw new ArgumentException(name),
    };

    /// <summary>Unit roundoff: 2^−(mantissa bits + 1) (2⁻¹¹ for TF32, 2⁻⁸ for BF16).</summary>
    public double UnitRoundoff => Math.ScaleB(1.0, -(MantissaBits + 1));

    /// <summary>
    /// x rounded to the format: |x| = q·ulp with ulp = 2^(e − mantissa bits), e = max(⌊log2|x|⌋, −126) (FP32's subnormal
    /// range keeps the exponent of the smallest normal), q rounded to the nearest integer (ties away from zero or to
    /// even), then the sign; past FP32's range it is ±∞. Every step is exact in double.
    /// </summary>
    public float Round(float x)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0) return x;
        double m = Math.Abs((double)x);
        int e = Math.Max((int)Math.Floor(Math.Log2(m)), -126);
        // Math.Log2 may be off by one next to a power of two: make 2^e ≤ m < 2^(e+1) for normals.
        if (e > -126 && Math.ScaleB(1.0, e) > m) e--;
        if (e >= -126 && Math.ScaleB(1.0, e + 1) <= m) e++;
        double ulp = Math.ScaleB(1.0, e - MantissaBits), q = m / ulp;
        double r = (TiesAwayFromZero ? Math.Floor(q + 0.5) : Math.Round(q, MidpointRounding.ToEven)) * ulp;
        return (float)(Math.Sign(x) * r);
    }

    public float[] Round(float[] a) => a.Select(Round).ToArray();

    /// <summary>
    /// Relative bound (times Σ|a_k||b_k|) of a tensor-core dot product in this format against the exact one: each factor
    /// rounded (|δ| ≤ u) makes each product a(1 + δ₁)·b(1 + δ₂), off by at most (2u + u²)·|a b|; then the FP32 sum.
    /// </summary>
    public double TensorCoreBound(int terms) => 2 * UnitRoundoff + UnitRoundoff * UnitRoundoff + Tf32Reference.Fp32SumBound(terms);
}

/// <summary>TF32 rounding written from its definition (<see cref="TensorCoreFormat.Tf32"/>), and the bounds and checks the tensor-core tests share.</summary>
public static class Tf32Reference
{
    /// <summary>Unit roundoff of TF32 (11 significant bits, round to nearest): 2⁻¹¹.</summary>
    public static double UnitRoundoff => TensorCoreFormat.Tf32.UnitRoundoff;

    /// <summary>Unit roundoff of FP32: 2⁻²⁴.</summary>
    public static readonly double Fp32UnitRoundoff = Math.ScaleB(1.0, -24);

    /// <summary>x rounded to TF32 (ties away from zero), as <see cref="TensorCoreFormat.Round(float)"/> defines it.</summary>
    public static float Round(float x) => TensorCoreFormat.Tf32.Round(x);

    public static float[] Round(float[] a) => a.Select(Round).ToArray();

    /// <summary>
    /// Relative bound (times Σ|terms|) of an FP32 sum of <paramref name="terms"/> terms: (terms + 2)·2⁻²⁴ (γ_n, with one
    /// more rounding for a bias or scale), doubled for the tensor cores' own summation, which the PTX ISA leaves unspecified.
    /// </summary>
    public static double Fp32SumBound(int terms) => 2 * (terms + 2) * Fp32UnitRoundoff;

    /// <summary>Relative bound of a TF32 tensor-core dot product against the exact one (<see cref="TensorCoreFormat.TensorCoreBound"/>).</summary>
    public static double TensorCoreBound(int terms) => TensorCoreFormat.Tf32.TensorCoreBound(terms);

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
