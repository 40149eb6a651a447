namespace IlgpuStyle.Stylize.Imaging;

/// <summary>An output image could not be written; the message is one line, fit to show the user as is.</summary>
public sealed class ImageWriteException(string message, Exception? inner = null) : Exception(message, inner);
