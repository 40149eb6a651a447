using Xunit;
namespace IlgpuStyle.Tests;

/// <summary>Comparisons that report the maximum error seen, so test logs show how close we are.</summary>
public static class Check
{
    /// <summary>
    /// Asserts |a − e| ≤ atol + rtol·|e| elementwise; logs max absolute and max relative error.
    /// Returns the max absolute error.
    /// </summary>
    public static double Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol,
        string label, ITestOutputHelper? log = null)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double maxAbs = 0, maxRel = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            Xunit.Assert.False(double.IsNaN(a) || double.IsInfinity(a), $"{label}: element {i} is {a}");
            double err = Math.Abs(a - e);
            double rel = err / Math.Max(Math.Abs(e), 1e-12);
            if (err > maxAbs) maxAbs = err;
            if (err > atol && rel > maxRel) maxRel = rel;
            if (err > atol + rtol * Math.Abs(e) && worst < 0) worst = i;
        }
        log?.WriteLine($"{label}: n={expected.Length} max|err|={maxAbs:E2} max rel(err>atol)={maxRel:E2} (rtol={rtol:E0}, atol={atol:E0})");
        if (worst >= 0)
            Xunit.Assert.Fail($"{label}: element {worst} expected {expected[worst]} got {actual[worst]} " +
                              $"(max|err|={maxAbs:E2}, rtol={rtol}, atol={atol})");
        return maxAbs;
    }

    public static double Close(double[] expected, ReadOnlySpan<float> actual, double rtol, double atol,
        string label, ITestOutputHelper? log = null) =>
        Close(expected.Select(v => (float)v).ToArray(), actual, rtol, atol, label, log);

    /// <summary>Relative error of whole vectors: ‖a − e‖₂ / ‖e‖₂.</summary>
    /// <summary>Asserts every element of <paramref name="actual"/> has the bits of <paramref name="expected"/>'s (NaNs, −0 and all).</summary>
    public static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string label)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Xunit.Assert.True(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]),
                $"{label}: element {i} = {actual[i]:R}, expected {expected[i]:R}");
    }

    public static double RelativeL2(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-30));
    }

    /// <summary>Asserts that <paramref name="call"/> throws an <see cref="ArgumentException"/> whose message names every shape given.</summary>
    public static ArgumentException NamesShapes(Action call, params string[] shapes)
    {
        var e = Xunit.Assert.Throws<ArgumentException>(call);
        foreach (var shape in shapes) Xunit.Assert.Contains(shape, e.Message);
        return e;
    }
}
