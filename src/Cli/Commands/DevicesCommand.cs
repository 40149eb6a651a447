using System.CommandLine;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style devices`: every device with its properties, usable or not, and why not; with --verbose also the
/// default tuning plan of each usable device (ILGPU_STYLE_TILES applied), the autotuner's cached plan and whether the
/// host's malloc uses transparent huge pages (<see cref="HugePagesRestart"/>) and which .NET GC runs (<see cref="GarbageCollector"/>).
/// </summary>
public static class DevicesCommand
{
    /// <summary>
    /// The .NET GC this process runs, as --verbose prints it: the server GC with an 8 MiB large-object threshold is the
    /// CLI's (Directory.Build.props; DOTNET_gcServer=0 picks the workstation GC), where ILGPU's compilation of the CUDA
    /// kernels spends a third less time than under .NET's default (doc/PERFORMANCE.md, stop 49).
    /// </summary>
    internal static string GarbageCollector() =>
        $"garbage collector: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, large objects from " +
        $"{AppContext.GetData("System.GC.LOHThreshold") as string ?? "85000"} bytes";

    public static Command Create()
    {
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = $"Also print each usable device's tuning plan (kernel choices and group sizes; override with {TuningPlan.EnvironmentVariable}).",
        };
        var command = new Command("devices", "List every device ILGPU can see, whether it is usable, and which one --device auto picks.");
        command.Options.Add(verbose);
        command.SetAction(parseResult => CliErrors.Run(() =>
        {
            bool showPlan = parseResult.GetValue(verbose);
            var devices = DeviceCatalog.List();
            Console.WriteLine($"{"id",-10} {"usable",-6} {"memory",-10} {"units",5} {"max group",9}  name / type");
            foreach (var d in devices)
            {
                Console.WriteLine($"{d.Id,-10} {(d.Usable ? "yes" : "no"),-6} {Memory(d.MemoryBytes),-10} {d.ComputeUnits,5} {d.MaxGroupSize,9}  {d.Name} ({d.Type})");
                if (!d.Usable) Console.WriteLine($"{"",-10} reason: {d.WhyNot}");
                else if (showPlan)
                {
                    Console.WriteLine($"{"",-10} default plan: {TuningPlan.For(d)}");
                    Console.WriteLine($"{"",-10} {CachedPlan(d)}");
                    if (d.Kind == ILGPU.Runtime.AcceleratorType.Cuda)
                    {
                        Console.WriteLine($"{"",-10} {PtxKernelCache.Describe(Environment.GetEnvironmentVariable)}");
                        Console.WriteLine($"{"",-10} {ShippedPtx.Describe(Environment.GetEnvironmentVariable, AppContext.BaseDirectory)}");
                    }
                }
            }
            if (showPlan && HugePagesRestart.Describe() is string memory) Console.WriteLine(memory);
            if (showPlan) Console.WriteLine(GarbageCollector());
            if (PoclCacheDirectory.EnsureUsable() is { } pocl) Console.WriteLine(pocl);
            var auto = devices.FirstOrDefault(d => d.Usable);
            Console.WriteLine(auto is null ? "auto: no usable device" : $"auto picks: {auto.Id}");
            if (auto?.Kind == ILGPU.Runtime.AcceleratorType.CPU) Console.WriteLine($"The CPU simulator is for tests. {DeviceCatalog.OpenClForCpus}");
            return 0;
        }));
        return command;
    }

    /// <summary>What the autotuner keeps for <paramref name="d"/> (<see cref="PlanCache"/>): its plan, or that there is none yet.</summary>
    private static string CachedPlan(DeviceInfo d)
    {
        if (d.Kind == ILGPU.Runtime.AcceleratorType.CPU) return "autotuned plan: none (the CPU simulator is not tuned)";
        using var gpu = DeviceCatalog.Open(d.Id);
        var cache = new PlanCache(PlanCache.DefaultPath);
        var key = TuningKey.For(gpu);
        int maxGroup = gpu.Accelerator.MaxNumThreadsPerGroup;
        var plan = cache.Find(key, AutotuneMode.Quick, gpu.Plan, maxGroup, out var problem);
        var text = plan is not null ? $"autotuned plan ({cache.Path}): {plan}"
            : $"autotuned plan: none yet (the first stylize or bench with --autotune quick|full makes it){(problem is null ? "" : "; " + problem)}";
        // The tensor-core blockings tuned for --precision tf32|bf16 (Autotuner.ApplyTensorCores), where there are any.
        foreach (var precision in new[] { Precision.Tf32, Precision.Bf16 })
            if (cache.Find(key, AutotuneMode.Quick, gpu.Plan, maxGroup, out _, precision) is { } tuned)
                text += $"\n           autotuned --precision {Precisions.Name(precision)} plan: {tuned}";
        return text;
    }

    /// <summary>The CPU simulator reports long.MaxValue: it uses host memory.</summary>
    private static string Memory(long bytes) => bytes >= long.MaxValue / 2 ? "host" : ByteSize.Format(bytes);
}
