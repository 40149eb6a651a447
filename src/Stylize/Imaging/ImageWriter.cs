using System.Runtime.InteropServices;
using SkiaSharp;

namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// Writes <see cref="RgbImage"/> as PNG or JPEG (chosen by extension: .png, .jpg, .jpeg).
/// <list type="bullet">
/// <item>Values are clamped to 0..1 (NaN → 0) and rounded to the nearest of 256 levels: byte = ⌊255·v + ½⌋.</item>
/// <item>Atomic: the file is encoded in memory, written to a temporary file next to the target, and moved over
/// the target. A reader (or a crash) never sees a half-written image; on failure the temporary file is deleted
/// and an existing target is left untouched.</item>
/// <item>Deterministic: the same pixels give the same bytes (no timestamps or metadata are written).</item>
/// <item>JPEG is written without chroma subsampling (4:4:4): stylized images are full of fine colour detail
/// that 4:2:0 would smear.</item>
/// </list>
/// </summary>
public static class ImageWriter
{
    public static void Save(RgbImage image, string path, int jpegQuality = 95)
    {
        if (jpegQuality is < 1 or > 100)
            throw new ArgumentOutOfRangeException(nameof(jpegQuality), jpegQuality, "JPEG quality must be 1..100.");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        bool jpeg = ext is ".jpg" or ".jpeg";
        if (!jpeg && ext != ".png")
            throw new ImageWriteException(
                $"cannot write image '{path}': unsupported extension '{Path.GetExtension(path)}' (use .png, .jpg or .jpeg)");

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
            throw new ImageWriteException($"cannot write image '{path}': directory '{dir}' does not exist");

        byte[] encoded = Encode(image, jpeg, jpegQuality);
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(encoded);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            string why = Directory.Exists(full) ? "it is a directory" : e.Message.ReplaceLineEndings(" ").Trim();
            throw new ImageWriteException($"cannot write image '{path}': {why}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>The encoded file contents (PNG, or JPEG when <paramref name="jpeg"/>).</summary>
    public static byte[] Encode(RgbImage image, bool jpeg, int jpegQuality = 95)
    {
        var rgba = ToRgba8(image);
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = jpeg
                ? pixmap.Encode(new SKJpegEncoderOptions(jpegQuality, SKJpegEncoderDownsample.Downsample444, SKJpegEncoderAlphaOption.Ignore))
                : pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 6));
            if (data is null)
                throw new ImageWriteException($"cannot encode a {image.Width}×{image.Height} image as {(jpeg ? "JPEG" : "PNG")}");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Interleaved RGBA bytes (α = 255) from planar floats: clamp to 0..1, NaN → 0, round to nearest.</summary>
    public static byte[] ToRgba8(RgbImage image)
    {
        int plane = image.Plane;
        var d = image.Data;
        var rgba = new byte[4 * plane];
        for (int i = 0; i < plane; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                float v = d[c * plane + i];
                v = float.IsNaN(v) ? 0f : Math.Clamp(v, 0f, 1f);
                rgba[4 * i + c] = (byte)(int)(v * 255f + 0.5f);
            }
            rgba[4 * i + 3] = 255;
        }
        return rgba;
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
