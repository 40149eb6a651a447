using IlgpuStyle.Cli;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// The CLI's restart with glibc's huge-page tunable (HugePagesRestart): when it applies, what it sets, and — as a real
/// child process — that the restarted CLI has the tunable, keeps its arguments byte for byte, and is left alone when the
/// user named the tunable.
/// </summary>
public class HugePagesRestartTests
{
    private const string Madvise = "always [madvise] never\n";

    [Theory]
    [InlineData(null, Madvise, "glibc.malloc.hugetlb=1")]
    [InlineData("", Madvise, "glibc.malloc.hugetlb=1")]
    [InlineData("glibc.malloc.arena_max=2", Madvise, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1")]
    [InlineData("glibc.malloc.hugetlb=0", Madvise, null)]                      // the user's choice stands
    [InlineData("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", Madvise, null)] // already restarted
    [InlineData(null, "[always] madvise never\n", null)]                       // the kernel gives huge pages anyway
    [InlineData(null, "always madvise [never]\n", null)]                       // it cannot
    [InlineData(null, null, null)]                                             // no THP file (not Linux, or no THP)
    public void TheRestartAppliesOnlyInMadviseModeWithoutTheTunable(string? current, string? mode, string? expected) =>
        Assert.Equal(expected, HugePagesRestart.Tunables(current, mode));

    [Theory]
    [InlineData("glibc.malloc.hugetlb=1", Madvise, "on for malloc's large blocks (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)")]
    [InlineData("glibc.malloc.hugetlb=0", Madvise, "off (GLIBC_TUNABLES=glibc.malloc.hugetlb=0; THP mode madvise)")]
    [InlineData(null, Madvise, "off (GLIBC_TUNABLES=; THP mode madvise)")]
    [InlineData(null, "[always] madvise never\n", "on for every large block (THP mode always)")]
    [InlineData(null, "always madvise [never]\n", "off (THP mode always madvise [never])")]
    public void TheDescriptionSaysWhetherMallocGetsHugePages(string? current, string? mode, string expected) =>
        Assert.Equal("host memory: transparent huge pages " + expected, HugePagesRestart.Describe(current, mode));

    [Fact]
    public async Task TheRestartedCliHasTheTunableAndTheSameArguments()
    {
        var mode = ThpMode();
        // Arguments with a space, a non-ASCII letter and an empty one must reach the restarted process unchanged.
        var (code, stdout, stderr) = await Run(["stylize", "-c", "/nonexistent/a b ü.jpg", "-s", "/nonexistent/x.jpg"], "");
        Assert.Equal(2, code);
        Assert.Equal("error: cannot read image '/nonexistent/a b ü.jpg': file not found", stderr.Trim());
        (code, _, stderr) = await Run(["stylize", "-c", "/nonexistent/a b ü.jpg", "-s", "/nonexistent/x.jpg", "--init", ""], "");
        Assert.Equal(2, code);
        Assert.Equal("error: --init '' is not a file name.", stderr.Trim());
        (code, stdout, _) = await Run(["devices", "--verbose"], "");
        Assert.Equal(0, code);
        var line = Assert.Single(stdout.Split('\n'), l => l.StartsWith("host memory:"));
        Assert.Equal(HugePagesRestart.Describe(HugePagesRestart.Tunables("", mode) ?? "", mode), line);
        if (mode?.Contains("[madvise]") == true)
            Assert.EndsWith("(GLIBC_TUNABLES=glibc.malloc.hugetlb=1)", line);
        // The restarted process keeps the CLI's GC settings (its runtimeconfig: Directory.Build.props); .NET runs the
        // workstation GC on a single processor whatever the configuration says.
        var gc = Environment.ProcessorCount > 1 ? "server" : "workstation";
        Assert.Contains($"garbage collector: {gc}, large objects from 8388608 bytes", stdout.Split('\n'));
    }

    [Fact]
    public async Task ATunableTheUserSetIsKept()
    {
        var (code, stdout, _) = await Run(["devices", "--verbose"], "glibc.malloc.hugetlb=0");
        Assert.Equal(0, code);
        var line = Assert.Single(stdout.Split('\n'), l => l.StartsWith("host memory:"));
        Assert.Equal(HugePagesRestart.Describe("glibc.malloc.hugetlb=0", ThpMode()), line);
    }

    private static string? ThpMode() =>
        File.Exists("/sys/kernel/mm/transparent_hugepage/enabled") ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled") : null;

    private static Task<(int Code, string Stdout, string Stderr)> Run(string[] args, string tunables) =>
        CliProcess.RunAsync(args, new Dictionary<string, string> { [HugePagesRestart.Variable] = tunables });
}
