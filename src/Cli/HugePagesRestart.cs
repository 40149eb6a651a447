// Test: tests/IlgpuStyle.Stylize.Tests/Cli/HugePagesRestartTests.cs (the decision, and the restarted CLI as a child process)
using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;

namespace IlgpuStyle.Cli;

/// <summary>
/// Restarts the CLI once, at the top of Main, with glibc's <c>glibc.malloc.hugetlb=1</c> tunable: malloc then asks for
/// transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>) on the large blocks it maps — PoCL's device buffers on a CPU
/// among them — so first touching a buffer costs one page fault per 2 MiB instead of one per 4 KiB. glibc reads its
/// tunables only when a process starts, hence the restart: <c>execve</c> of the same executable with the same
/// arguments (same process id, same open standard streams), before anything else has run.
/// Measured on a 2-vCPU AMD EPYC (Zen 5) VM, where a page fault is expensive: a 64 px one-iteration stylize 9.2 → 7.0 s
/// wall (317 000 → 119 000 page faults), the StylizeEndToEndTests class 152 → 96 s (doc/PERFORMANCE.md).
/// Only on Linux, when the kernel's THP mode is <c>madvise</c> (with <c>always</c> it is on anyway, with <c>never</c> it
/// cannot be), and only when GLIBC_TUNABLES does not name the tunable yet: <c>GLIBC_TUNABLES=glibc.malloc.hugetlb=0</c>
/// turns it off. A failed execve returns and the CLI carries on as it is.
/// </summary>
internal static class HugePagesRestart
{
    internal const string Variable = "GLIBC_TUNABLES";
    internal const string Tunable = "glibc.malloc.hugetlb";
    private const string ThpMode = "/sys/kernel/mm/transparent_hugepage/enabled";

    /// <summary>Restarts the process as described above when it is this CLI's own process and the restart applies.</summary>
    public static void RestartIfUseful()
    {
        // In-process callers of Program.Main (the tests) are not restarted: only the ilgpu-style executable itself.
        if (!OperatingSystem.IsLinux() || Assembly.GetEntryAssembly() != typeof(HugePagesRestart).Assembly) return;
        if (Tunables(Environment.GetEnvironmentVariable(Variable), ReadMode()) is not string tunables) return;
        string cmdline;
        try { cmdline = File.ReadAllText("/proc/self/cmdline"); }
        catch (IOException) { return; }
        // Each argument ends in a NUL (empty arguments too); arguments that are not UTF-8 would not survive the round trip.
        if (!cmdline.EndsWith('\0') || cmdline.Contains('\uFFFD')) return;
        string[] argv = cmdline[..^1].Split('\0');
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Where(e => (string)e.Key != Variable).Select(e => $"{e.Key}={e.Value}")
            .Append($"{Variable}={tunables}").ToArray();
        if (environment.Any(e => e.Contains('\uFFFD'))) return;   // nor a variable that is not UTF-8
        try { execve("/proc/self/exe", [.. argv, null], [.. environment, null]); }   // returns only if it failed
        catch (Exception e) when (e is MarshalDirectiveException or DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>
    /// The GLIBC_TUNABLES value to restart with, given its current value and the contents of the kernel's THP mode file;
    /// null when no restart applies (the tunable already named, THP not in madvise mode, or the mode unknown).
    /// </summary>
    internal static string? Tunables(string? current, string? thpMode)
    {
        if (thpMode is null || !thpMode.Contains("[madvise]", StringComparison.Ordinal)) return null;
        if (Setting(current) is not null) return null;
        return string.IsNullOrEmpty(current) ? $"{Tunable}=1" : $"{current}:{Tunable}=1";
    }

    /// <summary>The tunable's entry in a GLIBC_TUNABLES value ("glibc.malloc.hugetlb=1"; the last if named twice), or null.</summary>
    private static string? Setting(string? current) =>
        (current ?? "").Split(':').LastOrDefault(t => t.Split('=')[0] == Tunable);

    /// <summary>
    /// One line on the huge pages of this process's malloc (`devices --verbose`); null off Linux. With the restart done,
    /// "on for malloc's large blocks (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)".
    /// </summary>
    public static string? Describe() =>
        OperatingSystem.IsLinux() ? Describe(Environment.GetEnvironmentVariable(Variable), ReadMode()) : null;

    /// <summary>The kernel's THP mode file ("always [madvise] never"), or null where it cannot be read.</summary>
    private static string? ReadMode()
    {
        try { return File.ReadAllText(ThpMode); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    internal static string Describe(string? current, string? thpMode)
    {
        string prefix = "host memory: transparent huge pages";
        if (thpMode is null) return $"{prefix} unknown ({ThpMode} unreadable)";
        if (thpMode.Contains("[always]", StringComparison.Ordinal)) return $"{prefix} on for every large block (THP mode always)";
        if (!thpMode.Contains("[madvise]", StringComparison.Ordinal)) return $"{prefix} off (THP mode {thpMode.Trim()})";
        bool on = Setting(current)?.Split('=').ElementAtOrDefault(1) is string v && v != "0";
        return on ? $"{prefix} on for malloc's large blocks ({Variable}={current})"
            : $"{prefix} off ({Variable}={current ?? ""}; THP mode madvise)";
    }

    // LPStr is UTF-8 on Linux (.NET's ANSI encoding there); string arrays take no LPUTF8Str.
    [DllImport("libc", SetLastError = true)]
    private static extern int execve(
        [MarshalAs(UnmanagedType.LPUTF8Str)] string path,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] argv,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] envp);
}
