using Xunit;

namespace IlgpuStyle.Tests.Bench;

/// <summary>
/// The prepared GPU run's scripts (bench/gpu), checked where CI can: their Python tests (ncu_summary.py's parsing of
/// Nsight Compute's CSV pages) and the shell script's syntax. They run on the GPU machine, where a mistake costs
/// device minutes.
/// </summary>
public class GpuScriptsTests
{
    [Fact]
    public void PythonTestsOfTheGpuScriptsPass()
    {
        var (code, output) = Run("python3", "-m", "unittest", "discover", "-s", Repo.File("bench", "gpu"), "-p", "test_*.py");
        Assert.SkipWhen(code is null, "no python3 on this machine: bench/gpu's Python tests not run");
        Assert.True(code == 0, output);
        Assert.Contains("OK", output);
    }

    [Fact]
    public void RunOnGpuScriptParses()
    {
        var (code, output) = Run("bash", "-n", Repo.File("bench", "gpu", "run-on-gpu.sh"));
        Assert.SkipWhen(code is null, "no bash on this machine");
        Assert.True(code == 0, output);
    }

    /// <summary>The exit code and output of a program (<see cref="ExternalProgram.Run"/>), or a null code when it cannot be started.</summary>
    private static (int? Code, string Output) Run(string program, params string[] args)
    {
        try
        {
            return ExternalProgram.Run(program, args);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (null, "");
        }
    }
}
