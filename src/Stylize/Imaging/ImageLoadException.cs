namespace IlgpuStyle.Stylize.Imaging;

/// <summary>An input image could not be read; the message is one line, fit to show the user as is.</summary>
public sealed class ImageLoadException(string message, Exception? inner = null) : Exception(message, inner);
