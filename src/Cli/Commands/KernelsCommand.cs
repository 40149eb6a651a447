using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style kernels precompile`: ILGPU's PTX of every CUDA kernel variant this build can load
/// (<see cref="CudaKernelVariants"/>), made without a GPU and written where a CUDA run reads it (<see cref="ShippedPtx"/>:
/// by default the program's folder's <c>ptx</c>), so that a machine's first CUDA run does not wait for ILGPU's compiler.
/// Errors follow <see cref="CliErrors"/>: one line on stderr, exit code 2.
/// </summary>
public static class KernelsCommand
{
    public static Command Create()
    {
        var command = new Command("kernels", "Work with the CUDA kernels' compiled code.");
        command.Subcommands.Add(Precompile());
        command.Subcommands.Add(Check());
        return command;
    }

    /// <summary>The architectures of an --arch value (sm_80,sm_90, …), or a <see cref="UsageException"/>.</summary>
    private static List<ILGPU.Runtime.Cuda.CudaArchitecture> Architectures(string? value)
    {
        var archs = (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(a => ShippedPtx.ParseArchitecture(a) is { } parsed && parsed.Major >= 3 ? parsed
                : throw new UsageException($"--arch: '{a}' is not a CUDA architecture (sm_80, sm_90, …)."))
            .Distinct().ToList();
        return archs.Count > 0 ? archs : throw new UsageException("--arch: no architecture given.");
    }

    /// <summary>The PTX ISA of an --isa value (8.4, …), or a <see cref="UsageException"/>.</summary>
    private static ILGPU.Runtime.Cuda.CudaInstructionSet Isa(string? value) =>
        ShippedPtx.ParseIsa(value) ?? throw new UsageException($"--isa: '{value}' is not a PTX ISA (8.4, …).");

    /// <summary>
    /// `ilgpu-style kernels check`: which launched variants a device of the given architecture and driver ISA would read
    /// from the shipped folder, found as a CUDA run finds them (<see cref="ShippedPtx.Ptx"/>, this process's build
    /// of the kernels) — no GPU needed. Exit code 2 when some are missing (the bundle script checks its own).
    /// </summary>
    private static Command Check()
    {
        var dir = new Option<string>("--dir")
        {
            Description = $"The shipped folder (default: the program's folder's ptx, or {ShippedPtx.EnvironmentVariable}).",
        };
        var arch = new Option<string>("--arch") { Description = "The device's CUDA architecture.", DefaultValueFactory = _ => "sm_90" };
        var isa = new Option<string>("--isa")
        {
            Description = "The PTX ISA the device's driver takes (ILGPU 1.5.3: 8.8 on CUDA 12.9 and newer drivers).",
            DefaultValueFactory = _ => "8.8",
        };
        var command = new Command("check", "Say whether the shipped PTX serves every CUDA kernel variant of this build on a device (no GPU needed).");
        command.Options.Add(dir);
        command.Options.Add(arch);
        command.Options.Add(isa);
        command.SetAction(r => CliErrors.Run(() =>
        {
            var archs = Architectures(r.GetValue(arch));
            if (archs.Count != 1) throw new UsageException("--arch: one architecture.");
            var instructionSet = Isa(r.GetValue(isa));
            var shipped = r.GetValue(dir) is { Length: > 0 } d
                ? ShippedPtx.Open(d) ?? throw new UsageException($"--dir: {d} holds no shipped PTX ({ShippedPtx.ManifestName}).")
                : ShippedPtx.FromEnvironment(Environment.GetEnvironmentVariable, AppContext.BaseDirectory)
                  ?? throw new UsageException($"no shipped PTX: {ShippedPtx.Describe(Environment.GetEnvironmentVariable, AppContext.BaseDirectory)}");
            using var context = DeviceCatalog.CreateCudaCompileContext();
            using var backend = new ILGPU.Backends.PTX.PTXBackend(context, archs[0], instructionSet, null!);
            var variants = CudaKernelVariants.All().Where(v => v.Launched && v.RunsOn(archs[0])).ToList();
            var missing = variants.Where(v => shipped.Ptx(backend, v.Method, v.Specialized, v.RewriteDepots) is null).Select(v => v.Name).ToList();
            Console.WriteLine($"{shipped.Directory}: {variants.Count - missing.Count} of {variants.Count} launched kernel variants shipped for {archs[0]} " +
                              $"(a driver taking PTX ISA {instructionSet}; made for {shipped.InstructionSet})");
            if (missing.Count == 0) return 0;
            foreach (var name in missing.Take(20)) Console.WriteLine($"  missing: {name}");
            if (missing.Count > 20) Console.WriteLine($"  … and {missing.Count - 20} more");
            throw new UsageException($"{missing.Count} kernel variants are not shipped for {archs[0]}: run `ilgpu-style kernels precompile` with this build.");
        }));
        return command;
    }

    private static Command Precompile()
    {
        var output = new Option<string>("--out")
        {
            Description = $"The folder to write (default: the program's folder's ptx, where CUDA runs look; {ShippedPtx.EnvironmentVariable} names another).",
        };
        var arch = new Option<string>("--arch")
        {
            Description = "CUDA architectures, comma-separated (sm_80 = A100, sm_86/sm_89 = RTX 30/40, sm_90 = H100/H200).",
            DefaultValueFactory = _ => string.Join(",", ShippedPtx.DefaultArchitectures.Select(a => $"sm_{a.Major}{a.Minor}")),
        };
        var isa = new Option<string>("--isa")
        {
            Description = "PTX ISA of the code: drivers of that CUDA version and newer load it (8.4: CUDA 12.4).",
            DefaultValueFactory = _ => ShippedPtx.DefaultInstructionSet.ToString(),
        };
        var only = new Option<string?>("--only") { Description = "Only the variants whose name matches this regular expression (e.g. TensorCore)." };
        var all = new Option<bool>("--all") { Description = "Also the variants only an ILGPU_STYLE_TILES override launches (CPU-shaped blockings)." };
        var command = new Command("precompile",
            "Compile every CUDA kernel variant to PTX now (no GPU needed), so that a fresh machine's first CUDA run reads it instead of compiling.");
        command.Options.Add(output);
        command.Options.Add(arch);
        command.Options.Add(isa);
        command.Options.Add(only);
        command.Options.Add(all);
        command.SetAction(r => CliErrors.Run(() =>
        {
            var archs = Architectures(r.GetValue(arch));
            var instructionSet = Isa(r.GetValue(isa));
            Regex? filter;
            try
            {
                filter = r.GetValue(only) is { Length: > 0 } pattern ? new Regex(pattern) : null;
            }
            catch (ArgumentException e)
            {
                throw new UsageException($"--only: {e.Message}");
            }
            var variants = CudaKernelVariants.All().Where(v => (r.GetValue(all) || v.Launched) && (filter is null || filter.IsMatch(v.Name))).ToList();
            if (variants.Count == 0) throw new UsageException($"--only: no kernel variant matches '{r.GetValue(only)}'.");
            var dir = Path.GetFullPath(r.GetValue(output) ?? Path.Combine(AppContext.BaseDirectory, "ptx"));
            Console.WriteLine($"precompiling {variants.Count} kernel variants for {string.Join(", ", archs)} (PTX ISA {instructionSet}) into {dir}");
            var clock = Stopwatch.StartNew();
            using var context = DeviceCatalog.CreateCudaCompileContext();
            var shipped = ShippedPtx.Precompile(context, dir, archs, instructionSet, variants, line => Console.WriteLine($"  {line}"));
            long bytes = Directory.GetFiles(dir, "*.ptxk").Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"wrote {shipped.Kernels} files in {clock.Elapsed.TotalSeconds:F1} s (the folder now holds " +
                              $"{ByteSize.Format(bytes)}); CUDA runs of this build read them from {dir}");
            return 0;
        }));
        return command;
    }
}
