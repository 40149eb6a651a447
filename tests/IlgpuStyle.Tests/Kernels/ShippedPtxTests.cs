using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// <see cref="ShippedPtx"/> offline (ILGPU's PTX backend runs anywhere): a folder <see cref="ShippedPtx.Precompile"/> wrote
/// serves a cache whose own folder is empty — nothing compiled, the PTX a device of a newer ISA would have compiled (up to
/// the <c>.version</c> line) — only for the architectures it holds and devices whose PTX ISA is not older; what it lacks is
/// compiled and named in the summary; the manifest decides whether the folder counts. And <see cref="CudaKernelVariants"/>
/// lists what --precision's tuning launches on every VGG19 layer.
/// </summary>
public class ShippedPtxTests(ITestOutputHelper log)
{
    private static PTXBackend Backend(CudaArchitecture architecture, CudaInstructionSet isa) =>
        // DeviceCatalog's context (the library's intrinsics), as PtxasTests and PtxKernelCacheTests.
        new(Devices.Get("cpu").Accelerator.Context, architecture, isa, null!);

    private static readonly CudaInstructionSet Isa88 = new(8, 8);

    /// <summary>
    /// An element-wise kernel, Gram's shared SGEMM (16 × 16 groups) and the tensor-core convolution with cp.async (depots
    /// rewritten), as an sm_90 device runs it (TF32 to nearest even: CudaKernelVariants.Variant.RunsOn).
    /// </summary>
    private static List<CudaKernelVariants.Variant> ThreeVariants() =>
        CudaKernelVariants.All().Where(v => v.Name is "Elementwise.AxpyKernel" or "Gram.ForwardSharedKernel [16x16]"
            or "Conv2d.TensorCore3x3Kernel [tf32 nearest-even gx=2 gy=2 async=2]").ToList();

    private static ShippedPtx Made(string dir, CudaArchitecture arch, List<CudaKernelVariants.Variant> variants) =>
        ShippedPtx.Precompile(Devices.Get("cpu").Accelerator.Context, dir, [arch], ShippedPtx.DefaultInstructionSet, variants);

    // ILGPU's value numbers in names differ from one compilation to the next (PtxasTests.SameForSm80AndSm90), and the
    // .version line says the ISA.
    private static string Comparable(string ptx) => Regex.Replace(Regex.Replace(ptx, @"_\d+\b", "_N"), @"^\.version .*$", ".version", RegexOptions.Multiline);

    [Fact]
    public void AnEmptyCacheReadsTheShippedKernelsAndCompilesNothing()
    {
        var variants = ThreeVariants();
        Assert.Equal(3, variants.Count);
        Assert.Single(variants, v => v.RewriteDepots);
        using var shippedDir = new TempDir();
        using var userDir = new TempDir();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shipped = Made(shippedDir.Path, CudaArchitecture.SM_90, variants);
        log.WriteLine($"precompiled {variants.Count} variants in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal((3, ShippedPtx.DefaultInstructionSet), (shipped.Kernels, shipped.InstructionSet));
        Assert.Equal(3, Directory.GetFiles(shippedDir.Path, "*.ptxk").Length);

        // A device whose driver takes a newer ISA (CUDA 13 with ILGPU 1.5.3: 8.8) reads the files made for 8.4.
        using var device = Backend(CudaArchitecture.SM_90, Isa88);
        var cache = new PtxKernelCache(userDir.Path) { Shipped = shipped };
        foreach (var v in variants)
        {
            var read = cache.Compile(device, v.Method, v.Specialized, v.RewriteDepots, out bool fromDisk);
            Assert.True(fromDisk, $"{v.Name} was compiled");
            Assert.Contains(".version 8.4", read.PTXAssembly);
            // What the device would have compiled itself: the same code, its own .version line.
            var own = new PtxKernelCache(Path.Combine(userDir.Path, "own")).Compile(device, v.Method, v.Specialized, v.RewriteDepots, out bool ownFromDisk);
            Assert.False(ownFromDisk);
            Assert.Contains(".version 8.8", own.PTXAssembly);
            Assert.Equal(Comparable(own.PTXAssembly), Comparable(read.PTXAssembly));
            Assert.Equal(PtxKernelCache.EntryPointOf(own).SharedMemory.StaticSize, PtxKernelCache.EntryPointOf(read).SharedMemory.StaticSize);
            if (v.RewriteDepots) Assert.DoesNotContain("__local_depot", read.PTXAssembly);
        }
        Assert.Equal((0, 0, 3), (cache.CompiledCount, cache.ReadCount, cache.ShippedCount));
        Assert.Empty(Directory.GetFiles(userDir.Path, "*.ptxk")); // nothing copied: the shipped folder is read where it is
        var summary = cache.Summary();
        log.WriteLine(summary);
        Assert.StartsWith("kernels: 0 compiled by ILGPU in 0.0 s, 0 read from the PTX cache in ", summary);
        Assert.Contains($", 3 shipped in ", summary);
        Assert.DoesNotContain("not shipped", summary);
    }

    /// <summary>
    /// `--device cuda` opens a context of the CUDA devices alone (<see cref="DeviceCatalog.CreateCudaContext"/>); the keys it
    /// looks kernels up under and the PTX it compiles are those of the context the shipped PTX is made in
    /// (<see cref="DeviceCatalog.CreateCudaCompileContext"/>, every accelerator listed), so a fresh run finds every shipped file.
    /// </summary>
    [Fact]
    public void TheCudaOnlyContextCompilesAsTheShippedOnesContextDoes()
    {
        using var cudaOnly = DeviceCatalog.CreateCudaContext();
        using var shipping = DeviceCatalog.CreateCudaCompileContext();
        using var run = new PTXBackend(cudaOnly, CudaArchitecture.SM_90, Isa88, null!);
        using var made = new PTXBackend(shipping, CudaArchitecture.SM_90, Isa88, null!);
        using var runDir = new TempDir();
        using var madeDir = new TempDir();
        foreach (var v in ThreeVariants())
        {
            var bounds = LaunchBoundsAttribute.Of(v.Method);
            Assert.Equal(PtxKernelCache.Key(made, v.Method, v.Specialized, bounds, v.RewriteDepots),
                PtxKernelCache.Key(run, v.Method, v.Specialized, bounds, v.RewriteDepots));
            var ran = new PtxKernelCache(runDir.Path).Compile(run, v.Method, v.Specialized, v.RewriteDepots, out _);
            var shipped = new PtxKernelCache(madeDir.Path).Compile(made, v.Method, v.Specialized, v.RewriteDepots, out _);
            Assert.Equal(Comparable(shipped.PTXAssembly), Comparable(ran.PTXAssembly));
        }
    }

    [Fact]
    public void OnlyTheFolderArchitecturesAndDevicesOfItsIsaOrNewerReadIt()
    {
        var axpy = ThreeVariants().Single(v => v.Name == "Elementwise.AxpyKernel");
        using var shippedDir = new TempDir();
        using var userDir = new TempDir();
        var shipped = Made(shippedDir.Path, CudaArchitecture.SM_90, [axpy]);
        using var sm80 = Backend(CudaArchitecture.SM_80, Isa88);            // not in the folder
        using var olderDriver = Backend(CudaArchitecture.SM_90, new(8, 3)); // CUDA 12.3 cannot JIT ISA 8.4
        using var sm90 = Backend(CudaArchitecture.SM_90, ShippedPtx.DefaultInstructionSet);
        Assert.Equal((false, false, true), (shipped.Serves(sm80), shipped.Serves(olderDriver), shipped.Serves(sm90)));
        var cache = new PtxKernelCache(userDir.Path) { Shipped = shipped };
        cache.Compile(sm80, axpy.Method, axpy.Specialized, false, out bool a);
        cache.Compile(olderDriver, axpy.Method, axpy.Specialized, false, out bool b);
        cache.Compile(sm90, axpy.Method, axpy.Specialized, false, out bool c);
        Assert.Equal((false, false, true), (a, b, c));
        Assert.Equal((2, 1), (cache.CompiledCount, cache.ShippedCount));
        // What the folder lacked is named, so that the next precompile can hold it.
        Assert.Equal(["Elementwise.AxpyKernel", "Elementwise.AxpyKernel"], cache.CompiledNames);
        Assert.Contains("; not shipped: Elementwise.AxpyKernel, Elementwise.AxpyKernel", cache.Summary());
        // A specialized variant's name carries its values.
        var gram = ThreeVariants().Single(v => v.Name.StartsWith("Gram.", StringComparison.Ordinal));
        Assert.Equal("Gram.ForwardSharedKernel [16]", PtxKernelCache.VariantName(gram.Method, gram.Specialized));
    }

    [Fact]
    public void TheManifestDecidesWhetherAFolderCounts()
    {
        var axpy = ThreeVariants().Single(v => v.Name == "Elementwise.AxpyKernel");
        using var program = new TempDir();
        var dir = Path.Combine(program.Path, "ptx");
        Assert.Null(ShippedPtx.Open(dir)); // no folder
        Made(dir, CudaArchitecture.SM_90, [axpy]);
        string? Env(string name, string? value) => name == ShippedPtx.EnvironmentVariable ? value : null;
        // The program's folder's ptx by default; a folder named by the variable; off.
        Assert.Equal(dir, ShippedPtx.FromEnvironment(n => Env(n, null), program.Path)?.Directory);
        Assert.Equal(dir, ShippedPtx.FromEnvironment(n => Env(n, dir), "/nonexistent")?.Directory);
        Assert.Null(ShippedPtx.FromEnvironment(n => Env(n, "off"), program.Path));
        Assert.Contains("shipped kernels: off", ShippedPtx.Describe(n => Env(n, "off"), program.Path));
        Assert.Contains("1 kernels for SM_90, PTX ISA 8.4", ShippedPtx.Describe(n => Env(n, null), program.Path));
        // A damaged manifest, or none (a precompile cut short writes it last): the folder does not count.
        var manifest = Path.Combine(dir, ShippedPtx.ManifestName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("SM_90", "SM_X"));
        Assert.Null(ShippedPtx.Open(dir));
        File.WriteAllText(manifest, "{");
        Assert.Null(ShippedPtx.Open(dir));
        File.Delete(manifest);
        Assert.Null(ShippedPtx.Open(dir));
        Assert.Contains("shipped kernels: none in", ShippedPtx.Describe(n => Env(n, null), program.Path));
    }

    [Fact]
    public void PrewarmHandsTheDriverTheStoredPtxOfEachVariantOnceAndStopsAtAnError()
    {
        var variants = ThreeVariants();
        using var shippedDir = new TempDir();
        using var userDir = new TempDir();
        var shipped = Made(shippedDir.Path, CudaArchitecture.SM_90, variants[..2]);
        using var device = Backend(CudaArchitecture.SM_90, Isa88);
        var cache = new PtxKernelCache(userDir.Path) { Shipped = shipped };
        var jitted = new System.Collections.Concurrent.ConcurrentBag<string>();
        // The third variant is on no disk: ILGPU compiles it at its load, the prewarm leaves it alone. The first twice: once.
        var (kernels, _, error) = cache.Prewarm(device, [variants[0], .. variants, variants[1]], threads: 4, ptx =>
        {
            jitted.Add(ptx);
            return null;
        });
        Assert.Equal((2, (string?)null), (kernels, error));
        var expected = variants[..2].Select(v => cache.Compile(device, v.Method, v.Specialized, v.RewriteDepots, out _).PTXAssembly).Order();
        Assert.Equal(expected, jitted.Order());
        Assert.Null(cache.StoredPtx(device, variants[2].Method, variants[2].Specialized, variants[2].RewriteDepots));
        Assert.Equal(0, cache.CompiledCount); // the prewarm compiled nothing with ILGPU

        // The driver refuses: the rest is not tried, the error is said.
        int calls = 0;
        var refused = cache.Prewarm(device, variants, threads: 1, _ =>
        {
            Interlocked.Increment(ref calls);
            return "CUDA_ERROR_INVALID_PTX";
        });
        Assert.Equal((0, "CUDA_ERROR_INVALID_PTX", 1), (refused.Kernels, refused.Error, calls));
    }

    [Theory]
    [InlineData("sm_90", 9, 0)]
    [InlineData("SM_86", 8, 6)]
    [InlineData("8.0", 8, 0)]
    public void ArchitecturesParse(string text, int major, int minor) =>
        Assert.Equal(new CudaArchitecture(major, minor), ShippedPtx.ParseArchitecture(text));

    [Fact]
    public void IsasParseAndNonsenseDoesNot()
    {
        Assert.Equal(new CudaInstructionSet(8, 4), ShippedPtx.ParseIsa("8.4"));
        Assert.Equal(new CudaInstructionSet(8, 8), ShippedPtx.ParseIsa("ISA_88"));
        Assert.Null(ShippedPtx.ParseIsa("eight"));
        Assert.Null(ShippedPtx.ParseArchitecture("sm_9"));
    }

    /// <summary>
    /// --precision tf32 and bf16 on a CUDA device: the default blocking and every blocking the tensor-core tuning tries (quick
    /// and full), as the convolution maps it for each VGG19 layer's output channels (forward: its own, backward-data: its
    /// input's), are in the catalog — found here from the network's layout and the plans, not from the catalog's own list.
    /// </summary>
    [Theory]
    [InlineData(Precision.Tf32, ConvKernelKind.TensorCoreTf32)]
    [InlineData(Precision.Bf16, ConvKernelKind.TensorCoreBf16)]
    public void EveryTensorCoreBlockingATuningLaunchesIsListed(Precision precision, ConvKernelKind kind)
    {
        // Each listed blocking and whether it is loaded with its depots rewritten.
        var listed = CudaKernelVariants.All().Where(v => v.Method.Name == "TensorCore3x3Kernel")
            .ToDictionary(v => ((SpecializedValue<ConvTiles>)v.Specialized.Single()).Value, v => v.RewriteDepots);
        var start = Precisions.OnTensorCores(TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, maxGroupSize: 1024), precision, 1024);
        Assert.Equal(kind, start.Conv.Kind);
        var channels = IlgpuStyle.Network.Weights.Vgg19Layout.ConvLayers.SelectMany(l => new[] { l.Cout, l.Cin }).Distinct().ToList();
        int checkedCount = 0;
        foreach (bool full in new[] { false, true })
            foreach (var plan in Autotuner.TensorCoreBlockings(start, 1024, full).Prepend(start))
                foreach (var split in Autotuner.TensorCoreSplits(plan, full))
                    foreach (int m in channels)
                    {
                        var launched = Conv2d.TensorCoreTilesFor(split.Conv, m) with { SplitTarget = 0 };
                        Assert.True(listed.TryGetValue(launched, out bool rewritten), $"{launched} (for {m} channels) is not in CudaKernelVariants");
                        Assert.Equal(launched.AsyncBuffers > 0, rewritten);
                        checkedCount++;
                    }
        log.WriteLine($"{kind}: {checkedCount} (blocking, split, layer) launches, {listed.Keys.Count(t => t.Kind == kind)} variants listed");
    }
}
