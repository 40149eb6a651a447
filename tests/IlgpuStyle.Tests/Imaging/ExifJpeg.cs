namespace IlgpuStyle.Tests.Imaging;

/// <summary>Adds an EXIF orientation tag to a JPEG by hand (SkiaSharp cannot write EXIF).</summary>
internal static class ExifJpeg
{
    /// <summary>
    /// Inserts an APP1 "Exif" segment holding one IFD0 entry, Orientation (tag 0x0112, SHORT) =
    /// <paramref name="orientation"/>, after SOI and any APP0 (JFIF) segment.
    /// </summary>
    public static byte[] WithOrientation(byte[] jpeg, int orientation)
    {
        if (jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new ArgumentException("not a JPEG (no SOI marker)");
        int insertAt = 2;
        if (jpeg[2] == 0xFF && jpeg[3] == 0xE0) insertAt = 4 + (jpeg[4] << 8 | jpeg[5]);

        var tiff = new List<byte>();
        tiff.AddRange("MM"u8.ToArray());          // big-endian TIFF
        tiff.AddRange(new byte[] { 0x00, 0x2A }); // magic 42
        tiff.AddRange(new byte[] { 0, 0, 0, 8 }); // IFD0 at offset 8
        tiff.AddRange(new byte[] { 0x00, 0x01 }); // 1 entry
        tiff.AddRange(new byte[] { 0x01, 0x12 }); // tag: Orientation
        tiff.AddRange(new byte[] { 0x00, 0x03 }); // type: SHORT
        tiff.AddRange(new byte[] { 0, 0, 0, 1 }); // count 1
        tiff.AddRange(new byte[] { 0x00, (byte)orientation, 0, 0 }); // value, padded to 4 bytes
        tiff.AddRange(new byte[] { 0, 0, 0, 0 }); // no next IFD

        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        int length = payload.Length + 2; // the length field counts itself
        var segment = new byte[] { 0xFF, 0xE1, (byte)(length >> 8), (byte)length }.Concat(payload);
        return jpeg.Take(insertAt).Concat(segment).Concat(jpeg.Skip(insertAt)).ToArray();
    }
}
