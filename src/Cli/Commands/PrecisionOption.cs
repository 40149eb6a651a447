using System.CommandLine;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>`--precision fp32|tf32`, shared by stylize and bench (default fp32).</summary>
public static class PrecisionOption
{
    public static Option<string> Create()
    {
        var option = new Option<string>("--precision")
        {
            Description = "Arithmetic of the convolutions and Gram matrices: fp32, or tf32 (tensor cores: inputs rounded to 10 " +
                          "mantissa bits, FP32 sums; CUDA devices of compute capability 8.0+; other devices say so and run fp32).",
            DefaultValueFactory = _ => "fp32",
        };
        option.AcceptOnlyFromAmong("fp32", "tf32");
        return option;
    }

    public static Precision Read(ParseResult parse, Option<string> option) =>
        parse.GetValue(option) == "tf32" ? Precision.Tf32 : Precision.Fp32;
}
