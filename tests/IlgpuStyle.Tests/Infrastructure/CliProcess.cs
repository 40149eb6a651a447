using System.Diagnostics;

namespace IlgpuStyle.Tests;

/// <summary>`ilgpu-style` as a real child process (signals, kills, exit codes), beside <see cref="CliRunner"/>'s in-process runs.</summary>
public static class CliProcess
{
    /// <summary>
    /// Starts the CLI with <paramref name="args"/> (and <paramref name="environment"/> added to this process's);
    /// stdout and stderr are redirected (read them, or they fill up).
    /// </summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ilgpu-style"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>
    /// Runs the CLI to its end (at most 2 minutes, else the test fails) and returns its exit code, stdout and stderr,
    /// both read as they come so that neither pipe fills up.
    /// </summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(args, environment);
        var token = Xunit.TestContext.Current.CancellationToken;
        var stderr = process.StandardError.ReadToEndAsync(token);
        string stdout = await process.StandardOutput.ReadToEndAsync(token);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"ilgpu-style {string.Join(' ', args)} did not finish within 2 minutes");
        }
        return (process.ExitCode, stdout, await stderr);
    }

    /// <summary>`stylize` of tubingen × starry night (shared/images) with the real weights, writing <paramref name="output"/>.</summary>
    public static string[] StylizeTubingen(string output)
    {
        var images = SharedData.RequireOrSkip("images");
        return ["stylize", "--content", Path.Combine(images, "tubingen.jpg"), "--style", Path.Combine(images, "starry_night.jpg"),
            "--output", output, "--weights", RealWeights.Path];
    }
}
