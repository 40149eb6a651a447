using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>Weights prepared once give bit-for-bit the results of the per-call rearrangement.</summary>
public class PreparedConvTests
{
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void PreparedWeightsMatchPerCallLayoutBitwise(string device)
    {
        var gpu = Devices.Get(device);
        var xs = Shape4.Image(13, 9, 11);
        var ws = new Shape4(10, 13, 3, 3);
        using var x = gpu.FromHost(xs, TestData.Uniform(1, xs.Count));
        using var w = gpu.FromHost(ws, TestData.Uniform(2, ws.Count));
        using var b = gpu.FromHost(Shape4.Vector(10), TestData.Uniform(3, 10));
        using var dy = gpu.FromHost(Shape4.Image(10, 9, 11), TestData.Uniform(4, 990));
        using var prepared = Conv2d.Prepare3x3(w);
        using var y1 = gpu.Allocate(Shape4.Image(10, 9, 11));
        using var y2 = gpu.Allocate(Shape4.Image(10, 9, 11));
        Conv2d.Forward(x, w, b, y1, Conv2dParams.Same3x3, fuseRelu: true);
        Conv2d.Forward(x, prepared, b, y2, fuseRelu: true);
        Assert.Equal(y1.ToHost(), y2.ToHost());

        using var dx1 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        using var dx2 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        Conv2d.BackwardData(dy, w, dx1, Conv2dParams.Same3x3, accumulate: true);
        Conv2d.BackwardData(dy, prepared, dx2, accumulate: true);
        Assert.Equal(dx1.ToHost(), dx2.ToHost());
    }

    /// <summary>
    /// The tensor-core kernels' weight operand (Conv2d.TensorCoreOperand, made once per layer by PreparedConv3x3 and per
    /// call otherwise) holds, bit for bit, the weight each lane's fragment needs at the position the kernel reads it, rounded
    /// to the format as <see cref="TensorCoreFormat"/> defines it — built here by a loop over stages, 64-channel groups, taps,
    /// row tiles, lanes and fragment elements from the OIHW weights themselves, on every device (the layout kernel runs
    /// everywhere). Odd channel counts: zeros past the channels; 130 outputs: 3 groups padded to 4.
    /// </summary>
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void TensorCoreOperandHoldsTheRoundedWeightsInFragmentOrder(string device)
    {
        var gpu = Devices.Get(device);
        foreach (var ws in new[] { new Shape4(19, 7, 3, 3), new Shape4(130, 11, 3, 3) })
        {
            // Values with every low-bit pattern, ties included: uniform draws scaled over several binades.
            var values = TestData.Uniform(6, ws.Count).Select((v, i) => v * MathF.ScaleB(1f, i % 9 - 4)).ToArray();
            using var w = gpu.FromHost(ws, values);
            using var prepared = Conv2d.Prepare3x3(w);
            // TF32 as the device rounds it (to nearest even on CUDA sm_90+, else cvt.rna's ties away), TF32 to nearest even as
            // tiles may ask (the operand kernel's bit arithmetic, any device), BF16.
            var tf32 = new ConvTiles(ConvKernelKind.TensorCoreTf32, 1, 1, 8);
            var deviceTf32 = IlgpuStyle.Kernels.TensorCores.Tf32.HasNearestEven(gpu.Accelerator) ? TensorCoreFormat.Tf32NearestEven : TensorCoreFormat.Tf32;
            foreach (var (tiles, format) in new[]
                     {
                         (tf32, deviceTf32), (tf32 with { Tf32NearestEven = true }, TensorCoreFormat.Tf32NearestEven),
                         (new ConvTiles(ConvKernelKind.TensorCoreBf16, 1, 1, 16), TensorCoreFormat.Bf16),
                     })
            foreach (bool transpose in new[] { false, true })
            {
                var expected = tiles.Kind == ConvKernelKind.TensorCoreTf32
                    ? format.Round(FragmentOrder(values, ws, transpose, 8))
                    : PackedPairs(format.Round(FragmentOrder(values, ws, transpose, 16)));
                var got = prepared.DirectOperand(transpose, tiles).ToHost();
                Assert.Equal(expected.Length, got.Length);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(got[i]),
                        $"{ws} {format.Name} transpose={transpose} [{i}]: {got[i]:R}, expected {expected[i]:R}");
                Assert.Contains(got, v => v != 0);
            }
        }
    }

    /// <summary>
    /// The tensor-core operand unrounded, from OIHW weights: for stage k (input channels s·⌊k/3⌋ …, kernel row k mod 3;
    /// <paramref name="stageChannels"/> s = 8 for TF32), 64-output group r (as many as the outputs need, then one more when
    /// that is odd and above 1), tap kw, row tile i, lane (g = lane / 4, q = lane mod 4), the fragment (A[g][q],
    /// A[g + 8][q], A[g][q + 4], A[g + 8][q + 4]) of the tile's 16 outputs × 8 channels; A = the weight of (output, input
    /// channel) at (kh, kw), flipped and transposed for backward-data, 0 past the channels. With s = 16 (BF16) each of
    /// those four is a pair instead, the channel c (as for TF32, + 8 for the last two) then c + 4: the m16n8k16 registers
    /// a0 … a3 as the kernel numbers its k (<see cref="PackedPairs"/> packs them).
    /// </summary>
    private static float[] FragmentOrder(float[] w, Shape4 ws, bool transpose, int stageChannels)
    {
        int cout = ws.N, cin = ws.C, reduce = transpose ? cout : cin, outputs = transpose ? cin : cout;
        int groups = (outputs + 63) / 64;
        if (groups > 1 && groups % 2 == 1) groups++;
        int stages = (reduce + stageChannels - 1) / stageChannels * 3;
        (int, int)[] elements = stageChannels == 8 ? [(0, 0), (8, 0), (0, 4), (8, 4)] : [(0, 0), (0, 4), (8, 0), (8, 4), (0, 8), (0, 12), (8, 8), (8, 12)];
        var t = new List<float>();
        for (int k = 0; k < stages; k++)
        for (int r = 0; r < groups; r++)
        for (int kw = 0; kw < 3; kw++)
        for (int i = 0; i < 4; i++)
        for (int lane = 0; lane < 32; lane++)
            foreach (var (dm, dk) in elements)
            {
                int o = 64 * r + 16 * i + lane / 4 + dm, c = stageChannels * (k / 3) + lane % 4 + dk, kh = k % 3;
                float v = 0;
                if (o < outputs && c < reduce)
                    v = transpose ? w[((c * cin + o) * 3 + 2 - kh) * 3 + 2 - kw] : w[((o * cin + c) * 3 + kh) * 3 + kw];
                t.Add(v);
            }
        return t.ToArray();
    }

    /// <summary>Consecutive pairs (lo, hi) of BF16 values as .bf16x2 words read as floats: lo's upper 16 bits in bits 0–15, hi's in 16–31.</summary>
    private static float[] PackedPairs(float[] v) =>
        Enumerable.Range(0, v.Length / 2).Select(i => BitConverter.Int32BitsToSingle((int)(
            ((uint)BitConverter.SingleToInt32Bits(v[2 * i + 1]) & 0xFFFF0000u) | ((uint)BitConverter.SingleToInt32Bits(v[2 * i]) >> 16)))).ToArray();

    [Fact]
    public void PrepareRejectsNon3x3Weights()
    {
        var gpu = Devices.Get("cpu");
        using var w = gpu.Allocate(new Shape4(4, 3, 5, 5));
        var e = Assert.Throws<ArgumentException>(() => Conv2d.Prepare3x3(w));
        Assert.Contains("4×3×5×5", e.Message);
    }
}
