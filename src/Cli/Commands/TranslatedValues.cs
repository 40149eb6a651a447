using System.Globalization;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// Values of another tool's options, read while its command line is translated (NeuralStyleArguments,
/// StyleTransferArguments): one that does not parse is a <see cref="UsageException"/> naming the option as typed there.
/// </summary>
internal static class TranslatedValues
{
    internal static double Number(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)
            ? x
            : throw new UsageException($"{option} '{value}' is not a number.");

    internal static int Integer(string option, string value) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int x)
            ? x
            : throw new UsageException($"{option} '{value}' is not a whole number.");

    /// <summary>A converted value as an option's text: float precision, the shortest that reads back the same.</summary>
    internal static string Format(double x) => ((float)x).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A token as it would be typed (quoted when empty or with white space), for notes and messages.</summary>
    internal static string Quote(string token) => token.Length == 0 || token.Any(char.IsWhiteSpace) ? $"'{token}'" : token;
}
