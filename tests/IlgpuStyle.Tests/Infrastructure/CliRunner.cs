namespace IlgpuStyle.Tests;

/// <summary>Runs `ilgpu-style` in-process (Program.Main) and captures stdout, stderr and the exit code.</summary>
public static class CliRunner
{
    private static readonly object Gate = new();

    public static (int ExitCode, string Out, string Err) Run(params string[] args) => Run(null, args);

    /// <summary>Runs with extra environment variables set for the duration of the call.</summary>
    public static (int ExitCode, string Out, string Err) Run(IReadOnlyDictionary<string, string?>? env, params string[] args)
    {
        lock (Gate)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var saved = env?.ToDictionary(kv => kv.Key, kv => Environment.GetEnvironmentVariable(kv.Key));
            using var outWriter = new StringWriter();
            using var errWriter = new StringWriter();
            try
            {
                if (env is not null)
                    foreach (var (k, v) in env) Environment.SetEnvironmentVariable(k, v);
                Console.SetOut(outWriter);
                Console.SetError(errWriter);
                int code = IlgpuStyle.Cli.Program.Main(args);
                return (code, outWriter.ToString(), errWriter.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
                if (saved is not null)
                    foreach (var (k, v) in saved) Environment.SetEnvironmentVariable(k, v);
            }
        }
    }
}
