using System.Diagnostics;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Faults a real `ilgpu-style stylize` process meets: killed (SIGKILL) while it writes --save-every snapshots and
/// its output, and a full disk. Outputs are written atomically (temporary file, then rename), so every image file
/// there is either complete or absent. The runs use the CPU simulator on VGG19 truncated after relu1_1 at 32 px:
/// fast, and every write path is the same.
/// </summary>
public sealed class FaultTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-faults-").FullName;

    private static Process Stylize(string output, int iterations, params string[] extra) =>
        CliProcess.Start([.. CliProcess.StylizeTubingen(output), "--device", "cpu", "--size", "32", "--scales", "1",
            "--content-layers", "relu1_1", "--style-layers", "relu1_1", "--iterations", $"{iterations}", "--quiet", .. extra]);

    /// <summary>Every visible image in <paramref name="folder"/> decodes completely.</summary>
    private int AssertEveryImageComplete(string folder)
    {
        var files = Directory.GetFiles(folder, "*.png");
        foreach (var f in files)
        {
            var image = ImageLoader.Load(f); // throws on a truncated or corrupt file
            Assert.Equal(32, Math.Max(image.Width, image.Height));
        }
        return files.Length;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    public void KillDuringSnapshotWritesLeavesOnlyCompleteImages(int snapshotsBeforeKill)
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "POSIX process test");
        var output = Path.Combine(dir, "out.png");
        using var process = Stylize(output, 100000, "--save-every", "1");
        _ = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var clock = Stopwatch.StartNew();
            while (Directory.GetFiles(dir, "out_*.png").Length < snapshotsBeforeKill)
            {
                if (process.HasExited) Assert.Fail($"the run ended (exit {process.ExitCode}) before it was killed");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "no snapshots within 3 minutes");
                Thread.Sleep(5); // kill at a moment unrelated to the writes
            }
        }
        finally
        {
            process.Kill(); // SIGKILL: no handler runs
            process.WaitForExit();
        }
        int complete = AssertEveryImageComplete(dir);
        log.WriteLine($"killed after ≥ {snapshotsBeforeKill} snapshots: {complete} complete images, " +
                      $"{Directory.GetFiles(dir, ".*.tmp").Length} hidden temporary file(s)");
        Assert.True(complete >= snapshotsBeforeKill);
        Assert.False(File.Exists(output), "the final output exists although the run was killed");
    }

    [Fact]
    public void KillAtAnyMomentLeavesTheOutputCompleteOrAbsent()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "POSIX process test");
        // One undisturbed run measures how long a run takes; kills then land across it, the final write included.
        var output = Path.Combine(dir, "out.png");
        var clock = Stopwatch.StartNew();
        using (var full = Stylize(output, 3))
        {
            string err = full.StandardError.ReadToEnd();
            full.WaitForExit();
            Assert.True(full.ExitCode == 0, err);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        File.Delete(output);
        var rng = new Random(15);
        const int Trials = 4;
        int present = 0;
        for (int trial = 0; trial < Trials; trial++)
        {
            var delay = TimeSpan.FromSeconds(seconds * (0.7 + 0.35 * rng.NextDouble()));
            using var process = Stylize(output, 3);
            _ = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            if (!process.WaitForExit(delay)) process.Kill();
            process.WaitForExit();
            if (File.Exists(output))
            {
                present++;
                AssertEveryImageComplete(dir);
                File.Delete(output);
            }
        }
        log.WriteLine($"a run takes {seconds:F1} s; {Trials} kills at 70–105 % of it: output complete in {present}, absent in {Trials - present}");
    }

    [Fact]
    public void AFullDiskIsOneLineAndNoPartialFile()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "tmpfs mount");
        var mount = Path.Combine(dir, "full");
        Directory.CreateDirectory(mount);
        using (var m = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", mount]) { RedirectStandardError = true })!)
        {
            string why = m.StandardError.ReadToEnd();
            m.WaitForExit();
            Assert.SkipWhen(m.ExitCode != 0, $"cannot mount a small tmpfs here (needs root): {why.Trim()}");
        }
        try
        {
            File.WriteAllBytes(Path.Combine(mount, "filler"), new byte[4096]); // the one page: the disk is now full
            var output = Path.Combine(mount, "out.png");
            using var process = Stylize(output, 1);
            string err = process.StandardError.ReadToEnd();
            process.WaitForExit();
            log.WriteLine($"exit {process.ExitCode}: {err.Trim()}");
            Assert.Equal(2, process.ExitCode);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("error: cannot write image", lines[0]);
            Assert.Equal(["filler"], Directory.GetFiles(mount).Select(Path.GetFileName));
        }
        finally
        {
            using var u = Process.Start("umount", [mount]);
            u.WaitForExit();
        }
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
