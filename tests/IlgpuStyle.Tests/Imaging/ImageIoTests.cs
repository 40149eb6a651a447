using IlgpuStyle.Stylize.Imaging;
using SkiaSharp;
using Xunit;

namespace IlgpuStyle.Tests.Imaging;

public class ImageIoTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(7, 5)]
    [InlineData(13, 17)]
    [InlineData(1, 1)]
    public void PngRoundTripIsExactFor8BitValues(int width, int height)
    {
        using var dir = new TempDir();
        var image = TestImages.Random8Bit(width * 31 + height, width, height);
        ImageWriter.Save(image, dir.File("a.png"));
        var loaded = ImageLoader.Load(dir.File("a.png"));
        Assert.Equal((width, height), (loaded.Width, loaded.Height));
        Check.Close(image.Data, loaded.Data, 0, 0, $"png round trip {width}×{height}", log);
    }

    [Fact]
    public void SaveClampsAndRoundsToNearestLevel()
    {
        using var dir = new TempDir();
        var image = new RgbImage(3, 1, new[] { -0.5f, 1.5f, float.NaN, 0.4f / 255f, 0.6f / 255f, 254.5f / 255f, 1f, 0f, 0.5f });
        ImageWriter.Save(image, dir.File("c.png"));
        var loaded = ImageLoader.Load(dir.File("c.png"));
        var expected = new[] { 0f, 1f, 0f, 0f, 1 / 255f, 1f, 1f, 0f, 128 / 255f };
        Check.Close(expected, loaded.Data, 0, 0, "clamp and round", log);
    }

    [Theory]
    [InlineData(".jpg")]
    [InlineData(".jpeg")]
    [InlineData(".JPG")]
    public void JpegRoundTripIsClose(string extension)
    {
        using var dir = new TempDir();
        var image = TestImages.Smooth(64, 48);
        string path = dir.File("a" + extension);
        ImageWriter.Save(image, path);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0xFF, 0xD8 }, bytes[..2]);
        var loaded = ImageLoader.Load(path);
        Assert.Equal((64, 48), (loaded.Width, loaded.Height));
        double mean = image.Data.Zip(loaded.Data, (a, b) => (double)Math.Abs(a - b)).Average();
        log.WriteLine($"jpeg q95 mean|err|={mean:E2}");
        Assert.True(mean < 0.005, $"mean error {mean}");
        Check.Close(image.Data, loaded.Data, 0, 0.03, "jpeg q95 round trip", log);
    }

    [Theory]
    [InlineData("d.png")]
    [InlineData("d.jpg")]
    public void SameImageGivesSameBytes(string name)
    {
        using var dir = new TempDir();
        var image = TestImages.Uniform(3, 29, 23);
        ImageWriter.Save(image, dir.File("1" + name));
        ImageWriter.Save(image.Clone(), dir.File("2" + name));
        Assert.Equal(File.ReadAllBytes(dir.File("1" + name)), File.ReadAllBytes(dir.File("2" + name)));
    }

    [Fact]
    public void SaveOverwritesAnExistingFile()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("o.png"), "old contents");
        var image = TestImages.Random8Bit(5, 4, 3);
        ImageWriter.Save(image, dir.File("o.png"));
        Assert.Equal(image.Data, ImageLoader.Load(dir.File("o.png")).Data);
        Assert.Equal(new[] { "o.png" }, dir.Entries());
    }

    [Fact]
    public void AlphaIsCompositedOverWhite()
    {
        using var dir = new TempDir();
        // 2×1 RGBA: (255, 0, 0, α=0) and (0, 0, 255, α=102 ≈ 0.4)
        var rgba = new byte[] { 255, 0, 0, 0, 0, 0, 255, 102 };
        var info = new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(rgba, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 6));
            File.WriteAllBytes(dir.File("alpha.png"), data!.ToArray());
        }
        finally { handle.Free(); }

        var loaded = ImageLoader.Load(dir.File("alpha.png"));
        float a = 102 / 255f;
        // planar: R plane [p0, p1], G plane, B plane
        var expected = new[] { 1f, 1 - a, 1f, 1 - a, 1f, 1f };
        Check.Close(expected, loaded.Data, 0, 1e-6, "alpha over white", log);
    }

    public static readonly TheoryData<int> Orientations = new() { 1, 2, 3, 4, 5, 6, 7, 8 };

    [Theory]
    [MemberData(nameof(Orientations))]
    public void ExifOrientationIsApplied(int orientation)
    {
        using var dir = new TempDir();
        const int cols = 3, rows = 2, block = 16;
        var stored = TestImages.Blocks(cols, rows, block);
        var jpeg = ImageWriter.Encode(stored, jpeg: true, jpegQuality: 100);
        File.WriteAllBytes(dir.File("o.jpg"), ExifJpeg.WithOrientation(jpeg, orientation));

        var shown = ImageLoader.Load(dir.File("o.jpg"));
        var expected = Displayed(stored, orientation);
        Assert.Equal((expected.Width, expected.Height), (shown.Width, shown.Height));
        if (orientation >= 5) Assert.Equal((rows * block, cols * block), (shown.Width, shown.Height));
        // Compare the centres of the blocks (JPEG blurs only at block edges).
        var e = new List<float>();
        var a = new List<float>();
        for (int y = block / 2; y < shown.Height; y += block)
            for (int x = block / 2; x < shown.Width; x += block)
                for (int c = 0; c < 3; c++) { e.Add(expected[c, y, x]); a.Add(shown[c, y, x]); }
        Check.Close(e.ToArray(), a.ToArray(), 0, 3 / 255.0, $"exif orientation {orientation}", log);
    }

    /// <summary>Reference for EXIF orientation, built from mirrors and quarter turns as the EXIF spec describes them.</summary>
    private static RgbImage Displayed(RgbImage s, int orientation) => orientation switch
    {
        1 => s,
        2 => MirrorH(s),
        3 => RotateCw(RotateCw(s)),
        4 => MirrorH(RotateCw(RotateCw(s))),
        5 => RotateCw(RotateCw(RotateCw(MirrorH(s)))),
        6 => RotateCw(s),
        7 => RotateCw(MirrorH(s)),
        8 => RotateCw(RotateCw(RotateCw(s))),
        _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
    };

    private static RgbImage MirrorH(RgbImage s)
    {
        var d = new RgbImage(s.Width, s.Height);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < s.Height; y++)
                for (int x = 0; x < s.Width; x++) d[c, y, s.Width - 1 - x] = s[c, y, x];
        return d;
    }

    /// <summary>Quarter turn clockwise: the left column becomes the top row.</summary>
    private static RgbImage RotateCw(RgbImage s)
    {
        var d = new RgbImage(s.Height, s.Width);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < s.Height; y++)
                for (int x = 0; x < s.Width; x++) d[c, x, s.Height - 1 - y] = s[c, y, x];
        return d;
    }

    [Fact]
    public void MissingFileSaysFileNotFound()
    {
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load("no/such/x.jpg"));
        Assert.Equal("cannot read image 'no/such/x.jpg': file not found", e.Message);
    }

    [Fact]
    public void DirectoryIsNotAnImage()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(dir.Path));
        Assert.Equal($"cannot read image '{dir.Path}': it is a directory", e.Message);
    }

    [Fact]
    public void CorruptFilesAreNotReadableImages()
    {
        using var dir = new TempDir();
        var cases = new Dictionary<string, (byte[] Bytes, string Why)>
        {
            ["empty.jpg"] = (Array.Empty<byte>(), "the file is empty"),
            ["noise.jpg"] = (TestData.Uniform(9, 500, 0, 255).Select(v => (byte)v).ToArray(), "unknown or corrupt format"),
            ["text.png"] = ("hello, not an image\n"u8.ToArray(), "unknown or corrupt format"),
            ["truncated.jpg"] = (ImageWriter.Encode(TestImages.Smooth(64, 48), jpeg: true)[..400], "truncated or damaged"),
            ["truncated.png"] = (ImageWriter.Encode(TestImages.Uniform(1, 64, 48), jpeg: false)[..300], "truncated or damaged"),
            // smallest valid GIF (1×1): decodable by Skia, but not a format we accept
            ["tiny.gif"] = (Convert.FromHexString("47494638396101000100800000FFFFFF00000021F90401000000002C00000000010001000002024401003B"), "Gif is not supported"),
        };
        foreach (var (name, (bytes, why)) in cases)
        {
            string path = dir.File(name);
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Load(path));
            log.WriteLine(e.Message);
            Assert.StartsWith($"'{path}' is not a readable image (", e.Message);
            Assert.Contains(why, e.Message);
            Assert.EndsWith(")", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Theory]
    [InlineData("out.bmp")]
    [InlineData("out.webp")]
    [InlineData("out")]
    public void BadExtensionLeavesNothingBehind(string name)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ImageWriteException>(() => ImageWriter.Save(TestImages.Uniform(1, 4, 4), dir.File(name)));
        log.WriteLine(e.Message);
        Assert.Contains("unsupported extension", e.Message);
        Assert.Contains(".png, .jpg or .jpeg", e.Message);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void MissingDirectoryIsReported()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "missing", "out.png");
        var e = Assert.Throws<ImageWriteException>(() => ImageWriter.Save(TestImages.Uniform(1, 4, 4), path));
        log.WriteLine(e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void FailedMoveDeletesTheTemporaryFile()
    {
        // The target is a non-empty directory: encoding and writing the temporary file succeed, the final
        // rename fails. Running as root defeats permission-based tests, this does not.
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("out.png"));
        File.WriteAllText(Path.Combine(dir.File("out.png"), "keep.txt"), "x");
        var e = Assert.Throws<ImageWriteException>(() => ImageWriter.Save(TestImages.Uniform(1, 4, 4), dir.File("out.png")));
        log.WriteLine(e.Message);
        Assert.Equal($"cannot write image '{dir.File("out.png")}': it is a directory", e.Message);
        Assert.Equal(new[] { "out.png" }, dir.Entries());
        Assert.Equal(new[] { "keep.txt" }, Directory.GetFiles(dir.File("out.png")).Select(Path.GetFileName));
    }

    public static readonly TheoryData<string> SharedImageNames = new()
    {
        "tubingen.jpg", "golden_gate.jpg", "brad_pitt.jpg", "starry_night.jpg", "the_scream.jpg", "shipwreck.jpg",
        "woman-with-hat-matisse.jpg",
    };

    [Theory]
    [MemberData(nameof(SharedImageNames))]
    public void LoadsTheSharedExampleImages(string name)
    {
        string? dir = FindSharedImages();
        Assert.SkipWhen(dir is null, $"*** SKIPPED: no shared/images directory above {AppContext.BaseDirectory}; " +
                             "the example images (tubingen.jpg, …) are not available on this machine ***");
        string path = Path.Combine(dir!, name);
        Assert.SkipUnless(File.Exists(path), $"*** SKIPPED: {path} is missing ***");

        var image = ImageLoader.Load(path);
        double mean = image.Data.Average(v => (double)v);
        double var = image.Data.Average(v => (v - mean) * (v - mean));
        log.WriteLine($"{name}: {image.Width}×{image.Height}, mean {mean:F3}, std {Math.Sqrt(var):F3}");
        Assert.True(image.Width >= 64 && image.Height >= 64);
        Assert.All(image.Data, v => Assert.InRange(v, 0f, 1f));
        Assert.True(Math.Sqrt(var) > 0.05, "a photograph or painting is not a flat image");

        var small = ImageResizer.FitLongSide(image, 128);
        Assert.Equal(128, Math.Max(small.Width, small.Height));
        Assert.Equal(image.Width >= image.Height, small.Width >= small.Height);
    }

    /// <summary>Walks up from the test binaries to the first directory holding shared/images.</summary>
    private static string? FindSharedImages()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "images");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
