namespace IlgpuStyle.Network.Weights;

/// <summary>
/// A weights file or checkpoint is unreadable, corrupt, incomplete or not what was expected.
/// The message is one line and names the file and what is wrong with it.
/// </summary>
public sealed class WeightsFormatException : Exception
{
    public WeightsFormatException(string message) : base(OneLine(message)) { }
    public WeightsFormatException(string message, Exception inner) : base(OneLine(message), inner) { }

    /// <summary>"path: what" — the usual shape of the message.</summary>
    public static WeightsFormatException For(string path, string what) => new($"{path}: {what}");

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ");
}

/// <summary>No weights file was found; the message says where we looked and which command creates one.</summary>
public sealed class WeightsNotFoundException(string message) : Exception(message);

/// <summary>Downloading published weights failed (offline, HTTP error, wrong checksum). One-line message.</summary>
public sealed class WeightsDownloadException : Exception
{
    public WeightsDownloadException(string message) : base(WeightsFormatException.OneLine(message)) { }
    public WeightsDownloadException(string message, Exception inner) : base(WeightsFormatException.OneLine(message), inner) { }
}
