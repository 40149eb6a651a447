using System.Globalization;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// Reads JPEG, PNG and WebP files into <see cref="RgbImage"/> (values k/255, so an 8-bit PNG round-trips
/// exactly through <see cref="ImageWriter"/>).
/// <list type="bullet">
/// <item>EXIF orientation is applied (<see cref="ExifOrientation"/>): the image comes out the way viewers show it.</item>
/// <item>Alpha is composited over white (c = α·c + (1 − α)), i.e. what a viewer shows on a white page. Ignoring
/// alpha instead would expose whatever colour the encoder left under transparent pixels (often black).</item>
/// <item>No colour management: embedded ICC profiles are ignored and the stored 8-bit values are used as sRGB,
/// as PIL/torchvision do when VGG is trained and used.</item>
/// <item>Truncated files are rejected rather than returned with a grey fill.</item>
/// <item>Decompression bombs are refused: an image whose header claims more than <see cref="MaxPixels"/> pixels is
/// rejected from its header alone, before any pixel memory is allocated or anything is decoded.</item>
/// </list>
/// </summary>
public static class ImageLoader
{
    /// <summary>
    /// The largest image accepted, in pixels (width × height as the header says): 100 megapixels, e.g. 12 500 × 8 000.
    /// A few KB of PNG or WebP can claim gigapixels; decoding such a file would need 4 bytes per pixel for the
    /// decoder and 12 for the planar float image. Style transfer resizes every input to --size anyway.
    /// </summary>
    public const long MaxPixels = 100_000_000;

    public static RgbImage Load(string path)
    {
        if (!File.Exists(path))
            throw new ImageLoadException(Directory.Exists(path)
                ? $"cannot read image '{path}': it is a directory"
                : $"cannot read image '{path}': file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageLoadException($"cannot read image '{path}': {OneLine(e.Message)}", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="name"/> is used in error messages.</summary>
    public static RgbImage Decode(byte[] encoded, string name) => Decode(encoded, name, MaxPixels);

    /// <summary>As <see cref="Decode(byte[], string)"/>, with a pixel limit of <paramref name="maxPixels"/> instead of <see cref="MaxPixels"/>.</summary>
    public static RgbImage Decode(byte[] encoded, string name, long maxPixels)
    {
        string NotReadable(string why) => $"'{name}' is not a readable image ({why})";
        if (encoded.Length == 0) throw new ImageLoadException(NotReadable("the file is empty"));

        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new ImageLoadException(NotReadable("unknown or corrupt format; JPEG, PNG and WebP are supported"));
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Png or SKEncodedImageFormat.Webp))
            throw new ImageLoadException(NotReadable($"{codec.EncodedFormat} is not supported; use JPEG, PNG or WebP"));

        int w = codec.Info.Width, h = codec.Info.Height;
        if (w <= 0 || h <= 0) throw new ImageLoadException(NotReadable($"invalid size {w}×{h}"));
        if ((long)w * h > maxPixels)
            throw new ImageLoadException(string.Create(CultureInfo.InvariantCulture, $"'{name}' is {w}×{h} pixels ({(long)w * h / 1e6:0.#} megapixels), more than the limit of " +
                                         $"{maxPixels / 1e6:0.#} megapixels; downscale it first"));
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new byte[checked(info.BytesSize)];
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        SKCodecResult result;
        try
        {
            result = codec.GetPixels(info, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }
        if (result != SKCodecResult.Success)
            throw new ImageLoadException(NotReadable(result switch
            {
                SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => $"{codec.EncodedFormat} data is truncated or damaged",
                _ => $"{codec.EncodedFormat} decoder says {result}",
            }));

        return ExifOrientation.Apply(ToPlanarOverWhite(pixels, w, h), codec.EncodedOrigin);
    }

    private static RgbImage ToPlanarOverWhite(byte[] rgba, int w, int h)
    {
        var image = new RgbImage(w, h);
        var d = image.Data;
        int plane = w * h;
        for (int i = 0; i < plane; i++)
        {
            int a = rgba[4 * i + 3];
            for (int c = 0; c < 3; c++)
            {
                int v = rgba[4 * i + c];
                // Opaque pixels (the usual case) stay exactly k/255.
                d[c * plane + i] = a == 255 ? v / 255f : (a * v + (255 - a) * 255) / (255f * 255f);
            }
        }
        return image;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
