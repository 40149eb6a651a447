using System.CommandLine;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// A long option typed with one dash (<c>-size 512</c>, as torch and Lua tools take them) is bad input with the right
/// spelling, not what System.CommandLine makes of it: <c>-size</c> is its short options bundled, <c>-s ize</c>, so the
/// run went on to "cannot read image 'ize'". Tests: NeuralStyleArgumentsTests.
/// </summary>
internal static class LongOptionDashes
{
    /// <summary>Throws <see cref="UsageException"/> for the first token <c>-name</c> where <c>--name</c> is an option of <paramref name="command"/>.</summary>
    internal static void Check(Command command, IEnumerable<string> args)
    {
        var longNames = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToHashSet();
        foreach (var token in args)
        {
            if (token.Length < 3 || token[0] != '-' || !char.IsLetter(token[1])) continue;
            var name = token.Split('=', ':')[0];
            if (longNames.Contains("-" + name))
                throw new UsageException($"{token}: long options take two dashes (-{name}).");
        }
    }
}
