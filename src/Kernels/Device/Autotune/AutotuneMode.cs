namespace IlgpuStyle.Kernels;

/// <summary>
/// How a device's <see cref="TuningPlan"/> is chosen when it opens (<see cref="Autotuner"/>): <see cref="Off"/> takes
/// the table of defaults; <see cref="Quick"/> and <see cref="Full"/> time candidate plans the first time a device (name,
/// driver, library version) is met and keep the fastest in the user's cache, so later runs start at once.
/// </summary>
public enum AutotuneMode
{
    /// <summary>The table of defaults (<see cref="TuningPlan.Default"/>); nothing is timed or cached.</summary>
    Off,

    /// <summary>A few candidates on three VGG19 layer shapes at 128 px: seconds, once per device.</summary>
    Quick,

    /// <summary>More candidates (group shapes, row-store threshold, Gram split target) on five shapes at 256 px: a minute or two, once per device.</summary>
    Full,
}

public static class AutotuneModes
{
    /// <summary>The variable that sets the mode when the command line does not (off | quick | full).</summary>
    public const string EnvironmentVariable = "ILGPU_STYLE_AUTOTUNE";

    /// <summary>The mode when neither the option nor the variable says: quick (the first run on a device pays seconds).</summary>
    public const AutotuneMode Default = AutotuneMode.Quick;

    /// <summary>Reads off | quick | full (any case); throws <see cref="ArgumentException"/> naming <paramref name="source"/> otherwise.</summary>
    public static AutotuneMode Parse(string text, string source) => text.Trim().ToLowerInvariant() switch
    {
        "off" => AutotuneMode.Off,
        "quick" => AutotuneMode.Quick,
        "full" => AutotuneMode.Full,
        _ => throw new AutotuneModeException($"{source} '{text}' is not one of off, quick, full."),
    };

    /// <summary>The option's value if given, else <see cref="EnvironmentVariable"/>, else <see cref="Default"/>.</summary>
    public static AutotuneMode Resolve(AutotuneMode? option)
    {
        if (option is { } mode) return mode;
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(env) ? Default : Parse(env, EnvironmentVariable);
    }
}

/// <summary>A bad autotuning mode (the variable's value): the user's input, one line, exit code 2 in the CLI.</summary>
public sealed class AutotuneModeException(string message) : ArgumentException(message);
