namespace IlgpuStyle.Kernels;

/// <summary>
/// The user's cache folder for this tool: ($XDG_CACHE_HOME, when it is an absolute path, else $HOME/.cache)/ilgpu-style.
/// Holds the converted weights (WeightsLocator) and the autotuner's plans (PlanCache).
/// </summary>
public static class UserCache
{
    /// <summary>The folder, reading the environment through <paramref name="getEnv"/> (tests pass their own).</summary>
    public static string Directory(Func<string, string?> getEnv)
    {
        var xdg = getEnv("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(getEnv("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "ilgpu-style");
    }
}
