using System.CommandLine;
using IlgpuStyle.Cli.Commands;

namespace IlgpuStyle.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        HugePagesRestart.RestartIfUseful();
        var root = new RootCommand("ilgpu-style: neural style transfer (Gatys et al.) on ILGPU — CUDA, OpenCL or CPU.");
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(StylizeCommand.Create());
        root.Subcommands.Add(WeightsCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(KernelsCommand.Create());
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // The one error convention (CliErrors): one `error: …` line and exit code 2, not System.CommandLine's
            // list of errors followed by the whole help text and exit code 1.
            var command = parse.CommandResult.Command == root ? "ilgpu-style" : $"ilgpu-style {parse.CommandResult.Command.Name}";
            var what = string.Join("; ", parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim()).Distinct());
            Console.Error.WriteLine($"error: {what} (see `{command} --help`)");
            return CliErrors.BadInput;
        }
        return parse.Invoke();
    }
}
