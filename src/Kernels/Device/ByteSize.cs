using System.Globalization;

namespace IlgpuStyle.Kernels;

/// <summary>Parses and prints byte counts such as "512M", "1.5G", "1048576".</summary>
public static class ByteSize
{
    public static long Parse(string text)
    {
        var s = text.Trim().ToUpperInvariant().TrimEnd('B', 'I');
        long unit = 1;
        if (s.Length > 0 && "KMG".Contains(s[^1]))
        {
            unit = s[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, _ => 1L << 30 };
            s = s[..^1];
        }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v >= 0) || v * unit >= long.MaxValue)
            throw new ByteSizeException($"'{text}' is not a byte size (examples: 1048576, 512M, 1.5G).");
        return (long)(v * unit);
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.#} KiB",
        _ => $"{bytes} B",
    };
}

/// <summary>Text that is not a byte size (a user's input: an option or an environment variable).</summary>
public sealed class ByteSizeException(string message) : FormatException(message);
