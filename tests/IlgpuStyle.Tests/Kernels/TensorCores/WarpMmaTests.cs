using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.TensorCores;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels; // not .TensorCores: the GPU run's test step filters on this namespace exactly

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// The tensor-core primitives (src/Kernels/TensorCores): TF32 and BF16 rounding against roundings written in double
/// arithmetic (Reference/Tf32Reference.cs, TensorCoreFormat), and the warp-level m16n8k8 TF32 and m16n8k16 BF16 products
/// against CPU loops on rounded inputs, on "cpu32" (the simulator
/// with 32-lane warps: the emulation) and "cuda" (the instructions; skips without a GPU). The fragment layout below is
/// written out again from the PTX ISA's table, independently of the library's.
/// </summary>
public class WarpMmaTests(ITestOutputHelper log)
{
    private static float ReferenceRound(float x) => Tf32Reference.Round(x);

    private static float Bits(uint b) => BitConverter.UInt32BitsToSingle(b);

    /// <summary>Values whose rounding is decided by the low 13 bits: exact ties (…1000000000000), one below, one above, both signs, several exponents.</summary>
    private static IEnumerable<float> TiesAndNeighbours() => Combinations(
        [0x3F800000, 0x3FFFE000, 0x40490000, 0x4B000000, 0x00800000, 0x7E000000, 0x3F7FE000], [0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF]);

    /// <summary>Every high | low bit pattern, both signs.</summary>
    private static IEnumerable<float> Combinations(uint[] highs, uint[] lows) =>
        from high in highs from low in lows from sign in new uint[] { 0, 0x80000000 } select Bits(sign | high | low);

    /// <summary>
    /// The values a rounding test checks: <paramref name="ties"/>, zeros, infinities, the largest finite values, the
    /// smallest subnormal, <paramref name="extraBits"/>, two fractions, and 20 000 random bit patterns.
    /// </summary>
    private static List<float> RoundingInputs(IEnumerable<float> ties, int seed, params uint[] extraBits)
    {
        var rng = new Random(seed);
        var values = new List<float>(ties)
        {
            0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, float.Epsilon, 1f / 3, -2f / 3,
        };
        values.AddRange(extraBits.Select(Bits));
        for (int i = 0; i < 20000; i++) values.Add(Bits((uint)rng.NextInt64(0, 1L << 32)));
        return values;
    }

    [Fact]
    public void EmulatedRoundingMatchesTheDefinitionIncludingTiesSubnormalsAndOverflow()
    {
        var values = RoundingInputs(TiesAndNeighbours(), 11, 0x00001000, 0x00003000, 0x00000FFF, 0x807FF000, 0x7F7FEFFF);
        int checkedCount = AssertSameBits("TF32", values.Select(x => (x, Tf32.RoundEmulated(x))), ReferenceRound);
        Assert.True(float.IsNaN(Tf32.RoundEmulated(float.NaN)));
        Assert.Equal(1f + 1f / 1024, Tf32.RoundEmulated(Bits(0x3F801000)));  // a tie rounds away from zero …
        Assert.Equal(-(1f + 1f / 1024), Tf32.RoundEmulated(Bits(0xBF801000))); // … on both sides
        Assert.Equal(1f, Tf32.RoundEmulated(Bits(0x3F800FFF)));
        Assert.Equal(float.PositiveInfinity, Tf32.RoundEmulated(float.MaxValue));
        log.WriteLine($"{checkedCount} values: emulated rounding = the definition, bit for bit");
    }

    /// <summary>Asserts each rounded value has the bits of reference(x), NaN inputs skipped; returns how many were compared.</summary>
    private static int AssertSameBits(string format, IEnumerable<(float X, float Rounded)> results, Func<float, float> reference)
    {
        int count = 0;
        foreach (var (x, rounded) in results.Where(r => !float.IsNaN(r.X)))
        {
            uint want = BitConverter.SingleToUInt32Bits(reference(x)), got = BitConverter.SingleToUInt32Bits(rounded);
            Assert.True(want == got, $"{format}({x:R} = 0x{BitConverter.SingleToUInt32Bits(x):X8}): expected 0x{want:X8}, got 0x{got:X8}");
            count++;
        }
        return count;
    }

    /// <summary>
    /// Rounds <paramref name="values"/> (ties and neighbours, then random normal values) with <paramref name="kernel"/> on
    /// the device and asserts the bits of <paramref name="reference"/>.
    /// </summary>
    private void AssertDeviceRounding(string device, string format, IEnumerable<float> values, Action<Index1D, View, View> kernel, Func<float, float> reference)
    {
        var gpu = Devices.Get(device);
        var rng = new Random(12);
        var all = values.Concat(Enumerable.Range(0, 4000).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-60, 60))))).ToArray();
        using var x = gpu.FromHost(Shape4.Vector(all.Length), all);
        using var y = gpu.Allocate(Shape4.Vector(all.Length));
        gpu.Kernel(kernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View>(kernel))(all.Length, x.View, y.View);
        var got = y.ToHost();
        AssertSameBits($"[{device}] {format}", all.Zip(got), reference);
        log.WriteLine($"[{device}] {all.Length} values rounded to {format} as defined");
    }

    private static void RoundKernel(Index1D i, View x, View y) => y[i] = Tf32.Round(x[i]);

    /// <summary>
    /// Tf32.Round on the device (cvt.rna.tf32.f32 on CUDA) equals the definition for normal values, ties included.
    /// (Subnormals and overflow are checked on the emulation only: the hardware's behaviour there is not asserted.)
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void DeviceRoundingMatchesTheDefinition(string device) => AssertDeviceRounding(device, "TF32", TiesAndNeighbours(), RoundKernel, ReferenceRound);

    private const int Warps = 2;

    /// <summary>This lane's C fragment of the 16×8 row-major matrix at <paramref name="co"/> (c0 = C[g][2t], c1 = C[g][2t + 1], c2, c3 eight rows down).</summary>
    private static MmaAccumulator LoadC(View c, int co, int g, int t) => new()
    {
        C0 = c[co + g * 8 + 2 * t],
        C1 = c[co + g * 8 + 2 * t + 1],
        C2 = c[co + (g + 8) * 8 + 2 * t],
        C3 = c[co + (g + 8) * 8 + 2 * t + 1],
    };

    /// <summary>Stores this lane's D fragment where <see cref="LoadC"/> reads C.</summary>
    private static void StoreD(View d, int co, int g, int t, MmaAccumulator acc)
    {
        d[co + g * 8 + 2 * t] = acc.C0;
        d[co + g * 8 + 2 * t + 1] = acc.C1;
        d[co + (g + 8) * 8 + 2 * t] = acc.C2;
        d[co + (g + 8) * 8 + 2 * t + 1] = acc.C3;
    }

    /// <summary>
    /// Warp w of one group computes D_w = round(A_w)·round(B_w) + C_w, A_w 16×8 and C_w, D_w 16×8 row-major, B_w 8×8 row-major
    /// (B[k][n] at k·8 + n). Fragments as the PTX ISA lays them out for m16n8k8 .tf32 (g = lane / 4, t = lane mod 4).
    /// </summary>
    private static void MmaKernel(View a, View b, View c, View d)
    {
        int warp = Group.IdxX / 32, lane = Group.IdxX % 32, g = lane / 4, t = lane % 4;
        int ao = warp * 128, bo = warp * 64, co = warp * 128;
        var exchange = SharedMemory.Allocate<float>(Warps * WarpMma.ExchangeFloats).SubView(warp * WarpMma.ExchangeFloats, WarpMma.ExchangeFloats);
        var acc = LoadC(c, co, g, t);
        acc = WarpMma.Tf32(
            Tf32.Round(a[ao + g * 8 + t]), Tf32.Round(a[ao + (g + 8) * 8 + t]),
            Tf32.Round(a[ao + g * 8 + t + 4]), Tf32.Round(a[ao + (g + 8) * 8 + t + 4]),
            Tf32.Round(b[bo + t * 8 + g]), Tf32.Round(b[bo + (t + 4) * 8 + g]),
            acc, exchange);
        StoreD(d, co, g, t, acc);
    }

    /// <summary>
    /// Two warps of one group each multiply a random 16×8 by an 8×8 and add a 16×8. Expected: the sum in double of the
    /// TF32-rounded inputs' products (exact) and C; the device sums 9 FP32 terms, so |D − D_ref| ≤ 9·2⁻²⁴·(Σ_k|a_k b_k| + |c|).
    /// Against the unrounded inputs the error is of TF32's size instead (logged), which shows the rounding happened.
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void WarpProductMatchesCpuLoopOnTf32RoundedInputs(string device) =>
        CheckWarpProduct(device, "TF32", 8, MmaKernel, ReferenceRound, seed: 31);

    /// <summary>
    /// Runs <paramref name="kernel"/> on random A (Warps × 16 × K), B (Warps × K × 8) and C (Warps × 16 × 8) and checks D
    /// against the double sum of the rounded inputs' products (exact) and C: the device sums K + 1 FP32 terms, so
    /// |D − D_ref| ≤ (K + 1)·2⁻²⁴·(Σ_k|a_k b_k| + |c|). The error against the unrounded inputs is logged (the format's size).
    /// </summary>
    private void CheckWarpProduct(string device, string format, int k, Action<View, View, View, View> kernel, Func<float, float> round, int seed)
    {
        var gpu = Devices.Get(device);
        var a = TestData.Uniform(seed, Warps * 16 * k);
        var b = TestData.Uniform(seed + 1, Warps * k * 8);
        var c = TestData.Uniform(seed + 2, Warps * 128);
        using var ta = gpu.FromHost(Shape4.Vector(a.Length), a);
        using var tb = gpu.FromHost(Shape4.Vector(b.Length), b);
        using var tc = gpu.FromHost(Shape4.Vector(c.Length), c);
        using var td = gpu.Allocate(Shape4.Vector(c.Length));
        td.Fill(float.NaN);
        gpu.Kernel(kernel, acc => acc.LoadStreamKernel<View, View, View, View>(kernel))(new KernelConfig(1, 32 * Warps), ta.View, tb.View, tc.View, td.View);
        var d = td.ToHost();

        double worst = 0, unroundedWorst = 0, relative = (k + 1) * Math.ScaleB(1, -24);
        for (int w = 0; w < Warps; w++)
        for (int i = 0; i < 16; i++)
        for (int n = 0; n < 8; n++)
        {
            double sum = c[w * 128 + i * 8 + n], magnitude = Math.Abs(sum), unrounded = sum;
            for (int j = 0; j < k; j++)
            {
                float x = a[w * 16 * k + i * k + j], y = b[w * k * 8 + j * 8 + n];
                double p = (double)round(x) * round(y);
                sum += p;
                magnitude += Math.Abs(p);
                unrounded += (double)x * y;
            }
            double got = d[w * 128 + i * 8 + n], err = Math.Abs(got - sum), bound = relative * magnitude;
            Assert.True(err <= bound, $"[{device}] {format} warp {w} D[{i}][{n}] = {got:R}, expected {sum:R} (|err| {err:E2} > bound {bound:E2})");
            worst = Math.Max(worst, err / magnitude);
            unroundedWorst = Math.Max(unroundedWorst, Math.Abs(got - unrounded) / magnitude);
        }
        log.WriteLine($"[{device}] {format}: max |D − ref|/Σ|terms|: {worst:E2} vs rounded inputs (bound {relative:E2}), {unroundedWorst:E2} vs unrounded inputs");
    }

    private static float Bf16Reference(float x) => TensorCoreFormat.Bf16.Round(x);

    /// <summary>Values whose BF16 rounding is decided by the low 16 bits: ties with an even and an odd kept bit, one below, one above.</summary>
    private static IEnumerable<float> Bf16TiesAndNeighbours() => Combinations(
        [0x3F800000, 0x3F810000, 0x40490000, 0x4B7F0000, 0x00800000, 0x7E000000, 0x3F7F0000, 0x00010000], [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF]);

    [Fact]
    public void Bf16RoundingMatchesTheDefinitionIncludingTiesSubnormalsAndOverflow()
    {
        var values = RoundingInputs(Bf16TiesAndNeighbours(), 13, 0x00008000, 0x00018000, 0x00007FFF, 0x807F8000, 0x7F7F7FFF);
        int checkedCount = AssertSameBits("BF16", values.Select(x => (x, Bf16.Round(x))), Bf16Reference);
        Assert.Equal(1f, Bf16.Round(Bits(0x3F808000)));                    // a tie rounds to the even neighbour: down …
        Assert.Equal(Bits(0x3F820000), Bf16.Round(Bits(0x3F818000)));     // … or up
        Assert.Equal(float.PositiveInfinity, Bf16.Round(float.MaxValue));
        foreach (uint nan in new uint[] { 0x7FC00000, 0x7F800001, 0xFF800100, 0x7FFFFFFF })
            Assert.True(float.IsNaN(Bf16.Round(Bits(nan))), $"BF16 of the NaN 0x{nan:X8} is not a NaN");
        Assert.Equal(0x3F80_4049u, Bf16.Pack(Bits(0x40490000), Bits(0x3F800000)));
        Assert.Equal(Bits(0x40490000), Bf16.Unpack(0x3F80_4049u, 0));
        Assert.Equal(Bits(0x3F800000), Bf16.Unpack(0x3F80_4049u, 1));
        log.WriteLine($"{checkedCount} values: BF16 rounding = the definition, bit for bit");
    }

    private static void Bf16RoundKernel(Index1D i, View x, View y) => y[i] = Bf16.Round(x[i]);

    /// <summary>Bf16.Round compiled for the device (the same integer code on every backend) equals the definition.</summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void DeviceBf16RoundingMatchesTheDefinition(string device) => AssertDeviceRounding(device, "BF16", Bf16TiesAndNeighbours(), Bf16RoundKernel, Bf16Reference);

    /// <summary>
    /// Warp w computes D_w = bf16(A_w)·bf16(B_w) + C_w, A_w 16×16 row-major, B_w 16×8 row-major (B[k][n] at k·8 + n),
    /// C_w and D_w 16×8. Fragments as the PTX ISA lays them out for m16n8k16 .bf16, element low to high in each register
    /// (g = lane / 4, t = lane mod 4): a0 = {A[g][2t], A[g][2t + 1]}, a1 = {A[g + 8][2t], …}, a2, a3 at columns + 8;
    /// b0 = {B[2t][g], B[2t + 1][g]}, b1 at rows + 8.
    /// </summary>
    private static void MmaBf16Kernel(View a, View b, View c, View d)
    {
        int warp = Group.IdxX / 32, lane = Group.IdxX % 32, g = lane / 4, t = lane % 4;
        int ao = warp * 256, bo = warp * 128, co = warp * 128;
        var exchange = SharedMemory.Allocate<float>(Warps * WarpMma.ExchangeFloats).SubView(warp * WarpMma.ExchangeFloats, WarpMma.ExchangeFloats);
        var acc = LoadC(c, co, g, t);
        acc = WarpMma.Bf16(PairAlongRow(a, ao + g * 16 + 2 * t), PairAlongRow(a, ao + (g + 8) * 16 + 2 * t),
            PairAlongRow(a, ao + g * 16 + 2 * t + 8), PairAlongRow(a, ao + (g + 8) * 16 + 2 * t + 8),
            PairDown(b, bo + 2 * t * 8 + g), PairDown(b, bo + (2 * t + 8) * 8 + g), acc, exchange);
        StoreD(d, co, g, t, acc);
    }

    /// <summary>A .bf16x2 register of m[i] (low) and m[i + 1] (high), rounded.</summary>
    private static uint PairAlongRow(View m, int i) => Bf16.Pack(Bf16.Round(m[i]), Bf16.Round(m[i + 1]));

    /// <summary>A .bf16x2 register of m[i] (low) and m[i + 8] (high, the next row of an 8-wide matrix), rounded.</summary>
    private static uint PairDown(View m, int i) => Bf16.Pack(Bf16.Round(m[i]), Bf16.Round(m[i + 8]));

    /// <summary>
    /// Two warps each multiply a random 16×16 by a 16×8 and add a 16×8. Expected: the double sum of the BF16-rounded
    /// inputs' products (exact) and C; the device sums 17 FP32 terms, so |D − D_ref| ≤ 17·2⁻²⁴·(Σ_k|a_k b_k| + |c|).
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.TensorCores), MemberType = typeof(Devices))]
    public void Bf16WarpProductMatchesCpuLoopOnRoundedInputs(string device) =>
        CheckWarpProduct(device, "BF16", 16, MmaBf16Kernel, Bf16Reference, seed: 34);
}
