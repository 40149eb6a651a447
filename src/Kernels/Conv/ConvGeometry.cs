namespace IlgpuStyle.Kernels;

/// <summary>
/// Every size a convolution kernel needs, passed to the device as one struct (batch N = 1, NCHW).
/// Input 1×Cin×H×W, weights Cout×Cin×KH×KW (OIHW), output 1×Cout×OutH×OutW. All index arithmetic is 32-bit.
/// Built and checked by <see cref="Create"/>; public only because ILGPU's CPU backend needs kernel
/// parameter types to be visible to its generated code.
/// </summary>
public readonly struct ConvGeometry
{
    public readonly int Cin, H, W;
    public readonly int Cout, OutH, OutW;
    public readonly int KH, KW, SH, SW, PH, PW;

    internal ConvGeometry(int cin, int h, int w, int cout, int outH, int outW, Conv2dParams p)
    {
        Cin = cin; H = h; W = w;
        Cout = cout; OutH = outH; OutW = outW;
        KH = p.KernelH; KW = p.KernelW; SH = p.StrideH; SW = p.StrideW; PH = p.PadH; PW = p.PadW;
    }

    /// <summary>KH·KW, the taps of one (output, input) channel pair.</summary>
    public int Taps => KH * KW;

    /// <summary>OutH·OutW, the pixels of one output plane (the reduction length of the weight gradient).</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>
    /// Rows of input a tile of <paramref name="tile"/> output rows reads: (tile − 1)·SH + KH.
    /// </summary>
    public int InputPatchH(int tile) => (tile - 1) * SH + KH;

    public int InputPatchW(int tile) => (tile - 1) * SW + KW;

    /// <summary>
    /// Rows of the output gradient a tile of <paramref name="tile"/> input rows gathers from:
    /// input row iy receives from output rows oy with oy·SH + kh − PH = iy, kh ∈ [0, KH), which for
    /// tile consecutive rows span at most (tile + KH − 2) / SH + 1 rows.
    /// </summary>
    public int GradPatchH(int tile) => (tile + KH - 2) / SH + 1;

    public int GradPatchW(int tile) => (tile + KW - 2) / SW + 1;

    /// <summary>⌈a / b⌉ for any sign of a and b &gt; 0.</summary>
    public static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -(-a / b);

    /// <summary>
    /// Validates shapes of one convolution and returns its geometry. <paramref name="input"/> is x (or dx),
    /// <paramref name="output"/> is y (or dy); names are used in error messages, which always show both shapes.
    /// </summary>
    public static ConvGeometry Create(string op, string inputName, Shape4 input, string weightName, Shape4 weight,
        string outputName, Shape4 output, Conv2dParams p)
    {
        p.Validate();
        ShapeCheck.BatchOne(op, inputName, input);
        ShapeCheck.BatchOne(op, outputName, output);
        if (weight.H != p.KernelH || weight.W != p.KernelW)
            throw new ArgumentException(
                $"{op}: {weightName} has shape {weight} but {p} needs weights of shape Cout×Cin×{p.KernelH}×{p.KernelW}.");
        if (weight.C != input.C)
            throw new ArgumentException(
                $"{op}: {inputName} has shape {input} ({input.C} channels) but {weightName} has shape {weight} " +
                $"({weight.C} input channels); weights are Cout×Cin×KH×KW and Cin must match.");
        var expected = p.OutputShape(input, weight.N);
        if (output != expected)
            throw new ArgumentException(
                $"{op}: {outputName} has shape {output} but {inputName} of shape {input} convolved with " +
                $"{weightName} of shape {weight} ({p}) gives {expected}.");
        return new ConvGeometry(input.C, input.H, input.W, weight.N, expected.H, expected.W, p);
    }
}
