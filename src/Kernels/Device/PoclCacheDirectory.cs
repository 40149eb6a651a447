// Test: tests/IlgpuStyle.Stylize.Tests/Cli/PoclCacheDirectoryTests.cs (the directory PoCL would use, and `devices` run as a
// child process with a HOME it cannot write)
using System.Runtime.InteropServices;

namespace IlgpuStyle.Kernels;

/// <summary>
/// PoCL (OpenCL on CPUs) keeps compiled kernels in a cache directory — $POCL_CACHE_DIR when that names an existing
/// directory, else $XDG_CACHE_HOME/pocl/kcache, else $HOME/.cache/pocl/kcache (PoCL's docs, "POCL_CACHE_DIR") — and when
/// it cannot create that directory it offers no platform at all: no OpenCL device is listed and --device auto falls back
/// to the CPU simulator, some thousand times slower, without saying why. Seen with HOME=/nonexistent, as service
/// accounts and some containers have it. Before the first OpenCL call (<see cref="DeviceCatalog"/>'s contexts), when
/// POCL_CACHE_DIR is unset and PoCL's own directory cannot be made, this points POCL_CACHE_DIR at a directory in the
/// system's temporary folder — in the process's native environment, which PoCL's getenv reads (.NET's
/// Environment.SetEnvironmentVariable does not reach it on Unix).
/// </summary>
public static class PoclCacheDirectory
{
    private static readonly Lazy<string?> Applied = new(() => Apply(Environment.GetEnvironmentVariable));

    /// <summary>
    /// Makes PoCL's cache usable as described above, once per process; null when nothing had to change, else the line
    /// that says what was done.
    /// </summary>
    public static string? EnsureUsable() => Applied.Value;

    /// <summary>The directory PoCL would cache in given the environment <paramref name="env"/>, or null when POCL_CACHE_DIR chooses it.</summary>
    internal static string? Default(Func<string, string?> env)
    {
        if (!string.IsNullOrEmpty(env("POCL_CACHE_DIR"))) return null;
        if (env("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "pocl", "kcache");
        if (env("HOME") is { Length: > 0 } home) return Path.Combine(home, ".cache", "pocl", "kcache");
        return "/tmp/pocl/kcache";
    }

    private static string? Apply(Func<string, string?> env)
    {
        if (OperatingSystem.IsWindows() || Default(env) is not { } directory || Writable(directory)) return null;
        string fallback = Path.Combine(Path.GetTempPath(), $"ilgpu-style-pocl-{Environment.UserName}", "kcache");
        if (!Writable(fallback)) return null;
        try
        {
            if (setenv("POCL_CACHE_DIR", fallback, 1) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
        Environment.SetEnvironmentVariable("POCL_CACHE_DIR", fallback);
        return $"PoCL cannot create its kernel cache {directory}: POCL_CACHE_DIR={fallback} (set POCL_CACHE_DIR, XDG_CACHE_HOME or HOME to choose where its compiled kernels are kept)";
    }

    /// <summary>Whether <paramref name="directory"/> exists or can be made, and a file can be created in it.</summary>
    private static bool Writable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            string probe = Path.Combine(directory, $".ilgpu-style-probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return false;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
