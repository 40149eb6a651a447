using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Fuzz;

/// <summary>
/// One input through one reader; the reader's own format exception means "rejected", which is fine (the harness
/// returns its message; null when the input was read).
/// </summary>
public static class Harness
{
    /// <summary>The image harness refuses more than this many pixels (the loader's documented limit is larger, and
    /// the same check: a smaller one keeps each execution fast when afl makes a valid header claim a big image).</summary>
    public const long ImageMaxPixels = 4_000_000;

    /// <summary>Separates model.json from the shards, and one shard from the next, in a tfjs input.</summary>
    public static ReadOnlySpan<byte> ShardMarker => "|SHARD|\n"u8;

    private static readonly string Dir = Directory.CreateTempSubdirectory($"ilgpu-style-fuzz-{Environment.ProcessId}-").FullName;

    public static Func<byte[], string?> For(string target) => target switch
    {
        "ilgw" => Ilgw,
        "tfjs" => Tfjs,
        "pth" => Pth,
        "caffe" => Caffe,
        "image" => Image,
        _ => throw new ArgumentException(target),
    };

    public static string? Ilgw(byte[] input)
    {
        var path = Write("in.ilgw", input);
        try { VggWeights.Load(path); }
        catch (WeightsFormatException e) { return e.Message; }
        return null;
    }

    public static string? Pth(byte[] input)
    {
        var path = Write("in.pth", input);
        try { WeightsConverter.ReadSource(path); }
        catch (WeightsFormatException e) { return e.Message; }
        return null;
    }

    public static string? Caffe(byte[] input)
    {
        var path = Write("in.caffemodel", input);
        try { WeightsConverter.ReadSource(path); }
        catch (WeightsFormatException e) { return e.Message; }
        return null;
    }

    /// <summary>Input: model.json, a NUL byte, then shard files separated by <see cref="ShardMarker"/>, named shard1.bin, shard2.bin, ….</summary>
    public static string? Tfjs(byte[] input)
    {
        var dir = Path.Combine(Dir, "tfjs");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var span = input.AsSpan();
        int nul = span.IndexOf((byte)0);
        File.WriteAllBytes(Path.Combine(dir, "model.json"), (nul < 0 ? span : span[..nul]).ToArray());
        if (nul >= 0)
        {
            var rest = span[(nul + 1)..];
            for (int i = 1; ; i++)
            {
                int m = rest.IndexOf(ShardMarker);
                File.WriteAllBytes(Path.Combine(dir, $"shard{i}.bin"), (m < 0 ? rest : rest[..m]).ToArray());
                if (m < 0) break;
                rest = rest[(m + ShardMarker.Length)..];
            }
        }
        try { WeightsConverter.ReadSource(dir); }
        catch (WeightsFormatException e) { return e.Message; }
        return null;
    }

    public static string? Image(byte[] input)
    {
        try { ImageLoader.Decode(input, "fuzz", ImageMaxPixels); }
        catch (ImageLoadException e) { return e.Message; }
        return null;
    }

    private static string Write(string name, byte[] input)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllBytes(path, input);
        return path;
    }
}
