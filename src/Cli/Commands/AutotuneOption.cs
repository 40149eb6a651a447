using System.CommandLine;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>`--autotune off|quick|full`, shared by stylize and bench (absent: ILGPU_STYLE_AUTOTUNE, else quick).</summary>
public static class AutotuneOption
{
    public static Option<string?> Create()
    {
        var option = new Option<string?>("--autotune")
        {
            Description = "How the kernels' tuning plan is chosen: off (the defaults), quick (time a few candidates the first time a " +
                          "device is met; seconds) or full (more candidates; a minute or two). The choice is kept in the user cache " +
                          $"(~/.cache/ilgpu-style/tuning-plans.json). Default: ${AutotuneModes.EnvironmentVariable}, else quick; " +
                          $"{TuningPlan.EnvironmentVariable} overrides both.",
        };
        option.AcceptOnlyFromAmong("off", "quick", "full");
        return option;
    }

    public static AutotuneMode? Read(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { } text ? AutotuneModes.Parse(text, "--autotune") : null;
}
