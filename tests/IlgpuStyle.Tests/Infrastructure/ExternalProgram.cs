using System.Diagnostics;

namespace IlgpuStyle.Tests;

/// <summary>A program other than the CLI (ptxas, python3, bash) run to its end: exit code and stdout + stderr.</summary>
public static class ExternalProgram
{
    /// <summary>Runs <paramref name="exe"/> with <paramref name="args"/>; throws <see cref="System.ComponentModel.Win32Exception"/> when it cannot be started.</summary>
    public static (int Code, string Output) Run(string exe, params string[] args)
    {
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
