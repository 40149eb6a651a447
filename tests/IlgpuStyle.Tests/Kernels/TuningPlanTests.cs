using IlgpuStyle.Kernels;
using ILGPU.Runtime;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The per-device tuning plan: its table of defaults, the override variable's parser (valid and invalid strings),
/// its printed and JSON forms, and that `devices --verbose` and `bench --json` show it. The kernels each plan
/// chooses are checked against the CPU references in Conv2dFastPathTests and GramTests.
/// </summary>
public class TuningPlanTests(ITestOutputHelper log)
{
    private static readonly TuningPlan CpuDefault = TuningPlan.Default(AcceleratorType.CPU, cpuDevice: false, 16);

    [Fact]
    public void DefaultsPerDeviceKind()
    {
        // The ILGPU CPU simulator (16 work-items per group): register-blocked conv, Winograd from 64 channels, blocked Gram, 4×4 tiles.
        Assert.Equal(new TuningPlan
        {
            Conv = new ConvTiles(ConvKernelKind.RegisterBlocked, 2, 8, 1), RowStoreMinWidth = 128, WinogradMinChannels = 64, WinogradOutputTile = 4,
            Gram = GramKernelKind.Blocked, GramTarget = 32, Group1D = 16, RowGroup = 16, Tile = 4,
        }, CpuDefault);
        // An OpenCL CPU device (PoCL): the same kernels, larger groups.
        Assert.Equal(new TuningPlan
        {
            Conv = new ConvTiles(ConvKernelKind.RegisterBlocked, 2, 8, 1), RowStoreMinWidth = 128, WinogradMinChannels = 64, WinogradOutputTile = 4,
            Gram = GramKernelKind.Blocked, GramTarget = 32, Group1D = 256, RowGroup = 32, Tile = 16,
        }, TuningPlan.Default(AcceleratorType.OpenCL, cpuDevice: true, 4096));
        // GPUs: shared-tiles conv (no Winograd; the shared product block when it is turned on) and the shared Gram kernels.
        Assert.Equal(new TuningPlan
        {
            Conv = new ConvTiles(ConvKernelKind.SharedTiles, 16, 16, 8), RowStoreMinWidth = 128, WinogradOutputTile = 4,
            WinogradBlock = WinogradBlock.Shared, GramBlock = WinogradBlock.Shared,
            Gram = GramKernelKind.Shared, GramTarget = 2, Group1D = 256, RowGroup = 32, Tile = 16,
        }, TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, 1024));
        var smallGpu = TuningPlan.Default(AcceleratorType.OpenCL, cpuDevice: false, 128);
        Assert.Equal(new ConvTiles(ConvKernelKind.SharedTiles, 8, 8, 4), smallGpu.Conv);
        Assert.Equal(GramKernelKind.Shared, smallGpu.Gram);
        Assert.Equal(4, smallGpu.Tile);
        foreach (var plan in new[] { CpuDefault, TuningPlan.Default(AcceleratorType.Cuda, false, 1024), smallGpu })
            plan.Validate(plan == CpuDefault ? 16 : plan == smallGpu ? 128 : 1024);
    }

    [Fact]
    public void ParserReadsEveryKeyOverTheDefaults()
    {
        var parsed = TuningPlan.Parse("kind=shared, gx=8, gy=4, ci=2", CpuDefault);
        Assert.Equal(new ConvTiles(ConvKernelKind.SharedTiles, 8, 4, 2), parsed.Conv);
        Assert.Equal(CpuDefault with { Conv = new ConvTiles(ConvKernelKind.SharedTiles, 8, 4, 2) }, parsed);
        Assert.Equal(CpuDefault with { Conv = CpuDefault.Conv with { GroupY = 2 } }, TuningPlan.Parse("gy=2", CpuDefault));
        var blocked8 = CpuDefault with { Conv = CpuDefault.Conv with { Kind = ConvKernelKind.RegisterBlocked8 } };
        Assert.Equal(blocked8, TuningPlan.Parse("kind=blocked8", CpuDefault));
        Assert.Equal(blocked8, TuningPlan.Parse(blocked8.ToString(), CpuDefault));
        var sgemm = CpuDefault with { Conv = new ConvTiles(ConvKernelKind.SharedGemm, 16, 8, 1) };
        Assert.Equal(sgemm, TuningPlan.Parse("kind=sgemm,gx=16,gy=8", CpuDefault));
        Assert.Equal(sgemm, TuningPlan.Parse(sgemm.ToString(), CpuDefault));
        // ks (split-K's target): printed only when set, read back, kind=sgemm and the tensor-core kinds only, 0 … 64.
        var split = sgemm with { Conv = sgemm.Conv with { SplitTarget = 2 } };
        Assert.Equal(split, TuningPlan.Parse("kind=sgemm,gx=16,gy=8,ks=2", CpuDefault));
        Assert.Equal(split, TuningPlan.Parse(split.ToString(), CpuDefault));
        Assert.Contains(",ks=2", split.ToString());
        Assert.DoesNotContain("ks=", sgemm.ToString());
        split.Conv.Validate(1024);
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { SplitTarget = 2 }.Validate(1024);
        Assert.Contains("kind=sgemm and the tensor-core kinds only", Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedTiles, 8, 8, 4) { SplitTarget = 2 }.Validate(1024)).Message);
        Assert.Throws<ArgumentException>(() => (split.Conv with { SplitTarget = -1 }).Validate(1024));
        Assert.Throws<ArgumentException>(() => (split.Conv with { SplitTarget = ConvTiles.MaxSplitTarget + 1 }).Validate(1024));
        Assert.Equal(CpuDefault with { RowStoreMinWidth = 64 }, TuningPlan.Parse("rowstore=64", CpuDefault));
        // Winograd: CPU devices from 64 channels on, GPUs never by default; 0 switches it off.
        Assert.Equal(TuningPlan.DefaultWinogradMinChannels, CpuDefault.WinogradMinChannels);
        Assert.Equal(0, TuningPlan.Default(AcceleratorType.Cuda, false, 1024).WinogradMinChannels);
        Assert.Equal(CpuDefault with { WinogradMinChannels = 0 }, TuningPlan.Parse("winograd=0", CpuDefault));
        Assert.Equal(CpuDefault with { WinogradMinChannels = 128 }, TuningPlan.Parse("Winograd=128", CpuDefault));
        Assert.Equal(CpuDefault with { WinogradBlock = WinogradBlock.Rows4Tiles24 }, TuningPlan.Parse("wblock=4x24", CpuDefault));
        Assert.Equal(CpuDefault with { WinogradBlock = WinogradBlock.Rows16Tiles16 }, TuningPlan.Parse("wblock=16x16", CpuDefault));
        Assert.Equal(CpuDefault with { WinogradBlock = WinogradBlock.Shared }, TuningPlan.Parse("wblock=shared", CpuDefault));
        foreach (var block in WinogradTiles.AllBlocks)
            Assert.Equal(block, TuningPlan.Parse((CpuDefault with { WinogradBlock = block }).ToString(), CpuDefault).WinogradBlock);
        Assert.Equal(CpuDefault with { WinogradOutputTile = 2 }, TuningPlan.Parse("wtile=2", CpuDefault));
        // The Gram backward's product block: its own key, 8x8 by default, every block read back.
        Assert.Equal(WinogradBlock.Rows8Tiles8, CpuDefault.GramBlock);
        Assert.Equal(CpuDefault with { GramBlock = WinogradBlock.Rows8Tiles16 }, TuningPlan.Parse("gblock=8x16", CpuDefault));
        foreach (var block in WinogradTiles.AllBlocks)
            Assert.Equal(block, TuningPlan.Parse((CpuDefault with { GramBlock = block }).ToString(), CpuDefault).GramBlock);
        // The blocked Gram forward's block: 4 by default (not printed), 3 printed and read back.
        Assert.Equal(4, CpuDefault.GramForwardBlock);
        Assert.Equal(CpuDefault with { GramForwardBlock = 3 }, TuningPlan.Parse("gfblock=3", CpuDefault));
        Assert.EndsWith(",gfblock=3", (CpuDefault with { GramForwardBlock = 3 }).ToString());
        Assert.Equal(CpuDefault with { GramForwardBlock = 3 }, TuningPlan.Parse((CpuDefault with { GramForwardBlock = 3 }).ToString(), CpuDefault));
        Assert.Equal(4, CpuDefault.WinogradTiles.OutputTile);
        foreach (var block in WinogradTiles.AllBlocks)
            Assert.Equal(block, TuningPlan.Parse((CpuDefault with { WinogradBlock = block }).ToString(), CpuDefault).WinogradBlock);
        Assert.Equal(CpuDefault with { Group1D = 8, RowGroup = 4, Tile = 2 }, TuningPlan.Parse("group1d=8,rowgroup=4,tile=2", CpuDefault));
        Assert.Equal(CpuDefault, TuningPlan.Parse(" ", CpuDefault));
        // Choosing a Gram kernel brings its default target unless one is given; keys are case-insensitive.
        Assert.Equal(CpuDefault with { Gram = GramKernelKind.Tiled, GramTarget = 4 }, TuningPlan.Parse("gram=tiled", CpuDefault));
        Assert.Equal(CpuDefault with { Gram = GramKernelKind.Tiled, GramTarget = 9 }, TuningPlan.Parse("GramTarget=9,Gram=Tiled", CpuDefault));
        Assert.Equal(CpuDefault, TuningPlan.Parse("gram=blocked", CpuDefault));
        Assert.Equal(CpuDefault with { Gram = GramKernelKind.Shared, GramTarget = 2 }, TuningPlan.Parse("gram=shared", CpuDefault));
        Assert.Equal(GramKernelKind.Shared, TuningPlan.Parse((CpuDefault with { Gram = GramKernelKind.Shared }).ToString(), CpuDefault).Gram);
        // The printed form is the variable's syntax and reads back to the same plan.
        var gpu = TuningPlan.Default(AcceleratorType.Cuda, false, 1024);
        foreach (var plan in new[] { CpuDefault, parsed, gpu, gpu with { Gram = GramKernelKind.Blocked, GramTarget = 7 } })
            Assert.Equal(plan, TuningPlan.Parse(plan.ToString(), TuningPlan.Default(AcceleratorType.OpenCL, true, 4096)));
        Assert.Equal("kind=blocked,gx=2,gy=8,ci=1,rowstore=128,winograd=64,wtile=4,wblock=16x8,gram=blocked,gramtarget=32,gblock=8x8,group1d=16,rowgroup=16,tile=4", CpuDefault.ToString());
    }

    [Theory]
    [InlineData("kind=fast", "kind must be 'blocked', 'blocked8', 'shared', 'sgemm', 'tf32' or 'bf16'")]
    [InlineData("gram=naive", "gram must be 'blocked', 'tiled', 'shared', 'tf32' or 'bf16'")]
    [InlineData("wblock=32x8", "wblock must be one of 16x8, 8x8, 8x16, 4x24")]
    [InlineData("gblock=16x4", "gblock must be one of 16x8, 8x8, 8x16, 4x24, 16x16")]
    [InlineData("gz=3", "unknown key 'gz'")]
    [InlineData("gx=four", "'gx=four'")]
    [InlineData("rowstore", "not key=value")]
    [InlineData("tile=", "not key=value")]
    public void ParserRejectsInvalidStrings(string text, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => TuningPlan.Parse(text, CpuDefault));
        log.WriteLine(e.Message);
        Assert.Contains(TuningPlan.EnvironmentVariable, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ValidationRejectsPlansTheDeviceOrKernelsCannotRun()
    {
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedTiles, 16, 16, 3).Validate(1024)); // ci not supported
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedTiles, 32, 32, 8).Validate(1024)); // shared arrays too small
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.RegisterBlocked, 8, 4, 1).Validate(16)); // group too large
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedGemm, 16, 2, 8).Validate(1024)); // sgemm: gx, gy in {4, 8, 16}
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedGemm, 32, 8, 8).Validate(1024));
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.SharedGemm, 16, 16, 8).Validate(128)); // 256 work-items
        new ConvTiles(ConvKernelKind.SharedGemm, 4, 4, 1).Validate(16);
        new ConvTiles(ConvKernelKind.RegisterBlocked, 4, 4, 1).Validate(16);
        Assert.Throws<ArgumentException>(() => (CpuDefault with { Conv = CpuDefault.Conv with { GroupX = 4 } }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { Tile = 8 }).Validate(16)); // 64 work-items > 16
        Assert.Throws<ArgumentException>(() => (CpuDefault with { Tile = 32 }).Validate(4096)); // beyond Gpu.MaxTile
        Assert.Throws<ArgumentException>(() => (CpuDefault with { Group1D = 32 }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { RowGroup = 0 }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { GramTarget = 0 }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { RowStoreMinWidth = -1 }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { WinogradMinChannels = -1 }).Validate(16));
        Assert.Throws<ArgumentException>(() => (CpuDefault with { WinogradOutputTile = 3 }).Validate(16)); // no F(3×3, 3×3) kernels
        Assert.Throws<ArgumentException>(() => (CpuDefault with { GramForwardBlock = 2 }).Validate(16)); // Gram forward blocks: 4, 3
        // The shared product block takes square groups of its own (the largest of 4, 8, 16 up to the plan's tile), whatever
        // the convolution's group; its kernel takes sides 4, 8 and 16 only (≤ 16 staged floats per work-item).
        var gpuDefault = TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, 1024);
        Assert.Equal(new WinogradTiles(WinogradBlock.Shared, 16, 16, 4), gpuDefault.WinogradTiles);
        Assert.Equal(new WinogradTiles(WinogradBlock.Shared, 16, 16, 4), (gpuDefault with { Conv = new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) }).ProductTiles(WinogradBlock.Shared));
        Assert.Equal(new WinogradTiles(WinogradBlock.Shared, 8, 8, 4), (gpuDefault with { Tile = 12 }).WinogradTiles);
        Assert.Equal(new WinogradTiles(WinogradBlock.Shared, 4, 4, 4), CpuDefault.ProductTiles(WinogradBlock.Shared));
        Assert.Equal(new WinogradTiles(WinogradBlock.Rows8Tiles8, 2, 8, 4), CpuDefault.ProductTiles(WinogradBlock.Rows8Tiles8));
        Assert.Throws<ArgumentException>(() => new WinogradTiles(WinogradBlock.Shared, 32, 1).Validate(64));
        Assert.Throws<ArgumentException>(() => new WinogradTiles(WinogradBlock.Shared, 3, 5).Validate(64)); // 64 / 3 staged floats
        new WinogradTiles(WinogradBlock.Shared, 4, 8).Validate(64);
        new WinogradTiles(WinogradBlock.Shared, 16, 16).Validate(256);
    }

    /// <summary>
    /// kind=tf32 and gram=tf32 (the tensor-core kernels; kind=bf16 and gram=bf16 alike): parsed, printed and read back; its blockings validated (warps along pixels 1, 2
    /// or 4, along channels 1 or 2, ci=8 for tf32 and 16 for bf16, the static shared tiles, 32 work-items per warp); never a default; and an
    /// override asking for it on a device without TF32 tensor cores is bad input (exit 2), not a crash.
    /// </summary>
    [Fact]
    public void TensorCoreKindIsAnOptInForCapableDevicesOnly()
    {
        var gpu = TuningPlan.Default(AcceleratorType.Cuda, false, 1024);
        var tf32 = TuningPlan.Parse("kind=tf32,gx=2,gy=2,ci=8", gpu);
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8), tf32.Conv);
        Assert.Equal(tf32, TuningPlan.Parse(tf32.ToString(), gpu));
        Assert.StartsWith("kind=tf32,gx=2,gy=2,ci=8,", tf32.ToString());
        tf32.Validate(1024);
        Assert.Equal(128, tf32.Conv.WorkItems);
        Assert.Equal(128, tf32.Conv.GroupChannels);
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 1, 8).Validate(1024);
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 1, 1, 8).Validate(32);
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8).Validate(64));  // 128 work-items
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8).Validate(1024); // 128 × 128 tiles: 2 × (24 × 136 + 8 × 136) shared floats
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8).Validate(128));  // 256 work-items
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 2, 8) { AsyncBuffers = 3 }.Validate(1024); // 3 buffers of 128 × 128 tiles: dynamic shared memory
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 3, 1, 8).Validate(1024));
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 4, 8).Validate(1024));
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 1, 4).Validate(1024));
        foreach (var type in new[] { AcceleratorType.Cuda, AcceleratorType.OpenCL, AcceleratorType.CPU })
            Assert.False(TuningPlan.Default(type, false, 1024).Conv.Kind.IsTensorCore());

        var bf16 = TuningPlan.Parse("kind=bf16,gx=4,gy=1,ci=16,gram=bf16", gpu);
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreBf16, 4, 1, 16), bf16.Conv);
        Assert.Equal(GramKernelKind.TensorCoreBf16, bf16.Gram);
        Assert.Equal(bf16, TuningPlan.Parse(bf16.ToString(), gpu));
        Assert.StartsWith("kind=bf16,gx=4,gy=1,ci=16,", bf16.ToString());
        Assert.Contains(",gram=bf16,", bf16.ToString());
        bf16.Validate(1024);
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreBf16, 3, 1, 16).Validate(1024));
        // A stage's channels are the kind's: 8 for TF32's m16n8k8, 16 for BF16's m16n8k16.
        var chunk = Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreBf16, 4, 1, 8).Validate(1024));
        Assert.Contains("ci=16", chunk.Message);
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 1, 16).Validate(1024));

        var gramTf32 = TuningPlan.Parse("gram=tf32", gpu);
        Assert.Equal(GramKernelKind.TensorCoreTf32, gramTf32.Gram);
        Assert.Equal(gramTf32, TuningPlan.Parse(gramTf32.ToString(), gpu));
        Assert.Contains(",gram=tf32,", gramTf32.ToString());
        gramTf32.Validate(1024);
        (CpuDefault with { Gram = GramKernelKind.TensorCoreTf32 }).Validate(64);
        Assert.Throws<ArgumentException>(() => (CpuDefault with { Gram = GramKernelKind.TensorCoreTf32 }).Validate(32)); // 64 work-items per group

        var env = new Dictionary<string, string?> { [TuningPlan.EnvironmentVariable] = "kind=tf32,gx=1,gy=1,ci=8" };
        var (code, _, err) = CliRunner.Run(env, "bench", "--device", "cpu", "--no-iteration", "--layers", "relu5_1");
        log.WriteLine(err);
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {TuningPlan.EnvironmentVariable}='kind=tf32,gx=1,gy=1,ci=8' is invalid: kind=tf32 needs TF32/BF16 tensor cores", err);
        env[TuningPlan.EnvironmentVariable] = "gram=tf32";
        (code, _, err) = CliRunner.Run(env, "bench", "--device", "cpu", "--no-iteration", "--layers", "relu5_1");
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {TuningPlan.EnvironmentVariable}='gram=tf32' is invalid: gram=tf32 needs TF32/BF16 tensor cores", err);
        env[TuningPlan.EnvironmentVariable] = "kind=bf16,gx=1,gy=1,ci=16";
        (code, _, err) = CliRunner.Run(env, "bench", "--device", "cpu", "--no-iteration", "--layers", "relu5_1");
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {TuningPlan.EnvironmentVariable}='kind=bf16,gx=1,gy=1,ci=16' is invalid: kind=bf16 needs TF32/BF16 tensor cores", err);
    }

    /// <summary>
    /// async=N (the tensor-core conv's cp.async buffers) and gramasync=2 (the tensor-core Gram's): parsed, printed only when
    /// set (so every plan string written before reads the same), read back, validated against the shared memory the kernel may take
    /// (3 or 4 buffers of a 128-channel block in dynamic shared memory) and refused for the FP32 kernels.
    /// </summary>
    [Fact]
    public void AsyncCopyKeysSelectTheCpAsyncStagesOfTheTensorCoreKernels()
    {
        var gpu = TuningPlan.Default(AcceleratorType.Cuda, false, 1024);
        var plan = TuningPlan.Parse("kind=tf32,gx=2,gy=2,ci=8,async=2,gram=tf32,gramasync=2", gpu);
        Assert.Equal(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 }, plan.Conv);
        Assert.NotEqual(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8), plan.Conv);
        Assert.Equal(2, plan.GramAsyncBuffers);
        Assert.StartsWith("kind=tf32,gx=2,gy=2,ci=8,async=2,", plan.ToString());
        Assert.EndsWith(",gramasync=2", plan.ToString());
        Assert.Equal(plan, TuningPlan.Parse(plan.ToString(), gpu));
        plan.Validate(1024);
        Assert.DoesNotContain("async", gpu.ToString());

        new ConvTiles(ConvKernelKind.TensorCoreBf16, 2, 1, 16) { AsyncBuffers = 3 }.Validate(1024);  // 3 × (24 × 72 + 8 × 72) floats fit
        new ConvTiles(ConvKernelKind.TensorCoreTf32, 4, 1, 8) { AsyncBuffers = 2 }.Validate(1024);
        // Past the static 48 KiB (3 × (24 × 128 + 8 × 72) floats beside the exchange areas) the tiles take dynamic shared
        // memory; every supported blocking and depth fits the 96 KiB the kernel may ask for, a larger need would not.
        Assert.True(Conv2d.TensorCoreDynamicShared(Conv2d.TensorCoreSharedNeed(128, 64, 3)));
        Assert.False(Conv2d.TensorCoreDynamicShared(Conv2d.TensorCoreSharedNeed(128, 64, 2)));
        foreach (var kind in new[] { ConvKernelKind.TensorCoreTf32, ConvKernelKind.TensorCoreBf16 })
        foreach (int gx in ConvTiles.TensorCoreWarpsAlongPixels)
        foreach (int gy in ConvTiles.TensorCoreWarpsAlongChannels)
        foreach (int buffers in ConvTiles.SupportedAsyncBuffers)
            new ConvTiles(kind, gx, gy, Conv2d.TensorCoreStageChannels(kind)) { AsyncBuffers = buffers }.Validate(1024);
        Assert.False(Conv2d.TensorCoreSharedFits(Conv2d.TensorCoreDynamicSharedFloats));
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 1, 1, 8) { AsyncBuffers = 1 }.Validate(1024));
        Assert.Throws<ArgumentException>(() => new ConvTiles(ConvKernelKind.TensorCoreTf32, 1, 1, 8) { AsyncBuffers = 5 }.Validate(1024));
        var fp32 = Assert.Throws<ArgumentException>(() => (CpuDefault with { Conv = CpuDefault.Conv with { AsyncBuffers = 2 } }).Validate(1024));
        Assert.Contains("tensor-core kinds only", fp32.Message);
        Assert.Throws<ArgumentException>(() => (gpu with { Gram = GramKernelKind.TensorCoreTf32, GramAsyncBuffers = 3 }).Validate(1024));
        var gramFp32 = Assert.Throws<ArgumentException>(() => (gpu with { GramAsyncBuffers = 2 }).Validate(1024));
        Assert.Contains("gram=tf32 or bf16", gramFp32.Message);
    }

    [Fact]
    public void JsonFormNamesTheKernels()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(TuningPlan.Default(AcceleratorType.Cuda, false, 1024));
        log.WriteLine(json);
        Assert.Contains("\"Kind\":\"SharedTiles\"", json);
        Assert.Contains("\"Gram\":\"Shared\"", json);
        Assert.Contains("\"RowStoreMinWidth\":128", json);
        Assert.DoesNotContain("PatchFloats", json);
    }

    [Fact]
    public void DevicesVerbosePrintsThePlanOfEveryUsableDevice()
    {
        var (code, output, err) = CliRunner.Run("devices", "--verbose");
        log.WriteLine(output + err);
        Assert.Equal(0, code);
        foreach (var device in DeviceCatalog.List().Where(d => d.Usable))
            Assert.Contains($"plan: {TuningPlan.For(device)}", output);
        Assert.Contains("plan: kind=blocked,gx=2,gy=8,ci=1,rowstore=128,winograd=64,wtile=4,wblock=16x8,gram=blocked", output); // the CPU simulator at least
        Assert.DoesNotContain("plan:", CliRunner.Run("devices").Out);
    }

    [Fact]
    public void TheOverrideVariableReachesThePlanAndAnInvalidOneIsBadInput()
    {
        var env = new Dictionary<string, string?> { [TuningPlan.EnvironmentVariable] = "gram=tiled,rowstore=64" };
        var (code, output, _) = CliRunner.Run(env, "devices", "--verbose");
        Assert.Equal(0, code);
        Assert.Contains("plan: kind=blocked,gx=2,gy=8,ci=1,rowstore=64,winograd=64,wtile=4,wblock=16x8,gram=tiled,gramtarget=4", output);

        env[TuningPlan.EnvironmentVariable] = "gram=fast";
        var (bad, _, err) = CliRunner.Run(env, "bench", "--device", "cpu", "--no-iteration", "--layers", "relu5_1");
        log.WriteLine(err);
        Assert.Equal(2, bad);
        Assert.StartsWith($"error: {TuningPlan.EnvironmentVariable}='gram=fast' is invalid", err);
    }

    [Fact]
    public void BenchJsonIncludesThePlanInForce()
    {
        var (code, output, err) = CliRunner.Run("bench", "--device", "cpu", "--size", "16", "--runs", "1", "--warmup", "0",
            "--layers", "conv3_1,relu5_1", "--no-iteration", "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        var plan = doc.RootElement.GetProperty("plan");
        Assert.Equal("Blocked", plan.GetProperty("gram").GetString());
        Assert.Equal("RegisterBlocked", plan.GetProperty("conv").GetProperty("kind").GetString());
        Assert.Equal(128, plan.GetProperty("rowStoreMinWidth").GetInt32());
        Assert.Contains("gram=blocked", doc.RootElement.GetProperty("kernels").GetProperty("plan").GetString());
        // Each layer row says what the plan ran for it: conv3_1 (128 → 256 channels) as Winograd, the Gram with the blocked kernel.
        var rows = doc.RootElement.GetProperty("kernels").GetProperty("timings").EnumerateArray()
            .ToDictionary(t => t.GetProperty("kernel").GetString()!, t => t.GetProperty("algorithm").GetString()!);
        Assert.Equal("winograd F(4×4,3×3) wblock=16x8", rows["conv forward+bias+relu"]);
        Assert.Equal("winograd F(4×4,3×3) wblock=16x8", rows["conv backward-data"]);
        Assert.Equal("gram=blocked", rows["gram forward"]);
        Assert.Equal("gram=blocked gblock=8x8", rows["gram backward"]);
    }

    [Fact]
    public void PlannedKernelNamesWhatTheDispatchRuns()
    {
        Assert.Equal("direct kind=blocked,gx=2,gy=8,ci=1", Conv2d.PlannedKernel3x3(CpuDefault, 3, 64)); // conv1_1: below the threshold
        // conv1_1's backward-data (64 → 3): at most 8 outputs take the 8-channel block (Conv2d.DirectTiles).
        Assert.Equal("direct kind=blocked8,gx=2,gy=8,ci=1", Conv2d.PlannedKernel3x3(CpuDefault, 64, 3));
        Assert.Equal("winograd F(4×4,3×3) wblock=16x8", Conv2d.PlannedKernel3x3(CpuDefault, 64, 64));
        Assert.Equal("winograd F(2×2,3×3) wblock=4x24",
            Conv2d.PlannedKernel3x3(CpuDefault with { WinogradOutputTile = 2, WinogradBlock = WinogradBlock.Rows4Tiles24 }, 512, 512));
        Assert.StartsWith("direct kind=shared", Conv2d.PlannedKernel3x3(TuningPlan.Default(AcceleratorType.Cuda, false, 1024), 512, 512));
    }
}
