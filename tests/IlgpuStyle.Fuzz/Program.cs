using SharpFuzz;

namespace IlgpuStyle.Fuzz;

/// <summary>
/// AFL++ harnesses (SharpFuzz) for every reader of files a user may download: `IlgpuStyle.Fuzz TARGET` runs under
/// afl-fuzz, `IlgpuStyle.Fuzz TARGET --replay FILE…` runs inputs once without AFL (reproducing a crash), and
/// `IlgpuStyle.Fuzz seed DIR` writes the seed corpus. The property every target checks: a reader either returns or
/// throws its format exception (<see cref="WeightsFormatException"/>, <see cref="ImageLoadException"/>); any other
/// exception, a stack overflow or a hang is a crash that afl-fuzz records.
/// </summary>
public static class Program
{
    public static readonly string[] Targets = ["ilgw", "tfjs", "pth", "caffe", "image"];

    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "seed")
        {
            Seeds.Write(args[1]);
            return 0;
        }
        if (args.Length == 0 || !Targets.Contains(args[0]))
        {
            Console.Error.WriteLine($"usage: IlgpuStyle.Fuzz {string.Join('|', Targets)} [--replay FILE…] | seed DIR");
            return 2;
        }
        var target = Harness.For(args[0]);
        if (args.Length > 1 && args[1] == "--replay")
        {
            int crashes = 0;
            foreach (var file in args.Skip(2))
            {
                try
                {
                    var rejected = target(File.ReadAllBytes(file));
                    Console.WriteLine(rejected is null ? $"{file}: read" : $"{file}: rejected ({rejected})");
                }
                catch (Exception e)
                {
                    crashes++;
                    Console.WriteLine($"{file}: CRASH {e.GetType().FullName}: {e.Message}");
                    Console.WriteLine(e.StackTrace);
                }
            }
            return crashes == 0 ? 0 : 1;
        }
        // Out of process: a stack overflow or an abort kills only the child, and afl-fuzz still sees the crash.
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            target(ms.ToArray());
        });
        return 0;
    }
}
