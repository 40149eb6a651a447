using System.CommandLine;
using IlgpuStyle.Cli.Commands;

namespace IlgpuStyle.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("ilgpu-style: neural style transfer (Gatys et al.) on ILGPU — CUDA, OpenCL or CPU.");
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(StylizeCommand.Create());
        root.Subcommands.Add(WeightsCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root.Parse(args).Invoke();
    }
}
