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
}
