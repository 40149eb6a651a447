using System.CommandLine;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>`--precision fp32|tf32|bf16`, shared by stylize and bench (default fp32).</summary>
public static class PrecisionOption
{
    public static Option<string> Create()
    {
        var option = new Option<string>("--precision")
        {
            Description = "Arithmetic of the convolutions and Gram matrices: fp32, tf32 (tensor cores: inputs rounded to 10 " +
                          "mantissa bits, FP32 sums) or bf16 (tensor cores, 7 mantissa bits, FP32 sums); tf32 and bf16 need a CUDA " +
                          "device of compute capability 8.0+ (other devices say so and run fp32).",
            DefaultValueFactory = _ => "fp32",
        };
        option.AcceptOnlyFromAmong("fp32", "tf32", "bf16");
        return option;
    }

    public static Precision Read(ParseResult parse, Option<string> option) =>
        Precisions.Parse(parse.GetValue(option) ?? "fp32");
}
