using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// `ilgpu-style kernels precompile` (no GPU needed): writes the chosen variants' PTX and the manifest that makes a CUDA run
/// read them; bad options are one `error:` line and exit code 2.
/// </summary>
public sealed class KernelsCommandTests(ITestOutputHelper log)
{
    [Fact]
    public void PrecompileWritesTheVariantsAndTheManifest()
    {
        using var dir = new TempDir();
        var (code, stdout, err) = CliRunner.Run("kernels", "precompile", "--arch", "sm_90,sm_80", "--only", "^Elementwise\\.Axpy", "--out", dir.Path);
        log.WriteLine(stdout + err);
        Assert.Equal(0, code);
        Assert.Equal("", err);
        int axpys = CudaKernelVariants.All().Count(v => v.Name.StartsWith("Elementwise.Axpy", StringComparison.Ordinal));
        Assert.True(axpys >= 1);
        Assert.Contains($"precompiling {axpys} kernel variants for SM_90, SM_80 (PTX ISA 8.4)", stdout);
        Assert.Contains($"wrote {2 * axpys} files", stdout);
        Assert.Equal(2 * axpys, Directory.GetFiles(dir.Path, "*.ptxk").Length);
        var shipped = ShippedPtx.Open(dir.Path);
        Assert.NotNull(shipped);
        Assert.Equal(2 * axpys, shipped.Kernels); // files: each variant once per architecture it runs on
        Assert.Equal(["SM_90", "SM_80"], shipped.Architectures.Select(a => a.ToString()));
    }

    [Fact]
    public void CheckSaysWhatAShippedFolderLacksForADevice()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("kernels", "precompile", "--arch", "sm_90", "--only", "^Elementwise\\.AxpyKernel$", "--out", dir.Path).ExitCode);
        // Per architecture: the Gram's TF32 variants differ before and from sm_90 (CudaKernelVariants.Variant.RunsOn).
        int launched = CudaKernelVariants.All().Count(v => v.Launched && v.RunsOn(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90));
        int launched80 = CudaKernelVariants.All().Count(v => v.Launched && v.RunsOn(ILGPU.Runtime.Cuda.CudaArchitecture.SM_80));
        // A driver taking ISA 8.8 reads the one variant shipped; every other is named missing, and the exit code says so.
        var (code, stdout, err) = CliRunner.Run("kernels", "check", "--dir", dir.Path, "--arch", "sm_90", "--isa", "8.8");
        log.WriteLine(stdout + err);
        Assert.Equal(2, code);
        Assert.Contains($"1 of {launched} launched kernel variants shipped for SM_90 (a driver taking PTX ISA 8.8; made for 8.4)", stdout);
        Assert.Contains("  missing: ", stdout);
        Assert.DoesNotContain("missing: Elementwise.AxpyKernel\n", stdout.Replace("\r", ""));
        Assert.Contains($"error: {launched - 1} kernel variants are not shipped for SM_90", err);
        // A driver older than the files' ISA, or another architecture, reads none of them.
        Assert.Contains($"0 of {launched}", CliRunner.Run("kernels", "check", "--dir", dir.Path, "--arch", "sm_90", "--isa", "8.3").Out);
        Assert.Contains($"0 of {launched80}", CliRunner.Run("kernels", "check", "--dir", dir.Path, "--arch", "sm_80").Out);
        // No shipped folder there at all.
        using var empty = new TempDir();
        var none = CliRunner.Run("kernels", "check", "--dir", empty.Path);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("holds no shipped PTX", none.Err);
    }

    [Theory]
    [InlineData("--arch: 'sm_9x' is not a CUDA architecture", "--arch", "sm_9x")]
    [InlineData("--isa: 'latest' is not a PTX ISA", "--isa", "latest")]
    [InlineData("--only: no kernel variant matches 'NoSuchKernel'", "--only", "NoSuchKernel")]
    [InlineData("--only: ", "--only", "(")]
    public void BadOptionsAreBadInput(string expected, string option, string value)
    {
        using var dir = new TempDir();
        var (code, _, err) = CliRunner.Run("kernels", "precompile", "--out", dir.Path, option, value);
        log.WriteLine(err);
        Assert.Equal(2, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
