using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using IlgpuStyle.Fuzz;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

/// <summary>
/// Every input AFL++ found crashing a reader (Weights/FuzzCrashes/TARGET-ID.EXT, replayed through the fuzzing
/// harness itself: the reader must return or throw its format exception), and the hostile-file properties the
/// fuzzing issue asks for, each on a hand-made input: huge claimed sizes refused before allocation, unknown pickle
/// globals refused, shard paths outside the model folder refused, decompression bombs refused from the header.
/// </summary>
public sealed class FuzzRegressionTests(ITestOutputHelper log)
{
    public static TheoryData<string> Crashes()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Weights", "FuzzCrashes")).Order())
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Crashes))]
    public void FuzzCrashIsNowAFormatError(string file)
    {
        var target = file[..file.IndexOf('-')];
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Weights", "FuzzCrashes", file));
        var rejected = Harness.For(target)(bytes);   // any other exception fails the test
        log.WriteLine(rejected ?? "read");
    }

    /// <summary>A zip entry whose header claims 4 GiB from a few compressed bytes is refused before the buffer.</summary>
    [Fact]
    public void ZipEntryClaimingHugeSizeIsRefused()
    {
        using var dir = new TempDir();
        var path = dir.File("bomb.pth");
        TorchSaveWriter.WriteZip(path, [TorchSaveWriter.Dense("features.0.bias", [1f, 2f], 2)]);
        var bytes = File.ReadAllBytes(path);
        // Patch the uncompressed size of data.pkl in its central-directory record (offset 24 of "PK\1\2").
        int cd = IndexOf(bytes, [0x50, 0x4B, 0x01, 0x02]);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(cd + 24), 0xFFFF_FFF0);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path));
        log.WriteLine(e.Message);
    }

    /// <summary>A tensor of 10¹² elements over a 2-element storage through zero strides: refused, nothing allocated.</summary>
    [Fact]
    public void TensorLargerThanItsStorageIsRefused()
    {
        using var dir = new TempDir();
        var path = dir.File("expand.pth");
        TorchSaveWriter.WriteZip(path, [new TorchSaveWriter.FakeTensor("features.0.bias", [1_000_000, 1_000_000], [1f, 2f], Stride: [0, 0])]);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path));
        Assert.Contains("more elements than its storage holds", e.Message);
    }

    /// <summary>A storage claiming 2^40 elements in the pickle is refused before anything is read.</summary>
    [Fact]
    public void StorageClaimingHugeElementCountIsRefused()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.pth");
        TorchSaveWriter.WriteZip(path, [TorchSaveWriter.Dense("features.0.bias", [1f, 2f], 2)]);
        // The pickle's numel for the one storage is BININT1 2 ('K' 0x02) after the location string 'cpu'; make it LONG1 2^40.
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(x => x.FullName.EndsWith("data.pkl"));
            byte[] pkl;
            using (var s = entry.Open()) { using var ms = new MemoryStream(); s.CopyTo(ms); pkl = ms.ToArray(); }
            int at = IndexOf(pkl, [.. "cpu"u8, (byte)'q']) + 5;   // 'cpu', BINPUT n, then numel
            Assert.Equal((byte)'K', pkl[at]);
            byte[] patched = [.. pkl[..at], 0x8A, 6, 0, 0, 0, 0, 0, 1, .. pkl[(at + 2)..]];
            entry.Delete();
            using var w = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open();
            w.Write(patched);
        }
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path));
        log.WriteLine(e.Message);
        Assert.Contains("claims 1099511627776 elements", e.Message);
    }

    /// <summary>GLOBAL os.system (the classic pickle exploit) and any other name a state_dict does not need: a format error.</summary>
    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("argparse", "Namespace")]
    [InlineData("torch", "load")]
    public void UnknownPickleGlobalIsRefused(string module, string name)
    {
        using var dir = new TempDir();
        var path = dir.File("evil.pth");
        // PROTO 2, GLOBAL module\nname\n, string 'echo pwned', TUPLE1, REDUCE, STOP — what pickle.dumps of a __reduce__ exploit writes.
        byte[] pickle = [0x80, 2, (byte)'c', .. Encoding.ASCII.GetBytes($"{module}\n{name}\n"), (byte)'X', 10, 0, 0, 0, .. "echo pwned"u8, 0x85, (byte)'R', (byte)'.'];
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var w = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
            w.Write(pickle);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path));
        log.WriteLine(e.Message);
        Assert.Contains($"refers to {module}.{name}", e.Message);
    }

    /// <summary>model.json comes from the internet: a shard path must stay inside the model's folder.</summary>
    [Theory]
    [InlineData("../outside.bin")]
    [InlineData("/etc/passwd")]
    [InlineData("/dev/stdin")]
    public void ShardPathOutsideTheModelFolderIsRefused(string shard)
    {
        using var dir = new TempDir();
        var model = Path.Combine(dir.Path, "model");
        new TfjsTestModel().Group().Float32("block1_conv1/bias", [2], [1f, 2f]).Write(model);
        var json = File.ReadAllText(Path.Combine(model, "model.json")).Replace("group1-shard1of1.bin", shard);
        File.WriteAllText(Path.Combine(model, "model.json"), json);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(model));
        Assert.Contains("not a file inside the model's folder", e.Message);
    }

    /// <summary>A manifest claiming a 2^40-byte tensor in a 8-byte shard: a format error, not a 1 TiB allocation.</summary>
    [Fact]
    public void TfjsTensorBeyondItsShardsIsRefused()
    {
        using var dir = new TempDir();
        var model = Path.Combine(dir.Path, "model");
        new TfjsTestModel().Group().Float32("block1_conv1/bias", [2], [1f, 2f]).Write(model);
        var json = File.ReadAllText(Path.Combine(model, "model.json")).Replace("\"shape\":[2]", "\"shape\":[1048576,262144]");
        File.WriteAllText(Path.Combine(model, "model.json"), json);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(model));
        log.WriteLine(e.Message);
    }

    /// <summary>A 120 000 × 120 000 PNG (14.4 gigapixels) in a few hundred bytes: refused from the header.</summary>
    [Fact]
    public void DecompressionBombIsRefusedFromTheHeader()
    {
        var png = HugePng(120_000, 120_000);
        var e = Assert.Throws<ImageLoadException>(() => ImageLoader.Decode(png, "bomb.png"));
        log.WriteLine(e.Message);
        Assert.Contains("more than the limit of 100 megapixels", e.Message);
    }

    /// <summary>A PNG header (IHDR) claiming w×h RGB pixels, followed by a valid but tiny IDAT and IEND.</summary>
    private static byte[] HugePng(int w, int h)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8; ihdr[9] = 2;   // 8-bit RGB
        Chunk(ms, "IHDR", ihdr);
        var z = new MemoryStream();
        using (var zl = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zl.Write(new byte[1 + 3 * 16]);
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();

        static void Chunk(Stream s, string type, byte[] data)
        {
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(n, data.Length);
            s.Write(n);
            byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
            s.Write(typed);
            BinaryPrimitives.WriteUInt32BigEndian(n, Crc32(typed));
            s.Write(n);
        }
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFF_FFFF;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
