using System.Text.Json.Nodes;
using IlgpuStyle.Kernels;
using IlgpuStyle.Stylize.Imaging;
using ILGPU.Runtime;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The autotuner (issue #13) and its cache: a plan stored is found again for the same device, driver and library and
/// never for another; a corrupt file or entry is ignored, not an error, and replaced at the next store; a full tuning
/// answers a quick request, not the reverse; on a real device the first call times the candidates, applies and stores
/// the fastest, and the second reads it back; ILGPU_STYLE_TILES and `off` bypass it; a forced plan gives the same bytes
/// run to run. The kernels each candidate plan chooses are checked against the references in Conv2dFastPathTests and
/// GramTests.
/// </summary>
public sealed class AutotunerTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-autotune-").FullName;
    private static readonly TuningPlan Defaults = TuningPlan.Default(AcceleratorType.OpenCL, cpuDevice: true, 4096);
    private static readonly TuningKey Key = new("OpenCL some-cpu", "PoCL 6.0", "0.4.0.0");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private PlanCache Cache() => new(Path.Combine(dir, "sub", "tuning-plans.json"));

    private string? tinyContent, tinyWeights;

    /// <summary>
    /// `stylize` of a 40×24 test image in its own style with the tiny weights (relu1_1, relu2_1) at 32 px, one scale, on
    /// <paramref name="device"/>: a run takes seconds.
    /// </summary>
    private string[] TinyStylize(string device, string output, params string[] extra)
    {
        if (tinyContent is null)
        {
            tinyContent = Path.Combine(dir, "content.png");
            ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), tinyContent);
        }
        tinyWeights ??= TinyWeights.Write(dir);
        return ["stylize", "--content", tinyContent, "--style", tinyContent, "--output", output, "--weights", tinyWeights, "--device", device,
            "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1", "--size", "32", "--scales", "1", .. extra];
    }

    /// <summary>
    /// Noise only slows a timing down: a candidate that beats an incumbent timed during a slow spell must also beat a
    /// fresh timing of it (the lower of the incumbent's two counts) to replace it; one that is really faster still does.
    /// </summary>
    [Fact]
    public void ACandidateMustBeatAFreshTimingOfTheIncumbent()
    {
        var incumbent = Defaults;
        var slower = Defaults with { WinogradOutputTile = 2 };
        var faster = Defaults with { GramTarget = 64 };
        var timings = new Dictionary<TuningPlan, Queue<double>>
        {
            [incumbent] = new([30.0, 31.0]), // its fresh timings: the first 60 ms below was a slow spell
            [slower] = new([45.0]),
            [faster] = new([20.0]),
        };
        var timed = new List<TuningPlan>();
        double Time(TuningPlan p) { timed.Add(p); return timings[p].Dequeue(); }

        var (plan, ms) = Autotuner.Best(incumbent, 60.0, [slower, faster], Time);
        Assert.Equal(faster, plan);
        Assert.Equal(20.0, ms);
        // slower (45 < 60·0.97) was checked against a fresh timing of the incumbent (30) and lost; faster (20) won
        // against the incumbent's best time so far (30, not its second timing 31).
        Assert.Equal([slower, incumbent, faster, incumbent], timed);
    }

    /// <summary>
    /// Noise only slows a timing down, the candidate's too: one that loses by less than <see cref="Autotuner.CloseCall"/> is
    /// timed once more and wins with its lower time if that beats the incumbent (then checked against a fresh timing of
    /// the incumbent as any winner); one that loses by more is not timed again.
    /// </summary>
    [Fact]
    public void ACloseLoserIsTimedAgain()
    {
        var incumbent = Defaults;
        var unlucky = Defaults with { WinogradOutputTile = 2 };
        var close = Defaults with { GramTarget = 64 };
        var far = Defaults with { GramTarget = 16 };
        var timings = new Dictionary<TuningPlan, Queue<double>>
        {
            [incumbent] = new([40.0]),
            [far] = new([60.0]),         // 1.5× the incumbent: out at once
            [close] = new([45.0, 44.0]), // loses twice
            [unlucky] = new([42.0, 30.0]), // its first timing was a slow spell
        };
        var timed = new List<TuningPlan>();
        double Time(TuningPlan p) { timed.Add(p); return timings[p].Dequeue(); }

        var (plan, ms) = Autotuner.Best(incumbent, 40.0, [far, close, unlucky], Time);
        Assert.Equal(unlucky, plan);
        Assert.Equal(30.0, ms);
        Assert.Equal([far, close, close, unlucky, unlucky, incumbent], timed);
    }

    /// <summary>
    /// The direct kernels' channel block is timed on what runs direct: conv1_1's shape (3 → 64 at 256 px for the quick
    /// shapes, whose layers all run Winograd by default), plus the tuning shapes a higher Winograd threshold leaves direct.
    /// </summary>
    [Fact]
    public void TheDirectKindIsTimedOnTheLayersThatRunDirect()
    {
        var cpu = Defaults with { WinogradMinChannels = TuningPlan.DefaultWinogradMinChannels };
        Assert.Equal([new Autotuner.Shape(3, 64, 256)], Autotuner.DirectShapes(cpu, Autotuner.QuickConv));
        Assert.Equal([new Autotuner.Shape(3, 64, 256), Autotuner.QuickConv[0], Autotuner.QuickConv[1]],
            Autotuner.DirectShapes(cpu with { WinogradMinChannels = 512 }, Autotuner.QuickConv));
        Assert.Equal(new Autotuner.Shape(3, 8, 24), Autotuner.DirectShapes(cpu, [new(8, 16, 24), new(16, 8, 12)])[0]);
    }

    /// <summary>
    /// The search's result against the defaults, whole (<see cref="Autotuner.Confirm"/>): a tuned plan whose summed stage
    /// times are not below the defaults' is timed whole and kept only if it beats them, as any candidate; the defaults
    /// found again count the lower of their two times; a tuned plan already faster is kept without another timing.
    /// </summary>
    [Fact]
    public void ATunedPlanNotFasterThanTheDefaultsMustBeatThemWhole()
    {
        var tuned = Defaults with { GramTarget = 2 * Defaults.GramTarget };
        var timed = new List<TuningPlan>();
        Func<TuningPlan, double> Script(params (TuningPlan Plan, double Ms)[] times)
        {
            var queue = new Queue<(TuningPlan Plan, double Ms)>(times);
            timed.Clear();
            return p => { timed.Add(p); var (plan, ms) = queue.Dequeue(); Assert.Equal(plan, p); return ms; };
        }

        // Summed 52 ms against the defaults' 50: timed whole 40, the defaults again 45 — it still wins (40 < 45·0.97).
        Assert.Equal((tuned, 40.0), Autotuner.Confirm(Defaults, 50, tuned, 52, Script((tuned, 40), (Defaults, 45))));
        Assert.Equal([tuned, Defaults], timed);
        // Timed whole 49, again 48.6 (a close call: both not below 50·0.97): the defaults stay, with their own time.
        Assert.Equal((Defaults, 50.0), Autotuner.Confirm(Defaults, 50, tuned, 52, Script((tuned, 49), (tuned, 48.6))));
        // Timed whole 70 (far behind: not timed again): the defaults stay.
        Assert.Equal((Defaults, 50.0), Autotuner.Confirm(Defaults, 50, tuned, 52, Script((tuned, 70))));
        // Timed whole 40, but the defaults again 38: the defaults stay, with the lower of their times.
        Assert.Equal((Defaults, 38.0), Autotuner.Confirm(Defaults, 50, tuned, 50, Script((tuned, 40), (Defaults, 38))));
        // Already faster, or the defaults themselves: no timing.
        Assert.Equal((tuned, 30.0), Autotuner.Confirm(Defaults, 50, tuned, 30, Script()));
        Assert.Equal((Defaults, 50.0), Autotuner.Confirm(Defaults, 50, Defaults, 55, Script()));
        Assert.Empty(timed);
    }

    [Fact]
    public void AStoredPlanIsFoundForItsKeyOnly()
    {
        var cache = Cache();
        Assert.Null(cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out var problem));
        Assert.Null(problem); // an absent file is not a problem
        var tuned = Defaults with { Conv = new ConvTiles(ConvKernelKind.RegisterBlocked8, 2, 16, 1), GramTarget = 64 };
        cache.Store(Key, AutotuneMode.Quick, tuned, 10, 12);
        Assert.Equal(tuned, cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out _));
        // Another device, driver or library version: not used.
        Assert.Null(cache.Find(Key with { Device = "OpenCL other-cpu" }, AutotuneMode.Quick, Defaults, 4096, out _));
        Assert.Null(cache.Find(Key with { Driver = "PoCL 7.0" }, AutotuneMode.Quick, Defaults, 4096, out _));
        Assert.Null(cache.Find(Key with { Library = "0.5.0.0" }, AutotuneMode.Quick, Defaults, 4096, out _));
        // A quick tuning does not answer a full request; a full one answers both and is preferred.
        Assert.Null(cache.Find(Key, AutotuneMode.Full, Defaults, 4096, out _));
        var full = tuned with { RowStoreMinWidth = 64 };
        cache.Store(Key, AutotuneMode.Full, full, 9, 12);
        Assert.Equal(full, cache.Find(Key, AutotuneMode.Full, Defaults, 4096, out _));
        Assert.Equal(full, cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out _));
        // Storing again replaces the entry of that key and mode, keeps the others.
        cache.Store(Key with { Device = "OpenCL other-cpu" }, AutotuneMode.Quick, Defaults, 5, 5);
        cache.Store(Key, AutotuneMode.Full, tuned, 8, 12);
        Assert.Equal(3, cache.Read(out _).Count);
        Assert.Equal(tuned, cache.Find(Key, AutotuneMode.Full, Defaults, 4096, out _));
        // A plan that does not fit the device asking (a 32-work-item group on a 16-work-item device) is ignored.
        Assert.Null(cache.Find(Key, AutotuneMode.Full, Defaults with { Group1D = 16, RowGroup = 16, Tile = 4 }, 16, out problem));
        log.WriteLine(problem ?? "(none)");
        Assert.Contains("ignored a cached plan", problem);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(cache.Path)!, "*.tmp"));
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"format\": 99, \"entries\": []}")]
    [InlineData("{\"format\": 1, \"entries\": 3}")]
    [InlineData("[1, 2]")]
    public void ACorruptCacheIsIgnoredAndReplaced(string text)
    {
        var cache = Cache();
        Directory.CreateDirectory(Path.GetDirectoryName(cache.Path)!);
        File.WriteAllText(cache.Path, text);
        Assert.Null(cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out var problem));
        log.WriteLine(problem ?? "(none)");
        Assert.Contains("ignored the tuning cache", problem);
        cache.Store(Key, AutotuneMode.Quick, Defaults, 1, 1);
        Assert.Equal(Defaults, cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out problem));
        Assert.Null(problem);
    }

    [Fact]
    public void ABadEntryIsSkipped()
    {
        var cache = Cache();
        cache.Store(Key, AutotuneMode.Quick, Defaults, 1, 1);
        var root = JsonNode.Parse(File.ReadAllText(cache.Path))!.AsObject();
        root["entries"]![0]!["plan"] = "kind=warp-drive";
        File.WriteAllText(cache.Path, root.ToJsonString());
        Assert.Null(cache.Find(Key, AutotuneMode.Quick, Defaults, 4096, out var problem));
        Assert.Contains("kind must be", problem);
    }

    [Fact]
    public void GpusTimeTheGramOnTheMapsOfA512PixelImage()
    {
        var gpu = TuningPlan.Default(AcceleratorType.Cuda, false, 1024);
        var cpuDevice = TuningPlan.Default(AcceleratorType.OpenCL, true, 4096);
        Assert.Equal(Autotuner.GpuGram, Autotuner.GramShapes(gpu, full: false));
        Assert.Equal(Autotuner.GpuGram, Autotuner.GramShapes(gpu, full: true));
        Assert.Equal([512, 256, 128, 64, 32], Autotuner.GpuGram.Select(s => s.Side));
        Assert.Equal(Autotuner.QuickGram, Autotuner.GramShapes(cpuDevice, full: false));
        Assert.Equal(Autotuner.FullGram, Autotuner.GramShapes(cpuDevice, full: true));
    }

    [Fact]
    public void OnARealDeviceTheFirstCallTunesAndStoresTheSecondReadsTheCache()
    {
        Devices.Get("opencl"); // skips (or fails under CI=true) without OpenCL
        using var gpu = DeviceCatalog.Open("opencl");
        var defaults = gpu.Plan;
        var cache = Cache();
        // Small shapes: the test checks the mechanism; the real shapes are Autotuner.QuickConv / QuickGram.
        Autotuner.Shape[] conv = [new(16, 24, 20), new(32, 16, 9)], gram = [new(24, 24, 12)];
        var said = new List<string>();
        var first = Autotuner.Apply(gpu, AutotuneMode.Quick, cache, said.Add, conv, gram);
        log.WriteLine(string.Join("\n", said));
        log.WriteLine(first.ToString());
        Assert.StartsWith("autotuned quick", first.Source);
        Assert.Equal(first.Plan, gpu.Plan);
        Assert.True(first.Milliseconds <= first.DefaultMilliseconds, "the tuned plan must not be slower than the default on its own measurements");
        // A candidate's blocking, its direct kind possibly swapped by the tuner's last step (DirectKind: blocked ↔ blocked8,
        // same groups) — with these tiny shapes any of them can win by noise.
        var blockings = Autotuner.ConvCandidates(defaults, gpu.Accelerator.MaxNumThreadsPerGroup, full: false).Select(p => p.Conv).Append(defaults.Conv)
            .SelectMany(c => new[] { c, c with { Kind = ConvKernelKind.RegisterBlocked }, c with { Kind = ConvKernelKind.RegisterBlocked8 } });
        Assert.Contains(blockings, c => c == first.Plan.Conv);
        Assert.Contains(first.Plan.WinogradMinChannels, Autotuner.WinogradThresholds.Append(defaults.WinogradMinChannels));
        Assert.Contains(first.Plan.GramBlock, WinogradTiles.Blocks);
        Assert.Equal(first.Plan, cache.Find(TuningKey.For(gpu), AutotuneMode.Quick, defaults, gpu.Accelerator.MaxNumThreadsPerGroup, out _));
        // The key names the OpenCL driver's own version (PoCL's, e.g. "driver 6.0+debian"): an upgrade re-tunes.
        Assert.Matches(@"; driver \d", TuningKey.For(gpu).Driver);

        gpu.UsePlan(defaults);
        var second = Autotuner.Apply(gpu, AutotuneMode.Quick, cache, said.Add, conv, gram);
        Assert.StartsWith("cached in", second.Source);
        Assert.Equal(first.Plan, second.Plan);
        Assert.Equal(first.Plan, gpu.Plan);

        gpu.UsePlan(defaults);
        var off = Autotuner.Apply(gpu, AutotuneMode.Off, cache);
        Assert.Equal(defaults, off.Plan);
        Assert.Equal(defaults, gpu.Plan);
    }

    /// <summary>
    /// With a reason not to tune (--precision tf32 on a tensor-core device: Precisions.NoFp32TuningBecause), nothing is
    /// timed or stored: the defaults stay, the source says why; a plan already cached is still applied.
    /// </summary>
    [Fact]
    public void AReasonNotToTuneKeepsTheDefaultsButACachedPlanIsApplied()
    {
        Devices.Get("opencl"); // skips (or fails under CI=true) without OpenCL
        using var gpu = DeviceCatalog.Open("opencl");
        var defaults = gpu.Plan;
        var cache = Cache();
        var said = new List<string>();
        // Shapes a real tuning would take many seconds on; none is timed.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var skipped = Autotuner.Apply(gpu, AutotuneMode.Quick, cache, said.Add, noTuningBecause: "a test's reason");
        log.WriteLine($"{skipped} in {clock.Elapsed.TotalMilliseconds:0} ms; said: {string.Join(" | ", said)}");
        Assert.Equal("defaults; not tuned: a test's reason", skipped.Source);
        Assert.Equal(defaults, gpu.Plan);
        Assert.DoesNotContain(said, m => m.StartsWith("autotuning", StringComparison.Ordinal));
        Assert.Null(cache.Find(TuningKey.For(gpu), AutotuneMode.Quick, defaults, gpu.Accelerator.MaxNumThreadsPerGroup, out _));

        var stored = defaults with { Gram = GramKernelKind.Tiled, GramTarget = 8 };
        cache.Store(TuningKey.For(gpu), AutotuneMode.Quick, stored, 1, 2);
        var cached = Autotuner.Apply(gpu, AutotuneMode.Quick, cache, said.Add, noTuningBecause: "a test's reason");
        Assert.StartsWith("cached in", cached.Source);
        Assert.Equal(stored, gpu.Plan);
    }

    /// <summary>
    /// A candidate whose kernels fail (here: throw) is passed over and named, and the search goes on; a failure of the
    /// defaults themselves, or running out of memory, is not swallowed (the run reports it, or keeps the defaults).
    /// </summary>
    [Fact]
    public void ACandidateThatFailsIsSkippedAndNamed()
    {
        var said = new List<string>();
        var bad = Defaults with { WinogradMinChannels = 128 };
        var good = Defaults with { WinogradMinChannels = 256 };
        var time = Autotuner.Guard(p => p == bad ? throw new InvalidOperationException("no such kernel") : p == good ? 5 : 10, Defaults, said.Add);
        var (plan, ms) = Autotuner.Best(Defaults, time(Defaults), [bad, good], time);
        Assert.Equal(good, plan);
        Assert.Equal(5, ms);
        Assert.Contains(said, line => line.Contains("winograd=128") && line.Contains("no such kernel"));
        Assert.Equal(double.PositiveInfinity, time(bad));

        var broken = Autotuner.Guard(_ => throw new InvalidOperationException("broken"), Defaults, said.Add);
        Assert.Throws<InvalidOperationException>(() => broken(Defaults));
        var full = Autotuner.Guard(_ => throw new OutOfMemoryException(), Defaults, said.Add);
        Assert.Throws<OutOfMemoryException>(() => full(good));
    }

    /// <summary>
    /// A GPU-shaped plan (shared-tiles convolutions: what CUDA and OpenCL GPUs start from) has the direct shared SGEMM
    /// (kind=sgemm, with and without split-K) timed beside the shared tiles, Winograd with the shared
    /// product timed against the direct kernel, both output tiles, the shared Gram kernels (gram=shared), and the blocked
    /// Gram backward with the shared block (never the CPU register blocks); whatever wins is a valid GPU plan. On PoCL, with the GPU default forced on it.
    /// </summary>
    [Fact]
    public void AGpuShapedPlanTimesWinogradWithTheSharedProduct()
    {
        Devices.Get("opencl"); // skips (or fails under CI=true) without OpenCL
        using var gpu = DeviceCatalog.Open("opencl");
        int maxGroup = gpu.Accelerator.MaxNumThreadsPerGroup;
        gpu.UsePlan(TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, maxGroup));
        var plans = new List<TuningPlan>();
        var result = Autotuner.Tune(gpu, AutotuneMode.Quick, [new(16, 24, 20), new(32, 16, 9)], [new(24, 24, 12)], (p, _) => plans.Add(p));
        log.WriteLine(result.ToString());
        var winograd = plans.Where(p => p.WinogradMinChannels > 0).ToList();
        Assert.NotEmpty(winograd);
        Assert.All(winograd, p => Assert.Equal(WinogradBlock.Shared, p.WinogradBlock));
        Assert.Equal(WinogradTiles.OutputTiles, winograd.Select(p => p.WinogradOutputTile).Distinct().Order());
        Assert.All(plans.Where(p => p.Gram == GramKernelKind.Blocked), p => Assert.Equal(WinogradBlock.Shared, p.GramBlock));
        Assert.Contains(plans, p => p.Gram == GramKernelKind.Shared); // the shared Gram SGEMMs (GramShared.cs)
        Assert.Contains(plans, p => p.Conv.Kind == ConvKernelKind.SharedGemm); // the direct shared SGEMM (Conv2dSharedGemmKernel.cs)
        Assert.Contains(plans, p => p.Conv.Kind == ConvKernelKind.SharedGemm && p.Conv.SplitTarget > 0); // and with split-K
        Assert.Contains(result.Plan.Conv.Kind, new[] { ConvKernelKind.SharedTiles, ConvKernelKind.SharedGemm });
        result.Plan.Validate(maxGroup);
    }

    [Fact]
    public void TheCpuSimulatorIsNotTunedAndTheOverrideVariableWins()
    {
        var cache = Cache();
        var cpu = Devices.Get("cpu");
        var result = Autotuner.Apply(cpu, AutotuneMode.Full, cache);
        Assert.Equal(cpu.Plan, result.Plan);
        Assert.Contains("not tuned", result.Source);
        Assert.False(File.Exists(cache.Path));
        var (code, output, err) = CliRunner.Run(new Dictionary<string, string?> { [TuningPlan.EnvironmentVariable] = "kind=blocked8" },
            "bench", "--device", "cpu", "--no-iteration", "--layers", "conv1_1", "--size", "16", "--runs", "1", "--autotune", "full");
        Assert.True(code == 0, err);
        Assert.Contains($"tuning plan ({TuningPlan.EnvironmentVariable}): kind=blocked8", output);
    }

    [Theory]
    [InlineData("--autotune", "sometimes")]
    [InlineData("variable", "sometimes")]
    public void ABadModeIsOneLineExitTwo(string where, string value)
    {
        var env = new Dictionary<string, string?> { [AutotuneModes.EnvironmentVariable] = where == "variable" ? value : null };
        string[] extra = where == "--autotune" ? ["--autotune", value] : [];
        var (code, _, err) = CliRunner.Run(env, ["bench", "--device", "cpu", "--no-iteration", "--layers", "conv1_1", "--size", "16", "--runs", "1", .. extra]);
        log.WriteLine(err);
        Assert.Equal(2, code);
        Assert.Matches(@"^error: [^\n]*\n?$", err);
    }

    /// <summary>
    /// A device's first run under a --max-memory cap below the tuning shapes' own buffers (~290 MiB, quick) runs with the
    /// defaults, says so and stores nothing (a later run with room still tunes), within the cap; a first run without a
    /// cap tunes, stores, and reports the stylization's peak, not the tuning's. (CI found both: the tuning's buffers
    /// counted in the report's peak made TiledStylizeTests derive a cap that needed no tiles.)
    /// </summary>
    [Fact]
    public void AFirstRunUnderASmallCapKeepsTheDefaultsAndThePeakIsTheStylizations()
    {
        Devices.Get("opencl"); // skips (or fails under CI=true) without OpenCL
        var cachePath = Path.Combine(dir, "fresh", "tuning-plans.json");
        var env = new Dictionary<string, string?>
        {
            ["ILGPU_STYLE_TUNING_CACHE"] = cachePath, [TuningPlan.EnvironmentVariable] = null,
            [AutotuneModes.EnvironmentVariable] = null, ["ILGPU_STYLE_MAX_MEMORY"] = null,
        };
        (string Err, long Peak) Run(string name, params string[] extra)
        {
            var report = Path.Combine(dir, name + ".jsonl");
            var (code, _, err) = CliRunner.Run(env, TinyStylize("opencl", Path.Combine(dir, name + ".png"),
                ["--iterations", "1", "--autotune", "quick", "--report", report, .. extra]));
            log.WriteLine(err);
            Assert.True(code == 0, err);
            var final = JsonNode.Parse(File.ReadLines(report).Last())!;
            return (err, final["peak_device_bytes"]!.GetValue<long>());
        }

        const long Cap = 64L << 20;
        var (cappedErr, cappedPeak) = Run("capped", "--max-memory", "64M");
        Assert.Contains("autotuning skipped", cappedErr);
        Assert.False(File.Exists(cachePath), "a skipped tuning stores nothing");
        Assert.True(cappedPeak <= Cap, $"peak {cappedPeak} B over the cap");

        var (err, peak) = Run("uncapped");
        Assert.Contains("autotuned quick", err);
        Assert.True(File.Exists(cachePath));
        Assert.True(peak < Cap, $"peak {peak} B: the tuning's buffers were counted");
    }

    [Fact]
    public void AForcedPlanGivesTheSameBytesRunToRun()
    {
        var device = Devices.FastestForRuns;
        byte[] Run(string name)
        {
            var output = Path.Combine(dir, name);
            var (code, _, err) = CliRunner.Run(new Dictionary<string, string?> { [TuningPlan.EnvironmentVariable] = "kind=blocked8,gx=1,gy=16" },
                TinyStylize(device, output, "--quiet", "--iterations", "3", "--init", "noise", "--seed", "7"));
            Assert.True(code == 0, err);
            return File.ReadAllBytes(output);
        }
        Assert.Equal(Run("a.png"), Run("b.png"));
    }
}
