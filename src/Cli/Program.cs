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
        if (args.Length == 0) args = ["--help"];   // the commands and what they do, not "Required command was not provided"
        string? note = null;
        try
        {
            // jcjohnson/neural-style's options (stylize -content_image a.jpg …) become ours first; then a long option
            // typed with one dash is refused with its spelling instead of being read as bundled short options.
            if (root.Subcommands.FirstOrDefault(c => args.Length > 0 && c.Name == args[0]) is { } command)
            {
                if (command.Name == "stylize")
                {
                    var translation = NeuralStyleArguments.Translate(args[1..], command, NeuralStyleArguments.CpuDevice, Random.Shared);
                    args = [args[0], .. translation.Args];
                    note = translation.Note;
                }
                LongOptionDashes.Check(command, args.Skip(1));
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliErrors.BadInput;
        }
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
        if (note is not null && !args.Contains("--quiet") && !args.Contains("-q")) Console.Error.WriteLine($"note: {note}");
        return parse.Invoke();
    }
}
