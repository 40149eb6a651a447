using System.CommandLine;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style devices`: every device with its properties, usable or not, and why not; with --verbose also the
/// tuning plan each usable device would run (its defaults with ILGPU_STYLE_TILES applied).
/// </summary>
public static class DevicesCommand
{
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
                else if (showPlan) Console.WriteLine($"{"",-10} plan: {TuningPlan.For(d)}");
            }
            var auto = devices.FirstOrDefault(d => d.Usable);
            Console.WriteLine(auto is null ? "auto: no usable device" : $"auto picks: {auto.Id}");
            return 0;
        }));
        return command;
    }

    /// <summary>The CPU simulator reports long.MaxValue: it uses host memory.</summary>
    private static string Memory(long bytes) => bytes >= long.MaxValue / 2 ? "host" : ByteSize.Format(bytes);
}
