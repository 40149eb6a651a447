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
            var archs = (r.GetValue(arch) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(a => ShippedPtx.ParseArchitecture(a) is { } parsed && parsed.Major >= 3 ? parsed
                    : throw new UsageException($"--arch: '{a}' is not a CUDA architecture (sm_80, sm_90, …)."))
                .Distinct().ToList();
            if (archs.Count == 0) throw new UsageException("--arch: no architecture given.");
            var instructionSet = ShippedPtx.ParseIsa(r.GetValue(isa)) ?? throw new UsageException($"--isa: '{r.GetValue(isa)}' is not a PTX ISA (8.4, …).");
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
            Console.WriteLine($"wrote {shipped.Kernels * shipped.Architectures.Count} files ({ByteSize.Format(bytes)}) in {clock.Elapsed.TotalSeconds:F1} s; " +
                              $"CUDA runs of this build read them from {dir}");
            return 0;
        }));
        return command;
    }
}
