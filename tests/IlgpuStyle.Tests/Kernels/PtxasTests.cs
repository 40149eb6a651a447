using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.TensorCores;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// The GPU kernels checked offline with NVIDIA's ptxas (no GPU needed): every kernel of the library is compiled to PTX
/// (once: ILGPU writes the same PTX for sm_80 and sm_90, <see cref="SameForSm80AndSm90"/>) and assembled for both — kernels with <see cref="SpecializedValue{T}"/> parameters with the values the GPU path
/// can launch (<see cref="CudaKernelVariants"/>: the GPU defaults, every GPU candidate of the autotuner — the tensor-core
/// blockings of --precision tf32|bf16 among them, whose inline mma.sync and cvt.rna.tf32 need sm_80 — and the values only
/// an override reaches; kernels with cp.async as the library loads them, their asm operand depots rewritten into
/// registers by <see cref="PtxDepots"/>) — and assembled by <c>ptxas -v</c>: the PTX `ilgpu-style kernels precompile` ships. Fails on any ptxas error, on register spills in the
/// hot kernels (convolution, Gram), on any stack in a hot kernel or left in a rewritten one, and on a tensor-core convolution over 128 registers on sm_90; logs registers, spills and shared memory per kernel (the table in doc/PERFORMANCE.md,
/// "PTX offline"; <c>bench/ptx-report.sh</c> prints it).
/// ILGPU_STYLE_PTX_DIR=folder keeps the PTX files (folder/sm_80/*.ptx, …). ILGPU_STYLE_PTX_ONLY=regex assembles only the
/// kernels whose name (with its variant label) matches, e.g. "TensorCore" (the GPU run's ptxas step, on the machine's own ptxas).
/// ptxas comes from .ci/install-ptxas.sh (or $ILGPU_STYLE_PTXAS); without it the test is skipped with the reason,
/// except under CI=true, where CI installs it and its absence is a failure.
/// </summary>
public class PtxasTests(ITestOutputHelper log)
{
    /// <summary>Where .ci/install-ptxas.sh unpacks the toolkit (its ILGPU_STYLE_PTXAS_DIR default).</summary>
    private const string DefaultPtxasDir = "/opt/ilgpu-style-ptxas";

    /// <summary>
    /// PTX ISA of the generated code: 8.4 is the newest the CUDA 12.4 ptxas reads, and covers sm_80 and sm_90.
    /// (On a real device ILGPU picks the newest ISA the driver supports; the ISA version does not change codegen here.)
    /// ILGPU 1.5.3 writes ".target sm_80" for SM_90 as well, so the sm_90 row is that PTX assembled for sm_90 —
    /// what the driver's JIT does with it on an H100.
    /// </summary>
    private static readonly CudaInstructionSet Isa = CudaInstructionSet.ISA_84;

    /// <summary>
    /// Kernels whose spills fail the test: everything in the convolution and Gram classes, except specialized variants
    /// the GPU path does not launch unless told to (see <see cref="GpuKernelVariants"/>) and the Winograd products' CPU
    /// register blocks and float16 vector kernels (CPU designs; on a GPU only by override), whose spills are reported.
    /// Winograd's transforms and its shared product are GPU candidates the autotuner times (Autotuner.cs).
    /// </summary>
    private static bool IsHot(MethodInfo kernel) =>
        (kernel.DeclaringType == typeof(Conv2d) || kernel.DeclaringType == typeof(Gram))
        && !(kernel.Name.StartsWith("WinogradGemm", StringComparison.Ordinal) && kernel.Name != "WinogradGemmSharedKernel")
        && !kernel.Name.Contains("Vector", StringComparison.Ordinal);

    /// <summary>
    /// PTX's integer divisions and remainders by an immediate, and every 64-bit one, distinct, as written — but for those
    /// whose result no instruction reads, which ptxas drops (ILGPU computes a dynamic shared view's length, %dynamic_smem_size
    /// over the element size, in every kernel that takes one).
    /// </summary>
    private static string[] DivisionsByConstants(string ptx) =>
        Regex.Matches(ptx, @"^\s*((?:div|rem)\.[su](?:32|64)\s+(%\w+),[^;]+);", RegexOptions.Multiline)
            .Where(m => Regex.IsMatch(m.Groups[1].Value, @"^(?:div|rem)\.[su]64|,\s*-?\d+$") && Regex.Matches(ptx, Regex.Escape(m.Groups[2].Value) + @"\b").Count > 1)
            .Select(m => Regex.Replace(m.Groups[1].Value, @"\s+", " ")).Distinct().ToArray();

    /// <summary>The most registers a tensor-core convolution variant may take: 65536 / (256 · 2).</summary>
    private const int TensorCoreConvRegisters = 128;

    /// <summary>
    /// The most registers a tensor-core Gram variant may take: its 38.4 KB of static shared memory (+ 1 KB the driver
    /// reserves per group) fit 5 groups of 64 threads in Hopper's 228 KB; 65536 / (5 · 64) = 204.8, allocated in steps of 8.
    /// The held TF32 stages (64 values a thread) take 168–177.
    /// </summary>
    private const int TensorCoreGramRegisters = 200;

    /// <summary>
    /// The kernels whose shared reads must be 128-bit (<c>ld.shared.v4.f32</c>): the shared SGEMMs, and the tensor-core
    /// convolution's A fragments (WarpRows.FragmentOrder).
    /// </summary>
    private static readonly string[] VectorizedSharedReads =
        ["Conv2d.SharedGemm3x3Kernel", "Conv2d.WinogradGemmSharedKernel", "Gram.ForwardSharedKernel", "Conv2d.TensorCore3x3Kernel"];

    [Theory]
    [InlineData("sm_80")]
    [InlineData("sm_90")]
    public void EveryGpuKernelAssemblesWithoutSpillsInTheHotKernels(string arch)
    {
        var ptxas = FindPtxas();
        if (ptxas is null)
        {
            var why = $"*** PTXAS CHECK NOT RUN: ptxas not found (set ILGPU_STYLE_PTXAS, or run .ci/install-ptxas.sh: it unpacks to {DefaultPtxasDir}) ***";
            if (Environment.GetEnvironmentVariable("CI") == "true")
                throw new InvalidOperationException("CI=true but " + why);
            Assert.Skip(why);
        }
        // ILGPU_STYLE_PTX_DIR keeps the PTX (and ptxas' cubins) for reading, e.g. when tuning a kernel.
        using var temp = new TempDir();
        var keep = Environment.GetEnvironmentVariable("ILGPU_STYLE_PTX_DIR");
        var dir = string.IsNullOrWhiteSpace(keep) ? temp.Path : Directory.CreateDirectory(Path.Combine(keep, arch)).FullName;
        var rows = new List<PtxasReport>();
        var failures = new List<string>();
        var assemblies = new List<(Variant Variant, string File, bool Rewritten, double CompileMs)>();
        var only = Environment.GetEnvironmentVariable(OnlyVariable);
        var architecture = ShippedPtx.ParseArchitecture(arch) ?? throw new ArgumentException(arch);
        foreach (var (variant, generated, error, compileMs) in GeneratedPtx.Value)
        {
            // A variant for other compute capabilities (CudaKernelVariants: the Gram's TF32 rounding is cvt.rna before sm_90,
            // to nearest even from it on, whose instruction sm_80's ptxas refuses) is neither shipped nor launched there.
            if (!variant.Library.RunsOn(architecture)) continue;
            if (generated is not { } ptx)
            {
                failures.Add($"{variant.Name}: ILGPU could not generate PTX: {error}");
                continue;
            }
            if (variant.Name.Contains("async=", StringComparison.Ordinal) != ptx.Contains("cp.async.commit_group", StringComparison.Ordinal))
            {
                failures.Add($"{variant.Name}: cp.async stages {(ptx.Contains("cp.async", StringComparison.Ordinal) ? "in a variant without async=" : "missing from the PTX")}");
                continue;
            }
            if (ptx.Contains("cp.async", StringComparison.Ordinal) && SharedArrays(ptx) is var arrays
                && !arrays.SequenceEqual([AsyncCopy.SharedArraySymbol]) && !arrays.SequenceEqual([AsyncCopy.DynamicSharedArraySymbol]))
            {
                // AsyncCopy names the kernel's shared array: it must be the only one, under the name ILGPU gave it (static,
                // or dynamic: then the rewrite below renames the copies' symbol).
                failures.Add($"{variant.Name}: cp.async into {AsyncCopy.SharedArraySymbol} or {AsyncCopy.DynamicSharedArraySymbol}, but the PTX declares the shared arrays [{string.Join(", ", arrays)}]");
                continue;
            }
            // The shared SGEMMs read their operands 128 bits at a time (SharedGemm.Steps8Runs; the tensor-core convolution its
            // A fragments: WarpRows.FragmentOrder): ILGPU vectorizes those loads only
            // while it knows the arrays' alignment, and nothing else would say so if a change lost it.
            if (VectorizedSharedReads.Any(k => variant.Name.StartsWith(k, StringComparison.Ordinal))
                && !ptx.Contains("ld.shared.v4.f32", StringComparison.Ordinal))
            {
                failures.Add($"{variant.Name}: no ld.shared.v4.f32 (its shared reads are no longer 128-bit)");
                continue;
            }
            // ptxas leaves PTX's div and rem by an immediate to a ~15-instruction reciprocal sequence (ConstantDivision):
            // the hot kernels divide by constants with ConstantDivision.Quotient or a mask, and 64-bit divisions not at all.
            if (variant.Hot && DivisionsByConstants(ptx) is { Length: > 0 } divisions)
            {
                failures.Add($"{variant.Name}: division by a constant left to ptxas: {string.Join("; ", divisions)}");
                continue;
            }
            // The library loads cp.async kernels with ILGPU's asm operand depots rewritten into registers
            // (RewrittenPtxKernels); that text is what is assembled, and it must need no stack.
            bool rewritten = ptx.Contains("cp.async", StringComparison.Ordinal);
            if (rewritten)
            {
                try
                {
                    ptx = PtxDepots.Rewrite(ptx).Ptx;
                }
                catch (InvalidOperationException e)
                {
                    failures.Add($"{variant.Name}: {e.Message}");
                    continue;
                }
            }
            var file = Path.Combine(dir, variant.FileName + ".ptx");
            File.WriteAllText(file, ptx);
            assemblies.Add((variant, file, rewritten, compileMs));
        }
        // ptxas runs one process per kernel, on every core: ~230 a row took ~110 s one after another in a CI run, where
        // this host is the longest of the three (doc/PERFORMANCE.md, stop 61). The reports are read in the variants' order.
        var outputs = new (int Code, string Output)[assemblies.Count];
        Parallel.For(0, assemblies.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => outputs[i] = RunPtxas(ptxas!, arch, assemblies[i].File));
        for (int i = 0; i < assemblies.Count; i++)
        {
            var (variant, _, rewritten, compileMs) = assemblies[i];
            var (code, output) = outputs[i];
            if (code != 0)
            {
                failures.Add($"{variant.Name}: ptxas exited {code}:\n{output}");
                continue;
            }
            var row = PtxasReport.Parse(variant.Name, variant.Hot, output) with { CompileMs = compileMs };
            rows.Add(row);
            if (rewritten && row.StackFrame > 0)
                failures.Add($"{variant.Name}: {row.StackFrame} bytes of stack after the depot rewrite");
            if (row.Hot && (row.SpillStores > 0 || row.SpillLoads > 0))
                failures.Add($"{variant.Name}: spills in a hot kernel ({row.SpillStores} bytes stored, {row.SpillLoads} bytes loaded, {row.StackFrame} bytes stack)");
            // Stack without spills is a local-memory depot ILGPU made: a local whose address it took (a C# out or ref parameter
            // into a struct field cost the held tensor-core staging 8–12 registers and ~155 SASS a stage, doc/PERFORMANCE.md
            // stop 52) or a local array indexed at run time.
            else if (row.Hot && row.StackFrame > 0)
                failures.Add($"{variant.Name}: {row.StackFrame} bytes of stack in a hot kernel (a local-memory depot: an out/ref parameter or a local array indexed at run time?)");
            // The tensor-core convolution holds a stage in registers only where ptxas keeps it at ≤ 128 registers on Hopper
            // (two groups of 256 or four of 128 per SM; Conv2dTensorCoreKernel.cs, `held`): more would cost groups per SM.
            // sm_80's TF32 4 × 1 takes 130 (logged above).
            if (arch == "sm_90" && variant.Name.StartsWith("Conv2d.TensorCore3x3Kernel", StringComparison.Ordinal) && row.Registers > TensorCoreConvRegisters)
                failures.Add($"{variant.Name}: {row.Registers} registers, over {TensorCoreConvRegisters} (fewer groups per SM)");
            if (arch == "sm_90" && variant.Name.StartsWith("Gram.", StringComparison.Ordinal) && variant.Name.Contains("TensorCoreKernel", StringComparison.Ordinal)
                && row.Registers > TensorCoreGramRegisters)
                failures.Add($"{variant.Name}: {row.Registers} registers, over {TensorCoreGramRegisters} (fewer groups per SM than its shared memory allows)");
        }

        log.WriteLine($"ptxas {PtxasVersion(ptxas!)}, -arch={arch}, PTX ISA {Isa}; {rows.Count} kernels ('*' = hot: spills fail the test)");
        // "ilgpu ms": ILGPU's own PTX generation of the kernel (O2, as on a CUDA device), part of a CUDA run's start-up.
        log.WriteLine($"PTX {arch,-6} {"kernel",-62} {"regs",5} {"spill st",9} {"spill ld",9} {"stack",6} {"smem",7} {"ilgpu ms",9}");
        foreach (var r in rows)
            log.WriteLine($"PTX {arch,-6} {(r.Hot ? "*" : " ")}{r.Name,-61} {r.Registers,5} {r.SpillStores,9} {r.SpillLoads,9} {r.StackFrame,6} {r.SharedBytes,7} {r.CompileMs,9:F0}");
        log.WriteLine($"PTX {arch,-6} ILGPU's PTX generation, all {rows.Count} kernels: {rows.Sum(r => r.CompileMs) / 1000:F1} s");
        Assert.True(rows.Count >= (string.IsNullOrEmpty(only) ? 20 : 1), $"only {rows.Count} kernels assembled{(string.IsNullOrEmpty(only) ? "" : $" (ILGPU_STYLE_PTX_ONLY={only})")}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// Every variant's PTX (null where ILGPU failed, with the reason) and the milliseconds
    /// ILGPU took, generated once for both rows: ILGPU 1.5.3 writes the same PTX for SM_80 and SM_90 (".target sm_80"
    /// in both; the 138 kernels compared 2026-12-05 differed only in the numbers ILGPU appends to names, which
    /// <see cref="SameForSm80AndSm90"/> checks on the kernels most likely to differ). Generated as for the GPU this
    /// project measures, SM_90. Half the test's time was the second generation. Only the variants
    /// ILGPU_STYLE_PTX_ONLY selects (the GPU run's ptxas step: the tensor-core kernels, under a 60 s cap).
    /// </summary>
    private static readonly Lazy<List<(Variant Variant, string? Ptx, string? Error, double CompileMs)>> GeneratedPtx = new(() =>
    {
        using var backend = NewBackend(CudaArchitecture.SM_90);
        var list = new List<(Variant, string?, string?, double)>();
        var only = Environment.GetEnvironmentVariable(OnlyVariable);
        foreach (var variant in GpuKernelVariants().Where(v => string.IsNullOrEmpty(only) || Regex.IsMatch(v.Name, only)))
        {
            var clock = Stopwatch.StartNew();
            try
            {
                list.Add((variant, CompileToPtx(backend, variant.Method, variant.Specialized), null, clock.Elapsed.TotalMilliseconds));
            }
            catch (Exception e)
            {
                list.Add((variant, null, (e is AggregateException a ? a.Flatten().InnerException! : e).ToString(), clock.Elapsed.TotalMilliseconds));
            }
        }
        return list;
    });

    /// <summary>Assembles only the kernels whose name (with its variant label) matches this regex (see the class).</summary>
    private const string OnlyVariable = "ILGPU_STYLE_PTX_ONLY";

    /// <summary>A PTX backend on DeviceCatalog's context (MulAdd's CUDA intrinsic is registered there).</summary>
    private static PTXBackend NewBackend(CudaArchitecture architecture) =>
        new(Devices.Get("cpu").Accelerator.Context, architecture, Isa, null!);

    /// <summary>
    /// What lets <see cref="GeneratedPtx"/> serve both rows: the SM_80 and SM_90 backends write the same PTX, up to the
    /// numbers in names (ILGPU numbers its values per compilation), for the kernels with inline PTX (mma.sync, cvt,
    /// cp.async: the tensor-core convolution and Gram kernels), the GPU-shaped SGEMMs and a plain element-wise kernel.
    /// Fails if an ILGPU update makes them differ; then generate per architecture again.
    /// </summary>
    [Fact]
    public void SameForSm80AndSm90()
    {
        string[] names =
        [
            "Conv2d.TensorCore3x3Kernel [tf32 gx=4 gy=2]", "Conv2d.TensorCore3x3Kernel [tf32 gx=2 gy=2 async=2]",
            "Gram.ForwardTensorCoreKernel [bf16]", "Gram.ForwardSharedKernel [16x16]", "Conv2d.SharedGemm3x3Kernel [16x16]",
            "ChannelAffine.ForwardKernel",
        ];
        var variants = GpuKernelVariants().Where(v => names.Contains(v.Name)).ToList();
        Assert.Equal(names.Length, variants.Count);
        using var sm80 = NewBackend(CudaArchitecture.SM_80);
        using var sm90 = NewBackend(CudaArchitecture.SM_90);
        // ILGPU's value numbers: a name's trailing _123 (parameters _x_4060, labels, registers are not numbered this way).
        static string Unnumbered(string ptx) => Regex.Replace(ptx, @"_\d+\b", "_N");
        foreach (var v in variants)
        {
            var a = Unnumbered(CompileToPtx(sm80, v.Method, v.Specialized));
            var b = Unnumbered(CompileToPtx(sm90, v.Method, v.Specialized));
            Assert.True(a == b, $"{v.Name}: ILGPU's PTX for SM_80 and SM_90 differ; PtxasTests.GeneratedPtx must generate per architecture");
            log.WriteLine($"{v.Name}: the same PTX for SM_80 and SM_90 ({a.Length} characters)");
        }
    }

    /// <summary>One PTX compilation of a kernel: the method and, for specialized kernels, the values of its specialized parameters.</summary>
    private sealed record Variant(string Name, MethodInfo Method, object[] Specialized, bool Hot, CudaKernelVariants.Variant Library)
    {
        public string FileName => Regex.Replace(Name, "[^A-Za-z0-9_.-]+", "_");
    }

    /// <summary>
    /// Every kernel variant the library may load on a CUDA device (<see cref="CudaKernelVariants"/>: the defaults, the
    /// autotuner's GPU candidates, --precision's tensor-core blockings, the override-only ones). Hot — spills fail the test —
    /// where the CUDA path launches it without an override and it is a convolution or Gram kernel (<see cref="IsHot"/>).
    /// </summary>
    private static IEnumerable<Variant> GpuKernelVariants() =>
        CudaKernelVariants.All().Select(v => new Variant(v.Name, v.Method, v.Specialized,
            v.Launched && IsHot(v.Method) && !SpillsTolerated.ContainsKey(v.Name), v));

    /// <summary>
    /// Launched variants whose spills are reported, not failed, and why: corners of the fitting of a group to a layer that
    /// no tuning shape reaches.
    /// </summary>
    private static readonly Dictionary<string, string> SpillsTolerated = new()
    {
        // SharedGemm.FitSide takes a 3-channel layer (conv1_1's backward-data) to 4 rows, and Conv2d.SharedGemmGroups
        // narrows the pixel side to 4 only on maps too small to fill the multiprocessors: a tiny image's conv1_1. ptxas 12.4
        // spills 4 bytes there for sm_80, none for sm_90 (2026-12-05).
        ["Conv2d.SharedGemm3x3Kernel [4x4]"] = "a 3-channel layer on a tiny map",
    };

    /// <summary>The names of the .shared arrays a kernel's PTX declares, its dynamic one (.extern) included.</summary>
    private static List<string> SharedArrays(string ptx) =>
        Regex.Matches(ptx, @"^\s*(?:\.extern\s+)?\.shared\s+(?:\.align\s+\d+\s+)?\.\w+\s+(\w+)\[", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();

    /// <summary>PTX of <paramref name="method"/> as the library loads it (<see cref="SpecializedCompilation"/>).</summary>
    private static string CompileToPtx(PTXBackend backend, MethodInfo method, object[] specialized) =>
        ((PTXCompiledKernel)SpecializedCompilation.Compile(backend, method, specialized)).PTXAssembly;

    private static string? FindPtxas()
    {
        var env = Environment.GetEnvironmentVariable("ILGPU_STYLE_PTXAS");
        if (!string.IsNullOrWhiteSpace(env)) return File.Exists(env) ? env : null;
        var dir = Environment.GetEnvironmentVariable("ILGPU_STYLE_PTXAS_DIR");
        var path = Path.Combine(string.IsNullOrWhiteSpace(dir) ? DefaultPtxasDir : dir, "usr", "bin", "ptxas");
        return File.Exists(path) ? path : null;
    }

    private static string PtxasVersion(string ptxas)
    {
        var (_, output) = ExternalProgram.Run(ptxas, "--version");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "?";
    }

    private static (int Code, string Output) RunPtxas(string ptxas, string arch, string ptxFile) =>
        ExternalProgram.Run(ptxas, "-v", $"-arch={arch}", "-o", ptxFile + ".cubin", ptxFile);

    /// <summary>What <c>ptxas -v</c> says about one PTX file (one entry function plus any non-inlined functions).</summary>
    private sealed record PtxasReport(string Name, bool Hot, int Registers, int SpillStores, int SpillLoads, int StackFrame, int SharedBytes)
    {
        /// <summary>Milliseconds ILGPU took to generate the kernel's PTX (set after parsing).</summary>
        public double CompileMs { get; init; }

        public static PtxasReport Parse(string name, bool hot, string output)
        {
            static int Int(System.Text.RegularExpressions.Group g) => g.Success ? int.Parse(g.Value, CultureInfo.InvariantCulture) : 0;
            var used = Regex.Match(output, @"Used (\d+) registers(?:.*?(\d+) bytes smem)?");
            if (!used.Success) throw new InvalidOperationException($"{name}: no 'Used N registers' line in ptxas output:\n{output}");
            int stores = 0, loads = 0, stack = 0;
            foreach (Match m in Regex.Matches(output, @"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads"))
            {
                stack = Math.Max(stack, Int(m.Groups[1]));
                stores += Int(m.Groups[2]);
                loads += Int(m.Groups[3]);
            }
            return new PtxasReport(name, hot, Int(used.Groups[1]), stores, loads, stack, Int(used.Groups[2]));
        }
    }
}
