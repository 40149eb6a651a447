using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// <see cref="ConstantDivision.Quotient"/> against C#'s / for the divisors the kernels use and others (1, powers of two,
/// the worst remainders' neighbours), at both ends of the promised range 0 ≤ x &lt; 2³² / d and across it; every stage
/// index for d = 3. On the host: the kernels run the same expression, and PtxasTests shows what ptxas makes of it.
/// </summary>
public class ConstantDivisionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(16)]
    [InlineData(18)]
    [InlineData(100)]
    [InlineData(641)]
    [InlineData(65_535)]
    [InlineData(1 << 20)]
    [InlineData(int.MaxValue)]
    public void QuotientIsIntegerDivisionOverItsRange(int d)
    {
        long end = Math.Min((1L << 32) / d, (long)int.MaxValue + 1); // exclusive
        var random = new Random(d);
        var xs = Enumerable.Range(0, 4096).Select(i => (long)i)                           // the start, every remainder
            .Concat(Enumerable.Range(1, 4096).Select(i => end - i))                         // the end of the range
            .Concat(Enumerable.Range(0, 20_000).Select(_ => random.NextInt64(0, end)))      // between
            .Concat(Enumerable.Range(1, 2000).SelectMany(q => new[] { (long)q * d - 1, (long)q * d })) // around multiples
            .Where(x => x >= 0 && x < end);
        foreach (long x in xs)
            Assert.True(ConstantDivision.Quotient((int)x, d) == x / d, $"{x} / {d}: {ConstantDivision.Quotient((int)x, d)}, not {x / d}");
    }

    [Fact]
    public void ByThreeEveryStageIndex()
    {
        // Stage indices of the tensor-core convolution (3 per chunk of 8 input channels) and shared-SGEMM taps.
        for (int k = 0; k < 1 << 22; k++)
            Assert.True(ConstantDivision.Quotient(k, 3) == k / 3, $"{k} / 3");
        Assert.Equal(int.MaxValue / 3, ConstantDivision.Quotient(int.MaxValue, 3));
    }
}
